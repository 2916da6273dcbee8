#include "data/bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace hq {

Bytes Bytes::slice(size_t offset, size_t length) const {
  Bytes b;
  b.owner = owner;
  b.data = data + offset;
  b.size = length;
  return b;
}

namespace {

// Map `size` bytes of an open file; the mapping outlives the descriptor.
Expected<Bytes> mapDescriptor(int fd, size_t size, const std::string& what) {
  Bytes b;
  if (size == 0) {
    static const uint8_t kEmpty = 0;
    b.data = &kEmpty;
    return b;
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED)
    return HQ_ERROR(kIo, "{}: cannot map {} bytes: {}", what, size, std::strerror(errno));
  b.owner = std::shared_ptr<const void>(
      p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  b.data = static_cast<const uint8_t*>(p);
  b.size = size;
  return b;
}

// Collects decompressed output: in memory up to a limit, then in an unlinked temp file.
class SpillBuffer {
 public:
  SpillBuffer(size_t in_memory_limit, size_t size_hint, std::string what)
      : limit_(in_memory_limit), what_(std::move(what)) {
    if (size_hint > limit_) {
      spill_requested_ = true;
    } else {
      mem_.reserve(size_hint);
    }
  }
  ~SpillBuffer() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status append(const uint8_t* p, size_t n) {
    total_ += n;
    if (fd_ < 0 && !spill_requested_ && mem_.size() + n <= limit_) {
      mem_.append(reinterpret_cast<const char*>(p), n);
      return Status::ok();
    }
    if (fd_ < 0) {
      HQ_RETURN_IF_ERROR(openTemp());
      HQ_RETURN_IF_ERROR(writeAll(reinterpret_cast<const uint8_t*>(mem_.data()), mem_.size()));
      std::string().swap(mem_);
    }
    return writeAll(p, n);
  }

  size_t total() const { return total_; }

  Expected<Bytes> finish() {
    if (fd_ < 0) return bytesFromString(std::move(mem_));
    auto mapped = mapDescriptor(fd_, total_, what_ + " (decompressed temp file)");
    ::close(fd_);
    fd_ = -1;
    return mapped;
  }

 private:
  Status openTemp() {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/hq-data-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) {
      return HQ_ERROR(kIo, "{}: cannot create a temp file {} for decompressed data: {}", what_,
                      pattern, std::strerror(errno));
    }
    ::unlink(name.data());  // gone from the file system; lives while mapped
    return Status::ok();
  }
  Status writeAll(const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        return HQ_ERROR(kIo, "{}: cannot write decompressed data to a temp file: {}", what_,
                        std::strerror(errno));
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::ok();
  }

  size_t limit_;
  std::string what_;
  bool spill_requested_ = false;
  std::string mem_;
  int fd_ = -1;
  size_t total_ = 0;
};

constexpr size_t kOutChunk = size_t{1} << 20;
constexpr size_t kInChunk = size_t{1} << 30;  // z_stream counts are 32-bit

std::string zlibProblem(int rc, const z_stream& zs) {
  std::string msg = zs.msg ? zs.msg : "";
  if (msg == "incorrect data check") return "CRC-32 mismatch (the data is corrupted)";
  if (msg == "incorrect length check") return "length check mismatch (the data is corrupted)";
  if (msg == "incorrect header check") return "not a valid gzip header";
  if (!msg.empty()) return "corrupted compressed data (" + msg + ")";
  return "corrupted compressed data (zlib error " + std::to_string(rc) + ")";
}

// Runs inflate over all of `in`; `window_bits` selects gzip (16+15) or raw deflate (-15).
// For gzip, further members are decoded after the first one ends.
Status inflateAll(const Bytes& in, int window_bits, const std::string& what, SpillBuffer* out) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) {
    return HQ_ERROR(kInternal, "{}: zlib inflateInit2 failed", what);
  }
  std::vector<uint8_t> buf(kOutChunk);
  size_t consumed = 0;
  Status status;
  bool ended = false;
  while (true) {
    if (zs.avail_in == 0 && consumed < in.size) {
      size_t n = std::min(kInChunk, in.size - consumed);
      zs.next_in = const_cast<Bytef*>(in.data + consumed);
      zs.avail_in = static_cast<uInt>(n);
      consumed += n;
    }
    zs.next_out = buf.data();
    zs.avail_out = static_cast<uInt>(buf.size());
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = buf.size() - zs.avail_out;
    if (produced) {
      status = out->append(buf.data(), produced);
      if (!status.isOk()) break;
    }
    if (rc == Z_STREAM_END) {
      size_t rest = zs.avail_in + (in.size - consumed);
      const uint8_t* next = zs.next_in;
      if (window_bits > 0 && rest >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
        inflateReset(&zs);  // another gzip member follows
        continue;
      }
      if (rest != 0) {
        status = HQ_ERROR(kParse, "{}: {} bytes of trailing garbage after the compressed data",
                          what, rest);
      }
      ended = true;
      break;
    }
    bool input_left = zs.avail_in > 0 || consumed < in.size;
    if (rc == Z_BUF_ERROR) {
      if (zs.avail_in == 0 && input_left) continue;
      if (!input_left) break;  // truncated
      status = HQ_ERROR(kParse, "{}: {} after {} decompressed bytes", what, zlibProblem(rc, zs),
                        out->total());
      break;
    }
    if (rc != Z_OK) {
      status = HQ_ERROR(kParse, "{}: {} after {} decompressed bytes", what, zlibProblem(rc, zs),
                        out->total());
      break;
    }
    if (!input_left && produced < buf.size()) break;  // all input used, stream not ended
  }
  inflateEnd(&zs);
  HQ_RETURN_IF_ERROR(status);
  if (!ended) {
    return HQ_ERROR(kParse,
                    "{}: truncated: the compressed stream ends early, after {} "
                    "compressed and {} decompressed bytes",
                    what, in.size, out->total());
  }
  return Status::ok();
}

}  // namespace

