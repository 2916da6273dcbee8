// Conv on oneDNN for training: the forward (weights read at every run) and the backward
// (data, weights and bias) on plain NCHW tensors, primitives cached per input shape.
// Results equal backward/conv.cpp's reference up to float summation order.
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include <omp.h>
#include <string>

#include "ir/ops/window.h"
#include "runtime/kernels/dnnl_common.h"
#include "train/backward/backward_fns.h"
#include "train/backward/dnnl_backward.h"
#include "train/backward/grad_util.h"

namespace hq::train {

namespace {

using dnnl::memory;
using dnnl_rt::cpuEngine;
using dnnl_rt::cpuStream;
using dnnl_rt::Reorder;
using tag = memory::format_tag;
using dt = memory::data_type;

/// A 2-D convolution in oneDNN's terms, for concrete shapes.
struct ConvGeo {
  memory::dims x, w, y, strides, dil, padL, padR;
  int64_t groups = 1;
  bool depthwise = false;  // one input and one output channel per group
};

/// False when oneDNN does not apply (not 4-D, odd attributes...): use the reference then.
bool convGeo(const Node& node, const Shape& x, const Shape& w, ConvGeo& g) {
  if (x.size() != 4 || w.size() != 4) return false;
  g.groups = node.attrs.getInt("group", 1);
  if (g.groups < 1 || x[1] != w[1] * g.groups || w[0] % g.groups != 0) return false;
  auto win = ops::forwardWindow(node, {x[2], x[3]}, {w[2], w[3]}, {});
  if (!win.isOk() || win->rank() != 2) return false;
  for (size_t d = 0; d < 2; ++d) {
    if (win->output[d] <= 0 || win->padBegin[d] < 0 || win->padEnd[d] < 0) return false;
    g.strides.push_back(win->strides[d]);
    g.dil.push_back(win->dilations[d] - 1);
    g.padL.push_back(win->padBegin[d]);
    g.padR.push_back(win->padEnd[d]);
  }
  g.x = dnnl_rt::toDims(x);
  g.y = {x[0], w[0], win->output[0], win->output[1]};
  g.w = dnnl_rt::toDims(w);
  if (g.groups > 1) g.w = {g.groups, w[0] / g.groups, w[1], w[2], w[3]};
  g.depthwise = g.groups > 1 && w[1] == 1 && w[0] == g.groups;
  return true;
}

memory::desc plainWeights(const ConvGeo& g) {
  return memory::desc(g.w, dt::f32, g.groups > 1 ? tag::goihw : tag::oihw);
}

memory::desc biasDesc(const ConvGeo& g) { return memory::desc({g.y[1]}, dt::f32, tag::x); }

/// Activations: plain NCHW for 1x1 convolutions (oneDNN runs them as GEMMs with no layout
/// change: measured 1.8x faster per mobilenetv2_32 training step than nChw16c, whose
/// reorders to and from the plain tensors cost more than they save), else nChw16c from 16
/// channels (oneDNN's jit kernels, incl. depthwise; plain NCHW would run those as im2col + a
/// small GEMM per image). HQ_TRAIN_CONV_PLAIN=all / none overrides (for benches).
memory::desc actDesc(const memory::dims& d, bool blocked) {
  return memory::desc(d, dt::f32, blocked && d[1] >= 16 ? tag::nChw16c : tag::nchw);
}

/// Depthwise convolutions on hq's plain-NCHW loops instead of oneDNN (HQ_TRAIN_DW=ref).
bool depthwiseByReference(const ConvGeo& g) {
  static const char* env = std::getenv("HQ_TRAIN_DW");
  return g.depthwise && env && std::string(env) == "ref";
}

bool useBlocked(const ConvGeo& g) {
  static const char* env = std::getenv("HQ_TRAIN_CONV_PLAIN");
  const std::string mode = env ? env : "1x1";
  const bool one = g.w[g.w.size() - 1] == 1 && g.w[g.w.size() - 2] == 1;
  if (mode == "all") return false;
  if (mode == "none") return true;
  return !one;
}

dnnl::convolution_forward::desc forwardDesc(const ConvGeo& g, bool bias) {
  return dnnl::convolution_forward::desc(
      dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
      actDesc(g.x, useBlocked(g)), memory::desc(g.w, dt::f32, tag::any),
      bias ? biasDesc(g) : memory::desc(), actDesc(g.y, useBlocked(g)), g.strides, g.dil, g.padL,
      g.padR);
}

/// Grow-only scratch buffers shared by every training conv (kernels run one at a time):
/// the blocked copies of activations and gradients.
void* scratch(int slot, size_t bytes) {
  static dnnl_rt::AlignedBuffer bufs[4];
  static size_t sizes[4] = {0, 0, 0, 0};
  if (sizes[slot] < bytes) {
    bufs[slot].allocate(bytes);
    sizes[slot] = bytes;
  }
  return bufs[slot].get();
}

/// A plain NCHW tensor handed to a primitive that wants `want` (reordered into scratch
/// `slot` when they differ), or a primitive's output in `want` copied back to plain.
struct Act {
  memory::desc want;
  int slot = 0;
  Reorder toWant, toPlain;
  void init(const memory::dims& d, const memory::desc& wanted, int scratch_slot) {
    want = wanted;
    slot = scratch_slot;
    const memory::desc plain(d, dt::f32, tag::nchw);
    if (wanted != plain) {
      toWant = Reorder(plain, wanted);
      toPlain = Reorder(wanted, plain);
    }
  }
  bool direct() const { return !toWant.valid(); }
  /// For reading: `p` as the primitive wants it.
  memory in(const void* p) {
    if (direct()) return memory(want, cpuEngine(), const_cast<void*>(p));
    void* buf = scratch(slot, want.get_size());
    toWant.run(p, buf);
    return memory(want, cpuEngine(), buf);
  }
  /// For writing: where the primitive writes; finish(p) then copies it to plain `p`.
  memory out(void* p) {
    return memory(want, cpuEngine(), direct() ? p : scratch(slot, want.get_size()));
  }
  void finish(void* p) {
    if (!direct()) toPlain.run(scratch(slot, want.get_size()), p);
  }
};

memory mem(const memory::desc& d, const void* p) {
  return memory(d, cpuEngine(), const_cast<void*>(p));
}

/// Plain weights in the layout a primitive wants (a reorder into a scratch buffer when it
/// differs from goihw / oihw).
struct WeightsIn {
  memory::desc want;
  Reorder reorder;
  dnnl_rt::AlignedBuffer buf;
  void init(const ConvGeo& g, const memory::desc& wanted) {
    want = wanted;
    if (wanted != plainWeights(g)) {
      reorder = Reorder(plainWeights(g), wanted);
      buf.allocate(wanted.get_size());
    }
  }
  memory get(const Tensor& w) {
    if (!reorder.valid()) return mem(want, w.raw());
    reorder.run(w.raw(), buf.get());
    return mem(want, buf.get());
  }
};

class TrainConvKernel : public PreparedKernel {
 public:
  TrainConvKernel(ConvGeo g, bool bias) : g_(std::move(g)), bias_(bias) {
    if (depthwiseByReference(g_)) {
      ref_ = findReferenceKernel("Conv");
      return;
    }
    dnnl::convolution_forward::primitive_desc pd(forwardDesc(g_, bias_), cpuEngine());
    prim_ = dnnl::convolution_forward(pd);
    src_.init(g_.x, pd.src_desc(), 0);
    dst_.init(g_.y, pd.dst_desc(), 1);
    wei_.init(g_, pd.weights_desc());
  }
  std::string name() const override { return "train:dnnl-conv"; }
  Status run(const KernelCall& call) override {
    if (ref_) return ref_(call);
    try {
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src_.in(call.in(0).raw())},
                                              {DNNL_ARG_WEIGHTS, wei_.get(call.in(1))},
                                              {DNNL_ARG_DST, dst_.out(call.out(0).raw())}};
      if (bias_) args[DNNL_ARG_BIAS] = mem(biasDesc(g_), call.in(2).raw());
      prim_.execute(cpuStream(), args);
      dst_.finish(call.out(0).raw());
      cpuStream().wait();
    } catch (const dnnl::error& e) {
      return call.error(ErrorCode::kInternal, "oneDNN training conv failed: {}", e.what());
    }
    return Status::ok();
  }

