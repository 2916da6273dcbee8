// Shape functions of the pooling ops.
#include "ir/ops/shape_functions.h"

namespace hq::ops {

Status inferMaxPool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferAveragePool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferGlobalAveragePool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferGlobalMaxPool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

}  // namespace hq::ops
