// hq.BnFoldFactor: the BatchNormalization factor of a Conv+BN unit in QAT (train/conv_bn_qat.h),
// f = gamma / sqrt(running_var + epsilon), in the two layouts the unit needs.
//
//   inputs:  gamma (float32 [C]), running_var (float32 [C])
//   attrs:   "epsilon" (float, default 1e-5)
//   outputs: 0: f as [C, 1, ..., 1] (rank `weight_rank`, attr, default 4) to scale a Conv
//               weight [C, I, k...];
//            1: f as [1, C, 1, ..., 1] (rank `output_rank`, attr, default 4) to divide the
//               Conv output [N, C, ...];
//            2: 1 / sqrt(running_var + epsilon) [C] (kept for the backward: the running
//               variance is updated in place by the BatchNormalization that follows).
//   f is computed in double and rounded once to float32.
//   Backward: dL/dgamma[c] = (sum of dL/dout0[c] + dL/dout1[c]) * out2[c]; the running variance
//   is a statistic and gets no gradient.
#pragma once

#include <cmath>
#include <memory>
#include <vector>

#include "ir/op_registry.h"
#include "runtime/kernel.h"
#include "train/backward.h"

namespace hq::train {

inline constexpr const char* kBnFoldFactor = "BnFoldFactor";

/// 1 / sqrt(var + eps) in double: the op's output 2 (rounded to float) and the base of f.
inline double bnInvStd(float var, float eps) {
  return 1.0 / std::sqrt(static_cast<double>(var) + static_cast<double>(eps));
}
/// f = gamma / sqrt(var + eps) as the op computes it (double, rounded once to float32).
inline float bnFoldFactorValue(float gamma, float var, float eps) {
  return static_cast<float>(static_cast<double>(gamma) * bnInvStd(var, eps));
}

/// An hq.BnFoldFactor node.
bool isBnFoldFactor(const Node& node);

/// The forward (reference loops); outputs preallocated with the shapes above.
Status bnFoldFactorForward(const KernelCall& call);

/// A prepared forward for GradGraph: checks the inputs ([C] float32 each) and fills `outputs`
/// with the three output infos. Errors name the node.
Expected<std::unique_ptr<PreparedKernel>> makeBnFoldFactorKernel(
    const Node& node, const std::vector<ValueInfo>& inputs, std::vector<ValueInfo>& outputs);

/// The backward (gamma only; a gradient asked for running_var is zero).
Status backwardBnFoldFactor(const BackwardCall& call);

}  // namespace hq::train
