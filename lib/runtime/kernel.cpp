#include "runtime/kernel.h"

#include <map>

#include "runtime/kernels/fast_kernels.h"
#include "runtime/kernels/reference_kernels.h"

namespace hq {

ReferenceKernel findReferenceKernel(const std::string& op_type, const std::string& domain) {
  static const std::map<std::string, ReferenceKernel> table = {
#define HQ_OP(Name, Attrs) {#Name, &kernels::ref##Name},
#include "ir/ops.def"
#undef HQ_OP
  };
  static const std::map<std::string, ReferenceKernel> int_table = {
#define HQ_INT_OP(Name, Attrs) {#Name, &kernels::ref##Name},
#include "ir/int_ops.def"
#undef HQ_INT_OP
  };
  const auto& t = domain.empty() || domain == "ai.onnx" ? table : int_table;
  if (!domain.empty() && domain != "ai.onnx" && domain != kIntDomain) return nullptr;
  auto it = t.find(op_type);
  return it == t.end() ? nullptr : it->second;
}

namespace {
class ReferencePrepared : public PreparedKernel {
 public:
  explicit ReferencePrepared(ReferenceKernel fn) : fn_(fn) {}
  Status run(const KernelCall& call) override { return fn_(call); }
  std::string name() const override { return "reference"; }

 private:
  ReferenceKernel fn_;
};
}  // namespace

Expected<std::unique_ptr<PreparedKernel>> prepareKernel(const Node& node,
                                                        const std::vector<ValueInfo>& inputs,
                                                        const std::vector<ValueInfo>& outputs,
                                                        const KernelOptions& options) {
  if (!options.referenceOnly) {
    for (const auto& entry : kernels::fastKernels()) {
      if (node.opType != entry.opType || node.domain != entry.domain) continue;
      if (auto k = entry.factory(node, inputs, outputs)) return k;
    }
  }
  ReferenceKernel fn = findReferenceKernel(node.opType, node.domain);
  if (!fn) {
    return HQ_ERROR(kUnsupported, "node {}: no kernel for operator '{}'", node.describe(), node.opType);
  }
  return std::unique_ptr<PreparedKernel>(new ReferencePrepared(fn));
}

Expected<std::vector<Tensor>> runReference(const Node& node,
                                           const std::vector<const Tensor*>& inputs) {
  ReferenceKernel fn = findReferenceKernel(node.opType, node.domain);
  if (!fn) {
    return HQ_ERROR(kUnsupported, "node {}: no kernel for operator '{}'", node.describe(), node.opType);
  }
  std::vector<ValueInfo> infos;
  for (const Tensor* t : inputs) {
    ValueInfo vi;
    if (t) {
      vi.dtype = t->dtype();
      vi.shape = t->shape();
      vi.hasShape = true;
      vi.constant = t;
    }
    infos.push_back(vi);
  }
  HQ_ASSIGN_OR_RETURN(auto outs, inferNode(node, infos));
  std::vector<Tensor> results(outs.size());
  KernelCall call{node, inputs, {}};
  for (size_t i = 0; i < outs.size(); ++i) {
    if (outs[i].dtype == DType::kUndefined || !node.outputs[i]) {
      call.outputs.push_back(nullptr);
      continue;
    }
    if (!outs[i].hasShape || shapeNumel(outs[i].shape) < 0) {
      return HQ_ERROR(kShape, "node {}: output {} shape is not known", node.describe(), i);
    }
    results[i] = Tensor(outs[i].dtype, outs[i].shape);
    call.outputs.push_back(&results[i]);
  }
  HQ_RETURN_IF_ERROR(fn(call));
  return results;
}

}  // namespace hq