 private:
  ConvGeo g_;
  bool bias_;
  ReferenceKernel ref_ = nullptr;
  dnnl::convolution_forward prim_;
  Act src_, dst_;
  WeightsIn wei_;
};

/// dW (and dB when `db`) of a depthwise convolution on plain NCHW tensors, for the planes
/// where oneDNN 2.6 has only its reference. Each channel sums over n, then output rows and
/// columns, in that order, whatever the thread count (threads own whole channels; they walk
/// the batch outside so that they read memory in order).
void depthwiseWeightGrad(const ConvGeo& g, const float* x, const float* dy, float* dw, float* db) {
  const int64_t batch = g.x[0], ch = g.x[1], h = g.x[2], w = g.x[3];
  const int64_t oh = g.y[2], ow = g.y[3], kh = g.w[3], kw = g.w[4], kv = kh * kw;
  const int64_t sh = g.strides[0], sw = g.strides[1];
  const int64_t dh = g.dil[0] + 1, dwd = g.dil[1] + 1, ph = g.padL[0], pw = g.padL[1];
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t c0 = ch * t / nt, c1 = ch * (t + 1) / nt;
    std::vector<float> acc(static_cast<size_t>((c1 - c0) * kv), 0.0f);
    std::vector<float> bacc(static_cast<size_t>(c1 - c0), 0.0f);
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = c0; c < c1; ++c) {
        const float* xp = x + (n * ch + c) * h * w;
        const float* gp = dy + (n * ch + c) * oh * ow;
        float* a = acc.data() + (c - c0) * kv;
        float bsum = 0.0f;
        for (int64_t yo = 0; yo < oh; ++yo) {
          for (int64_t xo = 0; xo < ow; ++xo) {
            const float gv = gp[yo * ow + xo];
            bsum += gv;
            for (int64_t i = 0; i < kh; ++i) {
              const int64_t yi = yo * sh + i * dh - ph;
              if (yi < 0 || yi >= h) continue;
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t xi = xo * sw + j * dwd - pw;
                if (xi >= 0 && xi < w) a[i * kw + j] += gv * xp[yi * w + xi];
              }
            }
          }
        }
        bacc[static_cast<size_t>(c - c0)] += bsum;
      }
    }
    std::copy(acc.begin(), acc.end(), dw + c0 * kv);
    if (db) std::copy(bacc.begin(), bacc.end(), db + c0);
  }
}

