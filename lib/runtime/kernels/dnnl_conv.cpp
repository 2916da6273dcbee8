// oneDNN f32 convolution: Conv and hq.FusedConv (residual sum and activation as
// post-ops). Weights are reordered once into the layout the primitive prefers.
#include <cstring>

#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/dnnl_kernels.h"
#include "runtime/passes/fused_conv.h"

namespace hq::dnnl_rt {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct ConvGeometry {
  memory::dims strides, dilations, padL, padR;  // oneDNN conventions (dilation 0 = dense)
  int64_t groups = 1;
};

// ONNX Conv attributes -> oneDNN geometry for concrete 4-D shapes; false if unsupported.
bool convGeometry(const Node& node, const Shape& x, const Shape& w, const Shape& y,
                  ConvGeometry& g) {
  const Attributes& a = node.attrs;
  g.groups = a.getInt("group", 1);
  std::vector<int64_t> strides = a.getInts("strides", {1, 1});
  std::vector<int64_t> dil = a.getInts("dilations", {1, 1});
  std::vector<int64_t> pads = a.getInts("pads", {0, 0, 0, 0});
  std::string auto_pad = a.getString("auto_pad", "NOTSET");
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) return false;
  for (int d = 0; d < 2; ++d) {
    int64_t in = x[2 + d], k = w[2 + d], out = y[2 + d];
    int64_t ext = (k - 1) * dil[d] + 1;
    int64_t pl = pads[d], pr = pads[2 + d];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, (out - 1) * strides[d] + ext - in);
      pl = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pr = total - pl;
    } else if (auto_pad == "VALID") {
      pl = pr = 0;
    } else if (auto_pad != "NOTSET") {
      return false;
    }
    // Both ONNX and oneDNN floor (in + pl + pr - ext) / stride; check the output agrees.
    if (pl < 0 || pr < 0 || (in + pl + pr - ext) / strides[d] + 1 != out) return false;
    g.strides.push_back(strides[d]);
    g.dilations.push_back(dil[d] - 1);
    g.padL.push_back(pl);
    g.padR.push_back(pr);
  }
  return true;
}

class DnnlConv : public DnnlKernel {
 public:
  DnnlConv(const Node& node, const std::vector<ValueInfo>& in, const std::vector<ValueInfo>& out,
           ConvGeometry geom)
      : geom_(std::move(geom)) {
    xShape_ = in[0].shape;
    wShape_ = in[1].shape;
    yShape_ = out[0].shape;
    weights_ = *in[1].constant;
    if (in.size() > 2 && in[2].constant) bias_ = *in[2].constant;
    hasResidual_ = in.size() > 3 && in[3].dtype != DType::kUndefined;
    act_ = passes::fusedActivationOf(node);
    fused_ = passes::isFusedConv(node);
  }

  std::string name() const override {
    if (!fused_) return "dnnl:conv";
    std::string n = "dnnl:conv";
    if (hasResidual_) n += "+sum";
    if (!act_.kind.empty()) n += "+" + act_.kind;
    return n;
  }
  bool acceptsBlocked(size_t input) const override { return input == 0 || input == 3; }
  int inPlaceInput() const override { return hasResidual_ ? 3 : -1; }

