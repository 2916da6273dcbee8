// Shape functions of the ai.hq integer ops (STUBS: being implemented).
#include "ir/ops/shape_functions.h"

namespace hq::ops {

Status inferQConv(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QConv: shape function not implemented yet");
}

Status inferQConvTranspose(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QConvTranspose: shape function not implemented yet");
}

Status inferQGemm(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QGemm: shape function not implemented yet");
}

Status inferQMaxPool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QMaxPool: shape function not implemented yet");
}

Status inferQGlobalMaxPool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QGlobalMaxPool: shape function not implemented yet");
}

Status inferQAveragePool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QAveragePool: shape function not implemented yet");
}

Status inferQGlobalAveragePool(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QGlobalAveragePool: shape function not implemented yet");
}

}  // namespace hq::ops
