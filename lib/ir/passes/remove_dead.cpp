// remove_dead: drop nodes whose outputs nobody uses (repeatedly), then values that nothing
// produces, reads or lists (unused initializers included). Graph inputs and outputs stay.
#include "ir/passes/passes.h"

namespace hq::passes {

Expected<size_t> remove_dead(Graph& graph) {
  size_t before = graph.nodeCount() + graph.values().size();
  graph.removeDeadNodes();  // also removes dead values
  return before - (graph.nodeCount() + graph.values().size());
}

}  // namespace hq::passes
