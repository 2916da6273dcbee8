// oneDNN f32 element-wise kernels: activations (eltwise) and broadcasting binary ops.
// Same-shape operands work in any layout; broadcasting ones only in the plain layout.
#include <cfloat>

#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/dnnl_kernels.h"

namespace hq::dnnl_rt {

using dnnl::memory;

namespace {

// Runs `prim` writing its output of layout `out` either straight into the call's output
// or, when the output must be plain and `out` is not, into a scratch then reordered.
class PlainOutput {
 public:
  memory::desc setup(const memory::desc& out, const Shape& shape, bool blocked_ok) {
    reorder_ = Reorder();
    if (!blocked_ok && !isPlain(out)) {
      reorder_ = Reorder(out, plainDesc(shape));
      scratch_.allocate(out.get_size());
      return plainDesc(shape);
    }
    return out;
  }
  void* target(Tensor& t) { return reorder_.valid() ? scratch_.get() : t.raw(); }
  void finish(Tensor& t) {
    if (reorder_.valid()) reorder_.run(scratch_.get(), t.raw());
  }

 private:
  Reorder reorder_;
  AlignedBuffer scratch_;
};

class DnnlEltwise : public DnnlKernel {
 public:
  DnnlEltwise(dnnl::algorithm alg, float alpha, float beta, Shape shape)
      : alg_(alg), alpha_(alpha), beta_(beta), shape_(std::move(shape)) {}
  std::string name() const override { return "dnnl:eltwise"; }
  bool acceptsBlocked(size_t input) const override { return input == 0; }

 protected:
  void build(const std::vector<memory::desc>& in, const std::vector<bool>& blocked_ok) override {
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, alg_, in[0], alpha_,
                                     beta_);
    dnnl::eltwise_forward::primitive_desc pd(desc, cpuEngine());
    prim_ = dnnl::eltwise_forward(pd);
    srcMem_ = memory(pd.src_desc(), cpuEngine(), DNNL_MEMORY_NONE);
    dstMem_ = memory(pd.dst_desc(), cpuEngine(), DNNL_MEMORY_NONE);
    outDescs_ = {out_.setup(pd.dst_desc(), shape_, blocked_ok.empty() || blocked_ok[0])};
  }
  void execute(const KernelCall& call) override {
    srcMem_.set_data_handle(const_cast<void*>(call.in(0).raw()));
    dstMem_.set_data_handle(out_.target(call.out(0)));
    prim_.execute(cpuStream(), {{DNNL_ARG_SRC, srcMem_}, {DNNL_ARG_DST, dstMem_}});
    out_.finish(call.out(0));
  }

 private:
  dnnl::algorithm alg_;
  float alpha_, beta_;
  Shape shape_;
  dnnl::eltwise_forward prim_;
  memory srcMem_, dstMem_;
  PlainOutput out_;
};

class DnnlBinary : public DnnlKernel {
 public:
  DnnlBinary(dnnl::algorithm alg, Shape a, Shape b, bool broadcast)
      : alg_(alg), a_(std::move(a)), b_(std::move(b)), broadcast_(broadcast) {}
  std::string name() const override { return "dnnl:binary"; }
  bool acceptsBlocked(size_t input) const override { return !broadcast_ && input < 2; }

 protected:
  void build(const std::vector<memory::desc>& in, const std::vector<bool>& blocked_ok) override {
    memory::desc src0 = in[0];
    // Input 1 with leading 1s to input 0's rank (plain layout, so a reshape).
    Shape b = b_;
    while (b.size() < a_.size()) b.insert(b.begin(), 1);
    memory::desc src1 = broadcast_ ? plainDesc(b) : in[1];
    dnnl::binary::desc desc(alg_, src0, src1, src0);
    dnnl::binary::primitive_desc pd(desc, cpuEngine());
    prim_ = dnnl::binary(pd);
    src0Mem_ = memory(src0, cpuEngine(), DNNL_MEMORY_NONE);
    src1Mem_ = memory(src1, cpuEngine(), DNNL_MEMORY_NONE);
    dstMem_ = memory(pd.dst_desc(), cpuEngine(), DNNL_MEMORY_NONE);
    outDescs_ = {out_.setup(pd.dst_desc(), a_, blocked_ok.empty() || blocked_ok[0])};
  }
  void execute(const KernelCall& call) override {
    src0Mem_.set_data_handle(const_cast<void*>(call.in(0).raw()));
    src1Mem_.set_data_handle(const_cast<void*>(call.in(1).raw()));
    dstMem_.set_data_handle(out_.target(call.out(0)));
    prim_.execute(cpuStream(),
                  {{DNNL_ARG_SRC_0, src0Mem_}, {DNNL_ARG_SRC_1, src1Mem_}, {DNNL_ARG_DST, dstMem_}});
    out_.finish(call.out(0));
  }

