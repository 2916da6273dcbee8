// hq-check: does an integer model run on a march, within its limits? Every offending node is
// reported as a Diagnostic (node, op, rule id, expected vs found, a concrete suggestion),
// never a bare bool. The rules are one table in check.cpp, driven by the march's op limits
// (compiler/march.h). hq-compile refuses what checkModel refuses, with the same messages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/march.h"
#include "ir/graph.h"
#include "support/json.h"
#include "support/status.h"

namespace hq {

/// One broken rule at one node.
struct Diagnostic {
  std::string node;        ///< node name
  std::string op;          ///< op type ("QConv", "QuantizeLinear", ...)
  std::string rule;        ///< rule id, "<family>.<check>", e.g. "conv.kernel", "op.unsupported"
  std::string message;     ///< what the march expects and what the node has
  std::string suggestion;  ///< a concrete change to the model that would satisfy the rule
};

/// What the model asks of the march, for one frame (batch 1).
struct CheckSummary {
  std::map<std::string, int64_t> opCounts;  ///< nodes per op type, sorted
  int64_t nodes = 0;
  int64_t parameters = 0;    ///< elements of the constant inputs of ai.hq nodes (weights, biases)
  int64_t macsPerFrame = 0;  ///< multiply-accumulates of QConv/QConvTranspose/QGemm, one image
};

struct CheckReport {
  std::string march;
  bool supported = true;                ///< no diagnostics
  std::vector<Diagnostic> diagnostics;  ///< every broken rule, nodes in topological order
  CheckSummary summary;

  /// Deterministic JSON: {"march", "supported", "summary": {...}, "diagnostics": [...]}.
  OrderedJson toJson() const;
};

/// True when the graph holds ai.hq nodes (an integer model), false for float/QDQ models.
bool isIntegerModel(const Graph& graph);

/// Check every node of an integer model (schemas/int-ops.md) against the march's op table.
/// Errors only for a graph the checker cannot read (e.g. a missing weight); broken limits
/// are diagnostics in the report.
Expected<CheckReport> checkModel(const Graph& int_model, const March& march);

}  // namespace hq
