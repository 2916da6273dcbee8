// The simulator's memories (sim/memory.h).
#include "sim/memory.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace hq {
namespace {

using Int128 = __int128;

std::string spaceName(int space) {
  switch (space) {
    case hbm::Region::DDR: return "DDR";
    case hbm::Region::SRAM: return "SRAM";
    case hbm::Region::WEIGHTS: return "WEIGHTS";
    default: return fmt::format("space {}", space);
  }
}

Status simError(const std::string& context, const std::string& what) {
  return HQ_ERROR(kInternal, "simulator: {}: {}", context.empty() ? "access" : context, what);
}

// [offset, offset + size) as text, saturating at UINT64_MAX.
std::string range(uint64_t offset, uint64_t size) {
  uint64_t end = size > UINT64_MAX - offset ? UINT64_MAX : offset + size;
  return fmt::format("[{}, {})", offset, end);
}

}  // namespace

Status checkBufferOverlap(const std::vector<hbm::Buffer>& buffers,
                          const std::vector<BufferLifetime>& lifetimes) {
  std::vector<const hbm::Buffer*> of(lifetimes.size(), nullptr);
  for (size_t i = 0; i < lifetimes.size(); ++i) {
    const BufferLifetime& l = lifetimes[i];
    for (const hbm::Buffer& b : buffers) {
      if (b.id() == l.bufferId) of[i] = &b;
    }
    if (of[i] == nullptr) {
      return HQ_ERROR(kInternal, "simulator: lifetime {} names buffer {}, which does not exist", i,
                      l.bufferId);
    }
    if (l.last < l.first) {
      return HQ_ERROR(kInternal,
                      "simulator: buffer {} ({}) has lifetime [{}, {}] with last < first",
                      l.bufferId, of[i]->name(), l.first, l.last);
    }
  }
  for (size_t i = 0; i < lifetimes.size(); ++i) {
    for (size_t j = i + 1; j < lifetimes.size(); ++j) {
      const BufferLifetime& a = lifetimes[i];
      const BufferLifetime& b = lifetimes[j];
      if (a.bufferId == b.bufferId) continue;
      if (a.last < b.first || b.last < a.first) continue;  // never live together
      const hbm::Buffer& ba = *of[i];
      const hbm::Buffer& bb = *of[j];
      if (ba.size() == 0 || bb.size() == 0) continue;
      // Overflow-safe: compare in 128 bits.
      Int128 a0 = ba.offset(), a1 = a0 + ba.size(), b0 = bb.offset(), b1 = b0 + bb.size();
      if (a0 < b1 && b0 < a1) {
        return HQ_ERROR(kInternal,
                        "simulator: buffers {} ({}) DDR {} and {} ({}) DDR {} overlap while both "
                        "are live at step {} (a memory planner bug)",
                        ba.id(), ba.name(), range(ba.offset(), ba.size()), bb.id(), bb.name(),
                        range(bb.offset(), bb.size()), std::max(a.first, b.first));
      }
    }
  }
  return Status::ok();
}

Expected<SimMemory> SimMemory::create(const March& march, const hbm::Model& model) {
  SimMemory m;
  if (march.sramBytes <= 0 || march.sramBanks <= 0) {
    return HQ_ERROR(kInternal, "simulator: march '{}' has SRAM {} bytes in {} banks; expected > 0",
                    march.name, march.sramBytes, march.sramBanks);
  }
  if (static_cast<uint64_t>(march.sramBytes) > kMaxSimMemoryBytes) {
    return HQ_ERROR(kInternal,
                    "simulator: SRAM of {} bytes is larger than the simulator's limit {}",
                    march.sramBytes, kMaxSimMemoryBytes);
  }
  std::unordered_set<uint32_t> ids;
  uint64_t extent = 0;
  for (const hbm::Buffer& b : model.buffers()) {
    if (!ids.insert(b.id()).second) {
      return HQ_ERROR(kInternal, "simulator: buffer id {} ({}) appears twice", b.id(), b.name());
    }
    if (b.size() > kMaxSimMemoryBytes || b.offset() > kMaxSimMemoryBytes - b.size()) {
      return HQ_ERROR(kInternal,
                      "simulator: buffer {} ({}) DDR {} ends beyond the simulator's limit of {} "
                      "bytes",
                      b.id(), b.name(), range(b.offset(), b.size()), kMaxSimMemoryBytes);
    }
    extent = std::max<uint64_t>(extent, b.offset() + b.size());
    m.buffers_.push_back(b);
  }
  m.ddr_.assign(extent, 0);
  m.ddrWritten_.assign(extent, 0);
  m.sram_.assign(static_cast<size_t>(march.sramBytes), 0);
  m.sramWritten_.assign(static_cast<size_t>(march.sramBytes), 0);
  m.weights_ = model.weights();
  uint64_t banks = static_cast<uint64_t>(march.sramBanks);
  m.bankBytes_ =
      std::max<uint64_t>(1, (static_cast<uint64_t>(march.sramBytes) + banks - 1) / banks);
  return m;
}

