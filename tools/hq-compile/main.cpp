// hq-compile: an integer (or QDQ) model + a march -> a deployable .hbm (schemas/hbm.md).
//   hq-compile model.int.onnx --march bayes -O1 --input-source pyramid --out model.hbm
//   hq-compile --list-passes
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/cli.h"
#include "common/tool_common.h"
#include "compiler/check.h"
#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/march.h"
#include "support/json.h"
#include "support/log.h"

namespace {

/// "812 B", "23.4 KB", "1.3 MB" (KB = 1024 bytes, MB = 2^20, as the seed's perf report).
std::string formatBytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024.0 * 1024) return fmt::format("{:.1f} KB", bytes / 1024);
  return fmt::format("{:.1f} MB", bytes / (1024.0 * 1024));
}

hq::OrderedJson statsJson(const hq::CompileStats& s) {
  hq::OrderedJson j;
  j["layers"] = s.layers;
  j["instructions"] = s.instructions;
  j["dma_instructions"] = s.dmaInstructions;
  j["compute_instructions"] = s.computeInstructions;
  j["barriers"] = s.barriers;
  j["tiles"] = s.tiles;
  j["fused_groups"] = s.fusedGroups;
  j["weight_bytes"] = s.weightBytes;
  j["ddr_arena_bytes"] = s.ddrArenaBytes;
  j["sram_peak_bytes"] = s.sramPeakBytes;
  j["ddr_load_bytes"] = s.ddrLoadBytes;
  j["ddr_store_bytes"] = s.ddrStoreBytes;
  j["weight_load_bytes"] = s.weightLoadBytes;
  j["ddr_bytes_per_frame"] = s.ddrBytesPerFrame();
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hq-compile: compile an integer (or QDQ) model for a march into a .hbm"};
  std::string model_path, out_path;
  hq::tool::CompileFlags flags;
  bool json = false, quiet = false, list_passes = false;
  int verbose = 0;
  app.add_option("model", model_path, "integer model (.int.onnx) or QDQ model (.calib.onnx)");
  hq::tool::addCompileFlags(app, &flags);
  app.add_option("-o,--out", out_path, "the .hbm file to write");
  app.add_flag("--list-passes", list_passes, "list the compiler passes and the -O level of each");
  app.add_flag("--json", json, "print the compile statistics as one JSON object on stdout");
  app.add_flag("-q,--quiet", quiet, "print nothing but errors");
  app.add_flag("-v,--verbose", verbose, "per-pass timing on stderr (-vv debug)");
  HQ_PARSE_ARGS(app, "hq-compile", argc, argv);

  if (list_passes) {
    int width = 0;
    for (const hq::PassInfo& p : hq::compilerPasses())
      width = std::max(width, static_cast<int>(std::strlen(p.name)));
    for (const hq::PassInfo& p : hq::compilerPasses()) {
      std::printf("%-*s -O%d  %s\n", width, p.name, p.minLevel, p.summary);
    }
    return 0;
  }
  for (const auto& [missing, what] :
       {std::pair{model_path.empty(), "a MODEL"}, std::pair{out_path.empty(), "--out FILE.hbm"}}) {
    if (missing) {
      std::fprintf(stderr, "hq-compile: error: %s is required (see hq-compile --help)\n", what);
      return 2;
    }
  }

  hq::tool::applyVerbosity(quiet, verbose);
  return hq::tool::runMain("hq-compile", [&]() -> hq::Status {
    const auto start = std::chrono::steady_clock::now();
    HQ_ASSIGN_OR_RETURN(hq::March march, hq::loadMarch(flags.march));
    HQ_ASSIGN_OR_RETURN(auto graph, hq::tool::loadIntegerModel(model_path));
    // What hq-check refuses, listed as hq-check lists it (one node per entry, with the rule).
    HQ_ASSIGN_OR_RETURN(hq::CheckReport report, hq::checkModel(*graph, march));
    if (!report.supported) {
      std::string text = fmt::format("{} is not supported on march '{}': {} problem(s)", model_path,
                                     march.name, report.diagnostics.size());
      for (const hq::Diagnostic& d : report.diagnostics) text += "\n  " + hq::formatDiagnostic(d);
      return HQ_ERROR(kUnsupported, "{}", text);
    }

    HQ_ASSIGN_OR_RETURN(hq::CompileOptions options,
                        hq::tool::compileOptionsFrom(app, flags, model_path));

    HQ_ASSIGN_OR_RETURN(hq::CompileResult result, hq::compileModel(*graph, march, options));
    HQ_RETURN_IF_ERROR(hq::writeHbm(out_path, result.model));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (verbose > 0) {
      for (const hq::PassTiming& p : result.passes) {
        std::fprintf(stderr, "  %-15s %9.2f ms  %s\n", p.pass.c_str(), p.seconds * 1e3,
                     p.note.c_str());
      }
    }
    const hq::CompileStats& s = result.stats;
    if (json) {
      hq::OrderedJson j;
      j["model"] = model_path;
      j["out"] = out_path;
      j["march"] = march.name;
      j["options"] = {{"opt_level", flags.optLevel},
                      {"input_source", hq::inputSourceName(options.inputSource)},
                      {"batch", flags.batch}};
      j["stats"] = statsJson(s);
      hq::OrderedJson passes = hq::OrderedJson::array();
      for (const hq::PassTiming& p : result.passes) {
        passes.push_back(
            {{"pass", p.pass}, {"ms", std::round(p.seconds * 1e6) / 1e3}, {"note", p.note}});
      }
      j["passes"] = passes;
      j["seconds"] = seconds;
      std::printf("%s\n", j.dump(2).c_str());
    } else if (!quiet) {
      std::printf(
          "hq-compile: %s -> %s: %s -O%d, %s input, batch %lld, %lld layers, %lld instructions, "
          "weights %s, DDR %s/frame, SRAM peak %s, %.2f s\n",
          model_path.c_str(), out_path.c_str(), march.name.c_str(), flags.optLevel,
          hq::inputSourceName(options.inputSource), static_cast<long long>(flags.batch),
          static_cast<long long>(s.layers), static_cast<long long>(s.instructions),
          formatBytes(static_cast<double>(s.weightBytes)).c_str(),
          formatBytes(s.ddrBytesPerFrame()).c_str(),
          formatBytes(static_cast<double>(s.sramPeakBytes)).c_str(), seconds);
    }
    return hq::Status::ok();
  });
}
