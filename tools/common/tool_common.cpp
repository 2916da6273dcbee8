#include "common/tool_common.h"

#include <cstdio>
#include <exception>
#include <new>

#include "compiler/check.h"
#include "ir/onnx_import.h"
#include "quant/convert.h"
#include "support/log.h"

namespace hq::tool {

int exitCodeFor(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk: return 0;
    case ErrorCode::kInvalidArgument: return 2;
    case ErrorCode::kNotFound:
    case ErrorCode::kParse:
    case ErrorCode::kShape:
    case ErrorCode::kData: return 3;
    case ErrorCode::kUnsupported: return 4;
    case ErrorCode::kIo: return 5;
    case ErrorCode::kInternal: return 70;
  }
  return 70;
}

void printError(const std::string& tool, const Status& status) {
  std::string line = tool + ": error: " + status.message();
  if (verbosity() >= Verbosity::kVerbose && !status.location().empty()) {
    line += " [" + status.location() + "]";
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

void applyVerbosity(bool quiet, int verbose) {
  if (quiet) {
    setVerbosity(Verbosity::kQuiet);
  } else if (verbose >= 2) {
    setVerbosity(Verbosity::kDebug);
  } else if (verbose == 1) {
    setVerbosity(Verbosity::kVerbose);
  } else {
    setVerbosity(Verbosity::kNormal);
  }
}

std::string lineageCommand(int argc, char** argv, const std::vector<std::string>& output_flags) {
  std::string tool = argc > 0 ? argv[0] : "";
  auto slash = tool.find_last_of('/');
  std::string out = slash == std::string::npos ? tool : tool.substr(slash + 1);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool drop_next = false;
    for (const auto& flag : output_flags) {
      if (arg == flag) drop_next = true;
      if (arg.rfind(flag + "=", 0) == 0) arg = flag + "=...";
    }
    out += " " + arg;
    if (drop_next && i + 1 < argc) {
      out += " ...";
      ++i;
    }
  }
  return out;
}

int runMain(const std::string& tool, const std::function<Status()>& body) {
  Status status;
  try {
    status = body();
  } catch (const std::bad_alloc&) {
    status = HQ_ERROR(kIo, "out of memory");
  } catch (const std::exception& e) {
    status = HQ_ERROR(kInternal, "unexpected failure: {}", e.what());
  }
  if (status.isOk()) return 0;
  printError(tool, status);
  return exitCodeFor(status);
}

Expected<std::unique_ptr<Graph>> loadIntegerModel(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(auto graph, importOnnxFile(path));
  if (isIntegerModel(*graph)) return graph;
  logInfo("{}: no ai.hq nodes, converting the QDQ model in memory", path);
  return convertToInteger(*graph);
}

}  // namespace hq::tool
