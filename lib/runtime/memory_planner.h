// Offsets for intermediate buffers in one arena, reusing memory between buffers whose
// lifetimes do not overlap (greedy by size, as TFLite Micro's greedy planner).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hq {

class MemoryPlanner {
 public:
  /// Alignment of every offset, in bytes.
  explicit MemoryPlanner(size_t alignment = 64) : alignment_(alignment) {}

  /// A buffer of `bytes` live from step `first_use` to step `last_use` inclusive.
  /// Returns its id (0, 1, ...).
  int addBuffer(size_t bytes, int first_use, int last_use);
  /// Assign offsets; call once after all addBuffer calls.
  void plan();
  /// Byte offset of buffer `id` in the arena (after plan()).
  size_t offset(int id) const { return buffers_[static_cast<size_t>(id)].offset; }
  /// Arena size needed: the highest end offset of any buffer.
  size_t arenaBytes() const { return arena_; }
  /// The largest sum of sizes of buffers live at one step (lower bound on arenaBytes).
  size_t peakLiveBytes() const;

 private:
  struct Buffer {
    size_t bytes;
    int first, last;
    size_t offset = 0;
  };
  size_t alignment_;
  std::vector<Buffer> buffers_;
  size_t arena_ = 0;
};

}  // namespace hq
