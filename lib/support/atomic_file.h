// Outputs are written to a temporary file beside the target and renamed into place,
// so a failed or interrupted run never leaves half a file.
#pragma once

#include <string>
#include <string_view>

#include "support/status.h"

namespace hq {

/// Write `bytes` to `path` atomically (temp file in the same folder, then rename).
Status writeFileAtomic(const std::string& path, std::string_view bytes);

/// Read a whole file. NotFound when missing, Io when unreadable.
Expected<std::string> readFile(const std::string& path);

/// A temp file that becomes `path` on commit() and is removed otherwise.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Create the temp file; its name is tempPath().
  Status open();
  const std::string& tempPath() const { return temp_; }
  Status write(std::string_view bytes);
  /// Flush, close and rename over the target.
  Status commit();

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace hq
