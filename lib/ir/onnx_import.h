// ONNX -> Graph. Reads a ModelProto (opset 11-17 as PyTorch exports it) into the IR:
// initializers and Constant nodes become constants, value infos give dtypes and shapes
// (dynamic dims stay -1 with their dim_param names), metadata is kept.
// Rejected with a message naming the node/op/attribute: external data, unknown ops,
// unsupported attributes, graph attributes (If/Loop), malformed protobuf.
#pragma once

#include <memory>
#include <string>

#include "ir/graph.h"

namespace hq {

struct ImportOptions {
  /// Run the inference simplifications (ir/passes: Identity/Dropout removal, training-mode
  /// BatchNormalization to inference, shape chains rewritten) and shape inference.
  bool simplify = true;
};

Expected<std::unique_ptr<Graph>> importOnnxFile(const std::string& path,
                                                const ImportOptions& options = {});
/// `what` names the source in messages (usually the file path).
Expected<std::unique_ptr<Graph>> importOnnxBytes(const std::string& bytes, const std::string& what,
                                                 const ImportOptions& options = {});

}  // namespace hq
