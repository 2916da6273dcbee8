// Shape functions of activations, Softmax and the broadcasting binary ops.
#include "ir/ops/shape_functions.h"

namespace hq::ops {

namespace {
bool isFloat(DType t) { return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16; }

/// Output = input 0's dtype and shape; input must be floating point.
Status sameAsInput(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  if (!isFloat(x.dtype)) {
    return ctx.error(ErrorCode::kUnsupported, "input dtype {} is not supported (expected a float type)",
                     dtypeName(x.dtype));
  }
  ctx.setOutput(0, x.dtype, x.shape);
  return Status::ok();
}

Status broadcastBinary(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const ValueInfo& a = ctx.input(0);
  const ValueInfo& b = ctx.input(1);
  if (a.dtype != b.dtype) {
    return ctx.error(ErrorCode::kShape, "inputs have different dtypes ({} and {})", dtypeName(a.dtype),
                     dtypeName(b.dtype));
  }
  HQ_ASSIGN_OR_RETURN(Shape out, broadcastShapes(ctx, a.shape, b.shape));
  ctx.setOutput(0, a.dtype, out);
  return Status::ok();
}
}  // namespace

Status inferRelu(InferContext& ctx) { return sameAsInput(ctx); }
Status inferLeakyRelu(InferContext& ctx) { return sameAsInput(ctx); }
Status inferSigmoid(InferContext& ctx) { return sameAsInput(ctx); }
Status inferHardSigmoid(InferContext& ctx) { return sameAsInput(ctx); }
Status inferHardSwish(InferContext& ctx) { return sameAsInput(ctx); }
Status inferTanh(InferContext& ctx) { return sameAsInput(ctx); }

Status inferClip(InferContext& ctx) {
  // min/max are attributes before opset 11, optional scalar inputs after.
  for (size_t i = 1; i < 3; ++i) {
    if (ctx.hasInput(i) && ctx.input(i).hasShape && shapeNumel(ctx.input(i).shape) != 1) {
      return ctx.error(ErrorCode::kShape, "input {} must be a scalar, got {}", i,
                       shapeString(ctx.input(i).shape));
    }
  }
  return sameAsInput(ctx);
}

Status inferPRelu(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(sameAsInput(ctx));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  // The slope broadcasts to X (unidirectionally); the output keeps X's shape.
  HQ_ASSIGN_OR_RETURN(Shape out, broadcastShapes(ctx, ctx.input(0).shape, ctx.input(1).shape));
  if (out.size() != ctx.input(0).shape.size()) {
    return ctx.error(ErrorCode::kShape, "slope {} does not broadcast to input {}",
                     shapeString(ctx.input(1).shape), shapeString(ctx.input(0).shape));
  }
  return Status::ok();
}

Status inferSoftmax(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(sameAsInput(ctx));
  int64_t rank = static_cast<int64_t>(ctx.input(0).shape.size());
  HQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().getInt("axis", -1), rank));
  (void)axis;
  return Status::ok();
}

Status inferAdd(InferContext& ctx) { return broadcastBinary(ctx); }
Status inferSub(InferContext& ctx) { return broadcastBinary(ctx); }
Status inferMul(InferContext& ctx) { return broadcastBinary(ctx); }
Status inferDiv(InferContext& ctx) { return broadcastBinary(ctx); }

}  // namespace hq::ops
