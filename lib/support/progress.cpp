#include "support/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "support/log.h"

namespace hq {
namespace {
int g_force_mode = -1;

std::string formatDuration(double s) {
  if (s < 0 || s > 1e7) return "--:--";
  int t = static_cast<int>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}
}  // namespace

void Progress::setForceMode(int mode) { g_force_mode = mode; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  tty_ = g_force_mode == -1 ? ::isatty(STDERR_FILENO) != 0 : g_force_mode == 1;
  enabled_ = verbosity() >= Verbosity::kNormal;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

double Progress::elapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::ratePerSecond() const {
  double e = elapsedSeconds();
  return e > 0 ? done_ / e : 0.0;
}

void Progress::advance(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (!enabled_) return;
  double rate = ratePerSecond();
  std::string counts = total_ > 0 ? fmt::format("{}/{} {}", done_, total_, unit_)
                                  : fmt::format("{} {}", done_, unit_);
  std::string eta = (total_ > 0 && rate > 0 && !final)
                        ? " ETA " + formatDuration((total_ - done_) / rate)
                        : fmt::format(" in {}", formatDuration(elapsedSeconds()));
  std::string tail = fmt::format("{} {:.0f} {}/s{}{}", counts, rate, unit_, eta,
                                 suffix_.empty() ? "" : "  " + suffix_);
  if (tty_) {
    std::string bar;
    if (total_ > 0) {
      const int width = 30;
      int filled = static_cast<int>(width * static_cast<double>(done_) / total_);
      if (filled > width) filled = width;
      bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s %s%s%s", label_.c_str(), bar.c_str(), tail.c_str(),
                 final ? "\n" : "");
    std::fflush(stderr);
  } else if (!final) {
    logMessage(Verbosity::kNormal, label_ + ": " + tail);
  }
}

}  // namespace hq
