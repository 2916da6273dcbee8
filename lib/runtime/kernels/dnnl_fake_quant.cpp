// The fast kernel of the executor's hq.FakeQuant (runtime/passes/fake_quant.h): the
// vectorized loop of quantize.h over the input, in place when the executor lets output 0
// share input 0's buffer (e.g. right after the conv that produced it). Per-tensor
// parameters work in any layout, since every element is treated alike (and the zero
// padding of blocked layouts stays zero: fake-quant of 0 is 0), so a oneDNN blocked
// layout flows through to the next conv; per-axis parameters need the plain layout.
#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/quantize.h"
#include "runtime/passes/fake_quant.h"
#include "runtime/passes/fused_conv.h"

namespace hq::dnnl_rt {

using dnnl::memory;

namespace {

class DnnlFakeQuant : public DnnlKernel {
 public:
  DnnlFakeQuant(Shape shape, kernels::QuantSpec spec)
      : shape_(std::move(shape)), spec_(std::move(spec)) {}
  std::string name() const override { return "vector:fake-quant"; }
  bool acceptsBlocked(size_t input) const override { return input == 0 && !spec_.layout.perAxis; }
  int inPlaceInput() const override { return 0; }

 protected:
  void build(const std::vector<memory::desc>& in, const std::vector<bool>& blocked_ok) override {
    memory::desc x = in.empty() || !in[0].data.ndims ? plainDesc(shape_) : in[0];
    reorder_ = Reorder();
    elements_ = shapeNumel(shape_);
    if (isPlain(x)) {
      outDescs_ = {plainDesc(shape_)};
    } else if (!blocked_ok.empty() && blocked_ok[0]) {
      outDescs_ = {x};
      elements_ = static_cast<int64_t>(x.get_size() / sizeof(float));
    } else {
      reorder_ = Reorder(x, plainDesc(shape_));
      outDescs_ = {plainDesc(shape_)};
    }
  }

  void execute(const KernelCall& call) override {
    const float* x = static_cast<const float*>(call.in(0).raw());
    float* y = static_cast<float*>(call.out(0).raw());
    if (reorder_.valid()) {
      reorder_.run(x, y);
      x = y;
    }
    if (!spec_.layout.perAxis) {
      kernels::fakeQuantizeF32(x, y, elements_, spec_.channels[0]);
      return;
    }
    kernels::forEachQuantRun(shape_, spec_,
                             [&](const kernels::QuantParams& p, int64_t first, int64_t count) {
                               kernels::fakeQuantizeF32(x + first, y + first, count, p);
                             });
  }

 private:
  Shape shape_;
  kernels::QuantSpec spec_;
  Reorder reorder_;
  int64_t elements_ = 0;
};

}  // namespace

}  // namespace hq::dnnl_rt

namespace hq::passes {

std::unique_ptr<PreparedKernel> makeFastFakeQuant(const Node& node,
                                                  const std::vector<ValueInfo>& inputs,
                                                  const std::vector<ValueInfo>& outputs) {
  if (!isFakeQuant(node) || inputs.size() < 2 || outputs.empty()) return nullptr;
  const ValueInfo& x = inputs[0];
  if (!dnnl_rt::isF32(x) || !dnnl_rt::isF32(outputs[0]) || x.shape != outputs[0].shape) {
    return nullptr;
  }
  // Constant parameters only: they are read once here.
  if (!inputs[1].constant) return nullptr;
  const Tensor* zp = nullptr;
  if (inputs.size() > 2 && inputs[2].dtype != DType::kUndefined) {
    if (!inputs[2].constant) return nullptr;
    zp = inputs[2].constant;
  }
  DType qtype = zp ? zp->dtype() : DType::kUInt8;
  if (qtype != DType::kInt8 && qtype != DType::kUInt8) return nullptr;
  auto spec = kernels::quantSpecOf(node, x.shape, *inputs[1].constant, zp, qtype);
  if (!spec.isOk()) return nullptr;  // the reference kernel reports the error
  return std::make_unique<dnnl_rt::DnnlFakeQuant>(x.shape, std::move(spec).value());
}

}  // namespace hq::passes
