// Add(Conv(X), R) -> hq.FusedConv(X, W, B, R): the residual is accumulated by the conv
// (oneDNN post-op sum), saving one pass over the activation. The fused node takes the
// Add's place, where R is already computed.
#include <unordered_map>

#include "runtime/passes/fused_conv.h"
#include "runtime/passes/passes.h"

namespace hq::passes {

namespace {

// A plain Conv (or an activation-free FusedConv without residual) whose only use is `add`.
bool fusableConv(const Graph& g, const PassContext& ctx, const Value* v, const Node* add) {
  const Node* p = v ? v->producer : nullptr;
  if (!p || ctx.soleConsumer(g, v) != add) return false;
  bool conv = p->opType == "Conv" && p->domain.empty();
  bool fused = isFusedConv(*p) && fusedActivationOf(*p).kind.empty() && !p->input(3);
  return (conv || fused) && p->inputs.size() >= 2;
}

}  // namespace

Expected<int> fuseConvAdd(Graph& g, const PassContext& ctx) {
  int rewrites = 0;
  std::vector<Node*> order = g.nodes();
  std::unordered_map<const Node*, size_t> position;
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (Node* add : order) {
    if (add->opType != "Add" || !add->domain.empty() || add->inputs.size() != 2) continue;
    Value *a = add->inputs[0], *b = add->inputs[1], *y = add->outputs.at(0);
    if (!a || !b || a == b || !y || a->dtype != DType::kFloat32 || b->dtype != DType::kFloat32) {
      continue;
    }
    if (!a->hasShape || !b->hasShape || a->shape != b->shape || a->shape != y->shape) continue;
    // Prefer the conv computed last, so that the residual is the older value.
    Value* conv_out = nullptr;
    Value* residual = nullptr;
    bool fa = fusableConv(g, ctx, a, add), fb = fusableConv(g, ctx, b, add);
    if (fa && fb) {
      auto pos = [&](const Node* n) {
        auto it = position.find(n);
        return it == position.end() ? order.size() : it->second;
      };
      bool a_later = pos(a->producer) > pos(b->producer);
      conv_out = a_later ? a : b;
      residual = a_later ? b : a;
    } else if (fa || fb) {
      conv_out = fa ? a : b;
      residual = fa ? b : a;
    } else {
      continue;
    }
    Node* conv = conv_out->producer;
    auto fused = std::make_unique<Node>();
    fused->name = conv->name;
    fused->opType = kFusedConv;
    fused->domain = kHqDomain;
    fused->attrs = conv->attrs;
    fused->inputs = {conv->input(0), conv->input(1), conv->input(2), residual};
    fused->outputs = {y};
    // Insert first: the output's producer link moves to the fused node, then the two
    // old nodes go.
    g.insertNodeBefore(add, std::move(fused));
    g.removeNode(add);
    g.removeNode(conv);
    ++rewrites;
  }
  return rewrites;
}

}  // namespace hq::passes
