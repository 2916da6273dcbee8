// The performance report (hq-perf's library): the JSON validates against its schema for
// fmnist_cnn and the generality zoo; latency = cycles / clock exactly; layer shares and ops sum
// to the model's; mobilenetv2_32 gives the seed's ops per frame and layer table; the HTML shows
// the JSON's numbers and every layer, deterministically; --diff names what changed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/compile.h"
#include "compiler/march.h"
#include "compiler/npu_test_models.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "quant/qconfig.h"
#include "report/perf_report.h"
#include "sim/timing.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  hq::hbm::Model model;
  hq::TimingResult timing;
  hq::PerfReport report;
  hq::OrderedJson json;
};

Run perf(const hq::Graph& g, int level, int64_t batch,
         hq::InputSource source = hq::InputSource::kDdr, const std::string& name = "model") {
  const hq::CompileResult compiled = hq::testing::compileFor(g, level, batch, source);
  auto timing = hq::simulateTiming(compiled.model);
  INFO(timing.status().message());
  REQUIRE(timing.isOk());
  Run r{compiled.model, *timing, {}, {}};
  r.report = hq::buildPerfReport(r.model, r.timing, name);
  r.json = r.report.toJson();
  return r;
}

void requireValid(const hq::OrderedJson& j) {
  auto st = hq::validateJson(hq::Json::parse(j.dump()), hq::kPerfReportSchema, "report");
  INFO(st.message());
  REQUIRE(st.isOk());
}

/// Checks every report must pass: sums, exact latency, ops.
void checkConsistent(const Run& r) {
  const auto& s = r.json["summary"];
  CHECK(s["cycles"].get<int64_t>() == r.timing.cycles);
  CHECK(s["latency (us)"].get<double>() ==
        static_cast<double>(r.timing.cycles) / r.model.march_info().clock_mhz());
  CHECK(s["latency (us)"].get<double>() == r.timing.latencyUs());
  double latency_cycles = 0, share = 0;
  int64_t ops = 0, macs = 0;
  for (const auto& l : r.json["layers"]) {
    latency_cycles += l["latency_cycles"].get<double>();
    share += l["share"].get<double>();
    ops += l["ops_per_run"].get<int64_t>();
  }
  for (const auto& l : r.model.layers()) macs += static_cast<int64_t>(l.macs());
  CHECK(latency_cycles == Approx(static_cast<double>(r.timing.cycles)).epsilon(1e-6));
  CHECK(latency_cycles / r.timing.clockMhz ==
        Approx(s["latency (us)"].get<double>()).epsilon(1e-6));
  CHECK(share == Approx(1.0).epsilon(1e-6));
  CHECK(s["BPU OPs per frame (effective)"].get<int64_t>() == 2 * macs);
  CHECK(ops == s["BPU OPs per run (effective)"].get<int64_t>());
  const auto& details = s["layer details"];
  REQUIRE(details.size() == r.json["layers"].size() + 1);
  int64_t detail_ops = 0;
  for (size_t i = 1; i < details.size(); ++i) detail_ops += details[i][1].get<int64_t>();
  CHECK(detail_ops == ops);
  CHECK(s["DDR bytes per run"].get<int64_t>() ==
        s["loaded bytes per run"].get<int64_t>() + s["stored bytes per run"].get<int64_t>());
  CHECK(s["loaded bytes per run"].get<int64_t>() == r.timing.loadedBytes + r.timing.weightBytes);
  CHECK(s["interval number"].get<size_t>() == r.timing.intervals.size());
  CHECK(s["interval computing unit utilization"].size() == r.timing.intervals.size());
  CHECK(s["FPS"] == s["worst FPS"]);
}

}  // namespace

