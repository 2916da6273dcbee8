// Greedy-by-size memory planning with best-fit gaps, and double-buffered SRAM tile slots.
#include "compiler/memory_plan.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
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

namespace {

/// Places the buffers one by one in `order`; each goes into the smallest gap (best fit)
/// between the already-placed buffers that are live at a common step, else on top of them.
/// Fills `offsets` and returns the arena size.
int64_t placeInOrder(const std::vector<BufferRequest>& requests, const std::vector<int64_t>& size,
                     const std::vector<size_t>& order, std::vector<int64_t>& offsets) {
  offsets.assign(requests.size(), 0);
  int64_t total = 0;
  std::vector<size_t> placed;
  placed.reserve(order.size());
  std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of time-overlapping buffers
  for (size_t i : order) {
    const BufferRequest& r = requests[i];
    busy.clear();
    for (size_t j : placed) {
      const BufferRequest& o = requests[j];
      if (r.firstUse <= o.lastUse && o.firstUse <= r.lastUse) {
        busy.emplace_back(offsets[j], offsets[j] + size[j]);
      }
    }
    std::sort(busy.begin(), busy.end());
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
    offsets[i] = best;
    total = std::max(total, best + size[i]);
    placed.push_back(i);
  }
  return total;
}

}  // namespace

Expected<MemoryPlan> planMemory(const std::vector<BufferRequest>& requests,
                                int64_t alignmentBytes) {
  HQ_RETURN_IF_ERROR(checkRequests(requests, alignmentBytes));
  const size_t n = requests.size();
  std::vector<int64_t> size(n), length(n);
  for (size_t i = 0; i < n; ++i) {
    size[i] = alignUp(requests[i].sizeBytes, alignmentBytes);
    length[i] = requests[i].lastUse - requests[i].firstUse + 1;
  }
  // Keys of the three orders tried, each breaking ties by the next key and then input order.
  using Key = std::pair<int64_t, int64_t>;
  auto bySize = [&](size_t i) { return Key{size[i], length[i]}; };
  auto byLength = [&](size_t i) { return Key{length[i], size[i]}; };
  auto byArea = [&](size_t i) {
    // size * length, saturated (size < 2^63, length < 2^63).
    int64_t area = size[i] > kMaxBytes / length[i] ? kMaxBytes : size[i] * length[i];
    return Key{area, size[i]};
  };
  std::vector<std::function<Key(size_t)>> keys = {bySize, byLength, byArea};

  MemoryPlan plan;
  plan.totalBytes = -1;
  std::vector<size_t> order(n);
  std::vector<int64_t> offsets;
  for (const auto& key : keys) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return key(a) > key(b); });
    int64_t total = placeInOrder(requests, size, order, offsets);
    if (plan.totalBytes < 0 || total < plan.totalBytes) {  // earlier order wins ties
      plan.totalBytes = total;
      plan.offsets = offsets;
    }
  }
  if (n == 0) plan.totalBytes = 0;
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
