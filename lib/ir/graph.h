// The graph IR: Values (tensors flowing between nodes, with dtype and shape), Nodes
// (an op with attributes, inputs and outputs) and the Graph that owns both, keeps the
// nodes in topological order and answers producer/consumer questions.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/attributes.h"
#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

class Node;

/// A tensor in the graph: a graph input, an initializer (constant data) or a node output.
class Value {
 public:
  std::string name;
  DType dtype = DType::kUndefined;
  /// Dims; -1 where unknown (dynamic batch). Empty with hasShape=false when unknown rank.
  Shape shape;
  /// Symbolic names of dims (ONNX dim_param), "" where none; same length as shape or empty.
  std::vector<std::string> dimParams;
  bool hasShape = false;
  /// Set for initializers (weights, constants).
  Tensor constant;
  /// The node that computes this value; nullptr for graph inputs and initializers.
  Node* producer = nullptr;

  bool isConstant() const { return constant.defined(); }
};

class Node {
 public:
  std::string name;
  std::string opType;
  std::string domain;  ///< "" for the default ONNX domain
  Attributes attrs;
  /// nullptr marks an omitted optional input.
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;

  Value* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  /// "Conv 'conv1'" for messages.
  std::string describe() const;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  /// A deep copy (values, nodes, constants share tensor buffers).
  std::unique_ptr<Graph> clone() const;

  std::string name;
  /// Model-level metadata (ONNX metadata_props), producer info and opset, kept on export.
  std::map<std::string, std::string> metadata;
  std::string producerName;
  std::string producerVersion;
  std::string docString;
  int64_t opsetVersion = 13;
  /// Opsets of other domains (e.g. the project's own), domain -> version.
  std::map<std::string, int64_t> extraOpsets;

  // --- values ---
  /// Create a value with a name unique in the graph (a suffix is added if needed).
  Value* addValue(const std::string& name, DType dtype = DType::kUndefined, Shape shape = {},
                  bool has_shape = false);
  Value* addConstant(const std::string& name, Tensor data);
  Value* findValue(const std::string& name) const;
  /// Give `v` a new name (which must be unused); error if it is taken.
  Status renameValue(Value* v, const std::string& new_name);
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  std::vector<Value*>& mutableInputs() { return inputs_; }
  std::vector<Value*>& mutableOutputs() { return outputs_; }
  /// All values, in creation order.
  std::vector<Value*> values() const;
  /// Initializers, in creation order.
  std::vector<Value*> constants() const;

  // --- nodes ---
  /// Append a node (the caller keeps the order topological, or calls sortTopologically).
  Node* addNode(const std::string& op_type, const std::string& name, std::vector<Value*> inputs,
                std::vector<Value*> outputs, Attributes attrs = {}, const std::string& domain = "");
  /// Insert a node right before `before`.
  Node* insertNodeBefore(const Node* before, std::unique_ptr<Node> node);
  /// Remove a node; its outputs lose their producer (and must be unused or rewired).
  void removeNode(const Node* node);
  /// Nodes in topological order.
  std::vector<Node*> nodes() const;
  size_t nodeCount() const { return nodes_.size(); }
  Node* findNode(const std::string& name) const;

  /// Nodes that read `v` (in topological order).
  std::vector<Node*> consumers(const Value* v) const;
  bool isGraphOutput(const Value* v) const;
  /// Replace every use of `from` (node inputs, graph outputs) by `to`.
  void replaceAllUses(Value* from, Value* to);
  /// Drop values that nothing produces, reads or lists (unused initializers included).
  void removeDeadValues();
  /// Drop nodes whose outputs nobody uses (repeat until stable).
  void removeDeadNodes();
  /// Reorder nodes topologically; error names a node on a cycle or with an undefined input.
  Status sortTopologically();
  /// Consistency: every input defined before use, producer links right, names unique.
  Status verify() const;

  /// A fresh name based on `base` ("conv1" -> "conv1_1").
  std::string uniqueName(const std::string& base) const;

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  std::map<std::string, Value*> valueByName_;
};

}  // namespace hq
