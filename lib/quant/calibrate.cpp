#include "quant/calibrate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "eval/evaluate.h"
#include "quant/observer.h"
#include "quant/qdq.h"
#include "quant/rules.h"
#include "runtime/executor.h"
#include "support/log.h"
#include "support/progress.h"
#include "support/version.h"

namespace hq {

namespace {

/// What is collected for one activation point during calibration: its observer, which
/// for every method but ema_minmax is a HistogramObserver (exact min/max plus a streaming
/// histogram), so the report can show saturation and SQNR and "all" can try each method.
struct PointState {
  std::unique_ptr<Observer> observer;
  const HistogramObserver* histogram = nullptr;  ///< observer, when it keeps a histogram
};

bool isActivation(const QuantPoint& p) { return p.kind != QuantPoint::Kind::kWeight; }

/// The metadata "hq.quant.points" (hq-qat reads it): one entry per point, in plan order, with
/// the tensor, kind, owner node, the resolved spec (qconfig form, incl. "qat"), "scale_group"
/// for points sharing one scale (the observer's scale initializer) and "scale",
/// the scale initializer of its QuantizeLinear / DequantizeLinear (absent for qint32 outputs,
/// which stay float). Called after insertQdq with what was recorded before it (`tensors`:
/// the points' float value names, `values`: their Values, which weights no longer have).
std::string pointsMetadata(const Graph& g, const QuantPlan& plan,
                           const std::vector<std::string>& tensors,
                           const std::vector<const Value*>& values) {
  std::map<const Value*, const Node*> producer;
  for (const Node* n : g.nodes()) {
    for (const Value* v : n->outputs) producer[v] = n;
  }
  OrderedJson points = OrderedJson::array();
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const QuantPoint& p = plan.points[i];
    OrderedJson j;
    j["tensor"] = tensors[i];
    j["kind"] = p.kind == QuantPoint::Kind::kInput    ? "input"
                : p.kind == QuantPoint::Kind::kOutput ? "output"
                                                      : "weight";
    j["node"] = p.owner ? p.owner->name : "";
    j["spec"] = QConfig::specToJson(p.spec);
    std::string scale;
    if (isActivation(p)) {
      for (const Node* n : g.consumers(values[i])) {
        if ((n->opType == "QuantizeLinear" || n->opType == "Div") && n->input(1)) {
          scale = n->input(1)->name;
          break;
        }
      }
    } else if (p.owner) {
      for (const Value* in : p.owner->inputs) {
        auto it = producer.find(in);
        if (it == producer.end() || it->second->opType != "DequantizeLinear") continue;
        const Value* q = it->second->input(0);
        if (q && q->isConstant() && q->constant.dtype() == DType::kInt8 && it->second->input(1)) {
          scale = it->second->input(1)->name;
          break;
        }
      }
    }
    if (!scale.empty()) j["scale"] = scale;
    points.push_back(std::move(j));
  }
  // Shared-scale groups (a Concat's inputs and output): every member names the scale of the
  // group's observer for hq-qat, the last Concat output of the group (its values contain all
  // the others'), so QAT keeps the members' scales equal.
  std::map<size_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < plan.points.size(); ++i) groups[plan.groupOf(i)].push_back(i);
  for (const auto& [rep, members] : groups) {
    if (members.size() < 2) continue;
    size_t observer = rep;
    for (size_t i : members) {
      const QuantPoint& p = plan.points[i];
      if (p.kind == QuantPoint::Kind::kOutput && p.owner && p.owner->opType == "Concat")
        observer = i;
    }
    if (!points[observer].contains("scale")) continue;
    const std::string scale = points[observer]["scale"].get<std::string>();
    for (size_t i : members) {
      if (points[i].contains("scale")) points[i]["scale_group"] = scale;
    }
  }
  return points.dump();
}