 protected:
  void build(const std::vector<memory::desc>& in, const std::vector<bool>& blocked_ok) override {
    srcReorder_ = dstReorder_ = resReorder_ = Reorder();
    memory::dims x = toDims(xShape_), y = toDims(yShape_);
    memory::dims w = toDims(wShape_);
    if (geom_.groups > 1) {
      w = {geom_.groups, wShape_[0] / geom_.groups, wShape_[1], wShape_[2], wShape_[3]};
    }
    // nChw16c for activations of 16+ channels: oneDNN 2.6's jit kernels in this layout
    // beat its own "any" choice (nhwc brgconv) by 25-45% on fmnist_cnn / mobilenetv2_32.
    auto pick = [](int64_t c) { return c >= 16 ? tag::nChw16c : tag::any; };
    tag src_tag = pick(xShape_[1]), dst_tag = pick(yShape_[1]);
    memory::desc src_any(x, dt::f32, src_tag), dst_any(y, dt::f32, dst_tag);
    memory::desc wei_any(w, dt::f32, tag::any);
    memory::desc bias_md = bias_.defined() ? memory::desc({wShape_[0]}, dt::f32, tag::x)
                                           : memory::desc();
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any, wei_any,
        bias_md, dst_any, geom_.strides, geom_.dilations, geom_.padL, geom_.padR);
    dnnl::post_ops ops;
    if (hasResidual_) ops.append_sum(1.0f);
    if (act_.kind == "Relu") ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (act_.kind == "LeakyRelu") {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, act_.alpha, 0.0f);
    }
    if (act_.kind == "Clip") {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, act_.alpha, act_.beta);
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, cpuEngine());
    prim_ = dnnl::convolution_forward(pd);

    // Weights (and bias) once, in the primitive's layout.
    memory::desc wei_plain(w, dt::f32, geom_.groups > 1 ? tag::goihw : tag::oihw);
    weiMem_ = memory(pd.weights_desc(), cpuEngine());
    memory wplain(wei_plain, cpuEngine(), const_cast<void*>(weights_.raw()));
    dnnl::reorder(wplain, weiMem_).execute(cpuStream(), wplain, weiMem_);
    cpuStream().wait();
    if (bias_.defined()) {
      biasMem_ = memory(bias_md, cpuEngine(), const_cast<void*>(bias_.raw()));
    }

    srcMem_ = memory(pd.src_desc(), cpuEngine(), DNNL_MEMORY_NONE);
    dstMem_ = memory(pd.dst_desc(), cpuEngine(), DNNL_MEMORY_NONE);
    if (in[0] != pd.src_desc()) {
      srcReorder_ = Reorder(in[0], pd.src_desc());
      srcScratch_.allocate(pd.src_desc().get_size());
    }
    memory::desc out = pd.dst_desc();
    if (!blocked_ok.empty() && !blocked_ok[0] && !isPlain(out)) {
      dstReorder_ = Reorder(out, plainDesc(yShape_));
      dstScratch_.allocate(out.get_size());
    }
    if (hasResidual_ && in[3] != out) {
      resReorder_ = Reorder(in[3], out);
    }
    outDescs_ = {dstReorder_.valid() ? plainDesc(yShape_) : out};
  }

  void execute(const KernelCall& call) override {
    const void* src = call.in(0).raw();
    if (srcReorder_.valid()) {
      srcReorder_.run(src, srcScratch_.get());
      src = srcScratch_.get();
    }
    void* dst = dstReorder_.valid() ? dstScratch_.get() : call.out(0).raw();
    if (hasResidual_) {
      const void* res = call.in(3).raw();
      if (resReorder_.valid()) {
        resReorder_.run(res, dst);
      } else if (res != dst) {
        std::memcpy(dst, res, dstMem_.get_desc().get_size());
      }
    }
    srcMem_.set_data_handle(const_cast<void*>(src));
    dstMem_.set_data_handle(dst);
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, srcMem_}, {DNNL_ARG_WEIGHTS, weiMem_}, {DNNL_ARG_DST, dstMem_}};
    if (bias_.defined()) args[DNNL_ARG_BIAS] = biasMem_;
    prim_.execute(cpuStream(), args);
    if (dstReorder_.valid()) dstReorder_.run(dst, call.out(0).raw());
  }

 private:
  ConvGeometry geom_;
  Shape xShape_, wShape_, yShape_;
  Tensor weights_, bias_;
  bool hasResidual_ = false;
  bool fused_ = false;
  passes::FusedActivation act_;
  dnnl::convolution_forward prim_;
  memory srcMem_, weiMem_, biasMem_, dstMem_;
  Reorder srcReorder_, dstReorder_, resReorder_;
  AlignedBuffer srcScratch_, dstScratch_;
};

}  // namespace

std::unique_ptr<PreparedKernel> makeConv(const Node& node, const std::vector<ValueInfo>& inputs,
                                         const std::vector<ValueInfo>& outputs) {
  bool fused = passes::isFusedConv(node);
  if (!fused && !(node.domain.empty() && node.opType == "Conv")) return nullptr;
  if (inputs.size() < 2 || outputs.empty() || !isF32(inputs[0]) || !isF32(inputs[1]) ||
      !isF32(outputs[0]) || !inputs[1].constant) {
    return nullptr;
  }
  const Shape &x = inputs[0].shape, &w = inputs[1].shape, &y = outputs[0].shape;
  if (x.size() != 4 || w.size() != 4 || y.size() != 4) return nullptr;
  if (inputs.size() > 2 && inputs[2].dtype != DType::kUndefined) {
    if (!isF32(inputs[2]) || !inputs[2].constant || inputs[2].shape != Shape{w[0]}) return nullptr;
  }
  if (inputs.size() > 3 && inputs[3].dtype != DType::kUndefined) {
    if (!fused || !isF32(inputs[3]) || inputs[3].shape != y) return nullptr;
  }
  ConvGeometry geom;
  if (!convGeometry(node, x, w, y, geom)) return nullptr;
  if (geom.groups < 1 || x[1] != w[1] * geom.groups || w[0] % geom.groups != 0) return nullptr;
  if (fused) {
    std::string act = node.attrs.getString("activation", "");
    if (!act.empty() && act != "Relu" && act != "LeakyRelu" && act != "Clip") return nullptr;
  }
  auto kernel = std::make_unique<DnnlConv>(node, inputs, outputs, std::move(geom));
  // Probe: building with plain layouts must work, else leave the node to the reference.
  std::vector<memory::desc> plain;
  for (const ValueInfo& v : inputs) {
    plain.push_back(isF32(v) ? plainDesc(v.shape) : memory::desc());
  }
  if (!kernel->configure(plain, std::vector<bool>(outputs.size(), false)).isOk()) return nullptr;
  return kernel;
}

}  // namespace hq::dnnl_rt
