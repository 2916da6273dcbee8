#include "quant/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "data/dataset.h"
#include "eval/evaluate.h"
#include "runtime/executor.h"
#include "support/json.h"
#include "support/progress.h"

namespace hq {

namespace {

constexpr const char* kQuantizedSuffix = "_quantized";

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string stripQuantized(const std::string& name) {
  return endsWith(name, kQuantizedSuffix) ? name.substr(0, name.size() - 10) : name;
}

bool isIntType(DType t) { return t == DType::kInt8 || t == DType::kInt16 || t == DType::kInt32; }

/// Values of any numeric tensor as doubles (int8/16/32, float32).
std::vector<double> asDoubles(const Tensor& t) { return t.toDouble(); }

/// Running sums for one comparison of a tensor `a` against a reference `r`.
struct Sums {
  double dot = 0, aa = 0, rr = 0, err2 = 0, maxErr = 0;
  int64_t mismatches = 0, n = 0;

  /// `tolerance`: differences up to it do not count as mismatches (0.5 LSB against a
  /// reference that is not on the grid: the nearest integer is the best one can do).
  void add(double a, double r, double tolerance = 0) {
    dot += a * r;
    aa += a * a;
    rr += r * r;
    const double e = a - r;
    err2 += e * e;
    maxErr = std::max(maxErr, std::fabs(e));
    mismatches += std::fabs(e) > tolerance;
    ++n;
  }
  /// Cosine similarity; 1 when both are all zeros, 0 when only one is.
  double cosine() const {
    if (aa == 0 && rr == 0) return 1;
    if (aa == 0 || rr == 0) return 0;
    return dot / std::sqrt(aa * rr);
  }
  /// Signal-to-quantization-noise ratio in dB; +inf when equal.
  double sqnrDb() const {
    if (err2 == 0) return std::numeric_limits<double>::infinity();
    if (rr == 0) return -std::numeric_limits<double>::infinity();
    return 10 * std::log10(rr / err2);
  }
};

/// One integer tensor and where its counterparts are.
struct Track {
  std::string intName, fakeName, floatName;
  bool fakeIsInt = false;   ///< the fake-quant counterpart holds integers (a QuantizeLinear output)
  bool fakeOnGrid = true;   ///< a float counterpart holds multiples of the scale
  std::vector<float> scales;  ///< one, or one per channel (axis 1)
  std::string node, op;
  Sums vsFake, vsFloat;
};

Expected<std::map<std::string, std::vector<float>>> readScales(const Graph& g) {
  auto it = g.metadata.find("hq.int.scales");
  if (it == g.metadata.end()) {
    return HQ_ERROR(kInvalidArgument,
                    "the integer model has no 'hq.int.scales' metadata (not written by "
                    "hq-convert?); --compare needs the scale of each tensor");
  }
  HQ_ASSIGN_OR_RETURN(Json j, parseJson(it->second, "metadata hq.int.scales"));
  if (!j.is_object()) {
    return HQ_ERROR(kParse, "metadata hq.int.scales: expected a JSON object of tensor -> scale");
  }
  std::map<std::string, std::vector<float>> out;
  for (auto& [name, v] : j.items()) {
    std::vector<float> s;
    if (v.is_number()) {
      s.push_back(v.get<float>());
    } else if (v.is_array()) {
      for (auto& x : v) {
        if (!x.is_number()) break;
        s.push_back(x.get<float>());
      }
      if (s.size() != v.size()) s.clear();
    }
    if (s.empty() || std::any_of(s.begin(), s.end(), [](float x) { return !(x > 0) || !std::isfinite(x); })) {
      return HQ_ERROR(kParse, "metadata hq.int.scales: '{}' is not a positive scale or list of them",
                      name);
    }
    out[name] = std::move(s);
  }
  return out;
}

/// Pick the tensors to compare and their counterparts.
Expected<std::vector<Track>> planTracks(const Graph* float_model, const Graph& fake,
                                        const Graph& int_model) {
  HQ_ASSIGN_OR_RETURN(auto scales, readScales(int_model));
  std::vector<Track> tracks;
  for (const Node* n : int_model.nodes()) {
    for (const Value* v : n->outputs) {
      if (!v || !isIntType(v->dtype)) continue;
      auto s = scales.find(v->name);
      if (s == scales.end()) continue;
      Track t;
      t.intName = v->name;
      t.scales = s->second;
      t.node = n->name;
      t.op = n->opType;
      const std::string base = stripQuantized(v->name);
      if (const Value* f = fake.findValue(v->name)) {
        t.fakeName = f->name;
        t.fakeIsInt = isIntType(f->dtype);
      } else if (const Value* d = fake.findValue(base + "_dequantized")) {
        t.fakeName = d->name;
      } else if (const Value* same = fake.findValue(base); same && base == v->name) {
        t.fakeName = same->name;  // a same-scale op's output: float on the input's grid
      } else if (const Value* out = fake.findValue(base);
                 out && v->dtype == DType::kInt32 && fake.isGraphOutput(out)) {
        // A qint32 output: the QDQ model leaves it float (not on a grid).
        t.fakeName = out->name;
        t.fakeOnGrid = false;
      }
      if (float_model) {
        if (const Value* f = float_model->findValue(base)) t.floatName = f->name;
      }
      if (t.fakeName.empty() && t.floatName.empty()) continue;
      tracks.push_back(std::move(t));
    }
  }
  if (tracks.empty()) {
    return HQ_ERROR(kNotFound, "no tensor of the integer model has a counterpart in the "
                    "fake-quant model (names differ: was it converted from this model?)");
  }
  return tracks;
}

/// Dequantized value of element i of integer tensor `t` (per-channel scales: axis 1).
struct Dequantizer {
  const std::vector<float>& scales;
  int64_t inner = 1, channels = 1;

