// Quantization-aware training of QDQ models: points, moving scales, QDQ export (train/qat.h).
#include "train/qat.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>

#include "quant/observer.h"
#include "quant/qconfig.h"
#include "quant/qdq.h"
#include "runtime/kernels/quantize.h"
#include "runtime/passes/fake_quant.h"
#include "support/fixed_point.h"
#include "support/json.h"
#include "train/conv_bn_qat.h"
#include "train/fake_quant.h"

namespace hq::train {

const char* qatScaleModeName(QatScaleMode m) {
  switch (m) {
    case QatScaleMode::kFixed: return "fixed";
    case QatScaleMode::kEma: return "ema";
    case QatScaleMode::kLsq: return "lsq";
  }
  return "?";
}

Expected<QatScaleMode> parseQatScaleMode(const std::string& s) {
  if (s == "fixed") return QatScaleMode::kFixed;
  if (s == "ema") return QatScaleMode::kEma;
  if (s == "lsq") return QatScaleMode::kLsq;
  return HQ_ERROR(kInvalidArgument, "QAT scale mode: expected fixed, ema or lsq, found '{}'", s);
}

/// One quantization point: an hq.FakeQuant of the training graph.
struct QatModel::Point {
  std::string node;    ///< the FakeQuant (= the QDQ model's DequantizeLinear / QuantizeLinear)
  std::string scale;   ///< its scale initializer (the same name in both graphs)
  std::string tensor;  ///< the quantized float value, for messages
  enum class Kind { kInput, kActivation, kWeight } kind = Kind::kActivation;
  QuantSpec spec;
  QatScaleMode mode = QatScaleMode::kEma;
  double c = 0.01;  ///< EMA constant
  bool perChannel = false;
  int64_t axis = 1;              ///< channel axis of a per-channel scale
  std::string minName, maxName;  ///< EMA running range initializers ("" unless ema)
  /// A follower of a shared-scale group (a Concat's input): its own scale initializer, while
  /// `scale` names the group observer's; it fake-quantizes with the observer's live scale and
  /// exports it (hq-calib's metadata "scale_group"). Empty for every other point.
  std::string ownScale;
};

namespace {

using Point = QatModel::Point;

/// The FakeQuant kernel of a moving point: in a training forward, EMA points observe the
/// batch range, update the running range and their scale (PyTorch's order: observe, compute
/// qparams, fake quantize); LSQ scales are clamped to > 0 (as torch's learnable fake quant);
/// then the fake quantization with the current scale. Evaluation forwards change nothing.
class QatFakeQuantKernel : public PreparedKernel {
 public:
  QatFakeQuantKernel(const Point& p, Tensor* scale, Tensor* rmin, Tensor* rmax, bool training)
      : p_(p), scale_(scale), rmin_(rmin), rmax_(rmax), training_(training) {
    config_.axis = p.axis;
    config_.range = fxp::kInt8Range;
    config_.lsqGradScale = p.mode == QatScaleMode::kLsq;
  }
  std::string name() const override {
    return training_ ? "train:qat_fake_quant" : "qat_fake_quant";
  }

  Status run(const KernelCall& call) override {
    const Tensor& x = call.in(0);
    float* s = scale_->data<float>();
    const int64_t ns = scale_->numel();
    if (training_ && p_.mode == QatScaleMode::kEma) HQ_RETURN_IF_ERROR(observe(call, x, s, ns));
    if (training_ && p_.mode == QatScaleMode::kLsq) {
      for (int64_t i = 0; i < ns; ++i) s[i] = std::max(s[i], FLT_EPSILON);
    }
    return fakeQuantize(call, x, s, ns);
  }

