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

}  // namespace hq
