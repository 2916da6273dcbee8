#include "ir/passes/passes.h"

namespace hq {

const std::vector<PassInfo>& allPasses() {
  static const std::vector<PassInfo> list = {
#define HQ_PASS(Name, Level, Summary) PassInfo{#Name, Level, Summary, &passes::Name},
#include "ir/passes/passes.def"
#undef HQ_PASS
  };
  return list;
}

const PassInfo* findPass(const std::string& name) {
  for (const PassInfo& p : allPasses()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

namespace {
Expected<size_t> runOne(const PassInfo& pass, Graph& graph) {
  Expected<size_t> n = pass.run(graph);
  if (!n.isOk()) return n;
  Status s = graph.verify();
  if (!s.isOk()) {
    return HQ_ERROR(kInternal, "pass {} left an inconsistent graph: {}", pass.name, s.message());
  }
  return n;
}
}  // namespace

Expected<size_t> runPass(const std::string& name, Graph& graph) {
  const PassInfo* p = findPass(name);
  if (!p) return HQ_ERROR(kInvalidArgument, "no graph pass is called '{}'", name);
  return runOne(*p, graph);
}

Status runImportPasses(Graph& graph, int opt_level, std::map<std::string, size_t>* counts) {
  for (const PassInfo& p : allPasses()) {
    if (p.optLevel > opt_level) continue;
    HQ_ASSIGN_OR_RETURN(size_t n, runOne(p, graph));
    if (counts) (*counts)[p.name] = n;
  }
  return Status::ok();
}

}  // namespace hq
