// Older opsets (7-12) whose op semantics differ from what hq's kernels implement are
// rewritten at import into the current form, so the rest of hq sees one meaning per op:
// - Softmax before opset 13: default axis 1, and the input is coerced to 2-D at `axis`
//   (softmax over all trailing dims) -> Flatten + Softmax(axis=-1) + Reshape(Shape(x)),
//   or just an explicit axis when it already is the last one.
#pragma once

#include "ir/graph.h"

namespace hq {

/// Rewrite legacy-semantics nodes of `graph` (graph.opsetVersion says which opset).
Status upgradeLegacyOps(Graph& graph);

/// Raise graph.opsetVersion to `target` (13..17) when it is lower, moving the attributes
/// that became inputs in opset 13 (Split 'split', Squeeze/Unsqueeze 'axes') into constant
/// inputs, so the exported model passes the checker at the new opset. Used by tools that
/// add opset-13 ops (per-axis QuantizeLinear) to older models.
Status upgradeOpsetTo(Graph& graph, int64_t target);

}  // namespace hq