TEST_CASE("perf report: fmnist_cnn's JSON validates and sums", "[report][perf]") {
  auto g = hq::testing::fmnistIntModel();
  Run r = perf(*g, 2, 4, hq::InputSource::kDdr, "fmnist_cnn");
  requireValid(r.json);
  checkConsistent(r);
  const auto& s = r.json["summary"];
  CHECK(s["BPU march"] == "BAYES");
  CHECK(s["model name"] == "fmnist_cnn");
  CHECK(s["frame per run"] == 4);
  CHECK(s["BPU OPs per frame (effective)"] == 2 * 1919872);  // hq-check's MACs per frame
  CHECK(s["compiling options"] == "--march bayes -O2 --input-source ddr --batch 4");
  CHECK(s["input features"].size() == 2);
  CHECK(s["input features"][1][1].get<std::string>().rfind("4x28x28x", 0) == 0);
  CHECK(s["latency (ms) by segments"].size() == 1);
  CHECK(s["roofline"]["bound (us)"].get<double>() <= s["latency (us)"].get<double>());
  CHECK(s["roofline"]["achieved fraction"].get<double>() > 0);
  CHECK(s["roofline"]["achieved fraction"].get<double>() <= 1);
  // The schema refuses what a report never holds.
  for (const auto& [key, bad] : {std::pair<std::string, hq::Json>{"BPU PE number", 2},
                                 {"model CRC", "1234"},
                                 {"clock (MHz)", 0.0},
                                 {"FPS", -1.0},
                                 {"made up", 1}}) {
    INFO(key);
    hq::Json j = hq::Json::parse(r.json.dump());
    j["summary"][key] = bad;
    auto st = hq::validateJson(j, hq::kPerfReportSchema, "report");
    CHECK_FALSE(st.isOk());
  }
  // The summary keys come sorted, as the seed prints them.
  std::string prev;
  for (const auto& [k, v] : s.items()) {
    CHECK(prev < k);
    prev = k;
  }
  // Megabytes are MiB as in the seed (1403592 B = 1.339).
  const double per_frame = s["DDR bytes per frame"].get<double>();
  CHECK(s["DDR megabytes per frame"].get<double>() == Approx(per_frame / 1048576.0).margin(0.0005));
  // The summary line, as the seed prints it.
  CHECK(r.report.summaryLine("out/x.html").rfind("FPS=" + s["FPS"].dump() + ", latency = ", 0) ==
        0);
  CHECK(r.report.summaryLine("out/x.html").find(" us   (see out/x.html)") != std::string::npos);
}

TEST_CASE("perf report: every level validates, -O2 beats -O0", "[report][perf]") {
  auto g = hq::testing::fmnistIntModel();
  double fps[4], ddr[4];
  for (int level = 0; level <= 3; ++level) {
    INFO("O" << level);
    Run r = perf(*g, level, 4);
    requireValid(r.json);
    checkConsistent(r);
    fps[level] = r.json["summary"]["FPS"].get<double>();
    ddr[level] = r.json["summary"]["DDR bytes per frame"].get<double>();
  }
  CHECK(fps[2] > fps[0]);
  CHECK(ddr[3] < ddr[0]);
}

TEST_CASE("perf report: the generality zoo validates and sums", "[report][perf]") {
  std::vector<fs::path> models;
  for (const auto& e : fs::directory_iterator(std::string(HQ_TEST_DATA) + "/generality")) {
    if (e.path().string().size() > 9 &&
        e.path().string().compare(e.path().string().size() - 9, 9, ".int.onnx") == 0) {
      models.push_back(e.path());
    }
  }
  std::sort(models.begin(), models.end());
  REQUIRE(models.size() >= 6);
  for (const fs::path& p : models) {
    INFO(p.string());
    auto g = hq::importOnnxFile(p.string());
    REQUIRE(g.isOk());
    Run r = perf(**g, 2, 2);
    requireValid(r.json);
    checkConsistent(r);
  }
}

