// Shape functions of Conv, ConvTranspose, Gemm, MatMul and BatchNormalization.
#include "ir/ops/shape_functions.h"

namespace hq::ops {

Status inferConv(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferConvTranspose(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferGemm(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferMatMul(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferBatchNormalization(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

}  // namespace hq::ops
