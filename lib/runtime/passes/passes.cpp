#include "runtime/passes/passes.h"

#include "runtime/passes/fake_quant.h"

namespace hq::passes {

Node* PassContext::soleConsumer(const Graph& g, const Value* v) const {
  if (!v || protect.count(v) || g.isGraphOutput(v)) return nullptr;
  std::vector<Node*> users = g.consumers(v);
  if (users.size() != 1) return nullptr;
  // A node reading the value twice (Add(x, x)) is not a single use.
  int uses = 0;
  for (const Value* in : users[0]->inputs) uses += in == v;
  return uses == 1 ? users[0] : nullptr;
}

const std::vector<PassInfo>& inferencePasses() {
  static const std::vector<PassInfo> list = {
      {"fold-batchnorm-into-conv", &foldBatchNormIntoConv},
      {"fuse-conv-add", &fuseConvAdd},
      {"fuse-conv-activation", &fuseConvActivation},
      // Q->DQ pairs (runtime/passes/fake_quant.h); independent of the conv fusions,
      // which never look through a DequantizeLinear or hq.FakeQuant.
      {"fuse-quantize-dequantize", &fuseQuantizeDequantize},
  };
  return list;
}

Status runInferencePasses(Graph& graph, const PassContext& ctx,
                          std::vector<std::pair<std::string, int>>* counts) {
  for (const PassInfo& p : inferencePasses()) {
    Expected<int> n = p.fn(graph, ctx);
    if (!n.isOk()) {
      Status s = n.takeStatus();
      return s.addContext(std::string("pass ") + p.name);
    }
    if (counts) counts->push_back({p.name, *n});
  }
  graph.removeDeadValues();
  return Status::ok();
}

}  // namespace hq::passes
