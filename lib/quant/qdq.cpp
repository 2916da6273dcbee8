#include "quant/qdq.h"

#include <cmath>
#include <memory>

#include "ir/legacy_opsets.h"

namespace hq {

int64_t quantizeValue(float x, float scale, int64_t zero_point, int64_t qmin, int64_t qmax) {
  // ONNX QuantizeLinear: x / scale in float32, then round half to even (nearbyint in the
  // default rounding mode), so QDQ weights match what every QDQ runtime computes.
  float ratio = x / scale;
  double q = std::nearbyint(static_cast<double>(ratio)) + static_cast<double>(zero_point);
  if (q != q) q = static_cast<double>(zero_point);  // NaN: as fxp::quantizeLinear
  if (q < static_cast<double>(qmin)) return qmin;
  if (q > static_cast<double>(qmax)) return qmax;
  return static_cast<int64_t>(q);
}

namespace {

Tensor scaleTensor(const QuantParams& p) {
  if (p.axis < 0) return Tensor::scalar<float>(p.scales.at(0));
  return Tensor::fromVector<float>({static_cast<int64_t>(p.scales.size())}, p.scales);
}

Tensor zeroPointTensor(const QuantParams& p) {
  std::vector<int8_t> zp;
  for (int64_t z : p.zeroPoints) zp.push_back(static_cast<int8_t>(z));
  if (p.axis < 0) return Tensor::scalar<int8_t>(zp.at(0));
  return Tensor::fromVector<int8_t>({static_cast<int64_t>(zp.size())}, zp);
}

Attributes axisAttr(const QuantParams& p) {
  Attributes a;
  if (p.axis >= 0) a.set("axis", Attribute::ofInt(p.axis));
  return a;
}

std::unique_ptr<Node> makeNode(const std::string& op, const std::string& name,
                               std::vector<Value*> ins, Value* out, Attributes attrs) {
  auto n = std::make_unique<Node>();
  n->opType = op;
  n->name = name;
  n->inputs = std::move(ins);
  n->outputs = {out};
  n->attrs = std::move(attrs);
  return n;
}

}  // namespace

Expected<Tensor> quantizeWeightInt8(const Tensor& wf, const QuantParams& p, int64_t qmin,
                                    int64_t qmax) {
  if (wf.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "weight is {}, expected float32", dtypeName(wf.dtype()));
  }
  const int64_t axis = p.axis >= 0 ? p.axis : -1;
  const int64_t channels = axis >= 0 && axis < wf.rank() ? wf.dim(axis) : 1;
  if (axis >= wf.rank() || p.scales.size() != static_cast<size_t>(channels) ||
      (!p.zeroPoints.empty() && p.zeroPoints.size() != p.scales.size())) {
    return HQ_ERROR(kShape, "weight of shape {}: {} scales along axis {}", shapeString(wf.shape()),
                    p.scales.size(), p.axis);
  }
  Tensor wq(DType::kInt8, wf.shape());
  const float* src = wf.data<float>();
  int8_t* dst = wq.data<int8_t>();
  int64_t inner = 1;
  for (int64_t d = axis + 1; axis >= 0 && d < wf.rank(); ++d) inner *= wf.dim(d);
  for (int64_t i = 0; i < wf.numel(); ++i) {
    const size_t c = axis >= 0 ? static_cast<size_t>((i / inner) % channels) : 0;
    const int64_t zp = p.zeroPoints.empty() ? 0 : p.zeroPoints[c];
    dst[i] = static_cast<int8_t>(quantizeValue(src[i], p.scales[c], zp, qmin, qmax));
  }
  return wq;
}

namespace {

/// W (float constant) -> int8 constant + DequantizeLinear feeding only `owner`.
Status quantizeWeight(Graph& g, const QuantPoint& point, const QuantParams& p) {
  const Value* w = point.value;
  const Tensor& wf = w->constant;
  if (wf.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "weight '{}' is {}, expected float32", w->name,
                    dtypeName(wf.dtype()));
  }
  HQ_ASSIGN_OR_RETURN(Tensor wq, quantizeWeightInt8(wf, p, point.spec.qmin(), point.spec.qmax()));
  std::string base = w->name;
  Value* q = g.addConstant(base + "_quantized", std::move(wq));
  Value* s = g.addConstant(base + "_scale", scaleTensor(p));
  Value* z = g.addConstant(base + "_zero_point", zeroPointTensor(p));
  Value* dq = g.addValue(base + "_dequantized", DType::kFloat32, wf.shape(), true);
  Node* owner = point.owner;
  g.insertNodeBefore(owner, makeNode("DequantizeLinear", g.uniqueName(base + "_DequantizeLinear"),
                                     {q, s, z}, dq, axisAttr(p)));
  for (Value*& in : owner->inputs) {
    if (in == w) in = dq;
  }
  return Status::ok();
}

