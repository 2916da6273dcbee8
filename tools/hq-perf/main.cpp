// hq-perf: the performance report of a compiled model (the timing simulator's figures).
//   hq-perf model.hbm [--out-dir DIR] [--name NAME] [--layer-details] [--json]
//   hq-perf model.int.onnx --march bayes -O2 --input-source pyramid [--batch N]   (compiles in
//   memory) hq-perf --diff a.json b.json
// Writes DIR/NAME.json (schemas/perf-report.schema.json) and DIR/NAME.html and prints
// "FPS=..., latency = ... us   (see DIR/NAME.html)".
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common/cli.h"
#include "common/tool_common.h"
#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/march.h"
#include "report/perf_report.h"
#include "sim/timing.h"
#include "support/atomic_file.h"
#include "support/json.h"
#include "support/log.h"

int main(int argc, char** argv) {
  CLI::App app{
      "hq-perf: performance report (FPS, latency, DDR traffic, per-layer costs) of a model"};
  std::string model_path, out_dir = "perf_out", name;
  hq::tool::CompileFlags flags;
  std::vector<std::string> diff;
  double min_fps = -1;
  bool layer_details = false, json = false, quiet = false;
  int verbose = 0;
  app.add_option("model", model_path, ".hbm, or an integer/QDQ .onnx model to compile in memory");
  app.add_option("--out-dir", out_dir, "folder for NAME.json and NAME.html")
      ->default_str("perf_out");
  app.add_option("--name", name, "report name (default: the model file name up to its first '.')");
  app.add_flag("--layer-details", layer_details, "print the layer table on stdout");
  app.add_flag("--json", json, "print the report JSON on stdout (instead of the summary line)");
  app.add_option("--fail-if-fps-below", min_fps, "exit 1 when FPS is below this (after writing)");
  app.add_option("--diff", diff, "compare two report JSON files: --diff a.json b.json")
      ->expected(2);
  hq::tool::addCompileFlags(app, &flags, "ONNX input: ");
  app.add_flag("-q,--quiet", quiet, "print nothing but errors (and the gate's failure)");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-perf", argc, argv);
  if (diff.empty() && model_path.empty()) {
    std::fprintf(
        stderr,
        "hq-perf: error: a MODEL or --diff A.json B.json is required (see hq-perf --help)\n");
    return 2;
  }
  hq::tool::applyVerbosity(quiet, verbose);

  if (!diff.empty()) {
    return hq::tool::runMain("hq-perf", [&]() -> hq::Status {
      HQ_ASSIGN_OR_RETURN(hq::Json a, hq::readJsonFile(diff[0]));
      HQ_ASSIGN_OR_RETURN(hq::Json b, hq::readJsonFile(diff[1]));
      HQ_ASSIGN_OR_RETURN(std::string text, hq::diffPerfReports(a, b, diff[0], diff[1]));
      std::printf("%s", text.c_str());
      return hq::Status::ok();
    });
  }

  bool below = false;
  double fps = 0;
  int rc = hq::tool::runMain("hq-perf", [&]() -> hq::Status {
    auto last = std::chrono::steady_clock::now();
    auto lap = [&last](const char* what) {  // -v: where the time goes
      const auto now = std::chrono::steady_clock::now();
      hq::logVerbose("hq-perf: {} {:.3f} s", what,
                     std::chrono::duration<double>(now - last).count());
      last = now;
    };
    hq::hbm::Model model;
    if (hq::looksLikeHbm(model_path)) {
      HQ_ASSIGN_OR_RETURN(model, hq::readHbm(model_path));
    } else {
      HQ_ASSIGN_OR_RETURN(hq::March march, hq::loadMarch(flags.march));
      HQ_ASSIGN_OR_RETURN(auto graph, hq::tool::loadIntegerModel(model_path));
      HQ_ASSIGN_OR_RETURN(hq::CompileOptions options,
                          hq::tool::compileOptionsFrom(app, flags, model_path));
      HQ_ASSIGN_OR_RETURN(hq::CompileResult compiled, hq::compileModel(*graph, march, options));
      model = std::move(compiled.model);
    }
    lap(hq::looksLikeHbm(model_path) ? "read" : "compile");
    HQ_ASSIGN_OR_RETURN(hq::TimingResult timing, hq::simulateTiming(model));
    lap("timing");
    if (name.empty()) {
      name = std::filesystem::path(model_path).filename().string();
      name = name.substr(0, name.find('.'));
    }
    const hq::PerfReport report = hq::buildPerfReport(model, timing, name);
    const hq::OrderedJson j = report.toJson();
    HQ_RETURN_IF_ERROR(
        hq::validateJson(hq::Json::parse(j.dump()), hq::kPerfReportSchema, "report"));
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return HQ_ERROR(kIo, "{}: cannot create the folder: {}", out_dir, ec.message());
    const std::string base = (std::filesystem::path(out_dir) / name).string();
    HQ_RETURN_IF_ERROR(hq::writeFileAtomic(base + ".json", j.dump(2) + "\n"));
    HQ_RETURN_IF_ERROR(hq::writeFileAtomic(base + ".html", hq::renderPerfHtml(j)));
    if (json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else if (!quiet) {
      std::printf("%s\n", report.summaryLine(base + ".html").c_str());
    }
    if (layer_details) std::printf("%s", report.layerTable().c_str());
    lap("report");
    fps = j["summary"]["FPS"].get<double>();
    below = min_fps >= 0 && fps < min_fps;
    return hq::Status::ok();
  });
  if (rc == 0 && below) {
    std::fprintf(stderr, "hq-perf: FPS %s is below the gate %s\n",
                 hq::perfValueText(hq::OrderedJson(fps)).c_str(),
                 hq::perfValueText(hq::OrderedJson(min_fps)).c_str());
    return 1;
  }
  return rc;
}
