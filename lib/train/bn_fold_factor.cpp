#include "train/bn_fold_factor.h"

#include <algorithm>
#include <cmath>

#include "runtime/passes/fused_conv.h"  // kHqDomain

namespace hq::train {

namespace {

Shape unitShape(int64_t rank, int64_t axis, int64_t c) {
  Shape s(static_cast<size_t>(rank), 1);
  s[static_cast<size_t>(axis)] = c;
  return s;
}

class BnFoldFactorKernel : public PreparedKernel {
 public:
  std::string name() const override { return "train:bn_fold_factor"; }
  Status run(const KernelCall& call) override { return bnFoldFactorForward(call); }
};

}  // namespace

bool isBnFoldFactor(const Node& node) {
  return node.domain == passes::kHqDomain && node.opType == kBnFoldFactor;
}

Status bnFoldFactorForward(const KernelCall& call) {
  if (!call.has(0) || !call.has(1))
    return call.error(ErrorCode::kInvalidArgument, "needs gamma and var");
  const Tensor& gamma = call.in(0);
  const Tensor& var = call.in(1);
  const int64_t c = gamma.numel();
  if (gamma.dtype() != DType::kFloat32 || var.dtype() != DType::kFloat32 || var.numel() != c) {
    return call.error(ErrorCode::kShape,
                      "gamma and running_var must be float32 [C] of the same size, found "
                      "{} {} and {} {}",
                      dtypeName(gamma.dtype()), shapeString(gamma.shape()), dtypeName(var.dtype()),
                      shapeString(var.shape()));
  }
  const float eps = call.attrs().getFloat("epsilon", 1e-5f);
  for (size_t k = 0; k < 3; ++k) {
    if (call.hasOut(k) && call.out(k).numel() != c) {
      return call.error(ErrorCode::kShape, "output {} must have {} elements, found {}", k, c,
                        shapeString(call.out(k).shape()));
    }
  }
  const float* g = gamma.data<float>();
  const float* v = var.data<float>();
  for (int64_t i = 0; i < c; ++i) {
    const double inv = bnInvStd(v[i], eps);
    const float f = bnFoldFactorValue(g[i], v[i], eps);
    for (size_t k = 0; k < 2; ++k) {
      if (call.hasOut(k)) call.out(k).data<float>()[i] = f;
    }
    if (call.hasOut(2)) call.out(2).data<float>()[i] = static_cast<float>(inv);
  }
  return Status::ok();
}

Expected<std::unique_ptr<PreparedKernel>> makeBnFoldFactorKernel(
    const Node& node, const std::vector<ValueInfo>& inputs, std::vector<ValueInfo>& outputs) {
  if (inputs.size() != 2 || !inputs[0].hasShape || !inputs[1].hasShape ||
      inputs[0].shape.size() != 1 || inputs[1].shape != inputs[0].shape ||
      inputs[0].dtype != DType::kFloat32 || inputs[1].dtype != DType::kFloat32) {
    return HQ_ERROR(kShape, "{}: expected gamma and running_var float32 [C] of the same size",
                    node.describe());
  }
  const int64_t c = inputs[0].shape[0];
  const int64_t wr = node.attrs.getInt("weight_rank", 4);
  const int64_t orank = node.attrs.getInt("output_rank", 4);
  if (wr < 1 || orank < 2) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: weight_rank must be >= 1 and output_rank >= 2, found "
                    "{} and {}",
                    node.describe(), wr, orank);
  }
  if (node.outputs.size() != 3) {
    return HQ_ERROR(kInvalidArgument, "{}: expected 3 outputs, found {}", node.describe(),
                    node.outputs.size());
  }
  const Shape shapes[3] = {unitShape(wr, 0, c), unitShape(orank, 1, c), Shape{c}};
  outputs.assign(3, ValueInfo());
  for (size_t k = 0; k < 3; ++k) {
    outputs[k].dtype = DType::kFloat32;
    outputs[k].shape = shapes[k];
    outputs[k].hasShape = true;
  }
  return std::unique_ptr<PreparedKernel>(new BnFoldFactorKernel());
}

Status backwardBnFoldFactor(const BackwardCall& call) {
  if (call.wantsGrad(1)) {
    Tensor& gv = call.gradIn(1);
    std::fill(gv.data<float>(), gv.data<float>() + gv.numel(), 0.0f);
  }
  if (!call.wantsGrad(0)) return Status::ok();
  Tensor& gg = call.gradIn(0);
  const int64_t c = gg.numel();
  if (call.outputs.size() < 3 || !call.outputs[2] || call.out(2).numel() != c) {
    return call.error(ErrorCode::kInternal, "the forward's 1/sqrt(var + eps) output is missing");
  }
  const float* inv = call.out(2).data<float>();
  float* g = gg.data<float>();
  for (int64_t i = 0; i < c; ++i) {
    double sum = 0;
    for (size_t k = 0; k < 2; ++k) {
      if (call.hasGradOut(k)) sum += call.gradOut(k).data<float>()[i];
    }
    g[i] = static_cast<float>(sum * inv[i]);
  }
  return Status::ok();
}

}  // namespace hq::train
