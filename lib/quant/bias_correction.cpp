#include "quant/bias_correction.h"

#include <algorithm>
#include <cmath>

#include "ir/ops/window.h"
#include "support/log.h"

namespace hq {

const char* biasCorrectionModeName(BiasCorrectionMode m) {
  switch (m) {
    case BiasCorrectionMode::kOff: return "off";
    case BiasCorrectionMode::kWeights: return "weights";
    case BiasCorrectionMode::kLocal: return "local";
  }
  return "?";
}

Expected<BiasCorrectionMode> parseBiasCorrectionMode(const std::string& name) {
  for (auto m :
       {BiasCorrectionMode::kOff, BiasCorrectionMode::kWeights, BiasCorrectionMode::kLocal}) {
    if (name == biasCorrectionModeName(m)) return m;
  }
  return HQ_ERROR(kInvalidArgument,
                  "bias correction mode '{}': expected one of off, weights, local", name);
}

// ---------------------------------------------------------------------------------------
// BatchMean

Status BatchMean::add(const Tensor& batch) {
  if (batch.dtype() != DType::kFloat32 || batch.rank() < 1) {
    return HQ_ERROR(kInvalidArgument,
                    "bias correction: expected a float32 batch [N, ...], got {} of rank {}",
                    dtypeName(batch.dtype()), batch.rank());
  }
  Shape sample(batch.shape().begin() + 1, batch.shape().end());
  if (count_ == 0 && sum_.empty()) {
    sampleShape_ = sample;
    sum_.assign(static_cast<size_t>(shapeNumel(sample)), 0.0);
  } else if (sample != sampleShape_) {
    return HQ_ERROR(kInvalidArgument,
                    "bias correction: batch sample shape changed between batches ({} elements "
                    "per sample expected, {} found)",
                    sum_.size(), shapeNumel(sample));
  }
  const int64_t n = batch.dim(0), per = static_cast<int64_t>(sum_.size());
  const float* d = batch.data<float>();
  double* s = sum_.data();
  // Each element sums its samples in batch order whatever the thread count: deterministic.
#pragma omp parallel for schedule(static) if (n * per > (1 << 16))
  for (int64_t i0 = 0; i0 < per; i0 += 1024) {
    const int64_t i1 = std::min(per, i0 + 1024);
    for (int64_t b = 0; b < n; ++b) {
      const float* row = d + b * per;
      for (int64_t i = i0; i < i1; ++i) s[i] += static_cast<double>(row[i]);
    }
  }
  count_ += n;
  return Status::ok();
}

std::vector<double> BatchMean::mean() const {
  std::vector<double> m = sum_;
  if (count_ > 0) {
    for (double& v : m) v /= static_cast<double>(count_);
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Mean shifts

Tensor fakeQuantizeWeight(const Tensor& w, const QuantParams& params, int64_t qmin, int64_t qmax) {
  Tensor out(DType::kFloat32, w.shape());
  const float* src = w.data<float>();
  float* dst = out.data<float>();
  const int64_t n = w.numel();
  const int64_t channels = params.axis >= 0 ? w.dim(params.axis) : 1;
  int64_t inner = 1;
  if (params.axis >= 0) {
    for (int64_t d = params.axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  for (int64_t i = 0; i < n; ++i) {
    size_t c = params.axis >= 0 ? static_cast<size_t>((i / inner) % channels) : 0;
    float s = params.scales[c];
    int64_t z = params.zeroPoints[c];
    int64_t q = quantizeValue(src[i], s, z, qmin, qmax);
    // DequantizeLinear: (q - z) * s in float.
    dst[i] = static_cast<float>(q - z) * s;
  }
  return out;
}

Expected<std::vector<double>> convOutputMean(const Node& conv, const Tensor& w,
                                             const std::vector<double>& mean_input,
                                             const Shape& input_sample_shape) {
  const int64_t spatial = static_cast<int64_t>(input_sample_shape.size()) - 1;
  if (spatial < 1 || spatial > 2 || w.rank() != spatial + 2) {
    return HQ_ERROR(kUnsupported,
                    "node {}: bias correction handles 1-D and 2-D convs (input [C, H, W] or "
                    "[C, W] per sample, weight of rank 3 or 4); found input rank {} and weight "
                    "rank {}",
                    conv.describe(), input_sample_shape.size() + 1, w.rank());
  }
  if (static_cast<int64_t>(mean_input.size()) != shapeNumel(input_sample_shape)) {
    return HQ_ERROR(kInternal, "node {}: {} mean input values for a sample of {}", conv.describe(),
                    mean_input.size(), shapeNumel(input_sample_shape));
  }
  HQ_ASSIGN_OR_RETURN(int64_t group, ops::intAttr(conv, "group", 1));
  const int64_t C = input_sample_shape[0], O = w.dim(0), cpg = w.dim(1);
  if (group < 1 || cpg * group != C || O % group != 0) {
    return HQ_ERROR(kInvalidArgument,
                    "node {}: weight [{}, {}, ...] with group {} does not fit {} input channels",
                    conv.describe(), O, cpg, group, C);
  }
  std::vector<int64_t> in_sp(input_sample_shape.begin() + 1, input_sample_shape.end());
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  HQ_ASSIGN_OR_RETURN(ops::Window win, ops::forwardWindow(conv, in_sp, kernel, {}));
  // As 2-D: a 1-D conv is a 2-D conv over a height of 1.
  auto dim2 = [&](const std::vector<int64_t>& v, int64_t one) {
    return spatial == 2 ? std::vector<int64_t>{v[0], v[1]} : std::vector<int64_t>{one, v[0]};
  };
  const auto in = dim2(win.input, 1), k = dim2(win.kernel, 1), s = dim2(win.strides, 1),
             d = dim2(win.dilations, 1), pb = dim2(win.padBegin, 0), out = dim2(win.output, 1);
  const int64_t H = in[0], W = in[1], KH = k[0], KW = k[1], OH = out[0], OW = out[1];
  if (OH <= 0 || OW <= 0) {
    return HQ_ERROR(kInvalidArgument, "node {}: empty output", conv.describe());
  }
  const int64_t taps = KH * KW;
  // P[c, i, j]: the mean image summed over the pixels tap (i, j) reads, over all outputs.
  std::vector<double> P(static_cast<size_t>(C * taps), 0.0);
  {
    std::vector<double> rows(static_cast<size_t>(H * KW));  // rows[h, j]
    for (int64_t c = 0; c < C; ++c) {
      const double* m = mean_input.data() + c * H * W;
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t j = 0; j < KW; ++j) {
          double sum = 0;
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t x = ow * s[1] + j * d[1] - pb[1];
            if (x >= 0 && x < W) sum += m[h * W + x];
          }
          rows[static_cast<size_t>(h * KW + j)] = sum;
        }
      }
      for (int64_t i = 0; i < KH; ++i) {
        for (int64_t j = 0; j < KW; ++j) {
          double sum = 0;
          for (int64_t oh = 0; oh < OH; ++oh) {
            int64_t y = oh * s[0] + i * d[0] - pb[0];
            if (y >= 0 && y < H) sum += rows[static_cast<size_t>(y * KW + j)];
          }
          P[static_cast<size_t>(c * taps + i * KW + j)] = sum;
        }
      }
    }
  }
  const float* wd = w.data<float>();
  const int64_t opg = O / group;
  const double positions = static_cast<double>(OH * OW);
  std::vector<double> shift(static_cast<size_t>(O), 0.0);
  for (int64_t o = 0; o < O; ++o) {
    const int64_t c0 = (o / opg) * cpg;
    double acc = 0;
    for (int64_t ci = 0; ci < cpg; ++ci) {
      const float* wrow = wd + (o * cpg + ci) * taps;
      const double* prow = P.data() + (c0 + ci) * taps;
      for (int64_t t = 0; t < taps; ++t) acc += static_cast<double>(wrow[t]) * prow[t];
    }
    shift[static_cast<size_t>(o)] = acc / positions;
  }
  return shift;
}

Expected<std::vector<double>> gemmOutputMean(const Node& gemm, const Tensor& w,
                                             const std::vector<double>& mean_input) {
  HQ_ASSIGN_OR_RETURN(int64_t trans_a, ops::intAttr(gemm, "transA", 0));
  HQ_ASSIGN_OR_RETURN(int64_t trans_b, ops::intAttr(gemm, "transB", 0));
  HQ_ASSIGN_OR_RETURN(float alpha, ops::floatAttr(gemm, "alpha", 1.0f));
  if (trans_a != 0 || w.rank() != 2) {
    return HQ_ERROR(kUnsupported,
                    "node {}: bias correction handles Gemm with transA = 0 and a 2-D weight",
                    gemm.describe());
  }
  const int64_t K = trans_b ? w.dim(1) : w.dim(0);
  const int64_t N = trans_b ? w.dim(0) : w.dim(1);
  if (static_cast<int64_t>(mean_input.size()) != K) {
    return HQ_ERROR(kInvalidArgument, "node {}: input has {} features, weight expects {}",
                    gemm.describe(), mean_input.size(), K);
  }
  const float* wd = w.data<float>();
  std::vector<double> shift(static_cast<size_t>(N), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    double acc = 0;
    for (int64_t kk = 0; kk < K; ++kk) {
      float wv = trans_b ? wd[n * K + kk] : wd[kk * N + n];
      acc += static_cast<double>(wv) * mean_input[static_cast<size_t>(kk)];
    }
    shift[static_cast<size_t>(n)] = static_cast<double>(alpha) * acc;
  }
  return shift;
}

// ---------------------------------------------------------------------------------------
// BiasCorrector

namespace {

/// Output channels of a correctable unit anchor, or 0 when bias correction leaves it as
/// it is (ConvTranspose, MatMul, Gemm with transA or a per-row C).
int64_t correctableChannels(const Node& n) {
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  if (!x || !w || !w->isConstant() || w->constant.dtype() != DType::kFloat32) return 0;
  const Value* b = n.input(2);
  if (b && (!b->isConstant() || b->constant.dtype() != DType::kFloat32)) return 0;
  const Tensor& wt = w->constant;
  int64_t channels = 0;
  if (n.opType == "Conv" && (wt.rank() == 3 || wt.rank() == 4)) {
    channels = wt.dim(0);
  } else if (n.opType == "Gemm" && n.attrs.getInt("transA", 0) == 0 && wt.rank() == 2) {
    channels = n.attrs.getInt("transB", 0) ? wt.dim(0) : wt.dim(1);
  }
  if (b && b->constant.numel() != channels && b->constant.numel() != 1) return 0;
  return channels;
}

/// The unit's activation input and, when it is a graph input, its index.
const Value* unitInput(const Graph& graph, const Node& n, int* graph_input) {
  *graph_input = -1;
  const auto& ins = graph.inputs();
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i] == n.input(0)) *graph_input = static_cast<int>(i);
  }
  return n.input(0);
}

