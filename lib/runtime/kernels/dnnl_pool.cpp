// oneDNN pooling: f32 MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, and the int8
// max pools of integer models (ai.hq.QMaxPool, QGlobalMaxPool: a max is exact, so oneDNN's
// s8 pooling gives the reference kernel's bytes; padded positions are never selected in
// either). Works in whatever layout its input arrives in (plain, blocked, or the NHWC the
// int8 convolutions exchange).
#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/dnnl_kernels.h"

namespace hq::dnnl_rt {

using dnnl::memory;
using dt = memory::data_type;

namespace {

struct PoolGeometry {
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  memory::dims kernel, strides, padL, padR;
};

// ONNX pooling attributes -> oneDNN geometry for concrete 4-D shapes; false if unsupported.
bool poolGeometry(const Node& node, const Shape& x, const Shape& y, PoolGeometry& g) {
  const Attributes& a = node.attrs;
  const std::string& op = node.opType;
  bool global = op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "QGlobalMaxPool";
  bool is_max = op == "MaxPool" || op == "GlobalMaxPool" || op == "QMaxPool" ||
                op == "QGlobalMaxPool";
  bool include_pad = !is_max && a.getInt("count_include_pad", 0) != 0;
  g.alg = is_max ? dnnl::algorithm::pooling_max
                 : (include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                : dnnl::algorithm::pooling_avg_exclude_padding);
  if (global) {
    g.kernel = {x[2], x[3]};
    g.strides = {1, 1};
    g.padL = g.padR = {0, 0};
    return y[2] == 1 && y[3] == 1;
  }
  std::vector<int64_t> k = a.getInts("kernel_shape");
  std::vector<int64_t> strides = a.getInts("strides", {1, 1});
  std::vector<int64_t> dil = a.getInts("dilations", {1, 1});
  std::vector<int64_t> pads = a.getInts("pads", {0, 0, 0, 0});
  std::string auto_pad = a.getString("auto_pad", "NOTSET");
  if (k.size() != 2 || strides.size() != 2 || pads.size() != 4) return false;
  if (dil != std::vector<int64_t>{1, 1}) return false;
  for (int d = 0; d < 2; ++d) {
    int64_t in = x[2 + d], out = y[2 + d], s = strides[d];
    int64_t pl = pads[d], pr = pads[2 + d];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, (out - 1) * s + k[d] - in);
      pl = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pr = total - pl;
      // ONNX averages over the real elements only in SAME mode's implicit padding.
      if (include_pad && total > 0) return false;
    } else if (auto_pad == "VALID") {
      pl = pr = 0;
    } else if (auto_pad != "NOTSET") {
      return false;
    }
    if (pl < 0 || pr < 0 || pl >= k[d]) return false;
    // Ceil mode: extend the right padding so that oneDNN's floor gives `out` windows.
    int64_t need = (out - 1) * s + k[d] - in - pl;
    if (need > pr) {
      if (include_pad) return false;
      pr = need;
    }
    if ((in + pl + pr - k[d]) / s + 1 != out) return false;
    g.kernel.push_back(k[d]);
    g.strides.push_back(s);
    g.padL.push_back(pl);
    g.padR.push_back(pr);
  }
  return true;
}

class DnnlPool : public DnnlKernel {
 public:
  DnnlPool(const Node& node, Shape x, Shape y, PoolGeometry geom, dt type)
      : op_(node.opType), x_(std::move(x)), y_(std::move(y)), geom_(std::move(geom)),
        type_(type) {}

  std::string name() const override { return type_ == dt::s8 ? "dnnl:pool-s8" : "dnnl:pool"; }
  bool acceptsBlocked(size_t input) const override { return input == 0; }

 protected:
  void build(const std::vector<memory::desc>& in, const std::vector<bool>& blocked_ok) override {
    // Integer inputs arrive with an empty desc when plain.
    memory::desc src = in[0].data.ndims ? in[0] : plainDesc(x_, type_);
    memory::desc dst_any(toDims(y_), type_, memory::format_tag::any);
    if (type_ == dt::s8) {
      // The int8 kernels exchange only plain (NCHW) and NHWC: keep the input's.
      const bool nhwc = src == memory::desc(toDims(x_), type_, memory::format_tag::nhwc);
      dst_any = memory::desc(toDims(y_), type_,
                             nhwc ? memory::format_tag::nhwc : memory::format_tag::nchw);
    }
    dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference, geom_.alg, src, dst_any,
                                     geom_.strides, geom_.kernel, geom_.padL, geom_.padR);
    dnnl::pooling_forward::primitive_desc pd(desc, cpuEngine());
    prim_ = dnnl::pooling_forward(pd);
    srcMem_ = memory(src, cpuEngine(), DNNL_MEMORY_NONE);
    dstMem_ = memory(pd.dst_desc(), cpuEngine(), DNNL_MEMORY_NONE);
    dstReorder_ = Reorder();
    if (!blocked_ok.empty() && !blocked_ok[0] && !isPlain(pd.dst_desc())) {
      dstReorder_ = Reorder(pd.dst_desc(), plainDesc(y_, type_));
      dstScratch_.allocate(pd.dst_desc().get_size());
    }
    outDescs_ = {dstReorder_.valid() ? plainDesc(y_, type_) : pd.dst_desc()};
  }

  void execute(const KernelCall& call) override {
    void* dst = dstReorder_.valid() ? dstScratch_.get() : call.out(0).raw();
    srcMem_.set_data_handle(const_cast<void*>(call.in(0).raw()));
    dstMem_.set_data_handle(dst);
    prim_.execute(cpuStream(), {{DNNL_ARG_SRC, srcMem_}, {DNNL_ARG_DST, dstMem_}});
    if (dstReorder_.valid()) dstReorder_.run(dst, call.out(0).raw());
  }

 private:
  std::string op_;
  Shape x_, y_;
  PoolGeometry geom_;
  dt type_;
  dnnl::pooling_forward prim_;
  memory srcMem_, dstMem_;
  Reorder dstReorder_;
  AlignedBuffer dstScratch_;
};

}  // namespace

std::unique_ptr<PreparedKernel> makePool(const Node& node, const std::vector<ValueInfo>& inputs,
                                         const std::vector<ValueInfo>& outputs) {
  if (inputs.size() != 1 || outputs.empty()) return nullptr;
  // MaxPool's optional Indices output is left to the reference kernel.
  if (outputs.size() > 1 && outputs[1].dtype != DType::kUndefined) return nullptr;
  dt type = dt::f32;
  if (node.domain == kIntDomain) {
    // int8 max pools; int16 has no oneDNN pooling (reference kernel).
    if (node.opType != "QMaxPool" && node.opType != "QGlobalMaxPool") return nullptr;
    if (inputs[0].dtype != DType::kInt8 || outputs[0].dtype != DType::kInt8) return nullptr;
    if (!inputs[0].hasShape || !outputs[0].hasShape) return nullptr;
    type = dt::s8;
  } else if (!node.domain.empty() || !isF32(inputs[0]) || !isF32(outputs[0])) {
    return nullptr;
  }
  const Shape &x = inputs[0].shape, &y = outputs[0].shape;
  if (x.size() != 4 || y.size() != 4 || x[0] != y[0] || x[1] != y[1]) return nullptr;
  PoolGeometry geom;
  if (!poolGeometry(node, x, y, geom)) return nullptr;
  auto kernel = std::make_unique<DnnlPool>(node, x, y, std::move(geom), type);
  if (!kernel->configure({plainDesc(x, type)}, {false}).isOk()) return nullptr;
  return kernel;
}

}  // namespace hq::dnnl_rt
