#include "runtime/passes/fake_quant.h"

#include "runtime/kernels/quantize.h"
#include "runtime/passes/fused_conv.h"

namespace hq::passes {

bool isFakeQuant(const Node& node) { return node.domain == kHqDomain && node.opType == kFakeQuant; }

Status refFakeQuant(const KernelCall& call) {
  if (call.inputs.size() < 2 || !call.has(0) || !call.has(1) || !call.hasOut(0)) {
    return call.error(ErrorCode::kInvalidArgument, "expected inputs X, scale and output Y");
  }
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  if (x.dtype() != DType::kFloat32 || y.dtype() != DType::kFloat32 || x.shape() != y.shape()) {
    return call.error(
        ErrorCode::kShape, "expected float32 X and Y of one shape, got {} {} and {} {}",
        dtypeName(x.dtype()), shapeString(x.shape()), dtypeName(y.dtype()), shapeString(y.shape()));
  }
  const Tensor* zp = call.has(2) ? &call.in(2) : nullptr;
  DType qtype = zp ? zp->dtype() : DType::kUInt8;
  if (qtype != DType::kInt8 && qtype != DType::kUInt8) {
    return call.error(ErrorCode::kUnsupported, "zero point dtype {} is not supported",
                      dtypeName(qtype));
  }
  HQ_ASSIGN_OR_RETURN(kernels::QuantSpec spec,
                      kernels::quantSpecOf(call.node, x.shape(), call.in(1), zp, qtype));
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  kernels::forEachQuantRun(
      x.shape(), spec, [&](const kernels::QuantParams& p, int64_t first, int64_t count) {
        for (int64_t i = first; i < first + count; ++i) {
          yd[i] = kernels::dequantizeValue(kernels::quantizeValue(xd[i], p), p);
        }
      });
  return Status::ok();
}

namespace {
class ReferenceFakeQuant : public PreparedKernel {
 public:
  Status run(const KernelCall& call) override { return refFakeQuant(call); }
  std::string name() const override { return "reference"; }
};
}  // namespace

std::unique_ptr<PreparedKernel> makeReferenceFakeQuant() {
  return std::make_unique<ReferenceFakeQuant>();
}

}  // namespace hq::passes
