#include "data/zip.h"

#include <algorithm>

namespace hq {

namespace {

constexpr uint32_t kEndOfCentralDir = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDir = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t le64(const uint8_t* p) {
  return static_cast<uint64_t>(le32(p)) | static_cast<uint64_t>(le32(p + 4)) << 32;
}

// Replace 0xffffffff fields of a central directory entry from its zip64 extra field
// (header id 1), which lists only the saturated fields, in this order.
Status applyZip64Extra(const uint8_t* extra, size_t len, ZipArchive::Entry* e, bool size_sat,
                       bool csize_sat, bool offset_sat, const std::string& what) {
  size_t pos = 0;
  while (pos + 4 <= len) {
    uint16_t id = le16(extra + pos);
    uint16_t n = le16(extra + pos + 2);
    if (pos + 4 + n > len) break;
    if (id == 1) {
      const uint8_t* q = extra + pos + 4;
      size_t need = 8 * (size_sat + csize_sat + offset_sat);
      if (n < need) {
        return HQ_ERROR(kParse, "{}: member '{}': zip64 extra field has {} bytes, expected {}",
                        what, e->name, n, need);
      }
      if (size_sat) {
        e->uncompressedSize = le64(q);
        q += 8;
      }
      if (csize_sat) {
        e->compressedSize = le64(q);
        q += 8;
      }
      if (offset_sat) {
        e->localHeaderOffset = le64(q);
      }
      return Status::ok();
    }
    pos += 4 + n;
  }
  return HQ_ERROR(kParse,
                  "{}: member '{}' has 32-bit size fields saturated but no zip64 extra "
                  "field",
                  what, e->name);
}

}  // namespace

Expected<ZipArchive> ZipArchive::open(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(Bytes bytes, mapFile(path));
  return fromBytes(std::move(bytes), path);
}

Expected<ZipArchive> ZipArchive::fromBytes(Bytes bytes, const std::string& what) {
  ZipArchive z;
  z.bytes_ = bytes;
  z.what_ = what;
  const uint8_t* d = bytes.data;
  size_t size = bytes.size;
  if (size < 22) {
    return HQ_ERROR(kParse, "{}: not a zip archive ({} bytes, no end-of-central-directory record)",
                    what, size);
  }
  // The end record is in the last 22 + 65535 (comment) bytes; scan backwards for it.
  size_t eocd = SIZE_MAX;
  size_t lowest = size >= 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22 + 1; p-- > lowest;) {
    if (le32(d + p) == kEndOfCentralDir) {
      eocd = p;
      break;
    }
  }
  if (eocd == SIZE_MAX) {
    return HQ_ERROR(kParse,
                    "{}: not a zip archive (no end-of-central-directory record); an .npz "
                    "file is a zip of .npy files",
                    what);
  }
  uint64_t count = le16(d + eocd + 10);
  uint64_t cd_size = le32(d + eocd + 12);
  uint64_t cd_offset = le32(d + eocd + 16);
  if (eocd >= 20 && le32(d + eocd - 20) == kZip64Locator) {
    uint64_t z64 = le64(d + eocd - 20 + 8);
    if (z64 + 56 > size || le32(d + z64) != kZip64EndOfCentralDir) {
      return HQ_ERROR(kParse, "{}: broken zip64 end-of-central-directory record", what);
    }
    count = le64(d + z64 + 32);
    cd_size = le64(d + z64 + 40);
    cd_offset = le64(d + z64 + 48);
  }
  if (cd_offset > size || cd_size > size - cd_offset) {
    return HQ_ERROR(kParse,
                    "{}: central directory at {} (+{} bytes) lies outside the {}-byte file "
                    "(truncated?)",
                    what, cd_offset, cd_size, size);
  }
  size_t p = static_cast<size_t>(cd_offset);
  size_t end = p + static_cast<size_t>(cd_size);
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > end || le32(d + p) != kCentralHeader) {
      return HQ_ERROR(kParse, "{}: central directory entry {} of {} is malformed", what, i, count);
    }
    Entry e;
    uint16_t flags = le16(d + p + 8);
    e.method = le16(d + p + 10);
    e.crc = le32(d + p + 16);
    e.compressedSize = le32(d + p + 20);
    e.uncompressedSize = le32(d + p + 24);
    uint16_t name_len = le16(d + p + 28), extra_len = le16(d + p + 30),
             comment_len = le16(d + p + 32);
    e.localHeaderOffset = le32(d + p + 42);
    if (p + 46 + name_len + extra_len + comment_len > end) {
      return HQ_ERROR(kParse, "{}: central directory entry {} runs past the directory", what, i);
    }
    e.name.assign(reinterpret_cast<const char*>(d + p + 46), name_len);
    bool size_sat = e.uncompressedSize == 0xffffffffu, csize_sat = e.compressedSize == 0xffffffffu,
         off_sat = e.localHeaderOffset == 0xffffffffu;
    if (size_sat || csize_sat || off_sat) {
      HQ_RETURN_IF_ERROR(applyZip64Extra(d + p + 46 + name_len, extra_len, &e, size_sat, csize_sat,
                                         off_sat, what));
    }
    if (flags & 1) {
      return HQ_ERROR(kUnsupported, "{}: member '{}' is encrypted", what, e.name);
    }
    z.entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  return z;
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Expected<Bytes> ZipArchive::extract(const Entry& e, size_t in_memory_limit) const {
  std::string what = what_ + ":" + e.name;
  const uint8_t* d = bytes_.data;
  uint64_t lh = e.localHeaderOffset;
  if (lh + 30 > bytes_.size || le32(d + lh) != kLocalHeader) {
    return HQ_ERROR(kParse, "{}: no local header at offset {} (truncated or corrupted archive)",
                    what, lh);
  }
  uint64_t data_start = lh + 30 + le16(d + lh + 26) + le16(d + lh + 28);
  if (data_start > bytes_.size || e.compressedSize > bytes_.size - data_start) {
    return HQ_ERROR(kParse,
                    "{}: {} bytes of data at offset {} run past the end of the {}-byte "
                    "archive (truncated?)",
                    what, e.compressedSize, data_start, bytes_.size);
  }
  Bytes raw = bytes_.slice(static_cast<size_t>(data_start), static_cast<size_t>(e.compressedSize));
  if (e.method == 0) {
    if (e.compressedSize != e.uncompressedSize) {
      return HQ_ERROR(kParse, "{}: stored member has {} compressed but {} uncompressed bytes", what,
                      e.compressedSize, e.uncompressedSize);
    }
    uint32_t crc = crc32Of(raw.data, raw.size);
    if (crc != e.crc) {
      return HQ_ERROR(kParse,
                      "{}: CRC-32 mismatch (the data is corrupted): computed {:08x}, the "
                      "archive says {:08x}",
                      what, crc, e.crc);
    }
    return raw;
  }
  if (e.method == 8) return inflateRaw(raw, e.uncompressedSize, e.crc, what, in_memory_limit);
  return HQ_ERROR(kUnsupported,
                  "{}: compression method {} (only stored (0) and deflated (8) are "
                  "supported)",
                  what, e.method);
}

}  // namespace hq