 private:
  dnnl::algorithm alg_;
  Shape a_, b_;
  bool broadcast_;
  dnnl::binary prim_;
  memory src0Mem_, src1Mem_, dstMem_;
  PlainOutput out_;
};

// A constant scalar bound of Clip (input i), or `def` when absent; false if not constant.
bool clipBound(const std::vector<ValueInfo>& inputs, size_t i, float def, float& out) {
  out = def;
  if (i >= inputs.size() || inputs[i].dtype == DType::kUndefined) return true;
  if (!inputs[i].constant || inputs[i].constant->numel() != 1) return false;
  out = static_cast<float>(inputs[i].constant->toDouble()[0]);
  return true;
}

}  // namespace

std::unique_ptr<PreparedKernel> makeEltwise(const Node& node, const std::vector<ValueInfo>& inputs,
                                            const std::vector<ValueInfo>& outputs) {
  if (!node.domain.empty() || inputs.empty() || outputs.size() != 1) return nullptr;
  if (!isF32(inputs[0]) || !isF32(outputs[0]) || inputs[0].shape != outputs[0].shape) {
    return nullptr;
  }
  dnnl::algorithm alg;
  float alpha = 0, beta = 0;
  const std::string& op = node.opType;
  if (op == "Relu") {
    alg = dnnl::algorithm::eltwise_relu;
  } else if (op == "LeakyRelu") {
    alg = dnnl::algorithm::eltwise_relu;
    alpha = node.attrs.getFloat("alpha", 0.01f);
  } else if (op == "Sigmoid") {
    alg = dnnl::algorithm::eltwise_logistic;
  } else if (op == "Tanh") {
    alg = dnnl::algorithm::eltwise_tanh;
  } else if (op == "Clip") {
    alg = dnnl::algorithm::eltwise_clip;
    if (node.attrs.has("min") || node.attrs.has("max")) {
      alpha = node.attrs.getFloat("min", -FLT_MAX);
      beta = node.attrs.getFloat("max", FLT_MAX);
    } else if (!clipBound(inputs, 1, -FLT_MAX, alpha) || !clipBound(inputs, 2, FLT_MAX, beta)) {
      return nullptr;
    }
    if (alpha > beta) return nullptr;  // ONNX's order of min/max then differs
  } else {
    return nullptr;
  }
  auto kernel = std::make_unique<DnnlEltwise>(alg, alpha, beta, inputs[0].shape);
  if (!kernel->configure({plainDesc(inputs[0].shape)}, {false}).isOk()) return nullptr;
  return kernel;
}

std::unique_ptr<PreparedKernel> makeBinary(const Node& node, const std::vector<ValueInfo>& inputs,
                                           const std::vector<ValueInfo>& outputs) {
  if (!node.domain.empty() || inputs.size() != 2 || outputs.size() != 1) return nullptr;
  if (!isF32(inputs[0]) || !isF32(inputs[1]) || !isF32(outputs[0])) return nullptr;
  const Shape &a = inputs[0].shape, &b = inputs[1].shape;
  if (outputs[0].shape != a || a.empty() || b.size() > a.size()) return nullptr;
  // Input 1 must broadcast to input 0 (oneDNN broadcasts only its second source).
  for (size_t i = 0; i < b.size(); ++i) {
    int64_t bd = b[b.size() - 1 - i], ad = a[a.size() - 1 - i];
    if (bd != ad && bd != 1) return nullptr;
  }
  dnnl::algorithm alg;
  const std::string& op = node.opType;
  if (op == "Add") {
    alg = dnnl::algorithm::binary_add;
  } else if (op == "Sub") {
    alg = dnnl::algorithm::binary_sub;
  } else if (op == "Mul") {
    alg = dnnl::algorithm::binary_mul;
  } else if (op == "Div") {
    alg = dnnl::algorithm::binary_div;
  } else {
    return nullptr;
  }
  bool broadcast = a != b;
  auto kernel = std::make_unique<DnnlBinary>(alg, a, b, broadcast);
  Shape b_full = b;
  while (b_full.size() < a.size()) b_full.insert(b_full.begin(), 1);
  if (!kernel->configure({plainDesc(a), plainDesc(b_full)}, {false}).isOk()) return nullptr;
  return kernel;
}

}  // namespace hq::dnnl_rt
