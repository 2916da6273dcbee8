// ONNX -> Graph. Reads a ModelProto (IR version 3-8, default-domain opset 11-17, as PyTorch
// exports it) into the IR: initializers and Constant nodes become constants, value infos
// give dtypes and shapes (dynamic dims stay -1 with their dim_param names), unnamed nodes
// get deterministic names ("Conv_3": op type and position in the file), metadata is kept.
// Rejected with a message naming the file and the node/op/attribute: external data, unknown
// ops, unsupported attributes, graph attributes (If/Loop), sparse initializers, unsupported
// dtypes, dangling inputs, IR version or opset out of range, malformed protobuf.
#pragma once

#include <memory>
#include <string>

#include "ir/graph.h"

namespace hq {

/// Oldest and newest versions the importer accepts. Old opsets load when their nodes mean
/// what hq implements: the ops of ops.def accept their older attribute forms (Clip min/max,
/// Slice/Split/Squeeze attributes, Upsample, two-input Resize), attributes of very old
/// opsets (broadcast, consumed_inputs, is_test) are rejected by name, and
/// ir/legacy_opsets.h rewrites the ops whose meaning changed (Softmax before 13).
constexpr int64_t kOnnxMinIrVersion = 3;
constexpr int64_t kOnnxMaxIrVersion = 8;
constexpr int64_t kOnnxMinOpset = 1;
constexpr int64_t kOnnxMaxOpset = 17;

struct ImportOptions {
  /// Run the inference simplifications (ir/passes/passes.def: Identity/Dropout removal,
  /// training-mode BatchNormalization to inference, shape chains rewritten, dead code
  /// removed) and then shape inference, so every value has a dtype and shape. With false,
  /// the graph is exactly what the file says (plus Constant nodes turned into constants).
  bool simplify = true;
  /// Highest pass opt level to run when simplify is on (see passes.def).
  int optLevel = 1;
};

Expected<std::unique_ptr<Graph>> importOnnxFile(const std::string& path,
                                                const ImportOptions& options = {});
/// `what` names the source in messages (usually the file path).
Expected<std::unique_ptr<Graph>> importOnnxBytes(const std::string& bytes, const std::string& what,
                                                 const ImportOptions& options = {});

}  // namespace hq
