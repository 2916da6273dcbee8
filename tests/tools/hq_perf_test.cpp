// hq-perf as a user runs it: the seed's summary line, NAME.json (valid against its schema) and
// NAME.html written into --out-dir, .hbm and ONNX inputs, --layer-details, --json, --diff,
// the FPS gate's exit code, and the headless-Chromium check of the page when chromium exists.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "report/perf_report.h"
#include "support/json.h"
#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {

const std::string kQdq = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

hq::Json readReport(const fs::path& p) {
  auto j = hq::readJsonFile(p.string());
  INFO(j.status().message());
  REQUIRE(j.isOk());
  auto st = hq::validateJson(*j, hq::kPerfReportSchema, p.string());
  INFO(st.message());
  REQUIRE(st.isOk());
  return *j;
}

}  // namespace

TEST_CASE("hq-perf: a QDQ model compiled in memory, the summary line and both files",
          "[tools][hq-perf]") {
  fs::path dir = scratchDir("hq_perf_onnx");
  auto r =
      runTool("hq-perf", kQdq + " --march bayes -O2 --batch 4 --out-dir " + dir.string() + " -q");
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.empty());  // -q

  r = runTool("hq-perf", kQdq + " -O2 --batch 4 --out-dir " + dir.string() + " --layer-details");
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  const fs::path json = dir / "fmnist_cnn.json", html = dir / "fmnist_cnn.html";
  hq::Json j = readReport(json);
  const std::string fps = j["summary"]["FPS"].dump();
  std::smatch m;
  REQUIRE(std::regex_search(
      r.out, m, std::regex("^FPS=([0-9.]+), latency = ([0-9.]+) us   \\(see (.*)\\)\n")));
  CHECK(m[1] == fps);
  CHECK(m[3] == html.string());
  CHECK(j["summary"]["model name"] == "fmnist_cnn");
  CHECK(j["summary"]["frame per run"] == 4);
  CHECK(j["summary"]["compiling options"] == "--march bayes -O2 --input-source ddr --batch 4");
  CHECK(j["summary"]["model CRC"].get<std::string>().size() == 64);
  // --layer-details: the header and one line per layer.
  CHECK(r.out.find("computing cost (no DDR)") != std::string::npos);
  for (const auto& l : j["layers"])
    CHECK(r.out.find(l["name"].get<std::string>() + " ") != std::string::npos);
  CHECK(lineCount(r.out) == 1 + 1 + static_cast<int>(j["layers"].size()));
  const std::string page = slurp(html);
  CHECK(page.find("<span id=\"fps\">" + fps + "</span>") != std::string::npos);

  // --json prints the same report.
  auto js = runTool("hq-perf", kQdq + " -O2 --batch 4 --out-dir " + dir.string() + " --json");
  REQUIRE(js.exitCode == 0);
  CHECK(hq::Json::parse(js.out) == j);
  CHECK(slurp(json) == js.out);  // and the file has the same bytes (deterministic)

  // Headless Chromium renders the page and shows the JSON's FPS (when chromium is installed).
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    WARN("chromium not installed; the HTML rendering check is skipped");
  } else {
    std::string cmd = std::string(HQ_SOURCE_DIR) + "/scripts/check_perf_html.sh " + html.string() +
                      " " + json.string() + " >" + (dir / "chromium.log").string() + " 2>&1";
    int rc = std::system(cmd.c_str());
    INFO(slurp(dir / "chromium.log"));
    CHECK(rc == 0);
  }
}

TEST_CASE("hq-perf: an .hbm, --name, the FPS gate and --diff", "[tools][hq-perf]") {
  fs::path dir = scratchDir("hq_perf_hbm");
  const std::string hbm = (dir / "fm.hbm").string();
  auto c = runTool("hq-compile", kQdq + " -O0 --batch 2 --out " + hbm + " -q");
  INFO(c.err);
  REQUIRE(c.exitCode == 0);
  auto r = runTool("hq-perf", hbm + " --out-dir " + dir.string() + " --name slow");
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  hq::Json slow = readReport(dir / "slow.json");
  CHECK(slow["summary"]["compiling options"] == "--march bayes -O0 --input-source ddr --batch 2");
  CHECK(r.out == "FPS=" + slow["summary"]["FPS"].dump() + ", latency = " +
                     hq::perfValueText(hq::OrderedJson(
                         std::round(slow["summary"]["latency (us)"].get<double>() * 10) / 10)) +
                     " us   (see " + (dir / "slow.html").string() + ")\n");

  // The gate: exit 1 with one line, after writing the report.
  fs::remove(dir / "slow.json");
  auto gate = runTool(
      "hq-perf", hbm + " --out-dir " + dir.string() + " --name slow -q --fail-if-fps-below 1e12");
  CHECK(gate.exitCode == 1);
  CHECK(lineCount(gate.err) == 1);
  CHECK(gate.err.find("hq-perf: FPS " + slow["summary"]["FPS"].dump() + " is below the gate") == 0);
  CHECK(fs::exists(dir / "slow.json"));
  auto pass = runTool("hq-perf",
                      hbm + " --out-dir " + dir.string() + " --name slow -q --fail-if-fps-below 1");
  CHECK(pass.exitCode == 0);

  // --diff against -O2 of the same model.
  REQUIRE(runTool("hq-perf", kQdq + " -O2 --batch 2 --out-dir " + dir.string() + " --name fast -q")
              .exitCode == 0);
  hq::Json fast = readReport(dir / "fast.json");
  auto d = runTool("hq-perf",
                   "--diff " + (dir / "slow.json").string() + " " + (dir / "fast.json").string());
  INFO(d.out << d.err);
  CHECK(d.exitCode == 0);
  CHECK(d.out.find("FPS                          " + slow["summary"]["FPS"].dump() + " -> " +
                   fast["summary"]["FPS"].dump()) != std::string::npos);
  CHECK(d.out.find("compiling options: '--march bayes -O0") != std::string::npos);
  CHECK(d.out.find("layers: 7 -> 7,") != std::string::npos);

  // Errors: no model, a broken report.
  auto none = runTool("hq-perf", "");
  CHECK(none.exitCode == 2);
  std::ofstream(dir / "bad.json") << "{\"summary\": {}}";
  auto bad = runTool("hq-perf",
                     "--diff " + (dir / "slow.json").string() + " " + (dir / "bad.json").string());
  CHECK(bad.exitCode == 3);
  CHECK(lineCount(bad.err) == 1);
  CHECK(bad.err.find("bad.json") != std::string::npos);
}
