// Conv -> BatchNormalization (inference): W'[o] = W[o] * s[o], b'[o] = (b[o] - mean[o]) * s[o]
// + beta[o], with s = gamma / sqrt(var + epsilon). New constants; shared ones are untouched.
#include <cmath>

#include "runtime/passes/passes.h"

namespace hq::passes {

namespace {

// A constant f32 vector of `n` elements, or nullptr.
const Tensor* constVector(const Value* v, int64_t n) {
  if (!v || !v->isConstant() || v->constant.dtype() != DType::kFloat32) return nullptr;
  return v->constant.numel() == n && v->constant.rank() == 1 ? &v->constant : nullptr;
}

}  // namespace

Expected<int> foldBatchNormIntoConv(Graph& g, const PassContext& ctx) {
  int rewrites = 0;
  for (Node* bn : g.nodes()) {
    if (bn->opType != "BatchNormalization" || !bn->domain.empty()) continue;
    if (bn->attrs.getInt("training_mode", 0) != 0 || bn->inputs.size() != 5) continue;
    // Only Y may be used (running statistics outputs belong to training).
    bool extra_used = false;
    for (size_t i = 1; i < bn->outputs.size(); ++i) {
      Value* o = bn->outputs[i];
      if (o && (!g.consumers(o).empty() || g.isGraphOutput(o) || ctx.protect.count(o))) {
        extra_used = true;
      }
    }
    if (extra_used || bn->outputs.empty() || !bn->outputs[0]) continue;
    Value* x = bn->input(0);
    Node* conv = x ? x->producer : nullptr;
    if (!conv || conv->opType != "Conv" || !conv->domain.empty()) continue;
    if (ctx.soleConsumer(g, x) != bn || conv->outputs.size() != 1) continue;
    Value* w = conv->input(1);
    if (!w || !w->isConstant() || w->constant.dtype() != DType::kFloat32) continue;
    if (w->constant.rank() < 3) continue;
    int64_t oc = w->constant.dim(0);
    const Tensor* bias = conv->input(2) ? constVector(conv->input(2), oc) : nullptr;
    if (conv->input(2) && !bias) continue;
    const Tensor* gamma = constVector(bn->input(1), oc);
    const Tensor* beta = constVector(bn->input(2), oc);
    const Tensor* mean = constVector(bn->input(3), oc);
    const Tensor* var = constVector(bn->input(4), oc);
    if (!gamma || !beta || !mean || !var) continue;
    if (x->hasShape && (x->shape.size() < 2 || x->shape[1] != oc)) continue;

    float eps = bn->attrs.getFloat("epsilon", 1e-5f);
    Tensor nw(DType::kFloat32, w->constant.shape());
    Tensor nb(DType::kFloat32, {oc});
    int64_t per = w->constant.numel() / oc;
    const float* wd = w->constant.data<float>();
    float* nwd = nw.data<float>();
    float* nbd = nb.data<float>();
    for (int64_t o = 0; o < oc; ++o) {
      // Double for the scale, as exporters do when they fold BN.
      double s = static_cast<double>(gamma->data<float>()[o]) /
                 std::sqrt(static_cast<double>(var->data<float>()[o]) + eps);
      for (int64_t i = 0; i < per; ++i) {
        nwd[o * per + i] = static_cast<float>(wd[o * per + i] * s);
      }
      double b = bias ? bias->data<float>()[o] : 0.0;
      nbd[o] = static_cast<float>((b - mean->data<float>()[o]) * s + beta->data<float>()[o]);
    }
    Value* nwv = g.addConstant(w->name + "_bnfolded", std::move(nw));
    Value* nbv = g.addConstant(conv->name + "_bnfolded_bias", std::move(nb));
    Value* y = bn->outputs[0];
    g.removeNode(bn);
    conv->inputs.resize(3);
    conv->inputs[1] = nwv;
    conv->inputs[2] = nbv;
    conv->outputs[0] = y;
    y->producer = conv;
    ++rewrites;
  }
  return rewrites;
}

}  // namespace hq::passes
