// global_pool: a MaxPool or AveragePool whose window covers the whole spatial extent of its
// input, with no padding and no dilation, is the global pool: it becomes GlobalMaxPool /
// GlobalAveragePool (what F.adaptive_max_pool2d(x, 1) and F.adaptive_avg_pool2d(x, 1)
// export as on a static feature map). Any strides and ceil_mode give one output per channel
// there, and count_include_pad does not matter without padding. Needs the input's spatial
// dims: where they are not yet known the graph's shapes are inferred first (a graph whose
// shapes cannot be inferred here is left alone). MaxPool's Indices output must be unused.
#include <optional>

#include "ir/op_registry.h"
#include "ir/passes/passes.h"

namespace hq::passes {

namespace {

bool isUsed(const Graph& g, const Value* v) {
  return v && (g.isGraphOutput(v) || !g.consumers(v).empty());
}

bool allEqual(const std::vector<int64_t>& v, int64_t x) {
  for (int64_t e : v) {
    if (e != x) return false;
  }
  return true;
}

bool matches(const Graph& g, const Node& n) {
  if (!n.domain.empty() || (n.opType != "MaxPool" && n.opType != "AveragePool")) return false;
  const Value* x = n.input(0);
  if (!x || !x->hasShape || x->shape.size() < 3 || n.outputs.empty() || !n.outputs[0]) {
    return false;
  }
  for (size_t i = 1; i < n.outputs.size(); ++i) {
    if (isUsed(g, n.outputs[i])) return false;  // MaxPool's Indices are read
  }
  std::string auto_pad = n.attrs.getString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  if (!allEqual(n.attrs.getInts("pads"), 0) || !allEqual(n.attrs.getInts("dilations"), 1)) {
    return false;
  }
  if (n.attrs.getInt("storage_order", 0) != 0) return false;
  std::vector<int64_t> kernel = n.attrs.getInts("kernel_shape");
  if (kernel.size() + 2 != x->shape.size()) return false;
  for (size_t i = 0; i < kernel.size(); ++i) {
    if (x->shape[i + 2] <= 0 || kernel[i] != x->shape[i + 2]) return false;
  }
  return true;
}

}  // namespace

Expected<size_t> global_pool(Graph& graph) {
  bool any_pool = false, unknown = false;
  for (const Node* n : graph.nodes()) {
    if (n->domain.empty() && (n->opType == "MaxPool" || n->opType == "AveragePool")) {
      any_pool = true;
      unknown |= !n->input(0) || !n->input(0)->hasShape;
    }
  }
  if (!any_pool) return size_t{0};
  if (unknown && !inferShapes(graph).isOk()) return size_t{0};
  size_t count = 0;
  for (Node* n : graph.nodes()) {
    if (!matches(graph, *n)) continue;
    n->opType = n->opType == "MaxPool" ? "GlobalMaxPool" : "GlobalAveragePool";
    n->attrs = Attributes();
    for (size_t i = 1; i < n->outputs.size(); ++i) {
      if (n->outputs[i]) n->outputs[i]->producer = nullptr;  // the unused Indices
    }
    n->outputs.resize(1);
    ++count;
  }
  if (count) graph.removeDeadValues();
  return count;
}

}  // namespace hq::passes
