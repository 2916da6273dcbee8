// The op registry: for every op of ops.def, its accepted attributes and its shape
// function. The importer rejects ops and attributes that are not here, naming them.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq {

/// What a shape function sees of one input.
struct ValueInfo {
  DType dtype = DType::kUndefined;
  Shape shape;                     ///< -1 for unknown dims
  bool hasShape = false;           ///< false: rank unknown
  const Tensor* constant = nullptr;  ///< data, when the input is a known constant
};

/// Inputs in, outputs out, for one node's shape inference.
class InferContext {
 public:
  InferContext(const Node& node, std::vector<ValueInfo> inputs);

  const Node& node() const { return node_; }
  const Attributes& attrs() const { return node_.attrs; }
  size_t numInputs() const { return inputs_.size(); }
  size_t numOutputs() const { return node_.outputs.size(); }
  /// Whether input i is present (optional inputs may be omitted or named "").
  bool hasInput(size_t i) const { return i < inputs_.size() && inputs_[i].dtype != DType::kUndefined; }
  const ValueInfo& input(size_t i) const { return inputs_.at(i); }
  void setOutput(size_t i, DType dtype, Shape shape);
  /// Output with unknown rank (only where the rank truly depends on data).
  void setOutputUnknownRank(size_t i, DType dtype);
  const std::vector<ValueInfo>& outputs() const { return outputs_; }

  /// Error helpers that name the node: "Conv 'conv1': <message>".
  template <typename... Args>
  Status error(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) const {
    return Status(code, node_.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  /// Require input i to exist with a known rank.
  Status requireInput(size_t i) const;

 private:
  const Node& node_;
  std::vector<ValueInfo> inputs_;
  std::vector<ValueInfo> outputs_;
};

using InferFn = Status (*)(InferContext&);

struct OpInfo {
  const char* name;
  std::vector<std::string> attributes;  ///< accepted attribute names
  InferFn infer;
};

/// hq's integer operator domain (schemas/int-ops.md) and the one version this build knows.
inline constexpr const char* kIntDomain = "ai.hq";
inline constexpr int kIntDomainVersion = 1;

/// The op of `op_type` in `domain` ("" or "ai.onnx": ops.def; "ai.hq": int_ops.def), or
/// nullptr.
const OpInfo* findOp(const std::string& op_type, const std::string& domain = "");
/// All ops of the default domain, in ops.def order.
const std::vector<OpInfo>& allOps();
/// All integer ops (domain ai.hq), in int_ops.def order.
const std::vector<OpInfo>& allIntOps();

/// Check a node against the registry: known op, known attributes, attribute kinds.
Status verifyNode(const Node& node);

/// Run the node's shape function on the given input infos.
Expected<std::vector<ValueInfo>> inferNode(const Node& node, const std::vector<ValueInfo>& inputs);

/// Infer dtype and shape of every node output in the graph (in topological order),
/// keeping what the model declared where inference knows less. Errors name the node.
Status inferShapes(Graph& graph);

// Helpers for shape functions -------------------------------------------------------

/// Normalize an axis in [-rank, rank) to [0, rank); error names the node.
Expected<int64_t> normalizeAxis(const InferContext& ctx, int64_t axis, int64_t rank);
/// Numpy-style broadcast of two shapes (unknown dims stay unknown).
Expected<Shape> broadcastShapes(const InferContext& ctx, const Shape& a, const Shape& b);

}  // namespace hq
