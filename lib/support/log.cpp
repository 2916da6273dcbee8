#include "support/log.h"

#include <atomic>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace hq {
namespace {
std::atomic<int> g_verbosity{static_cast<int>(Verbosity::kNormal)};

spdlog::logger& logger() {
  // Plain lines on stderr: tools print results on stdout, diagnostics here.
  static auto log = [] {
    auto l = spdlog::stderr_logger_mt("hq");
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *log;
}
}  // namespace

void setVerbosity(Verbosity v) { g_verbosity = static_cast<int>(v); }
Verbosity verbosity() { return static_cast<Verbosity>(g_verbosity.load()); }

void logMessage(Verbosity level, const std::string& text) {
  switch (level) {
    case Verbosity::kQuiet: logger().warn(text); break;
    case Verbosity::kNormal: logger().info(text); break;
    case Verbosity::kVerbose: logger().debug(text); break;
    case Verbosity::kDebug: logger().trace(text); break;
  }
}

}  // namespace hq