 private:
  Status observe(const KernelCall& call, const Tensor& x, float* s, int64_t ns) {
    if (x.dtype() != DType::kFloat32)
      return call.error(ErrorCode::kShape, "expected float32 input");
    const int64_t n = x.numel();
    int64_t channels = 1, inner = n;
    if (ns > 1) {
      const int64_t axis = p_.axis < 0 ? p_.axis + x.rank() : p_.axis;
      if (axis < 0 || axis >= x.rank() || x.dim(axis) != ns) {
        return call.error(ErrorCode::kShape, "{} scales for input of shape {} (axis {})", ns,
                          shapeString(x.shape()), p_.axis);
      }
      channels = ns;
      inner = 1;
      for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    }
    std::vector<float> lo(static_cast<size_t>(channels), INFINITY),
        hi(static_cast<size_t>(channels), -INFINITY);
    const float* d = x.data<float>();
    const int64_t outer = channels > 1 ? n / (channels * inner) : 1;
    if (channels == 1) {
      float l = INFINITY, h = -INFINITY;
#pragma omp parallel for reduction(min : l) reduction(max : h) if (n > (1 << 15))
      for (int64_t i = 0; i < n; ++i) {
        l = std::min(l, d[i]);
        h = std::max(h, d[i]);
      }
      lo[0] = l;
      hi[0] = h;
    } else {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
          const float* row = d + (o * channels + c) * inner;
          float l = lo[c], h = hi[c];
          for (int64_t i = 0; i < inner; ++i) {
            l = std::min(l, row[i]);
            h = std::max(h, row[i]);
          }
          lo[c] = l;
          hi[c] = h;
        }
      }
    }
    float* rmin = rmin_->data<float>();
    float* rmax = rmax_->data<float>();
    for (int64_t c = 0; c < channels; ++c) {
      if (!std::isfinite(lo[c]) || !std::isfinite(hi[c])) {
        return call.error(ErrorCode::kData, "non-finite values in '{}' (QAT range of channel {})",
                          p_.tensor, c);
      }
      const double mn = (1 - p_.c) * rmin[c] + p_.c * lo[c];
      const double mx = (1 - p_.c) * rmax[c] + p_.c * hi[c];
      rmin[c] = static_cast<float>(mn);
      rmax[c] = static_cast<float>(mx);
      s[c] = static_cast<float>(rangeToScale(rmin[c], rmax[c], p_.spec).scale);
    }
    return Status::ok();
  }

  /// y = fake-quantized x with the vectorized loop of the executor's fast kernel
  /// (kernels::fakeQuantizeF32, bit-identical to QuantizeLinear -> DequantizeLinear).
  Status fakeQuantize(const KernelCall& call, const Tensor& x, const float* s, int64_t ns) {
    Tensor& y = call.out(0);
    if (x.dtype() != DType::kFloat32 || y.dtype() != DType::kFloat32 || y.shape() != x.shape()) {
      return call.error(ErrorCode::kShape, "expected float32 input and output of one shape");
    }
    for (int64_t c = 0; c < ns; ++c) {
      if (!(s[c] > 0) || !std::isfinite(s[c])) {
        return call.error(ErrorCode::kData, "scale {} of '{}' is not positive and finite", s[c],
                          p_.tensor);
      }
    }
    kernels::QuantParams q;
    q.qmin = static_cast<float>(config_.range.lo);
    q.qmax = static_cast<float>(config_.range.hi);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    if (ns == 1) {
      q.scale = s[0];
      kernels::fakeQuantizeF32(xd, yd, x.numel(), q);
      return Status::ok();
    }
    const int64_t axis = p_.axis < 0 ? p_.axis + x.rank() : p_.axis;
    if (axis < 0 || axis >= x.rank() || x.dim(axis) != ns) {
      return call.error(ErrorCode::kShape, "{} scales for input of shape {} (axis {})", ns,
                        shapeString(x.shape()), p_.axis);
    }
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    const int64_t rows = x.numel() / inner;
    for (int64_t r = 0; r < rows; ++r) {
      q.scale = s[r % ns];
      kernels::fakeQuantizeF32(xd + r * inner, yd + r * inner, inner, q);
    }
    return Status::ok();
  }

  const Point& p_;
  Tensor *scale_, *rmin_, *rmax_;
  bool training_;
  FakeQuantConfig config_;
};

