// Shape functions of QuantizeLinear and DequantizeLinear (ONNX opsets 10-19, integer
// types only: no float8, no int16/int4, no blocked quantization).
//   QuantizeLinear(x: float32|int32, y_scale: float32, y_zero_point?: int8|uint8)
//     -> y: the zero point's dtype (uint8 when absent), x's shape
//   DequantizeLinear(x: int8|uint8|int32, x_scale: float32, x_zero_point?: x's dtype)
//     -> y: float32, x's shape
#include "ir/ops/quantize.h"

#include <cmath>

#include "ir/ops/shape_functions.h"

namespace hq {

Expected<QuantLayout> resolveQuantLayout(const Node& node, const Shape& x, const Shape& scale,
                                         const Shape* zero_point) {
  bool both_single = zero_point && shapeNumel(*zero_point) == 1 && shapeNumel(scale) == 1 &&
                     zero_point->size() <= 1 && scale.size() <= 1;
  if (zero_point && *zero_point != scale && !both_single) {
    return HQ_ERROR(kShape, "node {}: zero point shape {} differs from scale shape {}",
                    node.describe(), shapeString(*zero_point), shapeString(scale));
  }
  QuantLayout layout;
  int64_t n = shapeNumel(scale);
  if (scale.size() == 0 || (scale.size() == 1 && n == 1)) return layout;
  if (scale.size() > 1) {
    return HQ_ERROR(kShape,
                    "node {}: scale has shape {}; expected a scalar (per tensor) or a 1-D "
                    "tensor (per axis)",
                    node.describe(), shapeString(scale));
  }
  int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = node.attrs.getInt("axis", 1);
  if (axis < -rank || axis >= rank) {
    return HQ_ERROR(kShape, "node {}: axis {} is out of range for an input of rank {}",
                    node.describe(), axis, rank);
  }
  if (axis < 0) axis += rank;
  int64_t dim = x[static_cast<size_t>(axis)];
  if (dim >= 0 && n >= 0 && dim != n) {
    return HQ_ERROR(kShape,
                    "node {}: scale has {} elements; expected 1 or x.shape[{}] = {} (x is {})",
                    node.describe(), n, axis, dim, shapeString(x));
  }
  layout.perAxis = true;
  layout.axis = axis;
  layout.channels = n;
  return layout;
}

Status checkQuantScales(const Node& node, const Tensor& scale) {
  const float* s = scale.data<float>();
  for (int64_t i = 0; i < scale.numel(); ++i) {
    if (!(std::isfinite(s[i]) && s[i] > 0.0f)) {
      return HQ_ERROR(kData, "node {}: scale[{}] is {}; scales must be finite and > 0",
                      node.describe(), i, s[i]);
    }
  }
  return Status::ok();
}

namespace ops {

namespace {

// Checks the scale and zero point (inputs 1, 2) against x (input 0); sets output 0.
Status inferQuantNode(InferContext& ctx, DType out_dtype) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const ValueInfo& x = ctx.input(0);
  const ValueInfo& scale = ctx.input(1);
  if (scale.dtype != DType::kFloat32) {
    return ctx.error(ErrorCode::kUnsupported, "scale dtype {} is not supported (expected float32)",
                     dtypeName(scale.dtype));
  }
  const ValueInfo* zp = nullptr;
  if (ctx.hasInput(2)) {
    HQ_RETURN_IF_ERROR(ctx.requireInput(2));
    zp = &ctx.input(2);
  }
  HQ_RETURN_IF_ERROR(
      resolveQuantLayout(ctx.node(), x.shape, scale.shape, zp ? &zp->shape : nullptr));
  if (scale.constant) HQ_RETURN_IF_ERROR(checkQuantScales(ctx.node(), *scale.constant));
  ctx.setOutput(0, out_dtype, x.shape);
  return Status::ok();
}

}  // namespace

Status inferQuantizeLinear(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  DType x = ctx.input(0).dtype;
  if (x != DType::kFloat32 && x != DType::kInt32) {
    return ctx.error(ErrorCode::kUnsupported,
                     "input dtype {} is not supported (expected float32 "
                     "or int32)",
                     dtypeName(x));
  }
  DType out = ctx.hasInput(2) ? ctx.input(2).dtype : DType::kUInt8;
  if (out != DType::kInt8 && out != DType::kUInt8) {
    return ctx.error(ErrorCode::kUnsupported,
                     "zero point dtype {} is not supported (expected int8 or uint8: the output "
                     "types of QuantizeLinear in ONNX opsets 10-19)",
                     dtypeName(out));
  }
  return inferQuantNode(ctx, out);
}

Status inferDequantizeLinear(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  DType x = ctx.input(0).dtype;
  if (x != DType::kInt8 && x != DType::kUInt8 && x != DType::kInt32) {
    return ctx.error(ErrorCode::kUnsupported,
                     "input dtype {} is not supported (expected int8, uint8 or int32)",
                     dtypeName(x));
  }
  if (ctx.hasInput(2) && ctx.input(2).dtype != x) {
    return ctx.error(ErrorCode::kShape, "zero point dtype {} differs from the input dtype {}",
                     dtypeName(ctx.input(2).dtype), dtypeName(x));
  }
  return inferQuantNode(ctx, DType::kFloat32);
}

}  // namespace ops
}  // namespace hq