/// The weight point of unit anchor `n` in `plan`, or -1.
int weightPointOf(const QuantPlan& plan, const Node* n) {
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const QuantPoint& p = plan.points[i];
    if (p.kind == QuantPoint::Kind::kWeight && p.owner == n && n->input(1) == p.value) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

/// Give `n` the bias `values` (input 2, as a fresh constant so that buffers shared with
/// other graphs stay as they are). A Gemm gets beta = 1.
void writeBias(Graph& graph, Node* n, const std::vector<double>& values) {
  Tensor bias(DType::kFloat32, {static_cast<int64_t>(values.size())});
  float* b = bias.data<float>();
  for (size_t i = 0; i < values.size(); ++i) b[i] = static_cast<float>(values[i]);
  if (n->opType == "Gemm") n->attrs.set("beta", Attribute::ofFloat(1.0f));
  Value* old = n->input(2);
  if (old && graph.consumers(old).size() == 1 && !graph.isGraphOutput(old) &&
      old->constant.shape() == bias.shape()) {
    old->constant = std::move(bias);  // a new buffer: clones sharing the old one keep it
    return;
  }
  Value* fresh = graph.addConstant(graph.uniqueName(n->name + "_bias"), std::move(bias));
  fresh->hasShape = true;
  fresh->shape = fresh->constant.shape();
  if (n->inputs.size() < 3) n->inputs.resize(3, nullptr);
  n->inputs[2] = fresh;
}

}  // namespace