/// Backward primitives of one input shape.
struct ConvBackwardPrims {
  ConvGeo g;
  bool bias = false;
  dnnl::convolution_backward_data data;
  dnnl::convolution_backward_weights weights;
  Act dataDiffDst, dataDiffSrc, wSrc, wDiffDst;
  memory::desc diffWei;
  WeightsIn wei;
  Reorder diffWeiOut;  // primitive layout -> plain, when they differ
  dnnl_rt::AlignedBuffer diffWeiBuf;
  std::vector<float> biasScratch;
  bool weightsByReference = false;  // oneDNN offers only its slow reference: use hq's

  ConvBackwardPrims(ConvGeo geo, bool has_bias) : g(std::move(geo)), bias(has_bias) {
    dnnl::convolution_forward::primitive_desc fwd(forwardDesc(g, bias), cpuEngine());
    const memory::desc x = actDesc(g.x, useBlocked(g)), y = actDesc(g.y, useBlocked(g));
    const memory::desc w_any(g.w, dt::f32, tag::any);
    dnnl::convolution_backward_data::primitive_desc dpd(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, x, w_any, y,
                                              g.strides, g.dil, g.padL, g.padR),
        cpuEngine(), fwd);
    data = dnnl::convolution_backward_data(dpd);
    wei.init(g, dpd.weights_desc());
    dnnl::convolution_backward_weights::primitive_desc wpd(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, x, w_any,
                                                 bias ? biasDesc(g) : memory::desc(), y, g.strides,
                                                 g.dil, g.padL, g.padR),
        cpuEngine(), fwd);
    weights = dnnl::convolution_backward_weights(wpd);
    // oneDNN 2.6 has no jit depthwise weight gradient for some small planes (e.g. 2x2 with
    // pad 1) and falls back to ref:any, ~20x slower than backward/conv.cpp's loops there.
    weightsByReference = std::string(wpd.impl_info_str()).rfind("ref", 0) == 0;
    dataDiffDst.init(g.y, dpd.diff_dst_desc(), 0);
    dataDiffSrc.init(g.x, dpd.diff_src_desc(), 1);
    wSrc.init(g.x, wpd.src_desc(), 1);
    wDiffDst.init(g.y, wpd.diff_dst_desc(), 0);
    diffWei = wpd.diff_weights_desc();
    if (diffWei != plainWeights(g)) {
      diffWeiOut = Reorder(diffWei, plainWeights(g));
      diffWeiBuf.allocate(diffWei.get_size());
    }
    if (bias) biasScratch.resize(static_cast<size_t>(g.y[1]));
  }
};