Expected<QuantSpec> specFromMetadata(const Graph& g, const std::string& scale,
                                     std::map<std::string, QuantSpec>* by_scale) {
  if (by_scale->empty()) {
    auto it = g.metadata.find("hq.quant.points");
    if (it == g.metadata.end()) return HQ_ERROR(kNotFound, "no hq.quant.points");
    HQ_ASSIGN_OR_RETURN(Json points, parseJson(it->second, "metadata hq.quant.points"));
    if (!points.is_array()) {
      return HQ_ERROR(kParse, "metadata hq.quant.points: expected a JSON array");
    }
    for (size_t i = 0; i < points.size(); ++i) {
      const Json& p = points[i];
      if (!p.is_object() || !p.contains("scale") || !p["scale"].is_string()) continue;
      HQ_ASSIGN_OR_RETURN(QuantSpec spec, QConfig::specFromJson(
                                              p.value("spec", Json::object()),
                                              fmt::format("metadata hq.quant.points[{}].spec", i)));
      (*by_scale)[p["scale"].get<std::string>()] = spec;
    }
  }
  auto it = by_scale->find(scale);
  if (it == by_scale->end()) return HQ_ERROR(kNotFound, "no entry for '{}'", scale);
  return it->second;
}

/// Scale initializer -> the scale of its shared-scale group's observer, from the metadata
/// "hq.quant.points" ("scale_group"); empty without it.
Expected<std::map<std::string, std::string>> scaleGroupsFromMetadata(const Graph& g) {
  std::map<std::string, std::string> groups;
  auto it = g.metadata.find("hq.quant.points");
  if (it == g.metadata.end()) return groups;
  HQ_ASSIGN_OR_RETURN(Json points, parseJson(it->second, "metadata hq.quant.points"));
  if (!points.is_array()) return groups;
  for (const Json& p : points) {
    if (p.is_object() && p.contains("scale") && p["scale"].is_string() &&
        p.contains("scale_group") && p["scale_group"].is_string())
      groups[p["scale"].get<std::string>()] = p["scale_group"].get<std::string>();
  }
  return groups;
}

}  // namespace

QatModel::QatModel() = default;
QatModel::~QatModel() = default;

