// Factories of the oneDNN fast kernels (f32). Each returns nullptr when it does not apply
// (dtype, rank, attributes, non-constant weights), and the reference kernel runs instead.
// The kernels themselves derive from dnnl_rt::DnnlKernel (dnnl_common.h); this header
// stays free of oneDNN so that it can be included anywhere.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace hq::dnnl_rt {

/// Conv (2-D, any group/stride/dilation/pads, constant weights and bias) and the
/// executor's internal hq.FusedConv (Conv + residual sum + activation as post-ops).
std::unique_ptr<PreparedKernel> makeConv(const Node& node, const std::vector<ValueInfo>& inputs,
                                         const std::vector<ValueInfo>& outputs);
/// MaxPool / AveragePool (2-D, no dilation, single output) and GlobalAveragePool /
/// GlobalMaxPool on 4-D inputs.
std::unique_ptr<PreparedKernel> makePool(const Node& node, const std::vector<ValueInfo>& inputs,
                                         const std::vector<ValueInfo>& outputs);
/// Relu, LeakyRelu, Clip (constant bounds), Sigmoid, Tanh.
std::unique_ptr<PreparedKernel> makeEltwise(const Node& node, const std::vector<ValueInfo>& inputs,
                                            const std::vector<ValueInfo>& outputs);
/// Add / Sub / Mul / Div where input 1 broadcasts to input 0's shape.
std::unique_ptr<PreparedKernel> makeBinary(const Node& node, const std::vector<ValueInfo>& inputs,
                                           const std::vector<ValueInfo>& outputs);
/// Gemm with a 2-D input, constant B and constant C (absent, [N] or [1, N]).
std::unique_ptr<PreparedKernel> makeGemm(const Node& node, const std::vector<ValueInfo>& inputs,
                                         const std::vector<ValueInfo>& outputs);


/// ai.hq QConv (2-D, int8 X, constant int8 W, any group/stride/pads/dilation) and QGemm
/// ([..., K] int8 X, constant W): oneDNN computes the int32 accumulators only, hq's own
/// output stage requantizes, so the bytes equal the reference kernels'. nullptr (the
/// reference kernel runs) where that exactness is not guaranteed: see intFastRefusal.
std::unique_ptr<PreparedKernel> makeQConv(const Node& node, const std::vector<ValueInfo>& inputs,
                                          const std::vector<ValueInfo>& outputs);
std::unique_ptr<PreparedKernel> makeQGemm(const Node& node, const std::vector<ValueInfo>& inputs,
                                          const std::vector<ValueInfo>& outputs);
/// Why makeQConv / makeQGemm returns nullptr for this node ("" when it makes a kernel):
/// no AVX-512 VNNI, an accumulator bound >= 2^24, int16 input, unsupported shapes...
std::string intFastRefusal(const Node& node, const std::vector<ValueInfo>& inputs,
                           const std::vector<ValueInfo>& outputs);

}  // namespace hq::dnnl_rt
