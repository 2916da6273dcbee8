#include "ir/legacy_opsets.h"

#include <memory>

namespace hq {

namespace {

Status upgradeSoftmax(Graph& g, Node* n) {
  int64_t axis = n->attrs.getInt("axis", 1);  // opset < 13 default
  Value* x = n->input(0);
  if (!x) return HQ_ERROR(kParse, "node {}: missing input", n->describe());
  if (x->hasShape) {
    int64_t rank = static_cast<int64_t>(x->shape.size());
    if (axis < -rank || axis >= rank) {
      return HQ_ERROR(kShape, "node {}: axis {} is out of range for rank {}", n->describe(), axis,
                      rank);
    }
    if (axis < 0) axis += rank;
    if (axis == rank - 1) {  // same meaning in both opsets
      n->attrs.set("axis", Attribute::ofInt(axis));
      return Status::ok();
    }
  }
  // y = Reshape(Softmax(Flatten(x, axis), axis=-1), Shape(x))
  Value* y = n->outputs[0];
  Value* flat = g.addValue(n->name + "_flat", x->dtype);
  Value* soft = g.addValue(n->name + "_soft2d", x->dtype);
  Value* shape = g.addValue(n->name + "_shape", DType::kInt64);
  auto make = [&](const std::string& op, const std::string& name, std::vector<Value*> ins,
                  Value* out, Attributes attrs) {
    auto node = std::make_unique<Node>();
    node->opType = op;
    node->name = g.uniqueName(name);
    node->inputs = std::move(ins);
    node->outputs = {out};
    node->attrs = std::move(attrs);
    g.insertNodeBefore(n, std::move(node));
  };
  Attributes fa, sa;
  fa.set("axis", Attribute::ofInt(axis));
  sa.set("axis", Attribute::ofInt(-1));
  make("Flatten", n->name + "_flatten", {x}, flat, fa);
  make("Softmax", n->name + "_2d", {flat}, soft, sa);
  make("Shape", n->name + "_shape", {x}, shape, {});
  // The original node becomes the Reshape, keeping its name and output.
  n->opType = "Reshape";
  n->attrs = Attributes();
  n->inputs = {soft, shape};
  (void)y;
  return Status::ok();
}

}  // namespace

Status upgradeLegacyOps(Graph& graph) {
  if (graph.opsetVersion >= 13) return Status::ok();
  for (Node* n : graph.nodes()) {
    if (!n->domain.empty()) continue;
    if (n->opType == "Softmax") HQ_RETURN_IF_ERROR(upgradeSoftmax(graph, n));
  }
  return Status::ok();
}

Status upgradeOpsetTo(Graph& graph, int64_t target) {
  if (graph.opsetVersion >= target) return Status::ok();
  HQ_RETURN_IF_ERROR(upgradeLegacyOps(graph));
  if (graph.opsetVersion < 13 && target >= 13) {
    for (Node* n : graph.nodes()) {
      if (!n->domain.empty()) continue;
      const char* attr = n->opType == "Split" ? "split"
                         : (n->opType == "Squeeze" || n->opType == "Unsqueeze") ? "axes"
                                                                                : nullptr;
      if (!attr || !n->attrs.has(attr)) continue;
      std::vector<int64_t> values = n->attrs.getInts(attr);
      n->attrs.erase(attr);
      Value* c = graph.addConstant(n->name + "_" + attr,
                                   Tensor::fromVector<int64_t>({static_cast<int64_t>(values.size())},
                                                               values));
      if (n->inputs.size() < 2) n->inputs.resize(2, nullptr);
      n->inputs[1] = c;
    }
  }
  graph.opsetVersion = target;
  return Status::ok();
}

}  // namespace hq