Expected<std::unique_ptr<QatModel>> QatModel::create(const Graph& qdq, const QatOptions& options,
                                                     AutogradOptions base) {
  if (auto it = qdq.metadata.find("hq.quant.int16_activations"); it != qdq.metadata.end()) {
    return HQ_ERROR(kUnsupported,
                    "QAT: qint16 activation points ({}) do not train yet (their Div -> Round -> "
                    "Clip -> Mul quantizers have no fake-quant form in hq-qat); calibrate with "
                    "qint8 activations",
                    it->second);
  }
  std::unique_ptr<QatModel> m(new QatModel());
  m->original_ = qdq.clone();
  auto g = qdq.clone();
  HQ_RETURN_IF_ERROR(g->sortTopologically());
  HQ_RETURN_IF_ERROR(rewriteQdqForTraining(*g));

  // The qconfig fallback, for models without per-point metadata.
  QConfig qconfig = QConfig::defaults();
  if (auto it = qdq.metadata.find("hq.qconfig"); it != qdq.metadata.end()) {
    HQ_ASSIGN_OR_RETURN(Json doc, parseJson(it->second, "metadata hq.qconfig"));
    HQ_ASSIGN_OR_RETURN(qconfig, QConfig::fromJson(doc, "metadata hq.qconfig"));
  }
  const bool has_points = qdq.metadata.count("hq.quant.points") > 0;
  std::map<std::string, QuantSpec> by_scale;
  std::map<const Value*, const Node*> producer;
  for (const Node* n : g->nodes()) {
    for (const Value* v : n->outputs) producer[v] = n;
  }

  HQ_ASSIGN_OR_RETURN(const auto scale_groups, scaleGroupsFromMetadata(qdq));
  std::map<std::string, int> scale_users;
  for (Node* n : g->nodes()) {
    if (!passes::isFakeQuant(*n)) continue;
    Point p;
    p.node = n->name;
    const Value* x = n->input(0);
    const Value* s = n->input(1);
    const Value* z = n->input(2);
    if (!x || !s || !s->isConstant() || s->constant.dtype() != DType::kFloat32) {
      return HQ_ERROR(kUnsupported, "QAT: {}: the scale must be a float32 initializer",
                      n->describe());
    }
    if (z && (!z->isConstant() || z->constant.dtype() != DType::kInt8)) {
      return HQ_ERROR(kUnsupported,
                      "QAT: {}: only int8 quantization with an int8 zero point trains (symmetric "
                      "qint8), found zero point {}",
                      n->describe(), z->isConstant() ? dtypeName(z->constant.dtype()) : "input");
    }
    if (z) {
      for (double v : z->constant.toDouble()) {
        if (v != 0) {
          return HQ_ERROR(kUnsupported,
                          "QAT: {}: zero point {} found; QAT trains symmetric points (zero point "
                          "0) only",
                          n->describe(), v);
        }
      }
    }
    p.scale = s->name;
    p.tensor = x->name;
    p.kind = x->isConstant()                                         ? Point::Kind::kWeight
             : std::count(g->inputs().begin(), g->inputs().end(), x) ? Point::Kind::kInput
                                                                     : Point::Kind::kActivation;
    p.perChannel = s->constant.numel() > 1;
    p.axis = n->attrs.getInt("axis", 1);
    auto spec = has_points ? specFromMetadata(qdq, p.scale, &by_scale)
                           : Expected<QuantSpec>(HQ_ERROR(kNotFound, "no metadata"));
    if (spec.isOk()) {
      p.spec = *spec;
    } else if (has_points && spec.status().code() != ErrorCode::kNotFound) {
      return spec.status();
    } else if (p.kind == Point::Kind::kInput) {
      p.spec = qconfig.inputSpec(x->name);
    } else if (p.kind == Point::Kind::kWeight) {
      auto users = g->consumers(n->outputs[0]);
      p.spec = users.empty() ? qconfig.weightSpec("", "")
                             : qconfig.weightSpec(users[0]->name, users[0]->opType);
    } else {
      auto it = producer.find(x);
      p.spec = it == producer.end() ? qconfig.outputSpec("", "")
                                    : qconfig.outputSpec(it->second->name, it->second->opType);
    }
    if (!p.spec.symmetric) {
      return HQ_ERROR(kUnsupported, "QAT: {}: affine (non-symmetric) points do not train",
                      n->describe());
    }
    HQ_ASSIGN_OR_RETURN(p.mode, parseQatScaleMode(p.spec.qatScale()));
    if (p.mode != QatScaleMode::kFixed && options.scaleMode) p.mode = *options.scaleMode;
    p.c = p.spec.qatAveragingConstant(p.kind == Point::Kind::kWeight);
    if (auto grp = scale_groups.find(p.scale);
        grp != scale_groups.end() && grp->second != p.scale && g->findValue(grp->second)) {
      // A follower of a shared scale (a Concat's input): it fake-quantizes with the group
      // observer's scale and, when that is EMA, feeds the observer's running range with its
      // own batch range before its values are clipped (one observer fed by every member, as
      // PyTorch's shared observer for cat).
      p.ownScale = p.scale;
      p.scale = grp->second;
    } else if (++scale_users[p.scale] > 1 && p.mode != QatScaleMode::kFixed) {
      return HQ_ERROR(kUnsupported, "QAT: scale '{}' is shared by several quantization points",
                      p.scale);
    }
    if (p.mode == QatScaleMode::kLsq) n->attrs.set("lsq_grad_scale", Attribute::ofInt(1));
    m->index_[p.node] = m->points_.size();
    m->points_.push_back(std::move(p));
  }

  if (options.bnModel) {
    HQ_RETURN_IF_ERROR(expandConvBnForQat(*g, *options.bnModel, &m->expandedConvs_));
  }
  // The EMA running ranges (after the expansion, which drops unused values), starting at
  // the calibrated range [-scale * qmax, scale * qmax]: the first step does not jump.
  for (Point& p : m->points_) {
    if (p.mode != QatScaleMode::kEma || !p.ownScale.empty()) continue;
    const Value* s = g->findValue(p.scale);
    if (!s || !s->isConstant()) {
      return HQ_ERROR(kInternal, "QAT: scale '{}' of {} is gone from the training graph", p.scale,
                      p.node);
    }
    const double qmax = static_cast<double>(p.spec.qmax());
    std::vector<float> lo, hi;
    for (double v : s->constant.toDouble()) {
      lo.push_back(static_cast<float>(-v * qmax));
      hi.push_back(static_cast<float>(v * qmax));
    }
    const Shape shape = s->constant.shape();
    p.minName = g->uniqueName(p.scale + "_qat_min");
    g->addConstant(p.minName, Tensor::fromVector<float>(shape, lo));
    p.maxName = g->uniqueName(p.scale + "_qat_max");
    g->addConstant(p.maxName, Tensor::fromVector<float>(shape, hi));
  }

  // Followers share their observer's running range (EMA) or just use its scale (LSQ, fixed).
  for (Point& p : m->points_) {
    if (p.ownScale.empty()) continue;
    const Point* observer = nullptr;
    for (const Point& o : m->points_) {
      if (o.ownScale.empty() && o.scale == p.scale) observer = &o;
    }
    if (observer && observer->mode == QatScaleMode::kEma && p.mode == QatScaleMode::kEma) {
      p.minName = observer->minName;
      p.maxName = observer->maxName;
    } else {
      p.mode = QatScaleMode::kFixed;
    }
  }

  std::vector<std::string> params = base.parameters;
  if (params.empty()) params = defaultParameters(*g);
  for (const Point& p : m->points_) {
    if (p.mode == QatScaleMode::kLsq) params.push_back(p.scale);
  }
  base.parameters = std::move(params);
  base.fakeQuantQdq = false;
  QatModel* self = m.get();
  ForwardLookup inner = base.forwardOf;
  base.forwardOf = [self, inner](const Node& node, const std::vector<ValueInfo>& inputs,
                                 std::vector<ValueInfo>& outputs,
                                 bool training) -> Expected<std::unique_ptr<PreparedKernel>> {
    auto it = passes::isFakeQuant(node) ? self->index_.find(node.name) : self->index_.end();
    if (it != self->index_.end() && self->points_[it->second].mode != QatScaleMode::kFixed) {
      const Point& p = self->points_[it->second];
      if (inputs.empty() || !inputs[0].hasShape) {
        return HQ_ERROR(kInvalidArgument, "QAT: {}: input X has no shape", node.describe());
      }
      outputs.assign(1, ValueInfo());
      outputs[0].dtype = DType::kFloat32;
      outputs[0].shape = inputs[0].shape;
      outputs[0].hasShape = true;
      GradGraph& gg = *self->grad_;
      Tensor* scale = gg.initializer(p.scale);
      Tensor* lo = p.minName.empty() ? nullptr : gg.initializer(p.minName);
      Tensor* hi = p.maxName.empty() ? nullptr : gg.initializer(p.maxName);
      if (!scale || (p.mode == QatScaleMode::kEma && (!lo || !hi))) {
        return HQ_ERROR(kInternal, "QAT: {}: scale or running range initializer missing",
                        node.describe());
      }
      return std::unique_ptr<PreparedKernel>(new QatFakeQuantKernel(p, scale, lo, hi, training));
    }
    if (inner) return inner(node, inputs, outputs, training);
    return std::unique_ptr<PreparedKernel>();
  };
  HQ_ASSIGN_OR_RETURN(m->grad_, GradGraph::create(*g, std::move(base)));
  return m;
}

