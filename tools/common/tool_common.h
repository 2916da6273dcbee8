// What every hq tool shares: exit codes, error printing, verbosity. No CLI11 here
// (it is the slowest header to compile; each tool's main.cpp includes it once).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq::tool {

/// Exit codes shared by all tools (documented in README.md):
/// 0 ok, 1 a check or gate failed, 2 usage error, 3 bad input file or data,
/// 4 unsupported model feature, 5 I/O error, 70 internal error.
int exitCodeFor(const Status& status);

/// Print "hq-eval: error: <message>" (plus the source location with -v) to stderr.
void printError(const std::string& tool, const Status& status);

/// Set verbosity from the shared -q/-v flags.
void applyVerbosity(bool quiet, int verbose);

/// The command line for an artifact's lineage: the tool's base name and its arguments,
/// without the values of `output_flags` (e.g. --out, --report), so the same inputs and
/// options give the same bytes whatever the output file is called.
std::string lineageCommand(int argc, char** argv, const std::vector<std::string>& output_flags);

/// An integer model for the NPU tools (hq-check, hq-compile, hq-perf): the ONNX file as it is
/// when it has ai.hq nodes, else the QDQ model converted in memory (logged).
Expected<std::unique_ptr<Graph>> loadIntegerModel(const std::string& path);

/// Run the tool body, turning a Status or an escaped exception into an exit code.
int runMain(const std::string& tool, const std::function<Status()>& body);

}  // namespace hq::tool
