// Rules shared by the shape functions and the kernels of QuantizeLinear and
// DequantizeLinear (ONNX opsets 10-19): how the scale and zero point apply to the input
// (per tensor or per axis) and which scale values are valid.
#pragma once

#include "ir/graph.h"
#include "support/status.h"

namespace hq {

/// How a quantization node's scale applies to its input x.
struct QuantLayout {
  bool perAxis = false;  ///< false: one scale (and zero point) for the whole tensor
  int64_t axis = 0;      ///< normalized axis of x (per-axis only)
  int64_t channels = 1;  ///< number of scales: 1, or x.shape[axis]
};

/// Resolves the layout from the shapes of x, the scale and the zero point (nullptr when
/// absent). Per tensor: a scalar or one-element 1-D scale. Per axis (opset 13+): a 1-D
/// scale of x.shape[axis] elements (attribute `axis`, default 1, may be negative); the
/// zero point, when present, must have the scale's shape (a scalar and a one-element
/// 1-D tensor count as the same). Unknown dims (-1) of x are
/// accepted. Errors (kShape) name the node and say what was expected.
Expected<QuantLayout> resolveQuantLayout(const Node& node, const Shape& x, const Shape& scale,
                                         const Shape* zero_point);

/// Every scale must be finite and > 0; otherwise kData naming the node, the index and
/// the value. `scale` is a float32 tensor.
Status checkQuantScales(const Node& node, const Tensor& scale);

}  // namespace hq
