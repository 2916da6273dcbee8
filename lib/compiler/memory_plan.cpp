// Greedy-by-size memory planning with best-fit gaps, and double-buffered SRAM tile slots.
#include "compiler/memory_plan.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <unordered_set>

namespace hq {
namespace {

constexpr int64_t kMaxBytes = std::numeric_limits<int64_t>::max();

bool isPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/// `bytes` rounded up to `align` (a power of two); the caller made sure it fits in int64.
int64_t alignUp(int64_t bytes, int64_t align) { return (bytes + align - 1) & ~(align - 1); }

Status checkAlignment(int64_t alignmentBytes) {
  if (!isPowerOfTwo(alignmentBytes)) {
    return HQ_ERROR(kInvalidArgument,
                    "memory plan: alignment must be a power of two > 0 bytes, "
                    "got {}",
                    alignmentBytes);
  }
  return Status::ok();
}

Status checkRequests(const std::vector<BufferRequest>& requests, int64_t alignmentBytes) {
  HQ_RETURN_IF_ERROR(checkAlignment(alignmentBytes));
  std::unordered_set<int64_t> ids;
  int64_t sum = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const BufferRequest& r = requests[i];
    std::string where = fmt::format("memory plan: buffer {} (request #{})", r.id, i);
    if (!ids.insert(r.id).second) {
      return HQ_ERROR(kInvalidArgument, "{}: duplicate id; each buffer needs a unique id", where);
    }
    if (r.sizeBytes <= 0) {
      return HQ_ERROR(kInvalidArgument, "{}: size must be > 0 bytes, got {}", where, r.sizeBytes);
    }
    if (r.firstUse < 0) {
      return HQ_ERROR(kInvalidArgument, "{}: first_use must be >= 0, got {}", where, r.firstUse);
    }
    if (r.firstUse > r.lastUse) {
      return HQ_ERROR(kInvalidArgument, "{}: first_use {} is after last_use {}", where, r.firstUse,
                      r.lastUse);
    }
    if (r.sizeBytes > kMaxBytes - (alignmentBytes - 1)) {
      return HQ_ERROR(kInvalidArgument, "{}: size {} bytes overflows int64 when aligned to {}",
                      where, r.sizeBytes, alignmentBytes);
    }
    int64_t aligned = alignUp(r.sizeBytes, alignmentBytes);
    if (sum > kMaxBytes - aligned) {
      return HQ_ERROR(kInvalidArgument, "{}: the summed buffer sizes overflow int64 bytes", where);
    }
    sum += aligned;
  }
  return Status::ok();
}

}  // namespace

int64_t liveBytesLowerBound(const std::vector<BufferRequest>& requests, int64_t alignmentBytes) {
  // Events (step, 0 = becomes live before the step / 1 = dies after it, delta).
  std::vector<std::tuple<int64_t, int, int64_t>> events;
  events.reserve(requests.size() * 2);
  for (const BufferRequest& r : requests) {
    int64_t size = alignUp(r.sizeBytes, alignmentBytes);
    events.emplace_back(r.firstUse, 0, size);
    events.emplace_back(r.lastUse, 1, -size);
  }
  std::sort(events.begin(), events.end());
  int64_t live = 0, peak = 0;
  for (const auto& e : events) {
    live += std::get<2>(e);
    peak = std::max(peak, live);
  }
  return peak;
}

Expected<MemoryPlan> planMemory(const std::vector<BufferRequest>& requests,
                                int64_t alignmentBytes) {
  HQ_RETURN_IF_ERROR(checkRequests(requests, alignmentBytes));
  const size_t n = requests.size();
  std::vector<int64_t> size(n);
  for (size_t i = 0; i < n; ++i) size[i] = alignUp(requests[i].sizeBytes, alignmentBytes);

  // Biggest first; among equals the longer-lived first; then input order (deterministic).
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (size[a] != size[b]) return size[a] > size[b];
    int64_t la = requests[a].lastUse - requests[a].firstUse;
    int64_t lb = requests[b].lastUse - requests[b].firstUse;
    if (la != lb) return la > lb;
    return a < b;
  });

  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> placed;
  placed.reserve(n);
  std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of time-overlapping buffers
  for (size_t i : order) {
    const BufferRequest& r = requests[i];
    busy.clear();
    for (size_t j : placed) {
      const BufferRequest& o = requests[j];
      if (r.firstUse <= o.lastUse && o.firstUse <= r.lastUse) {
        busy.emplace_back(plan.offsets[j], plan.offsets[j] + size[j]);
      }
    }
    std::sort(busy.begin(), busy.end());
    // Best fit: the smallest gap that holds the buffer, else on top of everything.
    int64_t cursor = 0, best = -1, bestGap = kMaxBytes;
    for (const auto& [begin, end] : busy) {
      int64_t gap = begin - cursor;
      if (gap >= size[i] && gap < bestGap) {
        best = cursor;
        bestGap = gap;
      }
      cursor = std::max(cursor, end);
    }
    if (best < 0) best = cursor;
    plan.offsets[i] = best;
    plan.totalBytes = std::max(plan.totalBytes, best + size[i]);
    placed.push_back(i);
  }
  plan.lowerBoundBytes = liveBytesLowerBound(requests, alignmentBytes);
  return plan;
}

size_t MemoryPlanner::addBuffer(int64_t id, int64_t sizeBytes, int64_t firstUse, int64_t lastUse) {
  requests_.push_back(BufferRequest{id, sizeBytes, firstUse, lastUse});
  return requests_.size() - 1;
}

Expected<SramSlotPlan> planSramSlots(const std::vector<int64_t>& streamTileBytes,
                                     int64_t alignmentBytes, int64_t sramBytes) {
  HQ_RETURN_IF_ERROR(checkAlignment(alignmentBytes));
  SramSlotPlan plan;
  int64_t cursor = 0;
  for (size_t s = 0; s < streamTileBytes.size(); ++s) {
    int64_t bytes = streamTileBytes[s];
    if (bytes <= 0) {
      return HQ_ERROR(kInvalidArgument,
                      "sram slots: stream {}: tile size must be > 0 bytes, "
                      "got {}",
                      s, bytes);
    }
    if (bytes > sramBytes) {
      return HQ_ERROR(kInvalidArgument,
                      "sram slots: stream {}: one tile needs {} bytes, SRAM "
                      "has {}",
                      s, bytes, sramBytes);
    }
    if (bytes > kMaxBytes - (alignmentBytes - 1)) {
      return HQ_ERROR(kInvalidArgument,
                      "sram slots: stream {}: tile size {} bytes overflows "
                      "int64 when aligned to {}",
                      s, bytes, alignmentBytes);
    }
    int64_t slot = alignUp(bytes, alignmentBytes);
    std::array<int64_t, 2> offsets{};
    for (int k = 0; k < 2; ++k) {
      if (cursor > sramBytes - slot) {
        return HQ_ERROR(kInvalidArgument,
                        "sram slots: double-buffered tiles need more than the "
                        "{} bytes of SRAM (stream {} of {}, slot {} of {} bytes starts at {})",
                        sramBytes, s, streamTileBytes.size(), k, slot, cursor);
      }
      offsets[k] = cursor;
      cursor += slot;
    }
    plan.slotOffsets.push_back(offsets);
  }
  plan.totalBytes = cursor;
  return plan;
}

}  // namespace hq