/// Images [from, to) of an NCHW batch, copied.
Tensor sliceImages(const Tensor& batch, int64_t from, int64_t to) {
  Shape shape = batch.shape();
  shape[0] = to - from;
  Tensor out(batch.dtype(), shape);
  size_t per = batch.nbytes() / static_cast<size_t>(batch.dim(0));
  std::memcpy(out.raw(), static_cast<const char*>(batch.raw()) + per * static_cast<size_t>(from),
              per * static_cast<size_t>(to - from));
  return out;
}

Expected<PointState> makePointState(const QuantPoint& p) {
  PointState st;
  const QuantSpec& spec = p.spec;
  if (spec.observer == "ema_minmax") {
    HQ_ASSIGN_OR_RETURN(st.observer, makeObserver(spec, p.value->name));
    return st;
  }
  // Fixed scales ignore the data, but the histogram still feeds the report.
  std::string method = spec.fixedScale ? "minmax" : spec.observer;
  if (method != "all") {
    QuantSpec check = spec;
    check.observer = method;
    check.fixedScale.reset();
    HQ_RETURN_IF_ERROR(makeObserver(check, p.value->name).status());  // validates parameters
  }
  auto h = std::make_unique<HistogramObserver>(p.value->name, method, spec.params.bins);
  st.histogram = h.get();
  st.observer = std::move(h);
  return st;
}

QuantParams paramsFromRange(const QuantRange& r, const QuantSpec& spec) {
  QuantParams p;
  p.dtype = spec.dtype;
  p.scales = {static_cast<float>(r.scale)};
  p.zeroPoints = {r.zeroPoint};
  return p;
}

/// Range of an activation point: the fixed scale, the given method (for "all"), or the
/// point's own observer.
Expected<QuantRange> rangeOf(const PointState& st, const QuantSpec& spec,
                             const std::string& method) {
  if (spec.fixedScale) {  // exactly as given (e.g. 1/128 for pyramid input), zero point 0
    QuantRange r;
    r.scale = *spec.fixedScale;
    r.min = r.scale * static_cast<double>(spec.qmin());
    r.max = r.scale * static_cast<double>(spec.qmax());
    return r;
  }
  if (!method.empty() && st.histogram) return st.histogram->computeWith(method, spec);
  return st.observer->compute(spec);
}

/// Weight params: per-channel symmetric scales (or one per-tensor scale). Errors name the
/// weight: not float32, NaN/Inf, channel axis out of range.
Expected<QuantParams> weightParams(const QuantPoint& p) {
  QuantParams q;
  q.dtype = p.spec.dtype;
  const Tensor& w = p.value->constant;
  if (w.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "weight '{}' is {}, expected float32", p.value->name,
                    dtypeName(w.dtype()));
  }
  if (p.spec.perChannel && w.rank() >= 2) {
    HQ_ASSIGN_OR_RETURN(auto scales,
                        perChannelScalesChecked(w, p.channelAxis, p.spec, p.value->name));
    for (double s : scales) q.scales.push_back(static_cast<float>(s));
    q.zeroPoints.assign(q.scales.size(), 0);
    q.axis = p.channelAxis;
  } else {
    double lo = 0, hi = 0;
    const float* d = w.data<float>();
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (!std::isfinite(d[i])) {
        return HQ_ERROR(kData, "weight '{}' has a non-finite value at element {}", p.value->name,
                        i);
      }
      lo = std::min(lo, static_cast<double>(d[i]));
      hi = std::max(hi, static_cast<double>(d[i]));
    }
    QuantRange r = rangeToScale(lo, hi, p.spec);
    q.scales = {static_cast<float>(r.scale)};
    q.zeroPoints = {r.zeroPoint};
  }
  if (q.scales.empty()) return HQ_ERROR(kInternal, "weight '{}': no scales", p.value->name);
  return q;
}

