#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace hq {

int MemoryPlanner::addBuffer(size_t bytes, int first_use, int last_use) {
  size_t aligned = (bytes + alignment_ - 1) / alignment_ * alignment_;
  buffers_.push_back({aligned, first_use, last_use, 0});
  return static_cast<int>(buffers_.size() - 1);
}

void MemoryPlanner::plan() {
  std::vector<size_t> order(buffers_.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by earlier start, then id, so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (buffers_[a].bytes != buffers_[b].bytes) return buffers_[a].bytes > buffers_[b].bytes;
    return buffers_[a].first < buffers_[b].first;
  });
  std::vector<size_t> placed;
  arena_ = 0;
  for (size_t id : order) {
    Buffer& b = buffers_[id];
    // Intervals already taken by buffers alive at the same time, sorted by offset.
    std::vector<std::pair<size_t, size_t>> taken;
    for (size_t p : placed) {
      const Buffer& o = buffers_[p];
      if (o.last < b.first || b.last < o.first) continue;
      taken.push_back({o.offset, o.offset + o.bytes});
    }
    std::sort(taken.begin(), taken.end());
    size_t candidate = 0;
    for (const auto& [start, end] : taken) {
      if (candidate + b.bytes <= start) break;  // fits in the gap before this one
      candidate = std::max(candidate, end);
    }
    b.offset = candidate;
    arena_ = std::max(arena_, candidate + b.bytes);
    placed.push_back(id);
  }
}

size_t MemoryPlanner::peakLiveBytes() const {
  int last_step = 0;
  for (const auto& b : buffers_) last_step = std::max(last_step, b.last);
  size_t peak = 0;
  for (int s = 0; s <= last_step; ++s) {
    size_t live = 0;
    for (const auto& b : buffers_) {
      if (b.first <= s && s <= b.last) live += b.bytes;
    }
    peak = std::max(peak, live);
  }
  return peak;
}

}  // namespace hq