const hbm::Buffer* SimMemory::findBuffer(uint32_t id) const {
  for (const hbm::Buffer& b : buffers_) {
    if (b.id() == id) return &b;
  }
  return nullptr;
}

Expected<SimMemory::Target> SimMemory::resolve(const hbm::Region& region, const std::string& access,
                                               const std::string& context) const {
  Target t;
  t.space = region.space();
  uint64_t limit = 0;
  switch (region.space()) {
    case hbm::Region::DDR: {
      const hbm::Buffer* b = findBuffer(region.buffer_id());
      if (b == nullptr) {
        return simError(context,
                        fmt::format("DDR {} {} names buffer {}, which does not exist", access,
                                    range(region.offset(), region.size()), region.buffer_id()));
      }
      t.name = fmt::format("DDR buffer {} ({})", b->id(), b->name());
      t.base = b->offset();
      limit = b->size();
      break;
    }
    case hbm::Region::SRAM:
      t.name = "SRAM";
      limit = sram_.size();
      break;
    case hbm::Region::WEIGHTS:
      t.name = "WEIGHTS";
      limit = weights_.size();
      break;
    default:
      return simError(context, fmt::format("{} of a region in {}; expected DDR, SRAM or WEIGHTS",
                                           access, spaceName(region.space())));
  }
  if (region.offset() > limit || region.size() > limit - region.offset()) {
    return simError(context, fmt::format("{} {} {} is out of bounds ({} bytes)", t.name, access,
                                         range(region.offset(), region.size()), limit));
  }
  t.base += region.offset();
  return t;
}

Expected<std::vector<uint64_t>> SimMemory::elementOffsets(const hbm::Region& region,
                                                          int64_t elem_bytes,
                                                          const std::string& access,
                                                          const std::string& where,
                                                          uint64_t* elem) const {
  const std::string ctx = where;
  if (region.dims_size() == 0 && region.strides_size() == 0) {
    *elem = region.size();
    if (region.size() == 0) return std::vector<uint64_t>{};
    return std::vector<uint64_t>{0};
  }
  const std::string fp = range(region.offset(), region.size());
  if (region.dims_size() != region.strides_size() || region.dims_size() > kMaxRegionDims) {
    return simError(
        ctx, fmt::format("{} {}: strided view with {} dims and {} strides; expected "
                         "the same count, 1 to {}",
                         access, fp, region.dims_size(), region.strides_size(), kMaxRegionDims));
  }
  if (elem_bytes <= 0) {
    return simError(
        ctx, fmt::format("{} {}: element size {} bytes; expected > 0", access, fp, elem_bytes));
  }
  Int128 count = 1, lo = 0, hi = 0;
  for (int k = 0; k < region.dims_size(); ++k) {
    Int128 d = region.dims(k);
    count *= d;
    if (d == 0) continue;
    Int128 reach = (d - 1) * Int128(region.strides(k));
    (reach < 0 ? lo : hi) += reach;
  }
  *elem = static_cast<uint64_t>(elem_bytes);
  if (count == 0) return std::vector<uint64_t>{};
  hi += elem_bytes;
  if (lo < 0 || hi > Int128(region.size())) {
    return simError(
        ctx, fmt::format("{} {}: strided view reaches bytes [{}, {}) relative to the "
                         "offset, outside its footprint of {} bytes",
                         access, fp, static_cast<int64_t>(lo),
                         static_cast<uint64_t>(std::min<Int128>(hi, UINT64_MAX)), region.size()));
  }
  if (count > Int128(kMaxSimMemoryBytes)) {
    return simError(ctx, fmt::format("{} {}: strided view of {} elements is too large", access, fp,
                                     static_cast<uint64_t>(std::min<Int128>(count, UINT64_MAX))));
  }
  // Visit row-major, last dim fastest; pad to 4 dims with size-1 dims in front.
  int64_t dims[kMaxRegionDims] = {1, 1, 1, 1};
  int64_t strides[kMaxRegionDims] = {0, 0, 0, 0};
  int pad = kMaxRegionDims - region.dims_size();
  for (int k = 0; k < region.dims_size(); ++k) {
    dims[pad + k] = region.dims(k);
    strides[pad + k] = region.strides(k);
  }
  std::vector<uint64_t> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t a = 0; a < dims[0]; ++a)
    for (int64_t b = 0; b < dims[1]; ++b)
      for (int64_t c = 0; c < dims[2]; ++c)
        for (int64_t d = 0; d < dims[3]; ++d)
          out.push_back(static_cast<uint64_t>(a * strides[0] + b * strides[1] + c * strides[2] +
                                              d * strides[3]));
  return out;
}

