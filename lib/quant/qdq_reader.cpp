// Reading a QDQ model back (hq-convert): every quantization point as hq-calib wrote it
// (quant/qdq.h) is taken out of the graph and kept as parameters:
//  - v -> QuantizeLinear -> q -> DequantizeLinear -> dq: activation point of v (int8),
//    integer tensor name q; readers of dq read v again, a graph output keeps its name;
//  - Div(v, s) -> Round -> Clip(-32768, 32767) -> Mul(s) for the values listed in
//    "hq.quant.int16_activations": an int16 point of v;
//  - values listed in "hq.quant.int32_outputs": int32 points (no pair in the model);
//  - DequantizeLinear(int8 constant, scale, zero point, axis): a weight; its readers read a
//    float constant holding the dequantized weight;
//  - BatchNormalization after such a Conv (a QAT model may keep it): folded into the int8
//    weight, its scale taking |factor| (section 1.5 of int-ops.md).
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <unordered_map>

#include "quant/convert_internal.h"

namespace hq::convert_detail {

namespace {

std::set<std::string> splitList(const Graph& g, const std::string& key) {
  std::set<std::string> out;
  auto it = g.metadata.find(key);
  if (it == g.metadata.end()) return out;
  std::stringstream ss(it->second);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.insert(item);
  }
  return out;
}

/// A positive finite float32 scale constant: one value, or `n` along an axis.
Expected<std::vector<float>> readScales(const Node& n, const Value* s) {
  if (!s || !s->isConstant() || s->constant.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "node {}: the scale must be a float32 constant",
                    n.describe());
  }
  std::vector<float> out(s->constant.data<float>(),
                         s->constant.data<float>() + s->constant.numel());
  if (out.empty()) return HQ_ERROR(kData, "node {}: the scale is empty", n.describe());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!(out[i] > 0) || !std::isfinite(out[i])) {
      return HQ_ERROR(kData, "node {}: scale {} (element {}) is not a positive finite number",
                      n.describe(), out[i], i);
    }
  }
  return out;
}

/// Zero points must be absent or all 0 (hq's integer model is symmetric).
Status checkZeroPoint(const Node& n, const Value* z, DType want) {
  if (!z) return Status::ok();
  if (!z->isConstant()) {
    return HQ_ERROR(kUnsupported, "node {}: the zero point must be a constant", n.describe());
  }
  if (z->constant.dtype() != want) {
    return HQ_ERROR(kUnsupported, "node {}: zero point is {}, expected {} (hq integer models are "
                    "signed and symmetric)", n.describe(), dtypeName(z->constant.dtype()),
                    dtypeName(want));
  }
  for (int64_t v : z->constant.toInt64()) {
    if (v != 0) {
      return HQ_ERROR(kUnsupported, "node {}: zero point {} is not 0 (asymmetric quantization "
                      "has no integer form in hq)", n.describe(), v);
    }
  }
  return Status::ok();
}

class Reader {
 public:
  explicit Reader(const Graph& qdq) : g_(qdq.clone()) {}

  Expected<QdqModel> run(const Graph& qdq) {
    const std::set<std::string> listed = splitList(qdq, "hq.quant.int16_activations");
    // A graph output keeps its name on the quantizer's Mul (quant/qdq.h), so a listed
    // graph output is found by the Div at the start of the chain that ends in it.
    std::set<std::string> int16;
    for (const std::string& name : listed) {
      const Value* v = g_->findValue(name);
      const Node* div = v && g_->isGraphOutput(v) ? chainStart(v) : nullptr;
      int16.insert(div ? div->input(0)->name : name);
    }
    std::set<std::string> int32 = splitList(qdq, "hq.quant.int32_outputs");
    for (Node* n : g_->nodes()) {
      if (removed_.count(n) || !n->domain.empty()) continue;
      if (n->opType == "DequantizeLinear") {
        HQ_RETURN_IF_ERROR(readDequantize(n));
      } else if (n->opType == "QuantizeLinear") {
        HQ_RETURN_IF_ERROR(readQuantize(n));
      } else if (n->opType == "Div" && n->input(0) && int16.count(n->input(0)->name) &&
                 !acts_.count(n->input(0))) {
        // The quantizer comes before every reader of the value; a later Div of the same
        // value (redirected here from the quantizer's output) is the model's own op.
        HQ_RETURN_IF_ERROR(readInt16(n));
      }
    }
    for (const Node* n : toRemove_) g_->removeNode(n);
    g_->removeDeadValues();
    for (auto& [v, name] : renames_) HQ_RETURN_IF_ERROR(g_->renameValue(v, name));
    for (const std::string& name : listed) {
      if (!acts_.count(g_->findValue(name))) {
        return HQ_ERROR(kParse, "metadata hq.quant.int16_activations lists '{}', but no "
                        "Div/Round/Clip/Mul quantizer of that value was found", name);
      }
    }
    for (const std::string& name : int32) {
      Value* v = g_->findValue(name);
      if (!v) {
        return HQ_ERROR(kParse, "metadata hq.quant.int32_outputs lists '{}', which is not a "
                        "value of the model", name);
      }
      ActParams p;
      p.dtype = QDType::kInt32;
      p.qname = name + "_quantized";
      acts_[v] = p;
      order_.push_back(v);
    }
    for (const Node* n : g_->nodes()) {
      if (n->domain.empty() && (n->opType == "QuantizeLinear" || n->opType == "DequantizeLinear")) {
        return HQ_ERROR(kUnsupported, "node {}: a {} that is not part of a QuantizeLinear -> "
                        "DequantizeLinear pair or of an int8 weight", n->describe(), n->opType);
      }
    }
    QdqModel m;
    HQ_RETURN_IF_ERROR(foldBatchNorms(&m));
    for (Value* v : order_) m.acts[v->name] = acts_.at(v);
    for (auto& [v, w] : weights_) m.weights[v->name] = std::move(w);
    g_->removeDeadValues();
    m.graph = std::move(g_);
    return m;
  }

