// hq.FusedConv: the executor's internal op for Conv + residual sum + activation, made by
// the fusion passes on the executor's own copy of a graph (never seen by users).
//
//   inputs:  X, W, B (optional, may be omitted), R (optional residual, shape of Y)
//   attrs:   those of Conv, plus
//            "activation"        "" | "Relu" | "LeakyRelu" | "Clip"
//            "activation_alpha"  LeakyRelu slope, Clip lower bound
//            "activation_beta"   Clip upper bound
//   output:  Y = act(Conv(X, W, B) + R)
#pragma once

#include <string>

#include "runtime/kernel.h"

namespace hq::passes {

inline constexpr const char* kHqDomain = "hq";
inline constexpr const char* kFusedConv = "FusedConv";

struct FusedActivation {
  std::string kind;  ///< "" (none), "Relu", "LeakyRelu", "Clip"
  float alpha = 0;   ///< LeakyRelu slope; Clip lower bound
  float beta = 0;    ///< Clip upper bound

  float apply(float x) const {
    if (kind == "Relu") return x > 0 ? x : 0;
    if (kind == "LeakyRelu") return x >= 0 ? x : x * alpha;
    if (kind == "Clip") return x < alpha ? alpha : (x > beta ? beta : x);
    return x;
  }
};

bool isFusedConv(const Node& node);
FusedActivation fusedActivationOf(const Node& node);

/// Reference semantics of hq.FusedConv: the reference Conv kernel, then + R, then the
/// activation. The oracle of the oneDNN FusedConv kernel.
Status refFusedConv(const KernelCall& call);

/// A PreparedKernel running refFusedConv (when no fast kernel applies).
std::unique_ptr<PreparedKernel> makeReferenceFusedConv();

}  // namespace hq::passes
