// Shape functions of data-movement and shape-arithmetic ops.
#include "ir/ops/shape_functions.h"

namespace hq::ops {

Status inferConcat(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferSplit(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferSlice(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferFlatten(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferReshape(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferTranspose(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferSqueeze(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferUnsqueeze(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferResize(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferUpsample(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferShape(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferGather(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferCast(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferIdentity(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferDropout(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

Status inferConstant(InferContext& ctx) {
  return ctx.error(ErrorCode::kUnsupported, "shape function not written yet");
}

}  // namespace hq::ops