GradGraph& QatModel::grad() { return *grad_; }

void QatModel::setBatchNormFrozen(bool frozen) { grad_->setBatchNormFrozen(frozen); }

Expected<std::unique_ptr<Graph>> QatModel::exportQdq() const {
  std::unique_ptr<Graph> trained = grad_->graph().clone();
  if (!expandedConvs_.empty()) HQ_RETURN_IF_ERROR(foldConvBnForExport(*trained));
  std::unique_ptr<Graph> out = original_->clone();
  // Float initializers of the same name and shape (biases, scales, anything trained).
  for (Value* v : out->constants()) {
    if (v->constant.dtype() != DType::kFloat32) continue;
    const Value* t = trained->findValue(v->name);
    if (!t || !t->isConstant() || t->constant.dtype() != DType::kFloat32 ||
        t->constant.shape() != v->constant.shape()) {
      continue;
    }
    v->constant = t->constant.clone();
  }
  // Followers of a shared scale export their observer's.
  for (const Point& p : points_) {
    if (p.ownScale.empty()) continue;
    Value* v = out->findValue(p.ownScale);
    const Value* t = trained->findValue(p.scale);
    if (!v || !v->isConstant() || !t || !t->isConstant() ||
        t->constant.shape() != v->constant.shape())
      return HQ_ERROR(kInternal, "QAT export: shared scale '{}' of '{}' is missing", p.scale,
                      p.ownScale);
    v->constant = t->constant.clone();
  }
  // Weights: re-quantized from the float parameters with the current scales.
  for (const Point& p : points_) {
    if (p.kind != Point::Kind::kWeight) continue;
    const Node* fq = trained->findNode(p.node);
    const Node* dq = out->findNode(p.node);
    const Value* w = fq ? fq->input(0) : nullptr;
    const Value* s = fq ? fq->input(1) : nullptr;
    Value* q = dq ? dq->input(0) : nullptr;
    if (!w || !w->isConstant() || !s || !s->isConstant() || !q || !q->isConstant() ||
        q->constant.dtype() != DType::kInt8 || w->constant.shape() != q->constant.shape()) {
      return HQ_ERROR(kInternal,
                      "QAT export: weight point '{}': expected float weight -> FakeQuant in the "
                      "trained graph and an int8 DequantizeLinear of the same shape in the "
                      "model",
                      p.node);
    }
    // The same quantizer hq-calib writes weights with (quant/qdq.h).
    const Tensor& sc = s->constant;
    QuantParams qp;
    qp.scales.assign(sc.data<float>(), sc.data<float>() + sc.numel());
    qp.axis = sc.numel() > 1 ? (p.axis < 0 ? p.axis + w->constant.rank() : p.axis) : -1;
    auto wq = quantizeWeightInt8(w->constant, qp);
    if (!wq.isOk()) {
      return Status(wq.status()).addContext("QAT export: weight point '" + p.node + "'");
    }
    q->constant = std::move(*wq);
  }
  out->metadata["hq.stage"] = "qat";
  return out;
}

