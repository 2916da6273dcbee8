// Load-time rewrites the executor applies to its own copy of a graph (after shapes are
// concrete and constants folded) before choosing kernels. Each pass is a match and a
// rewrite in its own file; they are listed once, in order, in passes.cpp.
// The user's Graph is never changed; referenceOnly executors run no passes.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"

namespace hq::passes {

/// What every pass needs besides the graph.
struct PassContext {
  /// Values that must keep their name and data (graph outputs, values the caller keeps).
  std::unordered_set<const Value*> protect;

  /// The only consumer of `v`, when there is exactly one and `v` is neither protected
  /// nor a graph output; nullptr otherwise.
  Node* soleConsumer(const Graph& g, const Value* v) const;
};

/// A pass rewrites the graph and returns how many matches it rewrote.
using PassFn = Expected<int> (*)(Graph& graph, const PassContext& ctx);

struct PassInfo {
  const char* name;
  PassFn fn;
};

/// Conv -> BatchNormalization (inference mode, constant parameters): BN folded into the
/// conv's weights and bias.
Expected<int> foldBatchNormIntoConv(Graph& graph, const PassContext& ctx);
/// Add(Conv(...), R) (same shapes): hq.FusedConv with residual R, accumulated as a
/// post-op sum.
Expected<int> fuseConvAdd(Graph& graph, const PassContext& ctx);
/// Conv / hq.FusedConv -> Relu | LeakyRelu | Clip (constant bounds): the activation
/// becomes the fused conv's post-op.
Expected<int> fuseConvActivation(Graph& graph, const PassContext& ctx);

/// The passes, in the order they run.
const std::vector<PassInfo>& inferencePasses();

/// Run every pass once, in order. `counts` (optional) gets "name" -> rewrites.
Status runInferencePasses(Graph& graph, const PassContext& ctx,
                          std::vector<std::pair<std::string, int>>* counts = nullptr);

}  // namespace hq::passes
