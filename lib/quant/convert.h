// hq-convert: a QDQ model (hq-calib, hq-qat) -> the integer model of schemas/int-ops.md.
//
// The QDQ model is read back into a float graph without its Q/DQ pairs plus the
// quantization parameters of every point (qdq_reader.cpp); BatchNormalization still present
// after a Conv is folded into the int8 weights; the rule table (quant/rules.h) finds the
// same fused units hq-calib found; then every unit and op becomes its ai.hq node with the
// integer parameters computed by lib/support/fixed_point.h (convert_ops.cpp). Structures
// with no integer form (a float op between quantization points, a missing scale, a
// non-constant weight, Gemm transA...) are rejected naming the node and why.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq {

struct ConvertOptions {
  /// Lineage recorded in the model's metadata "hq.lineage".
  std::string toolName = "hq-convert";
  std::string commandLine;
  std::map<std::string, std::string> inputDigests;  ///< "model" -> sha256 of the QDQ file
  /// Run shape inference on the result and check it against the shapes the converter
  /// set (on by default; the result is also checked with Graph::verify()).
  bool inferShapes = true;
};

struct ConvertResult {
  std::unique_ptr<Graph> model;  ///< the integer model
  /// Nodes of the integer model per op type ("ai.hq.QConv", "QuantizeLinear", ...), sorted.
  std::map<std::string, int64_t> nodesPerOp;
  /// Source nodes converted (float ops of the QDQ model, Q/DQ pairs not counted).
  int64_t sourceNodes = 0;
  int64_t fusedUnits = 0;
  /// Non-fatal findings, one line each, naming the node (e.g. a saturated bias channel).
  std::vector<std::string> warnings;
};

/// Convert a QDQ model to an integer model (schemas/int-ops.md section 8). Deterministic:
/// the same graph gives the same model bytes. Errors name the node and say why.
Expected<ConvertResult> convertModel(const Graph& qdq, const ConvertOptions& options = {});

/// convertModel without the report.
Expected<std::unique_ptr<Graph>> convertToInteger(const Graph& qdq,
                                                  const ConvertOptions& options = {});

/// The float model a QDQ model came from, per its lineage ("hq.lineage": the first
/// argument of the recorded command, with its SHA-256 in inputs.model): the path, tried
/// relative to the current directory and to `qdq_dir`, when that file exists and its
/// digest matches; "" otherwise.
std::string floatModelFromLineage(const Graph& qdq, const std::string& qdq_dir);

}  // namespace hq
