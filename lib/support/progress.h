// Progress for long work: a redrawn bar with rate and ETA on a terminal (stderr),
// a plain line every few seconds otherwise, nothing with --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hq {

class Progress {
 public:
  /// `total` items (0 when unknown), counted in `unit` ("img").
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();

  void advance(int64_t n);
  /// Extra text after the counters (e.g. a running accuracy).
  void setSuffix(std::string suffix) { suffix_ = std::move(suffix); }
  /// Final line; called by the destructor if not called before.
  void finish();
  double ratePerSecond() const;
  double elapsedSeconds() const;

  /// Force plain-line or bar mode (tests); by default decided by isatty(stderr).
  static void setForceMode(int mode);  // -1 auto, 0 plain, 1 bar

 private:
  void draw(bool final);

  std::string label_;
  std::string unit_;
  std::string suffix_;
  int64_t total_;
  int64_t done_ = 0;
  bool tty_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace hq