std::string QatModel::describe() const {
  // Counts per (kind, mode); fixed points are listed by kind at the end.
  std::map<QatScaleMode, int> act, wgt;
  int fixed_in = 0, fixed_act = 0, fixed_w = 0, n_act = 0, n_w = 0;
  bool per_channel = false;
  for (const Point& p : points_) {
    const bool w = p.kind == Point::Kind::kWeight;
    if (p.mode == QatScaleMode::kFixed) {
      (p.kind == Point::Kind::kInput ? fixed_in : w ? fixed_w : fixed_act)++;
      continue;
    }
    (w ? wgt : act)[p.mode]++;
    (w ? n_w : n_act)++;
    per_channel = per_channel || (w && p.perChannel);
  }
  // "ema", or "3 ema, 2 lsq" when the modes are mixed.
  auto modes = [](const std::map<QatScaleMode, int>& m) {
    std::string s;
    for (const auto& [mode, k] : m) {
      if (!s.empty()) s += ", ";
      s += m.size() > 1 ? fmt::format("{} {}", k, qatScaleModeName(mode)) : qatScaleModeName(mode);
    }
    return s;
  };
  std::string out = fmt::format("{} points", points_.size());
  std::vector<std::string> parts;
  if (n_act) {
    parts.push_back(fmt::format("{} activation{} ({})", n_act, n_act == 1 ? "" : "s", modes(act)));
  }
  if (n_w) {
    parts.push_back(fmt::format("{} weight{} ({}{})", n_w, n_w == 1 ? "" : "s", modes(wgt),
                                per_channel ? ", per-channel" : ""));
  }
  auto fixed = [&](int k, const char* what) {
    if (k) parts.push_back(fmt::format("{} fixed {}{}", k, what, k == 1 ? "" : "s"));
  };
  fixed(fixed_in, "input");
  fixed(fixed_act, "activation");
  fixed(fixed_w, "weight");
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? ": " : ", ") + parts[i];
  if (!expandedConvs_.empty()) out += fmt::format("; {} Conv+BN units", expandedConvs_.size());
  return out;
}

}  // namespace hq::train
