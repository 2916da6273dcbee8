// SHA-256 (FIPS 180-4), for the lineage of artifacts: every output records the digest of
// each input (model, qconfig, dataset spec) so a Makefile or CI job can tell what is stale.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "support/status.h"

namespace hq {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  /// Lower-case hex of digest().
  std::string hexDigest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t bufLen_ = 0;
  uint64_t totalBytes_ = 0;
};

/// Hex SHA-256 of a string.
std::string sha256Hex(std::string_view data);
/// Hex SHA-256 of a file's bytes (streamed).
Expected<std::string> sha256File(const std::string& path);

}  // namespace hq
