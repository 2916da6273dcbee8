// A small read-only zip reader for NumPy .npz archives: central directory (with zip64
// extensions), stored and deflated members, CRC-32 checked on extraction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/bytes.h"
#include "support/status.h"

namespace hq {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;  ///< 0 stored, 8 deflated
    uint32_t crc = 0;
    uint64_t compressedSize = 0;    ///< bytes
    uint64_t uncompressedSize = 0;  ///< bytes
    uint64_t localHeaderOffset = 0;
  };

  /// Map `path` and read its central directory. kParse errors name the file.
  static Expected<ZipArchive> open(const std::string& path);
  /// Read the central directory of an archive already in memory; `what` names it.
  static Expected<ZipArchive> fromBytes(Bytes bytes, const std::string& what);

  const std::vector<Entry>& entries() const { return entries_; }
  /// The entry called `name`, or nullptr.
  const Entry* find(const std::string& name) const;
  /// The member's contents: a view into the mapping when stored, decompressed otherwise
  /// (in memory up to `in_memory_limit` bytes, else a temp file). CRC-32 is always checked.
  Expected<Bytes> extract(const Entry& entry,
                          size_t in_memory_limit = kDecompressInMemoryLimit) const;

 private:
  Bytes bytes_;
  std::string what_;
  std::vector<Entry> entries_;
};

}  // namespace hq