/// Saturation (fraction clipped) and SQNR (dB) of quantizing with `p`, estimated from the
/// histogram (bin centers stand for their values).
std::pair<double, double> histogramStats(const Histogram& h, const QuantParams& p,
                                         const QuantSpec& spec) {
  if (h.empty() || h.total() <= 0) return {0.0, 0.0};
  double s = p.scales[0];
  double z = static_cast<double>(p.zeroPoints[0]);
  double lo = (spec.qmin() - z) * s, hi = (spec.qmax() - z) * s;
  double clipped = 0, signal = 0, noise = 0;
  const auto& counts = h.counts();
  for (int b = 0; b < h.bins(); ++b) {
    double c = counts[static_cast<size_t>(b)];
    if (c <= 0) continue;
    double left = h.lo() + b * h.binWidth(), x = left + 0.5 * h.binWidth();
    // Clipped when the whole bin lies outside the range (a bin touching the edge holds
    // the edge value itself, e.g. -1.0 = -128/128 for the input).
    if (left + h.binWidth() < lo || left > hi) clipped += c;
    double q = std::nearbyint(x / s + z);
    q = std::min<double>(std::max<double>(q, spec.qmin()), spec.qmax());
    double e = x - (q - z) * s;
    signal += c * x * x;
    noise += c * e * e;
  }
  double sqnr = noise > 0 ? 10.0 * std::log10(signal / noise) : 99.0;
  return {clipped / h.total(), sqnr};
}

/// Exact saturation and SQNR of a weight tensor under its params.
std::pair<double, double> weightStats(const QuantPoint& p, const QuantParams& q) {
  const Tensor& w = p.value->constant;
  const float* d = w.data<float>();
  int64_t n = w.numel();
  int64_t channels = q.axis >= 0 ? w.dim(q.axis) : 1;
  int64_t inner = 1;
  if (q.axis >= 0) {
    for (int64_t k = q.axis + 1; k < w.rank(); ++k) inner *= w.dim(k);
  }
  double clipped = 0, signal = 0, noise = 0;
  for (int64_t i = 0; i < n; ++i) {
    size_t c = q.axis >= 0 ? static_cast<size_t>((i / inner) % channels) : 0;
    double s = q.scales[c], z = static_cast<double>(q.zeroPoints[c]);
    double raw = std::nearbyint(d[i] / s + z);
    if (raw < p.spec.qmin() || raw > p.spec.qmax()) clipped += 1;
    int64_t qi = quantizeValue(d[i], q.scales[c], q.zeroPoints[c], p.spec.qmin(), p.spec.qmax());
    double e = d[i] - (static_cast<double>(qi) - z) * s;
    signal += static_cast<double>(d[i]) * d[i];
    noise += e * e;
  }
  double sqnr = noise > 0 ? 10.0 * std::log10(signal / noise) : 99.0;
  return {n ? clipped / n : 0.0, sqnr};
}

const char* kindName(QuantPoint::Kind k) {
  switch (k) {
    case QuantPoint::Kind::kInput: return "input";
    case QuantPoint::Kind::kOutput: return "output";
    case QuantPoint::Kind::kWeight: return "weight";
  }
  return "?";
}

/// Float logits of the graph on the held-out batches.
Expected<std::vector<Tensor>> runAll(const Graph& g, const std::vector<Tensor>& batches,
                                     int threads) {
  ExecutorOptions eo;
  eo.threads = threads;
  HQ_ASSIGN_OR_RETURN(auto ex, Executor::create(g, eo));
  std::vector<Tensor> outs;
  for (const Tensor& b : batches) {
    HQ_ASSIGN_OR_RETURN(auto o, ex->run({b}));
    outs.push_back(o[0].clone());
  }
  return outs;
}

struct Candidate {
  std::string method;
  double logitMse = 0;
  double top1Agreement = 0;
};

