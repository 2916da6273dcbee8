// Logging for library and tools: quiet by default for scripts, -v for detail.
// Messages go to stderr; results (tables, JSON) go to stdout from the tools.
#pragma once

#include <string>

#include <fmt/format.h>

namespace hq {

enum class Verbosity { kQuiet = 0, kNormal = 1, kVerbose = 2, kDebug = 3 };

void setVerbosity(Verbosity v);
Verbosity verbosity();

void logMessage(Verbosity level, const std::string& text);

template <typename... Args>
void logInfo(fmt::format_string<Args...> f, Args&&... args) {
  if (verbosity() >= Verbosity::kNormal) logMessage(Verbosity::kNormal, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void logVerbose(fmt::format_string<Args...> f, Args&&... args) {
  if (verbosity() >= Verbosity::kVerbose) logMessage(Verbosity::kVerbose, fmt::format(f, std::forward<Args>(args)...));
}
/// Warnings are shown unless --quiet.
template <typename... Args>
void logWarn(fmt::format_string<Args...> f, Args&&... args) {
  if (verbosity() >= Verbosity::kNormal) logMessage(Verbosity::kQuiet, "warning: " + fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace hq
