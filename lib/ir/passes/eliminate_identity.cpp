// eliminate_identity: Identity(x) -> x, and Dropout(x) -> x for inference when its optional
// mask output is unused. When the removed node's output is a graph output, its producer is
// made to compute that output directly, so graph output names never change; where that is
// impossible (x is a graph input, a constant or another graph output) the node stays.
#include <optional>

#include "ir/passes/passes.h"

namespace hq::passes {

namespace {

struct Match {
  Node* node;
  Value* in;
  Value* out;
};

bool isUsed(const Graph& g, const Value* v) {
  return v && (g.isGraphOutput(v) || !g.consumers(v).empty());
}

std::optional<Match> match(const Graph& g, Node* n) {
  if (!n->domain.empty()) return std::nullopt;
  if (n->opType != "Identity" && n->opType != "Dropout") return std::nullopt;
  if (!n->input(0) || n->outputs.empty() || !n->outputs[0]) return std::nullopt;
  for (size_t i = 1; i < n->outputs.size(); ++i) {
    if (isUsed(g, n->outputs[i])) return std::nullopt;  // Dropout's mask is read
  }
  Match m{n, n->input(0), n->outputs[0]};
  if (g.isGraphOutput(m.out) && (!m.in->producer || g.isGraphOutput(m.in))) return std::nullopt;
  return m;
}

void rewrite(Graph& g, const Match& m) {
  if (!g.isGraphOutput(m.out)) {
    g.removeNode(m.node);
    g.replaceAllUses(m.out, m.in);
    return;
  }
  // Keep the graph output's name: in's producer now computes `out` itself.
  Node* producer = m.in->producer;
  g.removeNode(m.node);
  g.replaceAllUses(m.in, m.out);
  for (Value*& o : producer->outputs) {
    if (o == m.in) o = m.out;
  }
  m.out->producer = producer;
  m.in->producer = nullptr;
  if (m.out->dtype == DType::kUndefined) m.out->dtype = m.in->dtype;
  if (!m.out->hasShape && m.in->hasShape) {
    m.out->shape = m.in->shape;
    m.out->dimParams = m.in->dimParams;
    m.out->hasShape = true;
  }
}

}  // namespace

Expected<size_t> eliminate_identity(Graph& graph) {
  size_t count = 0;
  for (Node* n : graph.nodes()) {
    if (auto m = match(graph, n)) {
      rewrite(graph, *m);
      ++count;
    }
  }
  if (count) graph.removeDeadValues();
  return count;
}

}  // namespace hq::passes
