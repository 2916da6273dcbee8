// oneDNN f32 Gemm as an inner product: Y = alpha * A * op(B) + beta * C with constant B
// and C; alpha and beta are folded into the prepared weights and bias.
#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/dnnl_kernels.h"

namespace hq::dnnl_rt {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

class DnnlGemm : public DnnlKernel {
 public:
  DnnlGemm(int64_t m, int64_t k, int64_t n, std::vector<float> weights, std::vector<float> bias)
      : m_(m), k_(k), n_(n), weights_(std::move(weights)), bias_(std::move(bias)) {}
  std::string name() const override { return "dnnl:gemm"; }
  bool acceptsBlocked(size_t) const override { return false; }

 protected:
  void build(const std::vector<memory::desc>&, const std::vector<bool>&) override {
    memory::desc src({m_, k_}, dt::f32, tag::nc), dst({m_, n_}, dt::f32, tag::nc);
    memory::desc wei_any({n_, k_}, dt::f32, tag::any), bias({n_}, dt::f32, tag::x);
    dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src, wei_any, bias,
                                           dst);
    dnnl::inner_product_forward::primitive_desc pd(desc, cpuEngine());
    prim_ = dnnl::inner_product_forward(pd);
    weiMem_ = memory(pd.weights_desc(), cpuEngine());
    memory plain({{n_, k_}, dt::f32, tag::oi}, cpuEngine(), weights_.data());
    dnnl::reorder(plain, weiMem_).execute(cpuStream(), plain, weiMem_);
    cpuStream().wait();
    biasMem_ = memory(bias, cpuEngine(), bias_.data());
    srcMem_ = memory(src, cpuEngine(), DNNL_MEMORY_NONE);
    dstMem_ = memory(dst, cpuEngine(), DNNL_MEMORY_NONE);
    outDescs_ = {dst};
  }
  void execute(const KernelCall& call) override {
    srcMem_.set_data_handle(const_cast<void*>(call.in(0).raw()));
    dstMem_.set_data_handle(call.out(0).raw());
    prim_.execute(cpuStream(), {{DNNL_ARG_SRC, srcMem_},
                                {DNNL_ARG_WEIGHTS, weiMem_},
                                {DNNL_ARG_BIAS, biasMem_},
                                {DNNL_ARG_DST, dstMem_}});
  }

 private:
  int64_t m_, k_, n_;
  std::vector<float> weights_;  ///< [N, K], alpha applied
  std::vector<float> bias_;     ///< [N], beta applied (zeros without C)
  dnnl::inner_product_forward prim_;
  memory srcMem_, weiMem_, biasMem_, dstMem_;
};

}  // namespace

std::unique_ptr<PreparedKernel> makeGemm(const Node& node, const std::vector<ValueInfo>& inputs,
                                         const std::vector<ValueInfo>& outputs) {
  if (!node.domain.empty() || node.opType != "Gemm") return nullptr;
  if (inputs.size() < 2 || outputs.size() != 1) return nullptr;
  if (!isF32(inputs[0]) || !isF32(inputs[1]) || !isF32(outputs[0]) || !inputs[1].constant) {
    return nullptr;
  }
  const Attributes& a = node.attrs;
  if (a.getInt("transA", 0) != 0) return nullptr;
  bool trans_b = a.getInt("transB", 0) != 0;
  float alpha = a.getFloat("alpha", 1.0f), beta = a.getFloat("beta", 1.0f);
  const Shape &sa = inputs[0].shape, &sb = inputs[1].shape;
  if (sa.size() != 2 || sb.size() != 2) return nullptr;
  int64_t m = sa[0], k = sa[1], n = trans_b ? sb[0] : sb[1];
  if ((trans_b ? sb[1] : sb[0]) != k || outputs[0].shape != Shape{m, n}) return nullptr;

  std::vector<float> bias(static_cast<size_t>(n), 0.0f);
  if (inputs.size() > 2 && inputs[2].dtype != DType::kUndefined) {
    const ValueInfo& c = inputs[2];
    if (!isF32(c) || !c.constant) return nullptr;
    if (c.shape != Shape{n} && c.shape != Shape{1, n}) return nullptr;
    const float* cd = c.constant->data<float>();
    for (int64_t j = 0; j < n; ++j) bias[static_cast<size_t>(j)] = beta * cd[j];
  }
  const float* bd = inputs[1].constant->data<float>();
  std::vector<float> weights(static_cast<size_t>(n * k));
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < k; ++i) {
      weights[static_cast<size_t>(j * k + i)] = alpha * (trans_b ? bd[j * k + i] : bd[i * n + j]);
    }
  }
  auto kernel = std::make_unique<DnnlGemm>(m, k, n, std::move(weights), std::move(bias));
  if (!kernel->configure({}, {false}).isOk()) return nullptr;
  return kernel;
}

}  // namespace hq::dnnl_rt