  Dequantizer(const std::vector<float>& s, const Shape& shape) : scales(s) {
    if (s.size() > 1 && shape.size() >= 2) {
      channels = shape[1];
      for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
    }
  }
  double scaleAt(int64_t i) const {
    if (scales.size() == 1) return scales[0];
    const int64_t c = (i / inner) % channels;
    return c < static_cast<int64_t>(scales.size()) ? scales[static_cast<size_t>(c)] : scales[0];
  }
};

int64_t argmax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t c = 1; c < n; ++c) {
    if (row[c] > row[best]) best = c;
  }
  return best;
}

}  // namespace

Expected<CompareReport> compareModels(const Graph* float_model, const Graph& fake_quant,
                                      const Graph& int_model, const CompareOptions& options) {
  if (options.batch <= 0) {
    return HQ_ERROR(kInvalidArgument, "batch size must be positive, got {}", options.batch);
  }
  HQ_ASSIGN_OR_RETURN(std::vector<Track> tracks, planTracks(float_model, fake_quant, int_model));

  DatasetOptions dopt;
  dopt.limit = options.limit;
  HQ_ASSIGN_OR_RETURN(auto dataset, openDataset(options.data, dopt));
  HQ_RETURN_IF_ERROR(checkModelFitsData(int_model, *dataset).addContext("integer model"));
  HQ_RETURN_IF_ERROR(checkModelFitsData(fake_quant, *dataset).addContext("fake-quant model"));
  if (float_model) {
    HQ_RETURN_IF_ERROR(checkModelFitsData(*float_model, *dataset).addContext("float model"));
  }

  auto make = [&](const Graph& g, auto name_of) -> Expected<std::unique_ptr<Executor>> {
    ExecutorOptions eo;
    eo.threads = options.threads;
    for (const Track& t : tracks) {
      const std::string& name = name_of(t);
      if (!name.empty() && std::find(eo.keep.begin(), eo.keep.end(), name) == eo.keep.end()) {
        eo.keep.push_back(name);
      }
    }
    return Executor::create(g, eo);
  };
  HQ_ASSIGN_OR_RETURN(auto int_exec, make(int_model, [](const Track& t) { return t.intName; }));
  HQ_ASSIGN_OR_RETURN(auto fake_exec, make(fake_quant, [](const Track& t) { return t.fakeName; }));
  std::unique_ptr<Executor> float_exec;
  if (float_model) {
    HQ_ASSIGN_OR_RETURN(float_exec, make(*float_model, [](const Track& t) { return t.floatName; }));
  }

  LoaderOptions lo;
  lo.batchSize = options.batch;
  BatchLoader loader(*dataset, lo);
  std::optional<Progress> progress;
  if (options.progress) progress.emplace("compare", dataset->size(), "img");
  CompareReport report;
  int64_t correct_float = 0, correct_fake = 0, correct_int = 0, disagree = 0;
  while (true) {
    HQ_ASSIGN_OR_RETURN(auto batch, loader.next());
    if (!batch) break;
    const int64_t n = batch->images.dim(0);
    HQ_ASSIGN_OR_RETURN(auto int_out, int_exec->run({batch->images}));
    HQ_ASSIGN_OR_RETURN(auto fake_out, fake_exec->run({batch->images}));
    std::vector<Tensor> float_out;
    if (float_exec) {
      HQ_ASSIGN_OR_RETURN(float_out, float_exec->run({batch->images}));
    }

    // Top-1 of each model.
    auto top1 = [&](const std::vector<Tensor>& outs, const char* what) -> Expected<std::vector<int64_t>> {
      const Tensor& logits = outs.at(0);
      if (logits.dtype() != DType::kFloat32 || logits.rank() != 2 || logits.dim(0) != n) {
        return HQ_ERROR(kShape, "{} model output is {} {}, expected float32 [{}, classes]", what,
                        dtypeName(logits.dtype()), shapeString(logits.shape()), n);
      }
      std::vector<int64_t> cls(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        cls[static_cast<size_t>(i)] = argmax(logits.data<float>() + i * logits.dim(1), logits.dim(1));
      }
      return cls;
    };
    HQ_ASSIGN_OR_RETURN(auto int_cls, top1(int_out, "integer"));
    HQ_ASSIGN_OR_RETURN(auto fake_cls, top1(fake_out, "fake-quant"));
    std::vector<int64_t> float_cls;
    if (float_exec) {
      HQ_ASSIGN_OR_RETURN(float_cls, top1(float_out, "float"));
    }
    const int64_t* labels = batch->labels.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      correct_int += int_cls[k] == labels[i];
      correct_fake += fake_cls[k] == labels[i];
      if (float_exec) correct_float += float_cls[k] == labels[i];
      disagree += int_cls[k] != fake_cls[k];
    }

    // Per-tensor sums.
    for (Track& t : tracks) {
      const Tensor& q = int_exec->kept().at(t.intName);
      const std::vector<double> qv = asDoubles(q);
      Dequantizer dq(t.scales, q.shape());
      if (!t.fakeName.empty()) {
        const Tensor& f = fake_exec->kept().at(t.fakeName);
        if (f.numel() != q.numel()) {
          return HQ_ERROR(kShape, "tensor '{}' is {} in the integer model but '{}' is {} in the "
                          "fake-quant model", t.intName, shapeString(q.shape()), t.fakeName,
                          shapeString(f.shape()));
        }
        const std::vector<double> fv = asDoubles(f);
        // Compared in LSBs: integer values as they are; float values (a DequantizeLinear
        // output, or a same-scale op on one) are on the grid, so divided by the scale and
        // rounded (q * s / s need not give q back exactly in float32).
        for (size_t i = 0; i < qv.size(); ++i) {
          const double s = dq.scaleAt(static_cast<int64_t>(i));
          t.vsFake.add(qv[i],
                       t.fakeIsInt    ? fv[i]
                       : t.fakeOnGrid ? std::nearbyint(fv[i] / s)
                                      : fv[i] / s,
                       t.fakeOnGrid ? 0.0 : 0.5);
        }
      }
      if (!t.floatName.empty()) {
        const Tensor& f = float_exec->kept().at(t.floatName);
        if (f.numel() != q.numel()) {
          return HQ_ERROR(kShape, "tensor '{}' is {} in the integer model but '{}' is {} in the "
                          "float model", t.intName, shapeString(q.shape()), t.floatName,
                          shapeString(f.shape()));
        }
        const std::vector<double> fv = asDoubles(f);
        for (size_t i = 0; i < qv.size(); ++i) {
          t.vsFloat.add(qv[i] * dq.scaleAt(static_cast<int64_t>(i)), fv[i]);
        }
      }
    }
    report.images += n;
    if (progress) progress->advance(n);
  }
  if (progress) progress->finish();
  if (report.images == 0) return HQ_ERROR(kData, "{} has no samples", dataset->describe());

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double images = static_cast<double>(report.images);
  report.top1Int = 100.0 * correct_int / images;
  report.top1FakeQuant = 100.0 * correct_fake / images;
  report.top1Float = float_exec ? 100.0 * correct_float / images : nan;
  report.top1Disagreement = disagree / images;
  for (const Track& t : tracks) {
    LayerComparison l;
    l.tensor = t.intName;
    l.node = t.node;
    l.op = t.op;
    l.scale = t.scales[0];
    if (t.fakeName.empty()) {
      l.cosineFakeQuant = l.sqnrFakeQuantDb = l.maxErrLsb = l.mismatchFraction = nan;
    } else {
      l.cosineFakeQuant = t.vsFake.cosine();
      l.sqnrFakeQuantDb = t.vsFake.sqnrDb();
      l.maxErrLsb = t.vsFake.maxErr;
      l.mismatchFraction = t.vsFake.n ? static_cast<double>(t.vsFake.mismatches) / t.vsFake.n : 0;
    }
    if (t.floatName.empty()) {
      l.cosineFloat = l.sqnrFloatDb = nan;
    } else {
      l.cosineFloat = t.vsFloat.cosine();
      l.sqnrFloatDb = t.vsFloat.sqnrDb();
    }
    report.layers.push_back(std::move(l));
  }
  // Worst first: lowest cosine vs float, then vs fake-quant (NaN last), then by name.
  auto key = [](double x) { return std::isnan(x) ? 2.0 : x; };
  std::stable_sort(report.layers.begin(), report.layers.end(),
                   [&](const LayerComparison& a, const LayerComparison& b) {
                     if (key(a.cosineFloat) != key(b.cosineFloat)) {
                       return key(a.cosineFloat) < key(b.cosineFloat);
                     }
                     if (key(a.cosineFakeQuant) != key(b.cosineFakeQuant)) {
                       return key(a.cosineFakeQuant) < key(b.cosineFakeQuant);
                     }
                     return a.tensor < b.tensor;
                   });
  return report;
}