Expected<BiasCorrector> BiasCorrector::create(const Graph& graph, const QuantPlan& plan) {
  BiasCorrector bc;
  for (const QuantUnit& unit : plan.units) {
    const Node* n = unit.anchor;
    int64_t channels = correctableChannels(*n);
    if (channels == 0) {
      logVerbose("bias correction: {} is left as it is", n->describe());
      continue;
    }
    Unit u;
    u.node = n->name;
    u.b0.assign(static_cast<size_t>(channels), 0.0);
    if (const Value* b = n->input(2)) {
      double beta = 1.0;
      if (n->opType == "Gemm") {
        HQ_ASSIGN_OR_RETURN(float f, ops::floatAttr(*n, "beta", 1.0f));
        beta = f;
      }
      const float* d = b->constant.data<float>();
      for (int64_t c = 0; c < channels; ++c) {
        u.b0[static_cast<size_t>(c)] = beta * d[b->constant.numel() == 1 ? 0 : c];
      }
    }
    bc.units_.push_back(std::move(u));
  }
  (void)graph;
  return bc;
}

std::vector<std::string> BiasCorrector::valuesToKeep(const Graph& graph) const {
  std::vector<std::string> names;
  for (const Unit& u : units_) {
    const Node* n = graph.findNode(u.node);
    if (!n) continue;
    int gi = -1;
    const Value* v = unitInput(graph, *n, &gi);
    if (gi < 0 && std::find(names.begin(), names.end(), v->name) == names.end()) {
      names.push_back(v->name);
    }
  }
  return names;
}

