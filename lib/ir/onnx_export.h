// Graph -> ONNX. The model passes onnx::checker; names, initializers, metadata and the
// opset are preserved, so import -> export -> import is lossless.
#pragma once

#include <string>

#include "ir/graph.h"

namespace hq {

/// Serialized ModelProto. Deterministic: same graph, same bytes.
Expected<std::string> exportOnnxBytes(const Graph& graph);
/// Export, run onnx::checker, and write atomically.
Status exportOnnxFile(const Graph& graph, const std::string& path);
/// Run onnx::checker on serialized bytes; the error says what the checker found.
Status checkOnnxBytes(const std::string& bytes, const std::string& what);

}  // namespace hq
