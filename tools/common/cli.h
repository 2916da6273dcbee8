// CLI11 glue shared by the tools. Include only from a tool's main.cpp (CLI11 is the
// slowest header to compile; one translation unit per tool).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

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

}  // namespace hq::tool

/// Parse or return from main with the right exit code.
#define HQ_PARSE_ARGS(cli_app, tool_name, arg_count, arg_values)                      \
  do {                                                                                \
    int hq_rc_ = ::hq::tool::parseArgs(cli_app, tool_name, arg_count, arg_values);    \
    if (hq_rc_ >= 0) return hq_rc_;                                      \
  } while (0)