namespace {

/// The float input of unit `node` in this batch.
Expected<const Tensor*> unitTensor(const Graph& graph, const std::string& node,
                                   const std::vector<Tensor>& inputs,
                                   const std::map<std::string, Tensor>& kept, const Value** value) {
  const Node* n = graph.findNode(node);
  if (!n) return HQ_ERROR(kInternal, "bias correction: node '{}' is not in the graph", node);
  int gi = -1;
  *value = unitInput(graph, *n, &gi);
  if (gi >= 0 && static_cast<size_t>(gi) < inputs.size()) return &inputs[static_cast<size_t>(gi)];
  if (auto it = kept.find((*value)->name); it != kept.end()) return &it->second;
  return HQ_ERROR(kInternal, "bias correction: input '{}' of {} was not kept", (*value)->name,
                  n->describe());
}

}  // namespace

Status BiasCorrector::observe(const Graph& graph, const std::vector<Tensor>& inputs,
                              const std::map<std::string, Tensor>& kept) {
  for (Unit& u : units_) {
    const Value* v = nullptr;
    HQ_ASSIGN_OR_RETURN(const Tensor* t, unitTensor(graph, u.node, inputs, kept, &v));
    HQ_RETURN_IF_ERROR(u.floatMean.add(*t));
  }
  return Status::ok();
}

Status BiasCorrector::observeValue(const Graph& graph, const std::string& value,
                                   const Tensor& plain) {
  for (Unit& u : units_) {
    const Node* n = graph.findNode(u.node);
    if (!n) return HQ_ERROR(kInternal, "bias correction: node '{}' is not in the graph", u.node);
    int gi = -1;
    const Value* v = unitInput(graph, *n, &gi);
    if (gi < 0 && v && v->name == value) HQ_RETURN_IF_ERROR(u.floatMean.add(plain));
  }
  return Status::ok();
}

Status BiasCorrector::observeGraphInputs(const Graph& graph, const std::vector<Tensor>& inputs) {
  for (Unit& u : units_) {
    const Node* n = graph.findNode(u.node);
    if (!n) return HQ_ERROR(kInternal, "bias correction: node '{}' is not in the graph", u.node);
    int gi = -1;
    unitInput(graph, *n, &gi);
    if (gi >= 0 && static_cast<size_t>(gi) < inputs.size()) {
      HQ_RETURN_IF_ERROR(u.floatMean.add(inputs[static_cast<size_t>(gi)]));
    }
  }
  return Status::ok();
}

