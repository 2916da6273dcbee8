// Shape functions of activations, Softmax and the broadcasting binary ops.
#include "ir/ops/shape_functions.h"

namespace hq::ops {

namespace {

bool isFloat(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

bool isInteger(DType t) {
  switch (t) {
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kInt32:
    case DType::kInt64: return true;
    default: return false;
  }
}

enum class Types { kFloat, kFloatOrSigned, kNumeric };

bool accepts(Types types, DType t) {
  switch (types) {
    case Types::kFloat: return isFloat(t);
    case Types::kFloatOrSigned:
      return isFloat(t) || t == DType::kInt8 || t == DType::kInt16 || t == DType::kInt32 ||
             t == DType::kInt64;
    case Types::kNumeric: return isFloat(t) || isInteger(t);
  }
  return false;
}

const char* typesName(Types types) {
  switch (types) {
    case Types::kFloat: return "float32 or float64";
    case Types::kFloatOrSigned: return "float32, float64 or a signed integer type";
    case Types::kNumeric: return "float32, float64 or an integer type";
  }
  return "?";
}

/// Output = input 0's dtype and shape, for an input of one of `types`.
Status sameAsInput(InferContext& ctx, Types types) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  if (!accepts(types, x.dtype)) {
    return ctx.error(ErrorCode::kUnsupported, "input dtype {} is not supported (expected {})",
                     dtypeName(x.dtype), typesName(types));
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
    return ctx.error(ErrorCode::kShape, "inputs have different dtypes ({} and {})",
                     dtypeName(a.dtype), dtypeName(b.dtype));
  }
  if (!accepts(Types::kNumeric, a.dtype)) {
    return ctx.error(ErrorCode::kUnsupported, "input dtype {} is not supported (expected {})",
                     dtypeName(a.dtype), typesName(Types::kNumeric));
  }
  HQ_ASSIGN_OR_RETURN(Shape out, broadcastShapes(ctx, a.shape, b.shape));
  ctx.setOutput(0, a.dtype, out);
  return Status::ok();
}

}  // namespace

Status inferRelu(InferContext& ctx) { return sameAsInput(ctx, Types::kFloatOrSigned); }
Status inferLeakyRelu(InferContext& ctx) { return sameAsInput(ctx, Types::kFloat); }
Status inferSigmoid(InferContext& ctx) { return sameAsInput(ctx, Types::kFloat); }
Status inferHardSigmoid(InferContext& ctx) { return sameAsInput(ctx, Types::kFloat); }
Status inferHardSwish(InferContext& ctx) { return sameAsInput(ctx, Types::kFloat); }
Status inferTanh(InferContext& ctx) { return sameAsInput(ctx, Types::kFloat); }
Status inferRound(InferContext& ctx) { return sameAsInput(ctx, Types::kFloat); }

Status inferClip(InferContext& ctx) {
  // min/max are attributes before opset 11, optional scalar inputs after.
  HQ_RETURN_IF_ERROR(sameAsInput(ctx, Types::kNumeric));
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.hasInput(i)) continue;
    const ValueInfo& bound = ctx.input(i);
    if (bound.dtype != ctx.input(0).dtype) {
      return ctx.error(ErrorCode::kShape, "input {} ({}) must have the dtype of the input ({})",
                       i == 1 ? "min" : "max", dtypeName(bound.dtype),
                       dtypeName(ctx.input(0).dtype));
    }
    if (bound.hasShape && shapeNumel(bound.shape) != 1) {
      return ctx.error(ErrorCode::kShape, "input {} ({}) must be a scalar, got shape {}", i,
                       i == 1 ? "min" : "max", shapeString(bound.shape));
    }
  }
  return Status::ok();
}

Status inferPRelu(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(sameAsInput(ctx, Types::kFloat));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const Shape& x = ctx.input(0).shape;
  const Shape& slope = ctx.input(1).shape;
  if (ctx.input(1).dtype != ctx.input(0).dtype) {
    return ctx.error(ErrorCode::kShape, "slope dtype {} differs from the input dtype {}",
                     dtypeName(ctx.input(1).dtype), dtypeName(ctx.input(0).dtype));
  }
  // The slope broadcasts to X unidirectionally: the output keeps X's shape.
  bool fits = slope.size() <= x.size();
  for (size_t i = 0; fits && i < slope.size(); ++i) {
    int64_t s = slope[slope.size() - 1 - i], d = x[x.size() - 1 - i];
    if (s != 1 && s >= 0 && d >= 0 && s != d) fits = false;
  }
  if (!fits) {
    return ctx.error(ErrorCode::kShape, "slope {} does not broadcast to input {}",
                     shapeString(slope), shapeString(x));
  }
  return Status::ok();
}

// Opset-13 semantics: normalize along one axis. (Opsets < 13 flattened the dims from
// `axis` on; for the usual [N, C] input with axis 1 both agree.)
Status inferSoftmax(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(sameAsInput(ctx, Types::kFloat));
  int64_t rank = static_cast<int64_t>(ctx.input(0).shape.size());
  HQ_RETURN_IF_ERROR(normalizeAxis(ctx, ctx.attrs().getInt("axis", -1), rank));
  return Status::ok();
}

Status inferAdd(InferContext& ctx) { return broadcastBinary(ctx); }
Status inferSub(InferContext& ctx) { return broadcastBinary(ctx); }
Status inferMul(InferContext& ctx) { return broadcastBinary(ctx); }
Status inferDiv(InferContext& ctx) { return broadcastBinary(ctx); }

}  // namespace hq::ops
