// hq.FakeQuant: the executor's internal op for a QuantizeLinear -> DequantizeLinear pair
// on an activation (same scale and zero point), made by the fuse-quantize-dequantize pass
// on the executor's own copy of a graph (never seen by users).
//
//   inputs:  X (float32), scale (float32, scalar or 1-D), zero_point (optional, int8 or
//            uint8; uint8 zero when omitted, as for QuantizeLinear)
//   attrs:   "axis" (as QuantizeLinear; used when the scale is 1-D)
//   output:  Y = DequantizeLinear(QuantizeLinear(X, scale, zp), scale, zp), bit for bit
//
// The fast kernel (runtime/kernels/dnnl_fake_quant.cpp) is vectorized, runs in place on
// its producer's buffer when the executor allows, and keeps oneDNN blocked layouts for
// per-tensor parameters, so Conv -> FakeQuant -> Conv stays in nChw16c.
#pragma once

#include <memory>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/passes/fused_conv.h"  // kHqDomain
#include "runtime/passes/passes.h"

namespace hq::passes {

inline constexpr const char* kFakeQuant = "FakeQuant";

bool isFakeQuant(const Node& node);

/// Reference semantics of hq.FakeQuant (the scalar quantize/dequantize of
/// runtime/kernels/quantize.h): the oracle of the fast kernel.
Status refFakeQuant(const KernelCall& call);

/// A PreparedKernel running refFakeQuant.
std::unique_ptr<PreparedKernel> makeReferenceFakeQuant();

/// The fast kernel (a dnnl_rt::DnnlKernel) for constant scale and zero point; nullptr
/// when it does not apply.
std::unique_ptr<PreparedKernel> makeFastFakeQuant(const Node& node,
                                                  const std::vector<ValueInfo>& inputs,
                                                  const std::vector<ValueInfo>& outputs);

/// QuantizeLinear(x) -> DequantizeLinear with the same scale, zero point and axis, where
/// the quantized tensor has no other use: one hq.FakeQuant node.
Expected<int> fuseQuantizeDequantize(Graph& graph, const PassContext& ctx);

}  // namespace hq::passes
