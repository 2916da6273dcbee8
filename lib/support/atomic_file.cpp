#include "support/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace hq {

Expected<std::string> readFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return HQ_ERROR(kNotFound, "{}: no such file", path);
  }
  if (S_ISDIR(st.st_mode)) return HQ_ERROR(kIo, "{}: is a directory, expected a file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return HQ_ERROR(kIo, "{}: cannot open for reading: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return HQ_ERROR(kIo, "{}: read failed", path);
  return ss.str();
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

Status AtomicFile::open() {
  std::string pattern = path_ + ".tmp.XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) {
    return HQ_ERROR(kIo, "{}: cannot create output file: {}", path_, std::strerror(errno));
  }
  temp_ = buf.data();
  ::fchmod(fd_, 0644);
  return Status::ok();
}

Status AtomicFile::write(std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return HQ_ERROR(kIo, "{}: write failed: {}", path_, std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Status AtomicFile::commit() {
  if (fd_ < 0) return HQ_ERROR(kInternal, "{}: commit without open", path_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return HQ_ERROR(kIo, "{}: close failed: {}", path_, std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    return HQ_ERROR(kIo, "{}: cannot rename temp file into place: {}", path_,
                    std::strerror(errno));
  }
  committed_ = true;
  return Status::ok();
}

Status writeFileAtomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  HQ_RETURN_IF_ERROR(file.open());
  HQ_RETURN_IF_ERROR(file.write(bytes));
  return file.commit();
}

}  // namespace hq
