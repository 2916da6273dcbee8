#include "support/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace hq {
namespace {
std::atomic<int> g_verbosity{static_cast<int>(Verbosity::kNormal)};
std::mutex g_mutex;
}  // namespace

void setVerbosity(Verbosity v) { g_verbosity = static_cast<int>(v); }
Verbosity verbosity() { return static_cast<Verbosity>(g_verbosity.load()); }

void logMessage(Verbosity level, const std::string& text) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fputs(text.c_str(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace hq
