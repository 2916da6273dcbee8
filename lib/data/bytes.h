// Read-only byte ranges that data sources read samples from: a memory-mapped file, a buffer
// in memory, or a decompressed temp file mapped back in. Large inputs are never copied whole
// into memory: uncompressed files are mmapped, gzip streams above a size limit are
// decompressed into an unlinked temp file that is then mmapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "support/status.h"

namespace hq {

/// A contiguous, immutable byte range kept alive by `owner` (a mapping or a buffer).
struct Bytes {
  std::shared_ptr<const void> owner;
  const uint8_t* data = nullptr;
  size_t size = 0;

  /// A sub-range [offset, offset + length) sharing the same owner.
  Bytes slice(size_t offset, size_t length) const;
};

/// Above this many uncompressed bytes, decompressed data goes to a temp file, not memory.
constexpr size_t kDecompressInMemoryLimit = size_t{256} << 20;

/// Map `path` read-only. NotFound when missing, Io when unreadable. Empty files give size 0.
Expected<Bytes> mapFile(const std::string& path);

/// Copy `bytes` into a new in-memory Bytes.
Bytes bytesFromString(std::string bytes);

/// Is this a gzip stream (magic 1f 8b)?
bool isGzip(const Bytes& bytes);

/// Decompress a gzip stream (one or more members), checking every CRC-32 and length. Output
/// up to `in_memory_limit` bytes stays in memory, larger output is spilled to an unlinked
/// temp file in $TMPDIR (or /tmp) and mapped. Errors (kParse) name `what` and say what is
/// wrong: bad header, corrupted data, CRC mismatch, truncation.
Expected<Bytes> gunzip(const Bytes& gz, const std::string& what,
                       size_t in_memory_limit = kDecompressInMemoryLimit);

/// Inflate a raw deflate stream (as in a zip member) that must produce exactly
/// `expected_size` bytes with CRC-32 `expected_crc`. Memory/temp-file rule as gunzip.
Expected<Bytes> inflateRaw(const Bytes& deflated, uint64_t expected_size, uint32_t expected_crc,
                           const std::string& what,
                           size_t in_memory_limit = kDecompressInMemoryLimit);

/// Map a file, decompressing it first when it starts with the gzip magic.
Expected<Bytes> mapMaybeGzip(const std::string& path,
                             size_t in_memory_limit = kDecompressInMemoryLimit);

/// CRC-32 (zlib / gzip / zip polynomial) of a byte range of any size.
uint32_t crc32Of(const uint8_t* data, size_t size);

}  // namespace hq
