// Writing quantization into a graph as standard ONNX QuantizeLinear/DequantizeLinear
// pairs (opset 13+, per-axis for weights), the QDQ format other runtimes also load.
//  - activation point v (qint8): v -> QuantizeLinear -> DequantizeLinear -> readers of v;
//    a graph output keeps its name (the float value is renamed "<name>_float").
//  - weight W of a compute op: an int8 constant "<W>_quantized" -> DequantizeLinear
//    (axis = output channels) -> the op; the bias stays float (hq-convert makes it int32
//    with scale s_in * s_w).
//  - qint16 activations (QuantizeLinear has no int16 before opset 21): the same arithmetic
//    in plain ops, Div(v, s) -> Round -> Clip(-32768, 32767) -> Mul(s), listed in metadata
//    "hq.quant.int16_activations".
//  - qint32 outputs (the seed's high-precision classifier output) have no QDQ pair: the
//    model keeps them float and lists them in metadata "hq.quant.int32_outputs".
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/rules.h"

namespace hq {

/// Quantization parameters of one point: one scale (per tensor) or one per channel.
struct QuantParams {
  QDType dtype = QDType::kInt8;
  std::vector<float> scales;
  std::vector<int64_t> zeroPoints;
  int64_t axis = -1;  ///< channel axis for per-channel params, -1 per tensor
};

/// Round half to even and saturate `x / scale + zero_point` to [qmin, qmax] (ONNX
/// QuantizeLinear semantics).
int64_t quantizeValue(float x, float scale, int64_t zero_point, int64_t qmin, int64_t qmax);

/// A float32 weight quantized to int8 with `params` (per tensor, or per channel along
/// params.axis) into [qmin, qmax] by quantizeValue: what hq-calib writes and what hq-qat
/// re-writes after training. Errors: a non-float32 weight, a scale count that does not fit.
Expected<Tensor> quantizeWeightInt8(const Tensor& weight, const QuantParams& params,
                                    int64_t qmin = -128, int64_t qmax = 127);

/// Insert the QDQ nodes of `plan` (its Value pointers refer to `graph`) with `params`
/// (same order as plan.points). Raises the opset to 13 when needed.
Status insertQdq(Graph& graph, const QuantPlan& plan, const std::vector<QuantParams>& params);

}  // namespace hq