Status BiasCorrector::observeLocal(const Graph& graph, const QuantPlan& plan,
                                   const std::vector<QuantParams>& params,
                                   const std::vector<Tensor>& inputs,
                                   const std::map<std::string, Tensor>& kept) {
  Tensor fq;
  for (Unit& u : units_) {
    const Value* v = nullptr;
    HQ_ASSIGN_OR_RETURN(const Tensor* t, unitTensor(graph, u.node, inputs, kept, &v));
    HQ_RETURN_IF_ERROR(u.floatMean.add(*t));
    const QuantPoint* p = plan.pointFor(v);
    if (!p) return HQ_ERROR(kInternal, "bias correction: '{}' has no quantization point", v->name);
    const QuantParams& q = params.at(static_cast<size_t>(p - plan.points.data()));
    if (q.dtype == QDType::kInt32) {  // not fake-quantized in the QDQ model
      HQ_RETURN_IF_ERROR(u.quantMean.add(*t));
      continue;
    }
    if (fq.shape() != t->shape()) fq = Tensor(DType::kFloat32, t->shape());
    const float* src = t->data<float>();
    float* dst = fq.data<float>();
    const float scale = q.scales[0];
    const int64_t z = q.zeroPoints[0], qmin = p->spec.qmin(), qmax = p->spec.qmax();
    for (int64_t i = 0; i < t->numel(); ++i) {
      dst[i] = static_cast<float>(quantizeValue(src[i], scale, z, qmin, qmax) - z) * scale;
    }
    HQ_RETURN_IF_ERROR(u.quantMean.add(fq));
  }
  return Status::ok();
}

void BiasCorrector::reset() {
  for (Unit& u : units_) {
    u.floatMean.reset();
    u.quantMean.reset();
  }
}

Expected<OrderedJson> BiasCorrector::apply(Graph& graph, const QuantPlan& plan,
                                           const std::vector<QuantParams>& params,
                                           BiasCorrectionMode mode) {
  OrderedJson report = OrderedJson::array();
  if (mode == BiasCorrectionMode::kOff) return report;
  if (params.size() != plan.points.size()) {
    return HQ_ERROR(kInternal, "bias correction: {} params for {} points", params.size(),
                    plan.points.size());
  }
  for (Unit& u : units_) {
    Node* n = graph.findNode(u.node);
    if (!n) return HQ_ERROR(kInternal, "bias correction: node '{}' is not in the graph", u.node);
    int wp = weightPointOf(plan, n);
    if (wp < 0) {
      return HQ_ERROR(kInternal, "bias correction: {} has no weight point", n->describe());
    }
    const BatchMean& qm = mode == BiasCorrectionMode::kLocal ? u.quantMean : u.floatMean;
    if (u.floatMean.count() == 0 || qm.count() != u.floatMean.count()) {
      return HQ_ERROR(kInternal, "bias correction: {} saw no data", n->describe());
    }
    const QuantPoint& point = plan.points[static_cast<size_t>(wp)];
    const Tensor& w = point.value->constant;
    Tensor wq = fakeQuantizeWeight(w, params[static_cast<size_t>(wp)], point.spec.qmin(),
                                   point.spec.qmax());
    std::vector<double> ef, eq;
    if (n->opType == "Conv") {
      HQ_ASSIGN_OR_RETURN(ef, convOutputMean(*n, w, u.floatMean.mean(), u.floatMean.sampleShape()));
      HQ_ASSIGN_OR_RETURN(eq, convOutputMean(*n, wq, qm.mean(), qm.sampleShape()));
    } else {
      HQ_ASSIGN_OR_RETURN(ef, gemmOutputMean(*n, w, u.floatMean.mean()));
      HQ_ASSIGN_OR_RETURN(eq, gemmOutputMean(*n, wq, qm.mean()));
    }
    if (ef.size() != u.b0.size() || eq.size() != u.b0.size()) {
      return HQ_ERROR(kInternal, "bias correction: {} has {} output channels, its bias {}",
                      n->describe(), ef.size(), u.b0.size());
    }
    std::vector<double> bias(u.b0.size());
    double largest = 0;
    for (size_t c = 0; c < bias.size(); ++c) {
      double change = ef[c] - eq[c];
      bias[c] = u.b0[c] + change;
      largest = std::max(largest, std::abs(change));
    }
    writeBias(graph, n, bias);
    OrderedJson j;
    j["node"] = u.node;
    j["max_abs_change"] = largest;
    report.push_back(std::move(j));
    logVerbose("bias correction ({}) {}: largest bias change {:.3g}", biasCorrectionModeName(mode),
               u.node, largest);
  }
  return report;
}

}  // namespace hq