class ConvBackward {
 public:
  Status operator()(const BackwardCall& call) {
    if (!call.hasIn(0) || !call.hasIn(1) || !call.hasGradOut(0)) {
      return backwardConv(call);
    }
    const Tensor &x = call.in(0), &w = call.in(1), &gy = call.gradOut(0);
    const bool bias = call.hasIn(2);
    auto key = std::make_pair(x.shape(), w.shape());
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      std::unique_ptr<ConvBackwardPrims> p;
      ConvGeo g;
      if (x.dtype() == DType::kFloat32 && w.dtype() == DType::kFloat32 &&
          convGeo(call.node, x.shape(), w.shape(), g) && !depthwiseByReference(g)) {
        try {
          p = std::make_unique<ConvBackwardPrims>(std::move(g), bias);
        } catch (const dnnl::error&) {
          p.reset();
        }
      }
      it = cache_.emplace(key, std::move(p)).first;
    }
    ConvBackwardPrims* p = it->second.get();
    if (!p || gy.dtype() != DType::kFloat32 || gy.shape() != Shape(p->g.y.begin(), p->g.y.end())) {
      return backwardConv(call);
    }
    for (size_t i = 0; i < 3; ++i) HQ_RETURN_IF_ERROR(train::detail::checkGradIn(call, i));
    try {
      // Scratch slot 0 holds dY in the primitives' layout for both (they agree on it, as
      // both follow the forward's hint); slot 1 holds dX, then X.
      bool dy_ready = false;
      if (call.wantsGrad(0)) {
        memory dy = p->dataDiffDst.in(gy.raw());
        dy_ready = p->dataDiffDst.want == p->wDiffDst.want;
        p->data.execute(cpuStream(),
                        {{DNNL_ARG_DIFF_DST, dy},
                         {DNNL_ARG_WEIGHTS, p->wei.get(w)},
                         {DNNL_ARG_DIFF_SRC, p->dataDiffSrc.out(call.gradIn(0).raw())}});
        p->dataDiffSrc.finish(call.gradIn(0).raw());
      }
      if ((call.wantsGrad(1) || call.wantsGrad(2)) && p->weightsByReference) {
        cpuStream().wait();
        if (!p->g.depthwise) {
          BackwardCall rest = call;
          rest.gradInputs[0] = nullptr;
          return backwardConv(rest);
        }
        std::vector<float> spare_w, spare_b;
        float* dw = call.wantsGrad(1) ? call.gradIn(1).data<float>() : nullptr;
        float* db = call.wantsGrad(2) ? call.gradIn(2).data<float>() : nullptr;
        if (!dw) {
          spare_w.resize(static_cast<size_t>(w.numel()));
          dw = spare_w.data();
        }
        depthwiseWeightGrad(p->g, x.data<float>(), gy.data<float>(), dw, db);
        return Status::ok();
      }
      if (call.wantsGrad(1) || call.wantsGrad(2)) {
        void* dw = p->diffWeiOut.valid() ? p->diffWeiBuf.get()
                   : call.wantsGrad(1)   ? call.gradIn(1).raw()
                                         : nullptr;
        std::vector<float> spare;
        if (!dw) {
          spare.resize(p->diffWei.get_size() / sizeof(float));
          dw = spare.data();
        }
        memory dy =
            dy_ready && !p->wDiffDst.direct()
                ? memory(p->wDiffDst.want, cpuEngine(), scratch(0, p->wDiffDst.want.get_size()))
                : p->wDiffDst.in(gy.raw());
        std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, p->wSrc.in(x.raw())},
                                                {DNNL_ARG_DIFF_DST, dy},
                                                {DNNL_ARG_DIFF_WEIGHTS, mem(p->diffWei, dw)}};
        if (bias) {
          void* db = call.wantsGrad(2) ? call.gradIn(2).raw() : p->biasScratch.data();
          args[DNNL_ARG_DIFF_BIAS] = mem(biasDesc(p->g), db);
        }
        p->weights.execute(cpuStream(), args);
        if (p->diffWeiOut.valid() && call.wantsGrad(1)) {
          p->diffWeiOut.run(dw, call.gradIn(1).raw());
        }
      }
      cpuStream().wait();
    } catch (const dnnl::error& e) {
      return call.error(ErrorCode::kInternal, "oneDNN conv backward failed: {}", e.what());
    }
    return Status::ok();
  }

 private:
  std::map<std::pair<Shape, Shape>, std::unique_ptr<ConvBackwardPrims>> cache_;
};

}  // namespace

std::unique_ptr<PreparedKernel> makeTrainConv(const Node& node,
                                              const std::vector<ValueInfo>& inputs,
                                              const std::vector<ValueInfo>& outputs) {
  if (!node.domain.empty() || node.opType != "Conv") return nullptr;
  if (inputs.size() < 2 || outputs.size() != 1 || !dnnl_rt::isF32(inputs[0]) ||
      !dnnl_rt::isF32(inputs[1]) || !dnnl_rt::isF32(outputs[0])) {
    return nullptr;
  }
  ConvGeo g;
  if (!convGeo(node, inputs[0].shape, inputs[1].shape, g)) return nullptr;
  if (Shape(g.y.begin(), g.y.end()) != outputs[0].shape) return nullptr;
  const bool bias = inputs.size() > 2 && inputs[2].dtype != DType::kUndefined;
  if (bias && (!dnnl_rt::isF32(inputs[2]) || inputs[2].shape != Shape{g.y[1]})) return nullptr;
  try {
    return std::make_unique<TrainConvKernel>(std::move(g), bias);
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

namespace detail {
NodeBackward fastConvBackward() {
  auto impl = std::make_shared<ConvBackward>();
  return [impl](const BackwardCall& call) { return (*impl)(call); };
}
}  // namespace detail

}  // namespace hq::train
