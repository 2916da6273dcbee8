// Backward (reverse-mode derivative) of one node, the building block of hq-qat's training
// engine. The op list is lib/train/backward.def; each op's backward sits with its family
// in lib/train/backward/*.cpp. A backward reads the node's forward inputs and outputs and
// the gradient of the loss with respect to each output, and WRITES (overwrites) the
// gradient with respect to each input it is asked for; the engine sums the contributions of
// a value that has several consumers.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq::train {

/// One backward step of one node. All tensors are float32 and plain (row-major) unless
/// the op's comment says otherwise; shapes are concrete.
struct BackwardCall {
  const Node& node;
  std::vector<const Tensor*> inputs;       ///< forward inputs (nullptr: omitted optional input)
  std::vector<const Tensor*> outputs;      ///< forward outputs (nullptr: not produced)
  std::vector<const Tensor*> gradOutputs;  ///< dL/d(output i); nullptr: none flows (zero)
  /// dL/d(input i), preallocated with input i's dtype and shape, to overwrite; nullptr where
  /// not needed (constants that do not train, integer inputs such as shapes and axes).
  std::vector<Tensor*> gradInputs;

  bool hasIn(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& in(size_t i) const { return *inputs.at(i); }
  const Tensor& out(size_t i) const { return *outputs.at(i); }
  bool hasGradOut(size_t i) const { return i < gradOutputs.size() && gradOutputs[i] != nullptr; }
  const Tensor& gradOut(size_t i) const { return *gradOutputs.at(i); }
  bool wantsGrad(size_t i) const { return i < gradInputs.size() && gradInputs[i] != nullptr; }
  Tensor& gradIn(size_t i) const { return *gradInputs.at(i); }
  const Attributes& attrs() const { return node.attrs; }

  template <typename... Args>
  Status error(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) const {
    return Status(code, node.describe() + ": backward: " +
                            fmt::format(f, std::forward<Args>(args)...));
  }
};

using BackwardFn = Status (*)(const BackwardCall&);

/// The backward of a default-domain op in backward.def, or nullptr.
BackwardFn findBackward(const std::string& op_type);

/// Every op of backward.def, in order (for tests that check each has a gradient check).
const std::vector<std::string>& opsWithBackward();

}  // namespace hq::train
