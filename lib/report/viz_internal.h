// Helpers shared by the DOT writers of viz_onnx.cpp and viz_hbm.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/viz.h"

namespace hq::viz {

/// A DOT double-quoted string body: `"` and `\` escaped, newlines as "\n" (centered lines).
std::string quote(const std::string& text);
/// Names longer than 28 characters keep their start and end around "...".
std::string shortName(const std::string& name);
/// "1x16x28x28"; "?" for unknown dims, "scalar" for rank 0.
std::string dimsString(const std::vector<int64_t>& dims);
/// Compact numbers: 1234567 -> "1.23M", 2048 -> "2.05k".
std::string compactCount(double n);
/// Bytes: "512 B", "12.3 KB", "1.34 MB" (decimal units).
std::string compactBytes(double bytes);
/// A float with 4 significant digits ("0.02362").
std::string shortFloat(double v);
/// "TB" or "LR" for a drawing of `nodes` boxes.
const char* rankDirFor(const VizOptions& options, int64_t nodes);
/// Graph-wide attribute lines (fonts, spacing, rankdir) after "digraph model {".
std::string graphHeader(const std::string& title, const char* rankdir);

}  // namespace hq::viz
