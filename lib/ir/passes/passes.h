// Graph passes: small named rewrites, each a match and a rewrite in its own file, listed once
// in passes.def. The importer runs them (ImportOptions::simplify) before shape inference.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq {

/// A pass: rewrites the graph in place and returns how many places it changed.
using PassFn = Expected<size_t> (*)(Graph&);

struct PassInfo {
  const char* name;     ///< "eliminate_identity"
  int optLevel;         ///< runs when the requested opt level is at least this
  const char* summary;  ///< one line for --help and logs
  PassFn run;
};

/// All passes, in passes.def order.
const std::vector<PassInfo>& allPasses();
/// The pass called `name`, or nullptr.
const PassInfo* findPass(const std::string& name);

/// Run one pass by name and verify the graph afterwards; returns the rewrite count.
Expected<size_t> runPass(const std::string& name, Graph& graph);

/// Run every pass with optLevel <= opt_level, in passes.def order, verifying the graph after
/// each. When `counts` is given it receives pass name -> rewrite count.
Status runImportPasses(Graph& graph, int opt_level = 1,
                       std::map<std::string, size_t>* counts = nullptr);

namespace passes {
#define HQ_PASS(Name, Level, Summary) Expected<size_t> Name(Graph& graph);
#include "ir/passes/passes.def"
#undef HQ_PASS
}  // namespace passes

}  // namespace hq