Expected<Bytes> mapFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return HQ_ERROR(kNotFound, "{}: no such file", path);
  if (S_ISDIR(st.st_mode)) return HQ_ERROR(kIo, "{}: is a directory, expected a file", path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return HQ_ERROR(kIo, "{}: cannot open for reading: {}", path, std::strerror(errno));
  auto mapped = mapDescriptor(fd, static_cast<size_t>(st.st_size), path);
  ::close(fd);
  return mapped;
}

Bytes bytesFromString(std::string bytes) {
  auto holder = std::make_shared<std::string>(std::move(bytes));
  Bytes b;
  b.data = reinterpret_cast<const uint8_t*>(holder->data());
  b.size = holder->size();
  b.owner = std::shared_ptr<const void>(holder, holder.get());
  return b;
}

bool isGzip(const Bytes& bytes) {
  return bytes.size >= 2 && bytes.data[0] == 0x1f && bytes.data[1] == 0x8b;
}

Expected<Bytes> gunzip(const Bytes& gz, const std::string& what, size_t in_memory_limit) {
  if (gz.size < 18 || !isGzip(gz)) {
    return HQ_ERROR(kParse,
                    "{}: not a gzip file (expected the 1f 8b magic and at least 18 bytes, "
                    "found {} bytes)",
                    what, gz.size);
  }
  // ISIZE (last 4 bytes, little-endian) is the size mod 2^32: a hint for memory vs temp file.
  const uint8_t* t = gz.data + gz.size - 4;
  size_t hint = static_cast<size_t>(t[0]) | static_cast<size_t>(t[1]) << 8 |
                static_cast<size_t>(t[2]) << 16 | static_cast<size_t>(t[3]) << 24;
  SpillBuffer out(in_memory_limit, hint, what);
  HQ_RETURN_IF_ERROR(inflateAll(gz, 16 + MAX_WBITS, what, &out));
  return out.finish();
}

Expected<Bytes> inflateRaw(const Bytes& deflated, uint64_t expected_size, uint32_t expected_crc,
                           const std::string& what, size_t in_memory_limit) {
  SpillBuffer out(in_memory_limit, static_cast<size_t>(expected_size), what);
  HQ_RETURN_IF_ERROR(inflateAll(deflated, -MAX_WBITS, what, &out));
  if (out.total() != expected_size) {
    return HQ_ERROR(kParse, "{}: decompressed to {} bytes, the archive says {}", what, out.total(),
                    expected_size);
  }
  HQ_ASSIGN_OR_RETURN(Bytes b, out.finish());
  uint32_t crc = crc32Of(b.data, b.size);
  if (crc != expected_crc) {
    return HQ_ERROR(kParse,
                    "{}: CRC-32 mismatch (the data is corrupted): computed {:08x}, the "
                    "archive says {:08x}",
                    what, crc, expected_crc);
  }
  return b;
}

Expected<Bytes> mapMaybeGzip(const std::string& path, size_t in_memory_limit) {
  HQ_ASSIGN_OR_RETURN(Bytes raw, mapFile(path));
  if (!isGzip(raw)) return raw;
  return gunzip(raw, path, in_memory_limit);
}

uint32_t crc32Of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    size_t n = std::min(size, kInChunk);
    crc = crc32(crc, data, static_cast<uInt>(n));
    data += n;
    size -= n;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace hq
