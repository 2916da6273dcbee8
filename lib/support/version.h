// hq's version, recorded in every artifact's metadata (lineage).
#pragma once

namespace hq {
inline constexpr const char* kHqVersion = "0.1.0";
}  // namespace hq
