// batchnorm_inference: BatchNormalization exported in training mode (training_mode=1, with
// the running-mean/var outputs, as PyTorch writes a model exported in train()) becomes the
// inference form: it normalizes with the running statistics and has one output. The extra
// outputs must be unused: a model that reads them is a training graph, and is rejected.
#include <optional>

#include "ir/passes/passes.h"

namespace hq::passes {

namespace {

struct Match {
  Node* node;
};

Expected<std::optional<Match>> match(const Graph& g, Node* n) {
  if (!n->domain.empty() || n->opType != "BatchNormalization") return std::optional<Match>();
  bool training = n->attrs.getInt("training_mode", 0) != 0;
  if (!training && n->outputs.size() <= 1) return std::optional<Match>();
  for (size_t i = 1; i < n->outputs.size(); ++i) {
    const Value* o = n->outputs[i];
    if (!o) continue;
    if (g.isGraphOutput(o)) {
      return HQ_ERROR(kUnsupported,
                      "node {}: training-mode output {} ('{}') is a graph output; hq imports "
                      "models for inference and cannot keep the batch statistics outputs",
                      n->describe(), i, o->name);
    }
    auto users = g.consumers(o);
    if (!users.empty()) {
      return HQ_ERROR(kUnsupported,
                      "node {}: training-mode output {} ('{}') is read by node {}; hq imports "
                      "models for inference and cannot keep the batch statistics outputs",
                      n->describe(), i, o->name, users[0]->describe());
    }
  }
  return std::optional<Match>(Match{n});
}

void rewrite(Match m) {
  Node* n = m.node;
  n->attrs.erase("training_mode");
  for (size_t i = 1; i < n->outputs.size(); ++i) {
    if (n->outputs[i]) n->outputs[i]->producer = nullptr;
  }
  n->outputs.resize(1);
}

}  // namespace

Expected<size_t> batchnorm_inference(Graph& graph) {
  size_t count = 0;
  for (Node* n : graph.nodes()) {
    HQ_ASSIGN_OR_RETURN(auto m, match(graph, n));
    if (!m) continue;
    rewrite(*m);
    ++count;
  }
  if (count) graph.removeDeadValues();
  return count;
}

}  // namespace hq::passes
