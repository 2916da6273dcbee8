// QuantizeLinear(X, s, zp) -> DequantizeLinear(q, s', zp') with s == s', zp == zp' and
// the same axis, q used by nothing else: hq.FakeQuant(X, s, zp). The quantized integer
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

}  // namespace

Expected<int> fuseQuantizeDequantize(Graph& g, const PassContext& ctx) {
  int rewrites = 0;
  for (Node* dq : g.nodes()) {
    if (dq->opType != "DequantizeLinear" || !dq->domain.empty() || dq->outputs.size() != 1)
      continue;
    Value* q_out = dq->input(0);
    Node* q = q_out ? q_out->producer : nullptr;
    if (!q || q->opType != "QuantizeLinear" || !q->domain.empty() || q->outputs.size() != 1)
      continue;
    if (ctx.soleConsumer(g, q_out) != dq) continue;
    Value* x = q->input(0);
    Value* y = dq->outputs[0];
    Value* scale = q->input(1);
    if (!x || !y || !scale || x->dtype != DType::kFloat32 || !x->hasShape) continue;
    // Constant parameters only: they are checked when the plan is built (with the
    // QuantizeLinear's name in the message), and the fast kernel reads them once.
    if (!scale->isConstant() || (q->input(2) && !q->input(2)->isConstant())) continue;
    DType qtype = q_out->dtype;
    if (qtype != DType::kInt8 && qtype != DType::kUInt8) continue;
    if (!dq->input(1) || !sameParameter(scale, dq->input(1), DType::kFloat32)) continue;
    if (!sameParameter(q->input(2), dq->input(2), qtype)) continue;
    bool per_axis = !scale->hasShape || shapeNumel(scale->shape) != 1;
    int64_t rank = static_cast<int64_t>(x->shape.size());
    if (per_axis && normalizedAxis(*q, rank) != normalizedAxis(*dq, rank)) continue;

    auto fused = std::make_unique<Node>();
    fused->name = q->name;
    fused->opType = kFakeQuant;
    fused->domain = kHqDomain;
    if (q->attrs.has("axis")) fused->attrs.set("axis", *q->attrs.find("axis"));
    fused->inputs = {x, scale};
    if (q->input(2)) fused->inputs.push_back(q->input(2));
    fused->outputs = {y};
    g.insertNodeBefore(dq, std::move(fused));
    g.removeNode(dq);
    g.removeNode(q);
    ++rewrites;
  }
  return rewrites;
}

}  // namespace hq::passes
