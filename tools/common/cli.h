// CLI11 glue shared by the tools. Include only from a tool's main.cpp (CLI11 is the
// slowest header to compile; one translation unit per tool).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

#include "compiler/compile.h"
#include "support/sha256.h"

namespace hq::tool {

/// Parse argv; returns -1 to continue, or the exit code to return now: 0 after --help,
/// 2 (usage error) with one line "TOOL: error: ..." for bad options.
inline int parseArgs(CLI::App& app, const std::string& tool, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::printf("%s", app.help("", CLI::AppFormatMode::All).c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see %s --help)\n", tool.c_str(), e.what(), tool.c_str());
    return 2;
  }
  return -1;
}

/// The compile flags hq-compile and hq-perf share.
struct CompileFlags {
  std::string march = "bayes";
  int optLevel = 1;
  std::string inputSource = "ddr";
  int64_t batch = 1;
};

/// Declares --march, -O, --input-source and --batch on `app`; `prefix` starts each help text
/// (hq-perf: "ONNX input: ").
inline void addCompileFlags(CLI::App& app, CompileFlags* f, const std::string& prefix = "") {
  app.add_option("--march", f->march,
                 prefix + "march: a bundled name (bayes, bernoulli2) or a JSON file")
      ->default_str("bayes");
  app.add_option("-O", f->optLevel, prefix + "optimization level 0..3 (-O0 ... -O3)")
      ->default_val(1)
      ->check(CLI::Range(0, 3));
  app.add_option("--input-source", f->inputSource,
                 prefix + "where the input comes from: ddr, pyramid, resizer")
      ->default_str("ddr")
      ->check(CLI::IsMember({"ddr", "pyramid", "resizer"}));
  app.add_option("--batch", f->batch, prefix + "frames per run")
      ->default_val(1)
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
}

/// CompileOptions from the parsed flags for the model at `model_path` (its SHA-256 recorded);
/// the flags the user gave go into recordedOptions (defaults are CompilerInfo's own fields).
inline Expected<CompileOptions> compileOptionsFrom(const CLI::App& app, const CompileFlags& f,
                                                   const std::string& model_path) {
  CompileOptions options;
  options.optLevel = f.optLevel;
  HQ_ASSIGN_OR_RETURN(options.inputSource, parseInputSource(f.inputSource));
  options.batch = f.batch;
  HQ_ASSIGN_OR_RETURN(options.sourceModelSha256, sha256File(model_path));
  if (app.count("--march")) options.recordedOptions.emplace_back("march", f.march);
  if (app.count("-O")) options.recordedOptions.emplace_back("O", std::to_string(f.optLevel));
  if (app.count("--input-source"))
    options.recordedOptions.emplace_back("input-source", f.inputSource);
  if (app.count("--batch")) options.recordedOptions.emplace_back("batch", std::to_string(f.batch));
  return options;
}

}  // namespace hq::tool

/// Parse or return from main with the right exit code.
#define HQ_PARSE_ARGS(cli_app, tool_name, arg_count, arg_values)                   \
  do {                                                                             \
    int hq_rc_ = ::hq::tool::parseArgs(cli_app, tool_name, arg_count, arg_values); \
    if (hq_rc_ >= 0) return hq_rc_;                                                \
  } while (0)