TEST_CASE("perf report: the HTML shows the JSON's numbers and every layer", "[report][perf]") {
  auto g = hq::testing::fmnistIntModel();
  Run r = perf(*g, 3, 2, hq::InputSource::kDdr, "fm<nist>");
  const std::string html = r.report.toHtml();
  CHECK(html == hq::renderPerfHtml(r.json));
  CHECK(html == perf(*g, 3, 2, hq::InputSource::kDdr, "fm<nist>").report.toHtml());  // same bytes
  const auto& s = r.json["summary"];
  CHECK(html.find("<span id=\"fps\">" + s["FPS"].dump() + "</span>") != std::string::npos);
  CHECK(html.find("<span id=\"latency-us\">" + s["latency (us)"].dump() + "</span>") !=
        std::string::npos);
  CHECK(html.find("fm&lt;nist&gt;") != std::string::npos);  // names are escaped
  CHECK(html.find("fm<nist>") == std::string::npos);
  for (const auto& l : r.json["layers"]) {
    CHECK(html.find(">" + l["name"].get<std::string>() + "</td>") != std::string::npos);
  }
  // Self-contained: no external resources.
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("<svg id=\"utilization\"") != std::string::npos);
  CHECK(html.find("<svg id=\"bandwidth\"") != std::string::npos);
  CHECK(html.find("<polyline") != std::string::npos);
  CHECK(html.find("class=\"sortable\"") != std::string::npos);
  CHECK(hq::perfValueText(hq::OrderedJson(5722.98)) == "5722.98");
  CHECK(hq::perfValueText(hq::OrderedJson("a b")) == "a b");
}

TEST_CASE("perf report: diff names what changed", "[report][perf]") {
  auto g = hq::testing::fmnistIntModel();
  Run a = perf(*g, 0, 2, hq::InputSource::kDdr, "a");
  Run b = perf(*g, 2, 2, hq::InputSource::kDdr, "b");
  auto to_json = [](const hq::OrderedJson& j) { return hq::Json::parse(j.dump()); };
  auto same = hq::diffPerfReports(to_json(a.json), to_json(a.json), "a.json", "a.json");
  REQUIRE(same.isOk());
  CHECK(same->find("layers: 7 -> 7, 0 changed") != std::string::npos);
  CHECK(same->find("(x1.000)") != std::string::npos);

  hq::Json bj = to_json(b.json);
  const std::string renamed = bj["layers"][0]["name"];
  bj["layers"][0]["name"] = "brand_new";
  auto d = hq::diffPerfReports(to_json(a.json), bj, "a.json", "b.json");
  INFO(d.status().message());
  REQUIRE(d.isOk());
  const std::string fps_line = "FPS                          " + a.json["summary"]["FPS"].dump() +
                               " -> " + b.json["summary"]["FPS"].dump() + "  (x";
  CHECK(d->find(fps_line) != std::string::npos);
  CHECK(d->find("DDR bytes per frame") != std::string::npos);
  CHECK(d->find("removed:\n  - " + renamed + " (") != std::string::npos);
  CHECK(d->find("added:\n  + brand_new (") != std::string::npos);
  CHECK(d->find("; latency ") != std::string::npos);

  bj.erase("layers");
  auto bad = hq::diffPerfReports(to_json(a.json), bj, "a.json", "b.json");
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message().find("b.json") != std::string::npos);
}

TEST_CASE("perf report: mobilenetv2_32 has the seed's ops and layer table", "[report][perf]") {
  auto model = hq::testing::mobilenetIntModel();
  if (!model) return;
  Run r = perf(*model, 1, 4, hq::InputSource::kDdr, "mobilenetv2_32");
  requireValid(r.json);
  checkConsistent(r);
  CHECK(r.json["summary"]["BPU OPs per frame (effective)"] == 12249856);

  // The seed's 54-row table: (name, ops per run at batch 256), in order.
  std::vector<int64_t> seed_ops;
  for (const auto& row : hq::testing::seedMobilenetLayers()) seed_ops.push_back(row.second);
  const auto& details = r.json["summary"]["layer details"];
  REQUIRE(seed_ops.size() == 54);
  REQUIRE(details.size() == seed_ops.size() + 1);
  for (size_t i = 0; i < seed_ops.size(); ++i) {
    INFO("row " << i << ": " << details[i + 1].dump());
    CHECK(details[i + 1][1].get<int64_t>() * 64 == seed_ops[i]);  // batch 4 = 256 / 64
  }
}
