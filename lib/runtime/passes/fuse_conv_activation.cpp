// Conv | hq.FusedConv -> Relu | LeakyRelu | Clip: the activation becomes a post-op of the
// (fused) conv, so the activation never makes its own pass over memory.
#include <cfloat>

#include "runtime/passes/fused_conv.h"
#include "runtime/passes/passes.h"

namespace hq::passes {

namespace {

// The activation of `node` as a FusedActivation; false when it cannot be fused.
bool activationOf(const Node& node, FusedActivation& act) {
  if (!node.domain.empty() || node.outputs.size() != 1) return false;
  act.kind = node.opType;
  if (node.opType == "Relu") return true;
  if (node.opType == "LeakyRelu") {
    act.alpha = node.attrs.getFloat("alpha", 0.01f);
    return true;
  }
  if (node.opType != "Clip") return false;
  act.alpha = -FLT_MAX;
  act.beta = FLT_MAX;
  if (node.attrs.has("min") || node.attrs.has("max")) {
    act.alpha = node.attrs.getFloat("min", -FLT_MAX);
    act.beta = node.attrs.getFloat("max", FLT_MAX);
  }
  for (size_t i = 1; i < node.inputs.size() && i < 3; ++i) {
    const Value* v = node.inputs[i];
    if (!v) continue;
    if (!v->isConstant() || v->constant.numel() != 1) return false;
    (i == 1 ? act.alpha : act.beta) = static_cast<float>(v->constant.toDouble()[0]);
  }
  return act.alpha <= act.beta;
}

void setActivation(Node& fused, const FusedActivation& act) {
  fused.attrs.set("activation", Attribute::ofString(act.kind));
  fused.attrs.set("activation_alpha", Attribute::ofFloat(act.alpha));
  fused.attrs.set("activation_beta", Attribute::ofFloat(act.beta));
}

}  // namespace

Expected<int> fuseConvActivation(Graph& g, const PassContext& ctx) {
  int rewrites = 0;
  for (Node* act_node : g.nodes()) {
    FusedActivation act;
    if (!activationOf(*act_node, act)) continue;
    Value* x = act_node->input(0);
    Value* y = act_node->outputs[0];
    Node* conv = x ? x->producer : nullptr;
    if (!conv || !y || x->dtype != DType::kFloat32 || ctx.soleConsumer(g, x) != act_node) continue;
    if (isFusedConv(*conv)) {
      if (!fusedActivationOf(*conv).kind.empty()) continue;
      setActivation(*conv, act);
      g.removeNode(act_node);
      conv->outputs[0] = y;
      y->producer = conv;
    } else if (conv->opType == "Conv" && conv->domain.empty() && conv->outputs.size() == 1) {
      auto fused = std::make_unique<Node>();
      fused->name = conv->name;
      fused->opType = kFusedConv;
      fused->domain = kHqDomain;
      fused->attrs = conv->attrs;
      setActivation(*fused, act);
      fused->inputs = {conv->input(0), conv->input(1), conv->input(2)};
      fused->outputs = {y};
      g.insertNodeBefore(conv, std::move(fused));
      g.removeNode(act_node);
      g.removeNode(conv);
    } else {
      continue;
    }
    ++rewrites;
  }
  return rewrites;
}

}  // namespace hq::passes