 private:
  void remove(Node* n) {
    if (removed_.insert(n).second) toRemove_.push_back(n);
  }

  /// Readers of `from` read `to`; a graph output `from` keeps its name (on `to`).
  void redirect(Value* from, Value* to) {
    if (g_->isGraphOutput(from)) renames_.push_back({to, from->name});
    g_->replaceAllUses(from, to);
  }

  Status addAct(Value* v, ActParams p) {
    if (acts_.count(v)) {
      return HQ_ERROR(kUnsupported, "node {}: value '{}' is quantized twice", p.node, v->name);
    }
    acts_[v] = std::move(p);
    order_.push_back(v);
    return Status::ok();
  }

  Status readDequantize(Node* n) {
    Value* x = n->input(0);
    if (!x || !x->isConstant()) {
      return HQ_ERROR(kUnsupported, "node {}: DequantizeLinear of '{}', which is neither an "
                      "int8 initializer nor the output of a QuantizeLinear", n->describe(),
                      x ? x->name : "");
    }
    if (x->constant.dtype() != DType::kInt8) {
      return HQ_ERROR(kUnsupported, "node {}: weight '{}' is {}, expected int8", n->describe(),
                      x->name, dtypeName(x->constant.dtype()));
    }
    HQ_ASSIGN_OR_RETURN(std::vector<float> scales, readScales(*n, n->input(1)));
    HQ_RETURN_IF_ERROR(checkZeroPoint(*n, n->input(2), DType::kInt8));
    WeightParams w;
    w.q = x->constant;
    w.scales = scales;
    w.qname = x->name;
    const Tensor& q = x->constant;
    if (n->input(1)->constant.rank() == 0 || (scales.size() == 1 && q.rank() == 0)) {
      w.axis = -1;
    } else {
      int64_t axis = n->attrs.getInt("axis", 1);
      if (axis < 0) axis += q.rank();
      if (axis < 0 || axis >= q.rank() || q.dim(axis) != static_cast<int64_t>(scales.size())) {
        return HQ_ERROR(kShape, "node {}: {} scales for axis {} of weight '{}' {}", n->describe(),
                        scales.size(), n->attrs.getInt("axis", 1), x->name,
                        shapeString(q.shape()));
      }
      w.axis = axis;
    }
    // The float weight the QDQ model computes: float32(q) * s (DequantizeLinear).
    Tensor f(DType::kFloat32, q.shape());
    int64_t inner = 1, channels = w.axis >= 0 ? q.dim(w.axis) : 1;
    for (int64_t d = w.axis + 1; w.axis >= 0 && d < q.rank(); ++d) inner *= q.dim(d);
    const int8_t* qd = q.data<int8_t>();
    for (int64_t i = 0; i < q.numel(); ++i) {
      size_t c = w.axis >= 0 ? static_cast<size_t>((i / inner) % channels) : 0;
      f.data<float>()[i] = fxp::dequantize(qd[i], scales[c]);
    }
    std::string base = x->name;
    const std::string suffix = "_quantized";
    if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
      base.resize(base.size() - suffix.size());
    }
    Value* fv = g_->addConstant(base, std::move(f));
    redirect(n->outputs[0], fv);
    weights_.push_back({fv, std::move(w)});
    remove(n);
    return Status::ok();
  }

  Status readQuantize(Node* n) {
    Value* v = n->input(0);
    Value* q = n->outputs.empty() ? nullptr : n->outputs[0];
    if (!v || !q || v->isConstant()) {
      return HQ_ERROR(kUnsupported, "node {}: QuantizeLinear of a constant or missing input",
                      n->describe());
    }
    HQ_ASSIGN_OR_RETURN(std::vector<float> scales, readScales(*n, n->input(1)));
    if (scales.size() != 1) {
      return HQ_ERROR(kUnsupported, "node {}: per-axis activation quantization ({} scales) has "
                      "no integer form in hq", n->describe(), scales.size());
    }
    if (!n->input(2)) {
      return HQ_ERROR(kUnsupported, "node {}: QuantizeLinear without a zero point quantizes to "
                      "uint8; hq integer models are int8", n->describe());
    }
    HQ_RETURN_IF_ERROR(checkZeroPoint(*n, n->input(2), DType::kInt8));
    if (g_->isGraphOutput(q)) {
      return HQ_ERROR(kUnsupported, "node {}: its quantized output '{}' is a graph output",
                      n->describe(), q->name);
    }
    std::vector<Node*> readers = g_->consumers(q);
    if (readers.empty()) {
      return HQ_ERROR(kUnsupported, "node {}: its output '{}' is not dequantized", n->describe(),
                      q->name);
    }
    for (Node* r : readers) {
      if (r->opType != "DequantizeLinear" || !r->domain.empty() || r->input(0) != q) {
        return HQ_ERROR(kUnsupported, "node {}: its output '{}' is read by {}, expected only "
                        "DequantizeLinear", n->describe(), q->name, r->describe());
      }
      HQ_ASSIGN_OR_RETURN(std::vector<float> s2, readScales(*r, r->input(1)));
      if (s2 != scales) {
        return HQ_ERROR(kUnsupported, "node {}: scale {} differs from its QuantizeLinear's {}",
                        r->describe(), s2[0], scales[0]);
      }
      HQ_RETURN_IF_ERROR(checkZeroPoint(*r, r->input(2), DType::kInt8));
      redirect(r->outputs[0], v);
      remove(r);
    }
    remove(n);
    ActParams p;
    p.dtype = QDType::kInt8;
    p.scale = scales[0];
    p.qname = q->name;
    p.node = n->describe();
    return addAct(v, p);
  }

  /// The Div of the qint16 quantizer chain Div -> Round -> Clip -> Mul whose Mul makes
  /// `out`, or nullptr.
  const Node* chainStart(const Value* out) const {
    const Node* n = out->producer;
    for (const char* op : {"Mul", "Clip", "Round", "Div"}) {
      if (!n || n->opType != op || !n->domain.empty() || !n->input(0)) return nullptr;
      if (std::string(op) == "Div") return n;
      n = n->input(0)->producer;
    }
    return nullptr;
  }

  /// Div(v, s) -> Round -> Clip(lo, hi) -> Mul(s): qint16 (quant/qdq.cpp).
  Status readInt16(Node* div) {
    Value* v = div->input(0);
    auto next = [&](const Node* n, const char* op) -> Node* {
      if (n->outputs.empty() || g_->isGraphOutput(n->outputs[0])) return nullptr;
      auto users = g_->consumers(n->outputs[0]);
      return users.size() == 1 && users[0]->opType == op ? users[0] : nullptr;
    };
    Node* round = next(div, "Round");
    Node* clip = round ? next(round, "Clip") : nullptr;
    Node* mul = clip ? next(clip, "Mul") : nullptr;
    if (!mul) {
      return HQ_ERROR(kUnsupported, "node {}: '{}' is listed as a qint16 activation, but is not "
                      "followed by Round -> Clip -> Mul", div->describe(), v->name);
    }
    HQ_ASSIGN_OR_RETURN(std::vector<float> s, readScales(*div, div->input(1)));
    HQ_ASSIGN_OR_RETURN(std::vector<float> s2, readScales(*mul, mul->input(1)));
    if (s.size() != 1 || s2 != s) {
      return HQ_ERROR(kUnsupported, "node {}: qint16 quantizer scales differ (Div {}, Mul {})",
                      mul->describe(), s[0], s2[0]);
    }
    // A graph output's integer tensor is named after the output (as for qint8).
    const bool output = g_->isGraphOutput(mul->outputs[0]);
    ActParams p;
    p.qname = (output ? mul->outputs[0]->name : v->name) + "_quantized";
    redirect(mul->outputs[0], v);
    for (Node* n : {div, round, clip, mul}) remove(n);
    p.dtype = QDType::kInt16;
    p.scale = s[0];
    p.node = div->describe();
    return addAct(v, p);
  }

  /// Conv (int8 weight) -> BatchNormalization: W'[o] = W[o] * f[o], f = gamma / sqrt(var + eps);
  /// s'[o] = s[o] * |f[o]|, W' requantized with quantizeLinear (a sign flip for f < 0, with
  /// -128 saturating to 127); b' = (b - mean) * f + beta.
  Status foldBatchNorms(QdqModel* m) {
    for (Node* bn : g_->nodes()) {
      if (bn->opType != "BatchNormalization" || !bn->domain.empty() || bn->inputs.size() != 5) continue;
      Node* conv = bn->input(0) ? bn->input(0)->producer : nullptr;
      if (!conv || conv->opType != "Conv" || !conv->domain.empty()) continue;
      if (g_->consumers(bn->input(0)).size() != 1 || g_->isGraphOutput(bn->input(0))) continue;
      if (acts_.count(bn->input(0))) continue;  // quantized between Conv and BN: not foldable
      auto wit = std::find_if(weights_.begin(), weights_.end(),
                              [&](const auto& e) { return e.first == conv->input(1); });
      if (wit == weights_.end()) continue;
      WeightParams& w = wit->second;
      int64_t oc = w.q.dim(0);
      std::vector<const Tensor*> p;
      for (size_t i = 1; i < 5; ++i) {
        const Value* c = bn->input(i);
        if (!c || !c->isConstant() || c->constant.dtype() != DType::kFloat32 ||
            c->constant.numel() != oc) {
          return HQ_ERROR(kUnsupported, "node {}: BatchNormalization parameters must be float32 "
                          "constants of {} channels", bn->describe(), oc);
        }
        p.push_back(&c->constant);
      }
      const Value* b = conv->input(2);
      if (b && (!b->isConstant() || b->constant.numel() != oc ||
                b->constant.dtype() != DType::kFloat32)) {
        return HQ_ERROR(kUnsupported, "node {}: the bias must be a float32 constant of {} "
                        "channels", conv->describe(), oc);
      }
      float eps = bn->attrs.getFloat("epsilon", 1e-5f);
      std::vector<float> scales(static_cast<size_t>(oc));
      Tensor nb(DType::kFloat32, {oc});
      std::vector<double> f(static_cast<size_t>(oc));
      for (int64_t o = 0; o < oc; ++o) {
        f[o] = static_cast<double>(p[0]->data<float>()[o]) /
               std::sqrt(static_cast<double>(p[3]->data<float>()[o]) + eps);
        float s_o = w.scales[w.axis >= 0 ? static_cast<size_t>(o) : 0];
        scales[o] = static_cast<float>(s_o * std::fabs(f[o]));
        if (!(scales[o] > 0) || !std::isfinite(scales[o])) {
          return HQ_ERROR(kData, "node {}: channel {}: folded weight scale {} is not positive "
                          "(BatchNormalization factor {})", bn->describe(), o, scales[o], f[o]);
        }
        double bias = b ? b->constant.data<float>()[o] : 0.0;
        nb.data<float>()[o] =
            static_cast<float>((bias - p[2]->data<float>()[o]) * f[o] + p[1]->data<float>()[o]);
      }
      Tensor nq(DType::kInt8, w.q.shape());
      Tensor nf(DType::kFloat32, w.q.shape());
      int64_t per = w.q.numel() / oc;
      for (int64_t i = 0; i < w.q.numel(); ++i) {
        size_t o = static_cast<size_t>(i / per);
        float s_o = w.scales[w.axis >= 0 ? o : 0];
        float wf = static_cast<float>(fxp::dequantize(w.q.data<int8_t>()[i], s_o) * f[o]);
        int32_t qi = fxp::quantizeLinear(wf, scales[o], fxp::kInt8Range);
        nq.data<int8_t>()[i] = static_cast<int8_t>(qi);
        nf.data<float>()[i] = fxp::dequantize(qi, scales[o]);
      }
      Value* nwv = g_->addConstant(conv->input(1)->name + "_bnfolded", std::move(nf));
      Value* nbv = g_->addConstant(conv->name + "_bnfolded_bias", std::move(nb));
      w.q = std::move(nq);
      w.scales = std::move(scales);
      w.axis = 0;
      w.qname = w.qname + "_bnfolded";
      wit->first = nwv;
      Value* y = bn->outputs[0];
      g_->removeNode(bn);
      conv->inputs.resize(3);
      conv->inputs[1] = nwv;
      conv->inputs[2] = nbv;
      conv->outputs[0] = y;
      y->producer = conv;
      ++m->foldedBatchNorms;
      m->warnings.push_back("node " + conv->describe() +
                            ": BatchNormalization folded into the int8 weight after calibration "
                            "(weights requantized)");
    }
    return Status::ok();
  }

  std::unique_ptr<Graph> g_;
  std::set<const Node*> removed_;
  std::vector<const Node*> toRemove_;
  std::vector<std::pair<Value*, std::string>> renames_;
  std::unordered_map<const Value*, ActParams> acts_;
  std::vector<Value*> order_;
  std::vector<std::pair<Value*, WeightParams>> weights_;
};

}  // namespace

Expected<QdqModel> readQdqModel(const Graph& qdq) {
  Reader r(qdq);
  return r.run(qdq);
}

}  // namespace hq::convert_detail
