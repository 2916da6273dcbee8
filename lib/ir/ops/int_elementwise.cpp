// Shape functions of the ai.hq integer ops (STUBS: being implemented).
#include "ir/ops/shape_functions.h"

namespace hq::ops {

Status inferQClamp(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QClamp: shape function not implemented yet");
}

Status inferQAdd(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QAdd: shape function not implemented yet");
}

Status inferQMul(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QMul: shape function not implemented yet");
}

Status inferQRescale(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QRescale: shape function not implemented yet");
}

Status inferQConcat(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QConcat: shape function not implemented yet");
}

Status inferQResize(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QResize: shape function not implemented yet");
}

Status inferQLookup(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QLookup: shape function not implemented yet");
}

Status inferQSoftmax(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "ai.hq.QSoftmax: shape function not implemented yet");
}

}  // namespace hq::ops
