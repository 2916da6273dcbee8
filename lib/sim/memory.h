// The simulator's memories: DDR (the .hbm's buffers), on-chip SRAM (banked) and the read-only
// weight blob, each a byte array, with a per-byte "written" shadow for DDR and SRAM. Every
// access is checked; a bad one is a compiler bug caught, reported as a kInternal Status
// ("simulator: instruction 12 (DMA_LOAD): SRAM read [1024, 2048) before any write"), never
// silent garbage and never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/march.h"
#include "hbm.pb.h"
#include "support/status.h"

namespace hq {

/// The steps (instruction indices, inclusive) during which a DDR buffer holds live data.
struct BufferLifetime {
  uint32_t bufferId = 0;
  int64_t first = 0;  ///< first step the buffer is live
  int64_t last = 0;   ///< last step the buffer is live (>= first)
};

/// Error unless every two buffers whose lifetimes intersect occupy disjoint DDR byte ranges
/// [offset, offset + size). Buffers without a lifetime entry are never live; a lifetime naming
/// an unknown buffer, or with last < first, is an error too. The message names both buffers,
/// their ranges and the step at which both are live.
Status checkBufferOverlap(const std::vector<hbm::Buffer>& buffers,
                          const std::vector<BufferLifetime>& lifetimes);

/// Most dims a strided view may have (hbm.proto Region).
inline constexpr int kMaxRegionDims = 4;
/// Largest DDR extent or SRAM size the simulator allocates, bytes.
inline constexpr uint64_t kMaxSimMemoryBytes = uint64_t{1} << 32;

/// The memories of one simulated NPU.
///
/// Addressing:
/// - DDR: a Region names buffer `buffer_id`; its offset is relative to the buffer's start and
///   the access must stay inside the buffer. The DDR array spans [0, max(offset + size)).
/// - SRAM: offsets from address 0, bound March::sramBytes. Banks are contiguous: bank b holds
///   addresses [b * bankBytes(), (b + 1) * bankBytes()), bankBytes() = ceil(sramBytes / banks).
/// - WEIGHTS: the model's weight blob; read-only, always readable.
///
/// Accesses: a Region without dims is the contiguous bytes [offset, offset + size). With dims
/// (1..4, outermost first, in elements) and strides (bytes, same count), it is the elements
/// of `elem_bytes` bytes at offset + sum(i[k] * strides[k]) for 0 <= i[k] < dims[k], visited
/// in row-major order (last dim fastest); every byte they touch must lie inside the footprint
/// [offset, offset + size), which must lie inside its space.
class SimMemory {
 public:
  /// Memories for `model` on `march`: DDR sized to the buffers' extent, SRAM to
  /// march.sramBytes in march.sramBanks banks, WEIGHTS = model.weights(). Nothing is written
  /// yet. Errors (kInternal) on duplicate buffer ids, overflowing buffers, a non-positive SRAM
  /// size or bank count, or memories larger than kMaxSimMemoryBytes.
  static Expected<SimMemory> create(const March& march, const hbm::Model& model);

  /// The payload bytes of `region` in visiting order (see the class comment). `context` names
  /// the access for errors ("instruction 12 (DMA_LOAD)"). Errors: out of bounds of the space,
  /// the buffer or the footprint; a DDR/SRAM byte never written ("read before write").
  Expected<std::vector<uint8_t>> read(const hbm::Region& region, int64_t elem_bytes,
                                      const std::string& context) const;
  /// Store `bytes` (exactly the payload size of `region`) and mark them written. Writing
  /// WEIGHTS is an error, as are the bounds errors of read().
  Status write(const hbm::Region& region, int64_t elem_bytes, const std::vector<uint8_t>& bytes,
               const std::string& context);

  /// Mark all of DDR buffer `buffer_id` as written (the host loaded input frames into it).
  Status markBufferWritten(uint32_t buffer_id);
  /// Mark every buffer of purpose INPUT as written.
  void markInputsWritten();
  /// Forget every write (DDR and SRAM), as for a fresh run; O(1) (the shadows hold the
  /// generation of each byte's last write).
  void forgetWrites();
  /// Forget that DDR buffer `buffer_id` was written (its live range ended; a later read before
  /// a new write is then an error).
  Status invalidateBuffer(uint32_t buffer_id);

  /// Bytes per SRAM bank (contiguous banks).
  uint64_t bankBytes() const { return bankBytes_; }
  /// The bank holding SRAM address `address` (< sram size).
  int64_t bankOf(uint64_t address) const { return static_cast<int64_t>(address / bankBytes_); }

  const std::vector<uint8_t>& ddr() const { return ddr_; }
  const std::vector<uint8_t>& sram() const { return sram_; }
  const std::string& weights() const { return weights_; }

 private:
  /// Resolved target of a Region: a byte array, its shadow (null for WEIGHTS), the absolute
  /// address of the footprint start, and a name for messages.
  struct Target {
    int space = 0;
    uint64_t base = 0;  ///< absolute address of the region's offset in the array
    std::string name;   ///< "SRAM", "WEIGHTS", "DDR buffer 3 (act:x)"
  };
  Expected<Target> resolve(const hbm::Region& region, const std::string& access,
                           const std::string& context) const;
  /// Offsets (relative to the region's offset) of the start of each element, or one entry
  /// for a contiguous region; `elem` receives the bytes per entry.
  Expected<std::vector<uint64_t>> elementOffsets(const hbm::Region& region, int64_t elem_bytes,
                                                 const std::string& access,
                                                 const std::string& where, uint64_t* elem) const;
  const hbm::Buffer* findBuffer(uint32_t id) const;

  std::vector<hbm::Buffer> buffers_;
  std::vector<uint8_t> ddr_, ddrWritten_;
  std::vector<uint8_t> sram_, sramWritten_;
  std::string weights_;
  uint64_t bankBytes_ = 1;
  uint8_t gen_ = 1;  ///< a byte is written when its shadow equals gen_
};

}  // namespace hq