/// v -> fake quantization -> (every reader of v); keeps graph output names. qint8 uses the
/// standard QuantizeLinear -> DequantizeLinear pair. qint16, which QuantizeLinear cannot
/// express before opset 21, is written with the same arithmetic in plain ONNX ops:
/// Div(v, s) -> Round (half to even) -> Clip(-32768, 32767) -> Mul(s), and listed in the
/// metadata "hq.quant.int16_activations" so later stages know the pattern is a quantizer.
Status quantizeActivation(Graph& g, const QuantPoint& point, const QuantParams& p) {
  Value* v = point.value;
  std::string name = v->name;
  bool is_output = g.isGraphOutput(v);
  if (is_output) HQ_RETURN_IF_ERROR(g.renameValue(v, g.uniqueName(name + "_float")));
  std::vector<Node*> readers = g.consumers(v);
  Value* s = g.addConstant(name + "_scale", scaleTensor(p));
  Value* dq = is_output ? g.addValue(name, DType::kFloat32, v->shape, v->hasShape)
                        : g.addValue(name + "_dequantized", DType::kFloat32, v->shape, v->hasShape);
  dq->dimParams = v->dimParams;
  auto mid = [&](const std::string& suffix, DType t) {
    Value* m = g.addValue(name + suffix, t, v->shape, v->hasShape);
    m->dimParams = v->dimParams;
    return m;
  };
  std::vector<std::unique_ptr<Node>> chain;
  if (p.dtype == QDType::kInt8) {
    Value* z = g.addConstant(name + "_zero_point", zeroPointTensor(p));
    Value* q = mid("_quantized", DType::kInt8);
    chain.push_back(makeNode("QuantizeLinear", g.uniqueName(name + "_QuantizeLinear"), {v, s, z}, q, {}));
    chain.push_back(makeNode("DequantizeLinear", g.uniqueName(name + "_DequantizeLinear"), {q, s, z}, dq, {}));
  } else {  // qint16, symmetric (zero point 0)
    Value* lo = g.addConstant(name + "_q16_min", Tensor::scalar<float>(static_cast<float>(point.spec.qmin())));
    Value* hi = g.addConstant(name + "_q16_max", Tensor::scalar<float>(static_cast<float>(point.spec.qmax())));
    Value* scaled = mid("_q16_scaled", DType::kFloat32);
    Value* rounded = mid("_q16_rounded", DType::kFloat32);
    Value* clipped = mid("_q16_clipped", DType::kFloat32);
    chain.push_back(makeNode("Div", g.uniqueName(name + "_q16_Div"), {v, s}, scaled, {}));
    chain.push_back(makeNode("Round", g.uniqueName(name + "_q16_Round"), {scaled}, rounded, {}));
    chain.push_back(makeNode("Clip", g.uniqueName(name + "_q16_Clip"), {rounded, lo, hi}, clipped, {}));
    chain.push_back(makeNode("Mul", g.uniqueName(name + "_q16_Mul"), {clipped, s}, dq, {}));
  }
  // Insert right before the first reader (or at the end for a pure graph output), so the
  // order stays topological.
  const Node* before = readers.empty() ? nullptr : readers.front();
  for (auto& n : chain) {
    if (before) {
      g.insertNodeBefore(before, std::move(n));
    } else {
      g.addNode(n->opType, n->name, n->inputs, n->outputs, n->attrs);
    }
  }
  for (Node* r : readers) {
    for (Value*& in : r->inputs) {
      if (in == v) in = dq;
    }
  }
  if (is_output) {
    for (Value*& o : g.mutableOutputs()) {
      if (o == v) o = dq;
    }
  }
  return Status::ok();
}

}  // namespace

Status insertQdq(Graph& graph, const QuantPlan& plan, const std::vector<QuantParams>& params) {
  if (params.size() != plan.points.size()) {
    return HQ_ERROR(kInternal, "insertQdq: {} params for {} points", params.size(),
                    plan.points.size());
  }
  HQ_RETURN_IF_ERROR(upgradeOpsetTo(graph, 13));
  std::string int32_outputs, int16_activations;
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const QuantPoint& point = plan.points[i];
    const QuantParams& p = params[i];
    if (p.scales.empty() || p.scales.size() != p.zeroPoints.size()) {
      return HQ_ERROR(kInternal, "insertQdq: point '{}' has no scales", point.value->name);
    }
    for (float s : p.scales) {
      if (!(s > 0) || !std::isfinite(s)) {
        return HQ_ERROR(kData, "tensor '{}': scale {} is not a positive finite number",
                        point.value->name, s);
      }
    }
    if (point.kind == QuantPoint::Kind::kWeight) {
      if (p.dtype != QDType::kInt8) {
        return HQ_ERROR(kUnsupported, "weight '{}': only qint8 weights are supported, got {}",
                        point.value->name, qdtypeName(p.dtype));
      }
      HQ_RETURN_IF_ERROR(quantizeWeight(graph, point, p));
      continue;
    }
    switch (p.dtype) {
      case QDType::kInt8:
        HQ_RETURN_IF_ERROR(quantizeActivation(graph, point, p));
        break;
      case QDType::kInt32:
        int32_outputs += (int32_outputs.empty() ? "" : ",") + point.value->name;
        break;
      case QDType::kInt16:
        if (!point.spec.symmetric || p.zeroPoints[0] != 0) {
          return HQ_ERROR(kUnsupported, "tensor '{}': qint16 activations must be symmetric",
                          point.value->name);
        }
        int16_activations += (int16_activations.empty() ? "" : ",") + point.value->name;
        HQ_RETURN_IF_ERROR(quantizeActivation(graph, point, p));
        break;
    }
  }
  if (!int32_outputs.empty()) graph.metadata["hq.quant.int32_outputs"] = int32_outputs;
  if (!int16_activations.empty()) graph.metadata["hq.quant.int16_activations"] = int16_activations;
  graph.removeDeadValues();
  return Status::ok();
}

}  // namespace hq
