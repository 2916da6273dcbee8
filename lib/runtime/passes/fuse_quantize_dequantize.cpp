// QuantizeLinear(X, s, zp) -> DequantizeLinear(q, s', zp') with s == s', zp == zp' and
// the same axis, q read by nothing else (or only by more such DequantizeLinear nodes, which
// then share the result): hq.FakeQuant(X, s, zp). The quantized integer
// tensor is never stored; the result is the same bits (runtime/kernels/quantize.h).
// Scale and zero point must be constants (as in QDQ models).
#include <cstring>

#include "runtime/passes/fake_quant.h"
#include "runtime/passes/fused_conv.h"

namespace hq::passes {

namespace {

// Two optional parameter values hold the same data: the same value, or two constants
// with equal dtype, shape and bytes. An omitted zero point equals a zero constant of the
// quantized type.
bool sameParameter(const Value* a, const Value* b, DType qtype) {
  if (a == b) return true;
  auto data = [&](const Value* v, Tensor* out) {
    if (!v) {
      *out = Tensor(qtype, {});
      return true;
    }
    if (!v->isConstant()) return false;
    *out = v->constant;
    return true;
  };
  Tensor ta, tb;
  if (!data(a, &ta) || !data(b, &tb)) return false;
  if (ta.dtype() != tb.dtype() || ta.numel() != tb.numel()) return false;
  // A scalar and a one-element 1-D tensor mean the same (per tensor).
  if (ta.shape() != tb.shape() && ta.numel() != 1) return false;
  return std::memcmp(ta.raw(), tb.raw(), ta.nbytes()) == 0;
}

int64_t normalizedAxis(const Node& n, int64_t rank) {
  int64_t axis = n.attrs.getInt("axis", 1);
  return axis < 0 ? axis + rank : axis;
}

// Whether `dq` dequantizes q's output with q's scale, zero point and axis.
bool matches(const Node& q, const Node& dq) {
  const Value* q_out = q.outputs[0];
  const Value* x = q.input(0);
  if (dq.opType != "DequantizeLinear" || !dq.domain.empty() || dq.outputs.size() != 1 ||
      !dq.outputs[0] || dq.input(0) != q_out || !dq.input(1)) {
    return false;
  }
  for (size_t i = 1; i < dq.inputs.size(); ++i) {
    if (dq.inputs[i] == q_out) return false;
  }
  if (!sameParameter(q.input(1), dq.input(1), DType::kFloat32)) return false;
  if (!sameParameter(q.input(2), dq.input(2), q_out->dtype)) return false;
  const Value* scale = q.input(1);
  bool per_axis = !scale->hasShape || shapeNumel(scale->shape) != 1;
  int64_t rank = static_cast<int64_t>(x->shape.size());
  return !per_axis || normalizedAxis(q, rank) == normalizedAxis(dq, rank);
}

}  // namespace

Expected<int> fuseQuantizeDequantize(Graph& g, const PassContext& ctx) {
  int rewrites = 0;
  for (Node* q : g.nodes()) {
    if (q->opType != "QuantizeLinear" || !q->domain.empty() || q->outputs.size() != 1) continue;
    Value* q_out = q->outputs[0];
    Value* x = q->input(0);
    Value* scale = q->input(1);
    if (!q_out || !x || !scale || x->dtype != DType::kFloat32 || !x->hasShape) continue;
    if (q_out->dtype != DType::kInt8 && q_out->dtype != DType::kUInt8) continue;
    // Constant parameters only: they are checked when the plan is built (with the
    // QuantizeLinear's name in the message), and the fast kernel reads them once.
    if (!scale->isConstant() || (q->input(2) && !q->input(2)->isConstant())) continue;
    if (ctx.protect.count(q_out) || g.isGraphOutput(q_out)) continue;
    // Every reader of the integers must be a matching DequantizeLinear; all of them get
    // the first one's output (they compute the same bits), whose consumers come later.
    std::vector<Node*> dqs = g.consumers(q_out);
    bool ok = !dqs.empty();
    for (size_t i = 0; ok && i < dqs.size(); ++i) {
      ok = matches(*q, *dqs[i]);
      const Value* y = dqs[i]->outputs[0];
      if (ok && i > 0) ok = !ctx.protect.count(y) && !g.isGraphOutput(y);
    }
    if (!ok) continue;

    auto fused = std::make_unique<Node>();
    fused->name = q->name;
    fused->opType = kFakeQuant;
    fused->domain = kHqDomain;
    if (q->attrs.has("axis")) fused->attrs.set("axis", *q->attrs.find("axis"));
    fused->inputs = {x, scale};
    if (q->input(2)) fused->inputs.push_back(q->input(2));
    Value* y = dqs[0]->outputs[0];
    fused->outputs = {y};
    g.insertNodeBefore(dqs[0], std::move(fused));
    for (size_t i = 1; i < dqs.size(); ++i) {
      g.replaceAllUses(dqs[i]->outputs[0], y);
      g.removeNode(dqs[i]);
    }
    g.removeNode(dqs[0]);
    g.removeNode(q);
    ++rewrites;
  }
  return rewrites;
}

}  // namespace hq::passes