OrderedJson CompareReport::toJson() const {
  auto num = [](double x) -> OrderedJson {
    if (std::isnan(x)) return nullptr;
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    return x;
  };
  OrderedJson j;
  j["images"] = images;
  j["top1_float"] = num(top1Float);
  j["top1_fake_quant"] = num(top1FakeQuant);
  j["top1_int"] = num(top1Int);
  j["top1_disagreement"] = top1Disagreement;
  OrderedJson layers = OrderedJson::array();
  for (const auto& l : this->layers) {
    OrderedJson e;
    e["tensor"] = l.tensor;
    e["node"] = l.node;
    e["op"] = l.op;
    e["scale"] = l.scale;
    e["cosine_float"] = num(l.cosineFloat);
    e["sqnr_float_db"] = num(l.sqnrFloatDb);
    e["cosine_fake_quant"] = num(l.cosineFakeQuant);
    e["sqnr_fake_quant_db"] = num(l.sqnrFakeQuantDb);
    e["max_err_lsb"] = num(l.maxErrLsb);
    e["mismatch_fraction"] = num(l.mismatchFraction);
    layers.push_back(std::move(e));
  }
  j["layers"] = std::move(layers);
  return j;
}

std::vector<const LayerComparison*> CompareReport::below(double min_cosine) const {
  std::vector<const LayerComparison*> out;
  for (const auto& l : layers) {
    const double c = std::isnan(l.cosineFloat) ? l.cosineFakeQuant : l.cosineFloat;
    if (!std::isnan(c) && c < min_cosine) out.push_back(&l);
  }
  return out;
}

