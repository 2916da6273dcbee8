// Memory planning for hq-compile: offsets for DDR buffers with liveness-based reuse (two
// buffers share bytes only when their live step ranges are disjoint), and double-buffered
// SRAM tile slots. Plans are deterministic: the same requests in the same order give the same
// offsets.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "support/status.h"

namespace hq {

/// One buffer to place. Steps are schedule positions (0-based); the buffer is live on every
/// step of [firstUse, lastUse] (both inclusive).
struct BufferRequest {
  int64_t id = 0;         ///< caller's name for the buffer; unique within one plan
  int64_t sizeBytes = 0;  ///< bytes, > 0
  int64_t firstUse = 0;   ///< first step it is live, >= 0
  int64_t lastUse = 0;    ///< last step it is live, >= firstUse
};

/// Where each request lives. offsets[i] belongs to requests[i] (input order).
struct MemoryPlan {
  std::vector<int64_t> offsets;  ///< bytes from the arena base; multiples of the alignment
  /// Arena size, bytes: max over buffers of offset + size rounded up to the alignment.
  int64_t totalBytes = 0;
  /// Max over steps of the summed (aligned) sizes of the buffers live at that step: no plan
  /// can be smaller. totalBytes / lowerBoundBytes says how close the heuristic got.
  int64_t lowerBoundBytes = 0;
};

/// Places `requests` in one arena so that buffers live at a common step never share a byte.
/// `alignmentBytes` (a power of two, e.g. March ddr_burst_bytes) aligns every offset.
/// Heuristic: greedy placement in three orders — by (aligned) size, by lifetime length, by
/// size * length, each descending with ties broken by the other key and then input order —
/// keeping the smallest arena (the earlier order on ties). Each buffer goes into the smallest
/// gap between already-placed buffers that overlap it in time (best fit), or above them all.
/// Cost O(n^2 log n). Errors (kInvalidArgument): size <= 0,
/// firstUse < 0, firstUse > lastUse, bad alignment, duplicate ids, sizes that overflow int64.
Expected<MemoryPlan> planMemory(const std::vector<BufferRequest>& requests, int64_t alignmentBytes);

/// TFLite-style builder around planMemory: addBuffer(...) per tensor, then plan().
class MemoryPlanner {
 public:
  /// `alignmentBytes`: see planMemory (checked by plan()).
  explicit MemoryPlanner(int64_t alignmentBytes) : alignment_(alignmentBytes) {}

  /// Adds a buffer of `sizeBytes` bytes live on steps [firstUse, lastUse] (inclusive).
  /// Returns its index in MemoryPlan::offsets.
  size_t addBuffer(int64_t id, int64_t sizeBytes, int64_t firstUse, int64_t lastUse);
  const std::vector<BufferRequest>& requests() const { return requests_; }
  Expected<MemoryPlan> plan() const { return planMemory(requests_, alignment_); }

 private:
  int64_t alignment_;
  std::vector<BufferRequest> requests_;
};

/// Max over steps of the summed sizes (each rounded up to `alignmentBytes`) of the live
/// buffers. Assumes valid requests (planMemory checks them).
int64_t liveBytesLowerBound(const std::vector<BufferRequest>& requests, int64_t alignmentBytes);

/// Double-buffered SRAM tile slots: two slots per stream, ping-pong by tile index, so tile
/// t+1 of a stream can load while tile t is computed on.
struct SramSlotPlan {
  std::vector<std::array<int64_t, 2>> slotOffsets;  ///< per stream: byte offsets of slot 0, 1
  int64_t totalBytes = 0;                           ///< SRAM used, bytes (aligned)
  /// The SRAM offset of the slot holding tile `tileIndex` (>= 0) of stream `stream`.
  int64_t slotFor(size_t stream, int64_t tileIndex) const {
    return slotOffsets[stream][static_cast<size_t>(tileIndex & 1)];
  }
};

/// Lays out two slots of `streamTileBytes[s]` bytes (one tile of stream s, > 0) per stream,
/// back to back, each slot aligned to `alignmentBytes` (power of two). Fails
/// (kInvalidArgument) on bad sizes or alignment, and when the slots need more than
/// `sramBytes`; the message gives bytes needed and available.
Expected<SramSlotPlan> planSramSlots(const std::vector<int64_t>& streamTileBytes,
                                     int64_t alignmentBytes, int64_t sramBytes);

}  // namespace hq
