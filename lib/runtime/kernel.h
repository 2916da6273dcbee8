// The kernel interface. Every op of ir/ops.def has a plain reference kernel (the test
// oracle); heavy ops may also have fast kernels (oneDNN), prepared once per node and
// input shapes and chosen automatically when they apply.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"

namespace hq {

/// One execution of one node: inputs and preallocated outputs (shapes already inferred).
struct KernelCall {
  const Node& node;
  std::vector<const Tensor*> inputs;  ///< nullptr for an omitted optional input
  std::vector<Tensor*> outputs;       ///< nullptr for an unused optional output

  bool has(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& in(size_t i) const { return *inputs.at(i); }
  Tensor& out(size_t i) const { return *outputs.at(i); }
  bool hasOut(size_t i) const { return i < outputs.size() && outputs[i] != nullptr; }
  const Attributes& attrs() const { return node.attrs; }

  template <typename... Args>
  Status error(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) const {
    return Status(code, node.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
};

using ReferenceKernel = Status (*)(const KernelCall&);

/// A kernel prepared for one node with fixed input/output shapes (holds e.g. oneDNN
/// primitives and reordered weights).
class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  virtual Status run(const KernelCall& call) = 0;
  /// "reference", "dnnl:conv", ... for -v logs and tests.
  virtual std::string name() const = 0;
};

struct KernelOptions {
  /// Use only reference kernels (the oracle).
  bool referenceOnly = false;
};

/// Makes a fast kernel for the node, or returns nullptr when it does not apply
/// (dtype, attributes...). Shapes are concrete.
using FastKernelFactory = std::unique_ptr<PreparedKernel> (*)(const Node& node,
                                                              const std::vector<ValueInfo>& inputs,
                                                              const std::vector<ValueInfo>& outputs);

/// The reference kernel of an op in ops.def (domain "") or int_ops.def (domain "ai.hq");
/// nullptr if unknown.
ReferenceKernel findReferenceKernel(const std::string& op_type, const std::string& domain = "");

/// Best kernel for the node: a fast one when one applies and options allow, else the
/// reference kernel wrapped. Error when the op has no kernel at all.
Expected<std::unique_ptr<PreparedKernel>> prepareKernel(const Node& node,
                                                        const std::vector<ValueInfo>& inputs,
                                                        const std::vector<ValueInfo>& outputs,
                                                        const KernelOptions& options);

/// Run the reference kernel of a node directly on tensors, allocating outputs by shape
/// inference. For tests and constant folding.
Expected<std::vector<Tensor>> runReference(const Node& node, const std::vector<const Tensor*>& inputs);

}  // namespace hq