std::string CompareReport::toText(size_t max_rows) const {
  auto pct = [](double x) { return std::isnan(x) ? std::string("-") : fmt::format("{:.3f}", x); };
  auto val = [](double x, const char* f) {
    if (std::isnan(x)) return std::string("-");
    if (std::isinf(x)) return std::string(x > 0 ? "inf" : "-inf");
    return fmt::format(fmt::runtime(f), x);
  };
  std::string out = fmt::format(
      "{} images: top-1 float {}  fake-quant {}  integer {}; integer and fake-quant top-1 "
      "differ on {:.2f}% of images\n",
      images, pct(top1Float), pct(top1FakeQuant), pct(top1Int), 100.0 * top1Disagreement);
  size_t w = 2;
  for (const auto& l : layers) w = std::max(w, l.op.size());
  out += fmt::format("{:<{}} {:>10} {:>9} {:>10} {:>9} {:>8} {:>8}  {}\n", "op", w, "cos/float",
                     "SQNR dB", "cos/fq", "SQNR dB", "max LSB", "differ", "tensor");
  for (size_t i = 0; i < layers.size() && i < max_rows; ++i) {
    const LayerComparison& l = layers[i];
    out += fmt::format("{:<{}} {:>10} {:>9} {:>10} {:>9} {:>8} {:>8}  {}\n", l.op, w,
                       val(l.cosineFloat, "{:.6f}"), val(l.sqnrFloatDb, "{:.1f}"),
                       val(l.cosineFakeQuant, "{:.6f}"), val(l.sqnrFakeQuantDb, "{:.1f}"),
                       val(l.maxErrLsb, "{:.0f}"),
                       std::isnan(l.mismatchFraction) ? std::string("-")
                                                      : fmt::format("{:.2f}%", 100 * l.mismatchFraction),
                       l.tensor);
  }
  if (layers.size() > max_rows) {
    out += fmt::format("... {} more (--json lists all)\n", layers.size() - max_rows);
  }
  return out;
}

}  // namespace hq
