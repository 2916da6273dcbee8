#include "runtime/passes/fused_conv.h"

#include "runtime/kernels/reference_kernels.h"

namespace hq::passes {

bool isFusedConv(const Node& node) {
  return node.domain == kHqDomain && node.opType == kFusedConv;
}

FusedActivation fusedActivationOf(const Node& node) {
  FusedActivation a;
  a.kind = node.attrs.getString("activation", "");
  a.alpha = node.attrs.getFloat("activation_alpha", 0.0f);
  a.beta = node.attrs.getFloat("activation_beta", 0.0f);
  return a;
}

Status refFusedConv(const KernelCall& call) {
  if (call.inputs.size() < 2 || !call.has(0) || !call.has(1) || !call.hasOut(0)) {
    return call.error(ErrorCode::kInvalidArgument, "expected inputs X, W and output Y");
  }
  // A plain Conv node with the same Conv attributes runs the reference kernel.
  Node conv;
  conv.name = call.node.name;
  conv.opType = "Conv";
  for (const auto& [name, attr] : call.node.attrs.all()) {
    if (name.rfind("activation", 0) != 0) conv.attrs.set(name, attr);
  }
  KernelCall conv_call{conv, {call.inputs[0], call.inputs[1]}, {call.outputs[0]}};
  if (call.has(2)) conv_call.inputs.push_back(call.inputs[2]);
  HQ_RETURN_IF_ERROR(kernels::refConv(conv_call));

  Tensor& y = call.out(0);
  float* yd = y.data<float>();
  int64_t n = y.numel();
  if (call.has(3)) {
    const Tensor& r = call.in(3);
    if (r.shape() != y.shape()) {
      return call.error(ErrorCode::kShape, "residual shape {} differs from output shape {}",
                        shapeString(r.shape()), shapeString(y.shape()));
    }
    const float* rd = r.data<float>();
    for (int64_t i = 0; i < n; ++i) yd[i] += rd[i];
  }
  FusedActivation act = fusedActivationOf(call.node);
  if (!act.kind.empty()) {
    for (int64_t i = 0; i < n; ++i) yd[i] = act.apply(yd[i]);
  }
  return Status::ok();
}

namespace {
class ReferenceFusedConv : public PreparedKernel {
 public:
  Status run(const KernelCall& call) override { return refFusedConv(call); }
  std::string name() const override { return "reference"; }
};
}  // namespace

std::unique_ptr<PreparedKernel> makeReferenceFusedConv() {
  return std::make_unique<ReferenceFusedConv>();
}

}  // namespace hq::passes