Expected<std::vector<uint8_t>> SimMemory::read(const hbm::Region& region, int64_t elem_bytes,
                                               const std::string& context) const {
  HQ_ASSIGN_OR_RETURN(Target t, resolve(region, "read", context));
  uint64_t elem = 0;
  HQ_ASSIGN_OR_RETURN(std::vector<uint64_t> offs,
                      elementOffsets(region, elem_bytes, t.name + " read", context, &elem));
  const uint8_t* data = nullptr;
  const uint8_t* written = nullptr;
  if (t.space == hbm::Region::DDR) {
    data = ddr_.data();
    written = ddrWritten_.data();
  } else if (t.space == hbm::Region::SRAM) {
    data = sram_.data();
    written = sramWritten_.data();
  } else {
    data = reinterpret_cast<const uint8_t*>(weights_.data());
  }
  std::vector<uint8_t> out(offs.size() * elem);
  for (size_t i = 0; i < offs.size(); ++i) {
    uint64_t addr = t.base + offs[i];
    if (written != nullptr) {
      const uint8_t* w = written + addr;
      const uint8_t* miss = std::find_if(w, w + elem, [this](uint8_t g) { return g != gen_; });
      if (miss != w + elem) {
        uint64_t rel = region.offset() + offs[i] + static_cast<uint64_t>(miss - w);
        return simError(context, fmt::format("{} read {} before any write (byte {} never written)",
                                             t.name, range(region.offset(), region.size()), rel));
      }
    }
    if (elem > 0) std::memcpy(out.data() + i * elem, data + addr, elem);
  }
  return out;
}

Status SimMemory::write(const hbm::Region& region, int64_t elem_bytes,
                        const std::vector<uint8_t>& bytes, const std::string& context) {
  if (region.space() == hbm::Region::WEIGHTS) {
    return simError(context, fmt::format("write to WEIGHTS {}: the weight blob is read-only",
                                         range(region.offset(), region.size())));
  }
  HQ_ASSIGN_OR_RETURN(Target t, resolve(region, "write", context));
  uint64_t elem = 0;
  HQ_ASSIGN_OR_RETURN(std::vector<uint64_t> offs,
                      elementOffsets(region, elem_bytes, t.name + " write", context, &elem));
  if (bytes.size() != offs.size() * elem) {
    return simError(context, fmt::format("{} write {}: {} bytes given; the region holds {}", t.name,
                                         range(region.offset(), region.size()), bytes.size(),
                                         offs.size() * elem));
  }
  uint8_t* data = t.space == hbm::Region::DDR ? ddr_.data() : sram_.data();
  uint8_t* written = t.space == hbm::Region::DDR ? ddrWritten_.data() : sramWritten_.data();
  for (size_t i = 0; i < offs.size(); ++i) {
    uint64_t addr = t.base + offs[i];
    if (elem == 0) continue;
    std::memcpy(data + addr, bytes.data() + i * elem, elem);
    std::memset(written + addr, gen_, elem);
  }
  return Status::ok();
}

Status SimMemory::markBufferWritten(uint32_t buffer_id) {
  const hbm::Buffer* b = findBuffer(buffer_id);
  if (b == nullptr) {
    return HQ_ERROR(kInternal, "simulator: mark written: buffer {} does not exist", buffer_id);
  }
  std::fill(ddrWritten_.begin() + b->offset(), ddrWritten_.begin() + b->offset() + b->size(), gen_);
  return Status::ok();
}

void SimMemory::markInputsWritten() {
  for (const hbm::Buffer& b : buffers_) {
    if (b.purpose() == hbm::Buffer::INPUT) {
      std::fill(ddrWritten_.begin() + b.offset(), ddrWritten_.begin() + b.offset() + b.size(), gen_);
    }
  }
}

void SimMemory::forgetWrites() {
  // Written bytes carry the generation of their write; a new generation forgets them all
  // without touching the arrays (until the 8-bit counter wraps).
  if (++gen_ == 0) {
    std::fill(ddrWritten_.begin(), ddrWritten_.end(), 0);
    std::fill(sramWritten_.begin(), sramWritten_.end(), 0);
    gen_ = 1;
  }
}

Status SimMemory::invalidateBuffer(uint32_t buffer_id) {
  const hbm::Buffer* b = findBuffer(buffer_id);
  if (b == nullptr) {
    return HQ_ERROR(kInternal, "simulator: invalidate: buffer {} does not exist", buffer_id);
  }
  std::fill(ddrWritten_.begin() + b->offset(), ddrWritten_.begin() + b->offset() + b->size(), 0);
  return Status::ok();
}

}  // namespace hq
