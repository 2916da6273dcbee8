#include "report/perf_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace hq {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

/// x rounded to `digits` decimals (the seed's report rounds its figures so).
double roundTo(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* sourceFlag(hbm::InputSource s) {
  switch (s) {
    case hbm::PYRAMID: return "pyramid";
    case hbm::RESIZER: return "resizer";
    default: return "ddr";
  }
}

/// "--march bayes -O2 --input-source pyramid --batch 256" plus any other recorded options.
std::string compilingOptions(const hbm::Model& model) {
  const hbm::CompilerInfo& c = model.compiler();
  std::string out = fmt::format("--march {} -O{} --input-source {} --batch {}", model.march(),
                                c.opt_level(), sourceFlag(c.input_source()), model.batch());
  static const std::set<std::string> kCovered = {"march", "O", "input-source", "batch"};
  for (const hbm::Option& o : c.options()) {
    if (kCovered.count(o.key())) continue;
    out += fmt::format(" --{} {}", o.key(), o.value());
  }
  return out;
}

/// NCHW logical shape (frame batch 1) -> "NxHxWxC" with N = batch; other ranks in order.
std::string inputSize(const hbm::TensorDesc& t, int64_t batch) {
  std::vector<int64_t> dims(t.shape().begin(), t.shape().end());
  if (!dims.empty()) dims[0] = batch;
  if (dims.size() == 4) dims = {dims[0], dims[2], dims[3], dims[1]};
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

}  // namespace

PerfReport buildPerfReport(const hbm::Model& model, const TimingResult& t,
                           const std::string& model_name) {
  PerfReport r;
  r.modelName = model_name;
  r.march = upper(model.march());
  r.hqVersion = model.compiler().version();
  r.compilingOptions = compilingOptions(model);
  r.modelSha256 = model.source_model_sha256();
  r.batch = std::max<int64_t>(1, t.batch);
  for (const hbm::TensorDesc& in : model.inputs())
    r.inputs.emplace_back(in.name(), inputSize(in, r.batch));
  r.cycles = t.cycles;
  r.clockMhz = t.clockMhz;
  r.latencyUs = t.latencyUs();
  r.fps = t.fps();
  r.runsPerSecond = r.latencyUs > 0 ? 1e6 / r.latencyUs : 0;
  r.loadedBytesPerRun = t.loadedBytes + t.weightBytes;
  r.storedBytesPerRun = t.storedBytes;
  r.weightBytesPerRun = t.weightBytes;
  r.computeBoundUs = t.computeBoundCycles / t.clockMhz;
  r.ddrBoundUs = t.ddrBoundCycles / t.clockMhz;
  r.intervalUs = static_cast<double>(t.intervalCycles) / t.clockMhz;
  for (size_t s = 0; s < t.intervals.size(); ++s) {
    const TimingInterval& in = t.intervals[s];
    const int64_t start = static_cast<int64_t>(s) * t.intervalCycles;
    const int64_t len = std::max<int64_t>(1, std::min(t.intervalCycles, t.cycles - start));
    const double seconds = static_cast<double>(len) / (t.clockMhz * 1e6);
    r.macUtilization.push_back(in.busy[static_cast<size_t>(TimingUnit::kMac)]);
    r.vectorUtilization.push_back(in.busy[static_cast<size_t>(TimingUnit::kVec)]);
    r.loadMiBps.push_back(static_cast<double>(in.loadedBytes) / kMiB / seconds);
    r.storeMiBps.push_back(static_cast<double>(in.storedBytes) / kMiB / seconds);
  }
  int64_t macs = 0;
  for (int i = 0; i < static_cast<int>(t.layers.size()); ++i) {
    const LayerTiming& lt = t.layers[static_cast<size_t>(i)];
    PerfLayer l;
    l.timing = lt;
    l.group = i < model.layers_size() ? model.layers(i).group() : 0;
    l.opsPerRun = 2 * lt.macsPerFrame * r.batch;
    l.computeUs = static_cast<double>(lt.computeCycles) / t.clockMhz;
    l.loadStoreUs = static_cast<double>(lt.loadCycles + lt.storeCycles) / t.clockMhz;
    l.latencyUs = lt.latencyCycles / t.clockMhz;
    l.share = t.cycles > 0 ? lt.latencyCycles / static_cast<double>(t.cycles) : 0;
    l.rooflineUs = lt.rooflineCycles() / t.clockMhz;
    l.achieved = lt.latencyCycles > 0 ? lt.rooflineCycles() / lt.latencyCycles : 0;
    macs += lt.macsPerFrame;
    r.layers.push_back(std::move(l));
  }
  r.opsPerFrame = 2 * macs;
  return r;
}

OrderedJson PerfReport::toJson() const {
  // Keys sorted by name, as the seed's report prints them.
  std::map<std::string, OrderedJson> s;
  const double frames = static_cast<double>(batch);
  const double ddr_run = static_cast<double>(ddrBytesPerRun());
  s["BPU OPs per frame (effective)"] = opsPerFrame;
  s["BPU OPs per run (effective)"] = opsPerFrame * batch;
  s["BPU PE number"] = 1;
  s["BPU core number"] = 1;
  s["BPU march"] = march;
  s["DDR bytes per frame"] = roundTo(ddr_run / frames, 1);
  s["DDR bytes per run"] = ddrBytesPerRun();
  s["DDR bytes per second"] = std::llround(ddr_run * runsPerSecond);
  s["DDR megabytes per frame"] = roundTo(ddr_run / frames / kMiB, 3);
  s["DDR megabytes per run"] = roundTo(ddr_run / kMiB, 3);
  s["DDR megabytes per second"] = roundTo(ddr_run * runsPerSecond / kMiB, 1);
  s["FPS"] = roundTo(fps, 2);
  s["HQ version"] = hqVersion;
  s["clock (MHz)"] = clockMhz;
  s["compiling options"] = compilingOptions;
  s["cycles"] = cycles;
  s["frame per run"] = batch;
  s["frame per second"] = roundTo(fps, 2);
  OrderedJson features = OrderedJson::array({OrderedJson::array({"input name", "input size"})});
  for (const auto& [name, size] : inputs) features.push_back(OrderedJson::array({name, size}));
  s["input features"] = features;
  OrderedJson mac = OrderedJson::array(), units = OrderedJson::array(), vec = OrderedJson::array(),
              load = OrderedJson::array(), store = OrderedJson::array();
  for (size_t i = 0; i < macUtilization.size(); ++i) {
    mac.push_back(roundTo(macUtilization[i], 3));
    vec.push_back(roundTo(vectorUtilization[i], 3));
    units.push_back(roundTo((macUtilization[i] + vectorUtilization[i]) / 2, 3));
    load.push_back(std::llround(loadMiBps[i]));
    store.push_back(std::llround(storeMiBps[i]));
  }
  s["interval computing unit utilization"] = mac;
  s["interval computing units utilization"] = units;
  s["interval vector unit utilization"] = vec;
  s["interval loading bandwidth (megabytes/s)"] = load;
  s["interval storing bandwidth (megabytes/s)"] = store;
  s["interval number"] = static_cast<int64_t>(macUtilization.size());
  s["interval time (ms)"] = roundTo(intervalUs / 1e3, 6);
  s["latency (ms)"] = roundTo(latencyUs / 1e3, 2);
  s["latency (ms) by segments"] = OrderedJson::array({roundTo(latencyUs / 1e3, 3)});
  s["latency (us)"] = latencyUs;
  OrderedJson details = OrderedJson::array({OrderedJson::array(
      {"layer", "ops", "computing cost (no DDR)", "load/store cost", "share"})});
  for (const PerfLayer& l : layers) {
    details.push_back(OrderedJson::array({l.timing.name, l.opsPerRun, roundTo(l.computeUs, 1),
                                          roundTo(l.loadStoreUs, 1), roundTo(l.share, 4)}));
  }
  s["layer details"] = details;
  s["loaded bytes per frame"] = roundTo(static_cast<double>(loadedBytesPerRun) / frames, 1);
  s["loaded bytes per run"] = loadedBytesPerRun;
  s["model CRC"] = modelSha256;
  s["model name"] = modelName;
  s["roofline"] =
      OrderedJson{{"compute bound (us)", roundTo(computeBoundUs, 3)},
                  {"DDR bound (us)", roundTo(ddrBoundUs, 3)},
                  {"bound (us)", roundTo(boundUs(), 3)},
                  {"achieved fraction", roundTo(latencyUs > 0 ? boundUs() / latencyUs : 0, 4)}};
  s["run per second"] = roundTo(runsPerSecond, 2);
  s["stored bytes per frame"] = roundTo(static_cast<double>(storedBytesPerRun) / frames, 1);
  s["stored bytes per run"] = storedBytesPerRun;
  s["worst FPS"] = roundTo(fps, 2);  // the simulator is deterministic: every run takes as long

  OrderedJson out;
  OrderedJson summary = OrderedJson::object();
  for (auto& [k, v] : s) summary[k] = std::move(v);
  out["summary"] = std::move(summary);
  OrderedJson list = OrderedJson::array();
  for (const PerfLayer& l : layers) {
    const LayerTiming& t = l.timing;
    list.push_back(OrderedJson{{"name", t.name},
                               {"op_type", t.opType},
                               {"group", l.group},
                               {"macs_per_frame", t.macsPerFrame},
                               {"vector_ops_per_frame", t.vectorOpsPerFrame},
                               {"ops_per_run", l.opsPerRun},
                               {"compute_cycles", t.computeCycles},
                               {"load_cycles", t.loadCycles},
                               {"store_cycles", t.storeCycles},
                               {"loaded_bytes", t.loadedBytes},
                               {"stored_bytes", t.storedBytes},
                               {"weight_bytes", t.weightBytes},
                               {"latency_cycles", t.latencyCycles},
                               {"latency_us", roundTo(l.latencyUs, 3)},
                               {"share", l.share},
                               {"compute_bound_cycles", t.computeBoundCycles},
                               {"ddr_bound_cycles", t.ddrBoundCycles},
                               {"roofline_cycles", t.rooflineCycles()},
                               {"roofline_us", roundTo(l.rooflineUs, 3)},
                               {"achieved", roundTo(l.achieved, 4)}});
  }
  out["layers"] = std::move(list);
  return out;
}

std::string PerfReport::toHtml() const { return renderPerfHtml(toJson()); }

std::string PerfReport::summaryLine(const std::string& html_path) const {
  return fmt::format("FPS={}, latency = {} us   (see {})",
                     perfValueText(OrderedJson(roundTo(fps, 2))),
                     perfValueText(OrderedJson(roundTo(latencyUs, 1))), html_path);
}

std::string PerfReport::layerTable() const {
  const OrderedJson j = toJson();
  const OrderedJson& rows = j["summary"]["layer details"];
  size_t width = 5;
  for (const auto& row : rows) width = std::max(width, row[0].get<std::string>().size());
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const OrderedJson& row = rows[i];
    out += fmt::format("{:<{}}  {:>14}  {:>24}  {:>16}  {:>6}\n", perfValueText(row[0]), width,
                       perfValueText(row[1]), perfValueText(row[2]) + (i ? " us" : ""),
                       perfValueText(row[3]) + (i ? " us" : ""), perfValueText(row[4]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// --diff

namespace {

std::string ratioText(double a, double b) {
  if (a == 0) return b == 0 ? "x1" : "new";
  return fmt::format("x{:.3f}", b / a);
}

std::string changeLine(const std::string& what, const OrderedJson& a, const OrderedJson& b) {
  return fmt::format("  {:<28} {} -> {}  ({})\n", what, perfValueText(a), perfValueText(b),
                     ratioText(a.get<double>(), b.get<double>()));
}

}  // namespace

Expected<std::string> diffPerfReports(const Json& a_doc, const Json& b_doc,
                                      const std::string& a_name, const std::string& b_name) {
  HQ_RETURN_IF_ERROR(validateJson(a_doc, kPerfReportSchema, a_name));
  HQ_RETURN_IF_ERROR(validateJson(b_doc, kPerfReportSchema, b_name));
  const OrderedJson a = OrderedJson::parse(a_doc.dump());
  const OrderedJson b = OrderedJson::parse(b_doc.dump());
  const OrderedJson& sa = a["summary"];
  const OrderedJson& sb = b["summary"];
  std::string out = fmt::format("{} -> {}\n", a_name, b_name);
  for (const char* key : {"FPS", "latency (us)", "DDR bytes per frame", "loaded bytes per frame",
                          "stored bytes per frame"}) {
    out += changeLine(key, sa[key], sb[key]);
  }
  out += changeLine("roofline achieved fraction", sa["roofline"]["achieved fraction"],
                    sb["roofline"]["achieved fraction"]);
  if (sa["compiling options"] != sb["compiling options"]) {
    out +=
        fmt::format("  compiling options: '{}' -> '{}'\n", perfValueText(sa["compiling options"]),
                    perfValueText(sb["compiling options"]));
  }
  // Layers by name (a name repeated within a report pairs up in order).
  std::map<std::string, std::vector<const OrderedJson*>> by_name_b;
  for (const auto& l : b["layers"]) by_name_b[l["name"].get<std::string>()].push_back(&l);
  std::map<std::string, size_t> used;
  std::string changed, removed, added;
  int changed_count = 0;
  for (const auto& la : a["layers"]) {
    const std::string name = la["name"].get<std::string>();
    auto& candidates = by_name_b[name];
    size_t& k = used[name];
    if (k >= candidates.size()) {
      removed += fmt::format("  - {} ({} us)\n", name, perfValueText(la["latency_us"]));
      continue;
    }
    const OrderedJson& lb = *candidates[k++];
    std::string line;
    for (const auto& [key, label] :
         {std::pair{"latency_us", "latency"}, std::pair{"compute_cycles", "compute cycles"},
          std::pair{"load_cycles", "load cycles"}, std::pair{"store_cycles", "store cycles"}}) {
      if (la[key] == lb[key]) continue;
      line +=
          fmt::format("; {} {} -> {} ({})", label, perfValueText(la[key]), perfValueText(lb[key]),
                      ratioText(la[key].get<double>(), lb[key].get<double>()));
    }
    if (!line.empty()) {
      changed += fmt::format("  {}{}\n", name, line);
      ++changed_count;
    }
  }
  for (const auto& lb : b["layers"]) {
    const std::string name = lb["name"].get<std::string>();
    size_t& k = used[name];
    const auto& candidates = by_name_b[name];
    // The b layers of this name beyond those paired with a's are new.
    size_t index = static_cast<size_t>(std::find(candidates.begin(), candidates.end(), &lb) -
                                       candidates.begin());
    if (index >= k) added += fmt::format("  + {} ({} us)\n", name, perfValueText(lb["latency_us"]));
  }
  out += fmt::format("layers: {} -> {}, {} changed\n", a["layers"].size(), b["layers"].size(),
                     changed_count);
  out += changed;
  if (!removed.empty()) out += "removed:\n" + removed;
  if (!added.empty()) out += "added:\n" + added;
  return out;
}

}  // namespace hq