Candidate scoreAgainst(const std::string& method, const std::vector<Tensor>& ref,
                       const std::vector<Tensor>& got) {
  Candidate c;
  c.method = method;
  double se = 0;
  int64_t n = 0, rows = 0, agree = 0;
  for (size_t b = 0; b < ref.size(); ++b) {
    const float* r = ref[b].data<float>();
    const float* g = got[b].data<float>();
    int64_t count = ref[b].numel();
    int64_t cols = ref[b].rank() >= 2 ? ref[b].dim(-1) : count;
    for (int64_t i = 0; i < count; ++i) {
      double d = static_cast<double>(r[i]) - g[i];
      se += d * d;
    }
    n += count;
    for (int64_t row = 0; cols > 0 && row + cols <= count; row += cols) {
      int64_t ar = 0, ag = 0;
      for (int64_t k = 1; k < cols; ++k) {
        if (r[row + k] > r[row + ar]) ar = k;
        if (g[row + k] > g[row + ag]) ag = k;
      }
      agree += ar == ag;
      ++rows;
    }
  }
  c.logitMse = n ? se / n : 0;
  c.top1Agreement = rows ? 100.0 * agree / rows : 0;
  return c;
}

}  // namespace

Expected<CalibResult> calibrate(const Graph& float_model, Dataset& data, const QConfig& qconfig,
                                const CalibOptions& options) {
  HQ_RETURN_IF_ERROR(checkModelFitsData(float_model, data, /*need_labels=*/false));
  HQ_RETURN_IF_ERROR(qconfig.checkMarch());  // dtypes the target march runs (none: no-op)
  if (options.batchSize <= 0) {
    return HQ_ERROR(kInvalidArgument, "batch size must be positive, got {}", options.batchSize);
  }
  bool try_all = options.observer == "all";
  auto graph = float_model.clone();
  HQ_RETURN_IF_ERROR(prepareForQuantization(*graph));
  HQ_ASSIGN_OR_RETURN(QuantPlan plan, planQuantization(*graph, qconfig));
  for (const QuantPoint& p : plan.points) {  // "all" may also come from the qconfig
    if (isActivation(p) && !p.spec.fixedScale && p.spec.observer == "all") try_all = true;
  }
  for (QuantPoint& p : plan.points) {
    if (isActivation(p) && !p.spec.fixedScale && !options.observer.empty() && !try_all) {
      p.spec.observer = options.observer;
    }
  }

  // Observers, and the executor that hands them every activation point's tensor right
  // after its step (in whatever layout the kernels chose; observers do not depend on order).
  std::vector<PointState> states(plan.points.size());
  std::map<std::string, std::vector<size_t>> observed_points;
  std::map<std::string, Tensor> unit_inputs;  // the bias corrector's, plain, reused per batch
  bool observing = true;                      // false in the local bias-correction pass
  ExecutorOptions eo;
  eo.threads = options.threads;
  // A shared-scale group (Concat inputs and output) has one observer, its representative's,
  // fed with every member's tensor (as PyTorch's shared observer for torch.cat).
  auto state_of = [&](size_t i) -> PointState& { return states[plan.groupOf(i)]; };
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const QuantPoint& p = plan.points[i];
    if (!isActivation(p)) continue;
    if (p.kind == QuantPoint::Kind::kOutput) observed_points[p.value->name].push_back(i);
    if (plan.groupOf(i) != i) continue;
    QuantPoint probe = p;
    if (try_all && !probe.spec.fixedScale) probe.spec.observer = "all";
    HQ_ASSIGN_OR_RETURN(states[i], makePointState(probe));
  }
  std::optional<BiasCorrector> corrector;
  if (options.biasCorrection != BiasCorrectionMode::kOff) {
    HQ_ASSIGN_OR_RETURN(corrector, BiasCorrector::create(*graph, plan));
    for (const std::string& name : corrector->valuesToKeep(*graph)) unit_inputs[name] = Tensor();
  }
  for (const auto& [name, points] : observed_points) eo.observe.push_back(name);
  for (const auto& [name, t] : unit_inputs) {
    if (!observed_points.count(name)) eo.observe.push_back(name);
  }
  eo.onObserve = [&](const std::string& name, const ObservedTensor& t) -> Status {
    if (auto it = observed_points.find(name); observing && it != observed_points.end()) {
      for (size_t i : it->second) {
        HQ_RETURN_IF_ERROR(state_of(i).observer->observe(t.data, t.n, t.paddingZeros));
      }
    }
    if (auto it = unit_inputs.find(name); it != unit_inputs.end() && observing) {
      return corrector->observeValue(*graph, name, t.toPlain());  // no copy, data still warm
    }
    if (auto it = unit_inputs.find(name); it != unit_inputs.end()) {  // the local pass
      Tensor plain = t.toPlain();
      if (it->second.shape() != plain.shape()) it->second = Tensor(DType::kFloat32, plain.shape());
      std::copy_n(plain.data<float>(), plain.numel(), it->second.data<float>());
    }
    return Status::ok();
  };
  HQ_ASSIGN_OR_RETURN(auto executor, Executor::create(*graph, eo));

  int64_t total = data.size();
  int64_t holdout_images =
      try_all ? std::min<int64_t>(total - 1, static_cast<int64_t>(total * options.holdoutFraction))
              : 0;
  if (try_all && holdout_images < 1) {
    return HQ_ERROR(kInvalidArgument, "--observer all needs at least 2 calibration images");
  }
  int64_t observe_images = total - holdout_images;
  std::vector<Tensor> holdout;

  LoaderOptions lo;
  lo.batchSize = options.batchSize;
  BatchLoader loader(data, lo);
  std::optional<Progress> progress;
  if (options.progress) progress.emplace("calibration", total, "img");
  auto start = std::chrono::steady_clock::now();
  int64_t seen = 0, observed = 0;
  while (true) {
    HQ_ASSIGN_OR_RETURN(auto batch, loader.next());
    if (!batch) break;
    int64_t n = batch->images.dim(0);
    if (seen >= observe_images) {
      holdout.push_back(batch->images.clone());
      seen += n;
      if (progress) progress->advance(n);
      continue;
    }
    Tensor images = batch->images;
    if (seen + n > observe_images) {  // the batch straddles the split: cut it per image
      int64_t k = observe_images - seen;
      holdout.push_back(sliceImages(images, k, n));
      images = sliceImages(images, 0, k);
    }
    HQ_ASSIGN_OR_RETURN(auto outs, executor->run({images}));
    (void)outs;
    for (size_t i = 0; i < plan.points.size(); ++i) {
      const QuantPoint& p = plan.points[i];
      if (p.kind == QuantPoint::Kind::kInput) {
        HQ_RETURN_IF_ERROR(state_of(i).observer->observe(images.data<float>(), images.numel()));
      }
    }
    if (corrector) HQ_RETURN_IF_ERROR(corrector->observeGraphInputs(*graph, {images}));
    observed += images.dim(0);
    seen += n;
    if (progress) progress->advance(n);
  }
  if (progress) progress->finish();
  if (seen == 0) return HQ_ERROR(kData, "{} has no samples", data.describe());
  if (try_all && holdout.empty()) {
    return HQ_ERROR(kInternal, "--observer all: no held-out images were set aside");
  }

  // Bias correction for the weights needs only their params, so the activation methods
  // below are tried (and the local correction made) with corrected weights' biases.
  OrderedJson corrections = OrderedJson::array();
  if (corrector) {
    std::vector<QuantParams> weights(plan.points.size());
    for (size_t i = 0; i < plan.points.size(); ++i) {
      if (!isActivation(plan.points[i])) {
        HQ_ASSIGN_OR_RETURN(weights[i], weightParams(plan.points[i]));
      }
    }
    HQ_ASSIGN_OR_RETURN(corrections,
                        corrector->apply(*graph, plan, weights, BiasCorrectionMode::kWeights));
  }

  // Parameters per point for one activation method (or the configured observers).
  auto params_for = [&](const std::string& method) -> Expected<std::vector<QuantParams>> {
    std::vector<QuantParams> out;
    for (size_t i = 0; i < plan.points.size(); ++i) {
      const QuantPoint& p = plan.points[i];
      if (!isActivation(p)) {
        HQ_ASSIGN_OR_RETURN(QuantParams w, weightParams(p));
        out.push_back(std::move(w));
        continue;
      }
      if (p.spec.dtype == QDType::kInt32) {  // high-precision output: no fake quant
        QuantParams q;
        q.dtype = QDType::kInt32;
        q.scales = {1.0f};
        q.zeroPoints = {0};
        out.push_back(q);
        continue;
      }
      // A group member takes its representative's range and spec: one scale for all.
      const QuantSpec& spec = plan.points[plan.groupOf(i)].spec;
      HQ_ASSIGN_OR_RETURN(QuantRange r, rangeOf(state_of(i), spec, method));
      out.push_back(paramsFromRange(r, spec));
    }
    return out;
  };

  CalibResult result;
  std::vector<QuantParams> chosen;
  OrderedJson candidates = OrderedJson::array();
  if (try_all) {
    HQ_ASSIGN_OR_RETURN(auto reference, runAll(*graph, holdout, options.threads));
    std::optional<Candidate> best;
    for (const char* method : {"minmax", "percentile", "kl", "mse"}) {
      HQ_ASSIGN_OR_RETURN(auto params, params_for(method));
      auto candidate_graph = graph->clone();
      HQ_ASSIGN_OR_RETURN(QuantPlan cplan, planQuantization(*candidate_graph, qconfig));
      HQ_RETURN_IF_ERROR(insertQdq(*candidate_graph, cplan, params));
      HQ_ASSIGN_OR_RETURN(auto got, runAll(*candidate_graph, holdout, options.threads));
      Candidate c = scoreAgainst(method, reference, got);
      logInfo("observer {:<10} held-out logit MSE {:.6f}, top-1 agreement with float {:.2f}%",
              method, c.logitMse, c.top1Agreement);
      candidates.push_back({{"observer", c.method},
                            {"holdout_logit_mse", c.logitMse},
                            {"holdout_top1_agreement", c.top1Agreement}});
      // A NaN score never wins over a finite one.
      if (!best || (std::isnan(best->logitMse) && !std::isnan(c.logitMse)) ||
          c.logitMse < best->logitMse) {
        best = c;
        chosen = std::move(params);
      }
    }
    result.chosenObserver = best->method;
    logInfo("observer all: chose {} (lowest held-out logit MSE)", best->method);
    for (size_t i = 0; i < plan.points.size(); ++i) {
      if (isActivation(plan.points[i]) && !plan.points[i].spec.fixedScale) {
        plan.points[i].spec.observer = best->method;
      }
    }
  } else {
    HQ_ASSIGN_OR_RETURN(chosen, params_for(""));
  }
  if (corrector && options.biasCorrection == BiasCorrectionMode::kLocal) {
    // One more float pass (the executor runs the uncorrected float graph) over the first
    // observed images: E[x] and E[Q(x)] of every unit input on the same images.
    corrector->reset();
    observing = false;
    int64_t limit = std::min(observe_images, std::max<int64_t>(1, options.biasCorrectionImages));
    BatchLoader again(data, lo);
    for (int64_t done = 0; done < limit;) {
      HQ_ASSIGN_OR_RETURN(auto batch, again.next());
      if (!batch) break;
      HQ_ASSIGN_OR_RETURN(auto outs, executor->run({batch->images}));
      (void)outs;
      HQ_RETURN_IF_ERROR(
          corrector->observeLocal(*graph, plan, chosen, {batch->images}, unit_inputs));
      done += batch->images.dim(0);
    }
    HQ_ASSIGN_OR_RETURN(corrections,
                        corrector->apply(*graph, plan, chosen, BiasCorrectionMode::kLocal));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.images = seen;

  // The report, before the QDQ insertion renames values.
  OrderedJson points = OrderedJson::array();
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const QuantPoint& p = plan.points[i];
    const QuantParams& q = chosen[i];
    OrderedJson j;
    j["tensor"] = p.value->name;
    j["kind"] = kindName(p.kind);
    j["node"] = p.owner ? p.owner->name : "";
    j["dtype"] = qdtypeName(q.dtype);
    j["symmetric"] = p.spec.symmetric;
    if (isActivation(p)) {
      j["observer"] = p.spec.fixedScale ? "fixed" : p.spec.observer;
      const PointState& st = state_of(i);
      j["min"] = st.observer->seenMin();
      j["max"] = st.observer->seenMax();
      j["scale"] = q.scales[0];
      j["zero_point"] = q.zeroPoints[0];
      if (plan.groupOf(i) != i) j["shares_scale_with"] = plan.points[plan.groupOf(i)].value->name;
      if (q.dtype != QDType::kInt32 && st.histogram) {
        auto [sat, sqnr] = histogramStats(st.histogram->histogram(), q, p.spec);
        j["saturation"] = sat;
        j["sqnr_db"] = sqnr;
      }
    } else {
      j["observer"] = "minmax";
      j["per_channel"] = q.axis >= 0;
      j["channels"] = q.scales.size();
      float smin = q.scales[0], smax = q.scales[0];
      for (float s : q.scales) {
        smin = std::min(smin, s);
        smax = std::max(smax, s);
      }
      j["scale_min"] = smin;
      j["scale_max"] = smax;
      auto [sat, sqnr] = weightStats(p, q);
      j["saturation"] = sat;
      j["sqnr_db"] = sqnr;
    }
    points.push_back(std::move(j));
  }

  std::vector<std::string> point_tensors;
  std::vector<const Value*> point_values;
  for (const QuantPoint& p : plan.points) {
    point_tensors.push_back(p.value->name);
    point_values.push_back(isActivation(p) ? p.value : nullptr);
  }
  HQ_RETURN_IF_ERROR(insertQdq(*graph, plan, chosen));
  graph->metadata["hq.quant.points"] = pointsMetadata(*graph, plan, point_tensors, point_values);
  graph->metadata["hq.version"] = kHqVersion;
  graph->metadata["hq.stage"] = "calib";
  graph->metadata["hq.qconfig"] = qconfig.source().dump();
  OrderedJson lineage;
  lineage["tool"] = options.toolName;
  lineage["version"] = kHqVersion;
  lineage["command"] = options.commandLine;
  lineage["inputs"] = options.inputDigests;
  graph->metadata["hq.lineage"] = lineage.dump();
  graph->producerName = "hq";
  graph->producerVersion = kHqVersion;

  OrderedJson summary;
  summary["images"] = seen;
  summary["observed_images"] = observed;
  summary["seconds"] = result.seconds;
  summary["images_per_s"] = result.seconds > 0 ? seen / result.seconds : 0.0;
  summary["activation_points"] =
      std::count_if(plan.points.begin(), plan.points.end(), isActivation);
  summary["weight_points"] = std::count_if(plan.points.begin(), plan.points.end(),
                                           [](const QuantPoint& p) { return !isActivation(p); });
  summary["fused_units"] = plan.units.size();
  summary["shared_scale_concats"] = plan.sharedConcats;
  summary["bias_correction"] = biasCorrectionModeName(options.biasCorrection);
  if (corrector) summary["bias_corrections"] = corrections;
  if (try_all) {
    summary["observer"] = "all";
    summary["chosen_observer"] = result.chosenObserver;
    summary["candidates"] = candidates;
  }
  result.report["format_version"] = 1;
  result.report["summary"] = summary;
  result.report["points"] = points;
  result.model = std::move(graph);
  return result;
}

}  // namespace hq
