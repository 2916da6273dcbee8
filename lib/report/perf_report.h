// The performance report of a compiled model (hq-perf): the timing model's result for one .hbm
// (sim/timing.h) in the seed's perf_model terms, as JSON (schemas/perf-report.schema.json) and
// as one self-contained HTML page. Both are rendered from the same PerfReport: the HTML shows
// the JSON's values, each formatted by one function, so the page and the file never disagree.
// Deterministic: the same model and timing give the same bytes.
//
// Units: cycles of the core clock, microseconds (us), milliseconds (ms); "megabytes" are MiB
// (2^20 bytes) as in the seed's report (1403592 bytes = 1.339 megabytes).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hbm.pb.h"
#include "sim/timing.h"
#include "support/json.h"
#include "support/status.h"

namespace hq {

/// Schema of toJson(): schemas/perf-report.schema.json (embedded).
inline constexpr const char* kPerfReportSchema = "perf-report.schema.json";

/// One row of the layer table: an hbm::Layer with its timing.
struct PerfLayer {
  LayerTiming timing;      ///< the timing model's figures (cycles, bytes per run)
  uint32_t group = 0;      ///< hbm Layer.group (-O3 fusion group)
  int64_t opsPerRun = 0;   ///< 2 x MACs per frame x batch
  double computeUs = 0;    ///< computeCycles / clock
  double loadStoreUs = 0;  ///< (loadCycles + storeCycles) / clock
  double latencyUs = 0;    ///< latencyCycles / clock (the layer's share of the run)
  double share = 0;        ///< latencyCycles / run cycles; the layers' shares sum to 1
  double rooflineUs = 0;   ///< max(compute at peak, DDR at peak) / clock
  /// rooflineCycles / latencyCycles: 1 means the layer ran at its bound. Can exceed 1 when the
  /// layer overlapped others (its share of the time is then smaller than its own work).
  double achieved = 0;
};

struct PerfReport {
  std::string modelName;
  std::string march;             ///< upper case, like the seed ("BAYES")
  std::string hqVersion;         ///< CompilerInfo.version of the .hbm
  std::string compilingOptions;  ///< "--march bayes -O2 --input-source pyramid --batch 256"
  std::string modelSha256;       ///< source_model_sha256 (may be empty)
  /// (input name, "NxHxWxC" with N = batch), one per model input.
  std::vector<std::pair<std::string, std::string>> inputs;

  int64_t batch = 1;   ///< frames per run
  int64_t cycles = 0;  ///< one run
  double clockMhz = 0;
  double latencyUs = 0;  ///< cycles / clockMhz, exactly
  double fps = 0;        ///< batch / latency
  double runsPerSecond = 0;
  int64_t opsPerFrame = 0;        ///< 2 x sum of layer MACs per frame (effective ops)
  int64_t loadedBytesPerRun = 0;  ///< DDR -> SRAM, activations and weights
  int64_t storedBytesPerRun = 0;  ///< SRAM -> DDR
  int64_t weightBytesPerRun = 0;  ///< the weight part of loadedBytesPerRun

  double intervalUs = 0;  ///< length of each interval (the last may be shorter)
  /// Per interval: busy fraction of the MAC array and of the vector unit; MiB/s loaded/stored.
  std::vector<double> macUtilization, vectorUtilization, loadMiBps, storeMiBps;

  double computeBoundUs = 0, ddrBoundUs = 0;  ///< model roofline terms, per run
  std::vector<PerfLayer> layers;              ///< hbm layer order

  int64_t ddrBytesPerRun() const { return loadedBytesPerRun + storedBytesPerRun; }
  double boundUs() const { return computeBoundUs > ddrBoundUs ? computeBoundUs : ddrBoundUs; }

  /// {"summary": {the seed's fields, sorted by name like the seed's printout; hq's own:
  /// cycles, clock, roofline}, "layers": [every LayerTiming field, roofline, achieved]}.
  /// Rounded where the seed rounds (FPS to 0.01, megabytes to 0.001, ...); "latency (us)" is
  /// exact (cycles / clock).
  OrderedJson toJson() const;
  /// One self-contained HTML page (no network, inline CSS/JS/SVG) rendered from toJson().
  std::string toHtml() const;
  /// The seed's summary line: "FPS=5722.98, latency = 44731.9 us   (see DIR/NAME.html)".
  std::string summaryLine(const std::string& html_path) const;
  /// The layer table as text (hq-perf --layer-details), the JSON's values.
  std::string layerTable() const;
};

/// Build the report of `model` from its timing. `model_name` names it in the report.
PerfReport buildPerfReport(const hbm::Model& model, const TimingResult& timing,
                           const std::string& model_name);

/// Render a report's JSON (validated against the schema) as HTML. toHtml() calls this.
std::string renderPerfHtml(const OrderedJson& report);

/// How a JSON value is shown in text and HTML: numbers exactly as the JSON writes them,
/// strings without quotes. The one formatting function of the report.
std::string perfValueText(const OrderedJson& value);

/// What changed from report `a` to report `b` (both validated against the schema first): FPS,
/// latency, DDR bytes per frame, per-layer latency/compute/load-store by name with ratios,
/// added and removed layers. `a_name`/`b_name` label the reports in errors.
Expected<std::string> diffPerfReports(const Json& a, const Json& b, const std::string& a_name,
                                      const std::string& b_name);

}  // namespace hq
