// The integer fast kernels of ai.hq.QConv (2-D, any group / stride / pads / dilation) and
// ai.hq.QGemm: oneDNN's int8 convolution / inner product computes only the int32
// accumulators (s8 x s8 -> s32, no bias, no scales, no post-ops); the output stage of
// schemas/int-ops.md section 2.2 (the int64 fixed-point bias added to the 64-bit product,
// per-channel requantize, residual requantizeSum, clamp; or the int32 bias for an int32
// output) is hq's own (IntOutputStage), so the bytes are those of the reference kernels.
//
// Exact only where oneDNN's accumulation is, checked at preparation (else the factory
// returns nullptr and the reference kernel runs; intFastRefusal() says why):
// - the CPU has VNNI with AVX-512 (or AMX): without VNNI, oneDNN's u8 x s8 path sums pairs
//   of products in saturating int16 (vpmaddubsw);
// - the accumulator is below 2^24 in magnitude: oneDNN's int8 kernels pass the s32
//   accumulator through f32 on its way out, exact only up to 2^24. Bounded from the
//   constant weights: max over output channels of sum |W[o, k]| * 128 < 2^24 (int8 X; the
//   bias is not in the accumulator, except an int32 output's, added after oneDNN);
// - X is int8 (int16 activations take the reference).
//
// QConv runs batch chunks sized so that a chunk's int32 accumulators stay in the L2 cache,
// one chunk per thread at a time (dynamic schedule) (the primitives are built single-threaded and executed
// concurrently, each thread with its own stream, scratchpad and buffers), and requantizes
// each chunk right after its convolution. Activations between these kernels stay NHWC
// (DnnlKernel's layout exchange); plain NCHW inputs and outputs are transposed per chunk.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ir/ops/int_compute.h"
#include "ir/ops/window.h"
#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/dnnl_int_requant.h"
#include "runtime/kernels/dnnl_kernels.h"
#include "support/log.h"

namespace hq::dnnl_rt {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

/// oneDNN's f32 round trip of the accumulator is exact below this magnitude.
constexpr int64_t kExactAccumulator = int64_t{1} << 24;
/// Target size of one chunk's int32 accumulators (bytes): well inside a 1 MiB L2.
constexpr int64_t kChunkAccBytes = 192 * 1024;
/// Most images in one chunk.
constexpr int64_t kMaxChunkImages = 64;

bool vnniIsa(dnnl::cpu_isa isa) {
  // The ISA values are bit sets in oneDNN 2.x; list the VNNI-capable AVX-512 ones
  // explicitly. avx2_vnni is left out: oneDNN 2.6's AVX2 int8 kernels are not known to
  // use VEX VNNI everywhere, so those CPUs take the reference kernels.
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx;
}

/// Sets OpenMP's thread count for this scope (oneDNN sizes a primitive's parallelism
/// from omp_get_max_threads() when the primitive is created).
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreadsScope() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

/// What both kernels read from a node: the output stage and the accumulator bound.
struct IntPlan {
  ops::IntRequant rq;
  /// Empty (no bias), or one per channel: the int64 fixed-point bias of a requantized
  /// output, or an int32 output's int32 bias (widened).
  std::vector<int64_t> bias;
  DType resType = DType::kUndefined;
};

/// Common checks of QConv / QGemm inputs; "" when the fast path applies so far.
std::string checkCommon(const Node& node, const std::vector<ValueInfo>& in,
                        const std::vector<ValueInfo>& out, int64_t channels, IntPlan& plan) {
  if (in.size() < 2 || out.empty()) return "missing inputs or outputs";
  if (in[0].dtype == DType::kInt16) return "int16 input X";
  if (in[0].dtype != DType::kInt8) return "input X is not int8";
  if (!in[0].hasShape || shapeNumel(in[0].shape) < 0) return "input shape unknown";
  if (in[1].dtype != DType::kInt8 || !in[1].constant) return "weights are not a constant int8";
  ops::IntRequantOptions opts;
  opts.count = channels;
  opts.residual = in.size() > 3 && in[3].dtype != DType::kUndefined;
  opts.allowInt32 = true;
  auto rq = ops::readIntRequant(node, opts);
  if (!rq.isOk()) return "attributes: " + rq.status().message();
  plan.rq = std::move(*rq);
  const bool has_bias = in.size() > 2 && in[2].dtype != DType::kUndefined;
  if (has_bias) {
    if (!in[2].constant) return "bias is not a constant";
    const Status st = ops::checkComputeBias(node, plan.rq.outType, *in[2].constant, channels);
    if (!st.isOk()) return "bias: " + st.message();
    const Tensor& b = *in[2].constant;
    if (b.dtype() == DType::kInt32) {
      plan.bias.assign(b.data<int32_t>(), b.data<int32_t>() + channels);
    } else {
      plan.bias.assign(b.data<int64_t>(), b.data<int64_t>() + channels);
    }
  }
  if (out[0].dtype != plan.rq.outType || !out[0].hasShape) return "output dtype differs";
  if (opts.residual) {
    if (in[3].dtype != plan.rq.outType || in[3].shape != out[0].shape) {
      return "residual is not of the output's dtype and shape";
    }
    plan.resType = in[3].dtype;
  }
  if (!vnniIsa(dnnl::get_effective_cpu_isa())) {
    return "no AVX-512 VNNI (oneDNN's int8 path would saturate int16 pairs)";
  }
  return "";
}

/// The accumulator bound from the weights: rows of `k` weights, one per output channel
/// (row o of W at w + o * k); "" when max sum |W[o]| * 128 < 2^24 and, for an int32 output,
/// adding its int32 bias stays in int32 (a requantized output's int64 bias is added to the
/// 64-bit product, not to the accumulator).
std::string checkBound(const int8_t* w, int64_t rows, int64_t k, const IntPlan& plan) {
  int64_t worst = 0, max_b = 0;
  for (int64_t o = 0; o < rows; ++o) {
    int64_t s = 0;
    for (int64_t i = 0; i < k; ++i) s += std::abs(static_cast<int64_t>(w[o * k + i]));
    worst = std::max(worst, s);
  }
  if (!plan.rq.requantizes()) {
    for (int64_t b : plan.bias) max_b = std::max<int64_t>(max_b, std::abs(b));
  }
  const int64_t bound = worst * 128;
  if (bound >= kExactAccumulator) {
    return fmt::format("accumulator bound {} (max sum |W[o]| {} x 128) >= 2^24", bound, worst);
  }
  if (bound + max_b > std::numeric_limits<int32_t>::max()) {
    return fmt::format("accumulator bound {} + |bias| {} exceeds int32", bound, max_b);
  }
  return "";
}

IntOutputStage makeStage(int64_t channels, const IntPlan& p) {
  return IntOutputStage(channels, p.bias, p.rq.multiplier, p.rq.shift, p.rq.residualMultiplier,
                        p.rq.clamp, p.rq.outType, p.resType);
}

// ---------------------------------------------------------------------------------------
// QConv

struct ConvGeom {
  memory::dims strides, dilations, padL, padR;  // oneDNN conventions (dilation 0 = dense)
  int64_t groups = 1;
};

/// Geometry from the node (ops::forwardWindow, as the reference kernel reads it); "" or why not.
std::string convGeom(const Node& node, const Shape& x, const Shape& w, const Shape& y,
                     ConvGeom& g) {
  auto group = ops::intAttr(node, "group", 1);
  if (!group.isOk() || *group < 1) return "bad group";
  g.groups = *group;
  if (x[1] != w[1] * g.groups || w[0] % g.groups != 0) return "channels do not fit the group";
  auto win = ops::forwardWindow(node, ops::spatialDims(x), ops::spatialDims(w), {});
  if (!win.isOk()) return "geometry: " + win.status().message();
  for (size_t d = 0; d < 2; ++d) {
    if (win->output[d] != y[2 + d] || win->padBegin[d] < 0 || win->padEnd[d] < 0) {
      return "output size differs from the window";
    }
    g.strides.push_back(win->strides[d]);
    g.dilations.push_back(win->dilations[d] - 1);
    g.padL.push_back(win->padBegin[d]);
    g.padR.push_back(win->padEnd[d]);
  }
  return "";
}

class DnnlQConv : public DnnlKernel {
 public:
  DnnlQConv(const std::vector<ValueInfo>& in, const std::vector<ValueInfo>& out, ConvGeom geom,
            const IntPlan& plan)
      : geom_(std::move(geom)),
        xShape_(in[0].shape),
        wShape_(in[1].shape),
        yShape_(out[0].shape),
        weights_(*in[1].constant),
        stage_(makeStage(out[0].shape[1], plan)),
        outType_(plan.rq.outType),
        resType_(plan.resType) {}

  std::string name() const override {
    return stage_.hasResidual() ? "dnnl:qconv+sum" : "dnnl:qconv";
  }
  bool acceptsBlocked(size_t input) const override { return input == 0 || input == 3; }
  int inPlaceInput() const override { return stage_.hasResidual() ? 3 : -1; }

 protected:
  memory::desc nhwc(const Shape& s, dt type) const {
    return memory::desc(toDims(s), type, tag::nhwc);
  }

  // The layout of an input: true when NHWC bytes (given NHWC, or plain with C or HW 1).
  bool channelsLast(const memory::desc& d, const Shape& s, dt type) const {
    if (s[1] == 1 || s[2] * s[3] == 1) return true;
    if (d.data.ndims == 0) return false;
    if (d == nhwc(s, type)) return true;
    if (d == memory::desc(toDims(s), type, tag::nchw)) return false;
    throw dnnl::error(dnnl_invalid_arguments, "QConv: input layout is neither NCHW nor NHWC");
  }

  void build(const std::vector<memory::desc>& in, const std::vector<bool>& blocked_ok) override {
    const int64_t n = xShape_[0], c = xShape_[1], o = yShape_[1];
    const int64_t hw = xShape_[2] * xShape_[3], ohw = yShape_[2] * yShape_[3];
    inDirect_ = channelsLast(in.empty() ? memory::desc() : in[0], xShape_, dt::s8);
    resDirect_ = true;
    if (stage_.hasResidual()) {
      // int16 residuals are always plain (no oneDNN kernel produces them).
      resDirect_ = resType_ == DType::kInt8
                       ? channelsLast(in.size() > 3 ? in[3] : memory::desc(), yShape_, dt::s8)
                       : (o == 1 || ohw == 1);
    }
    const bool spatial_free = o == 1 || ohw == 1;
    const bool out_blocked = !blocked_ok.empty() && blocked_ok[0] && outType_ == DType::kInt8;
    outDirect_ = spatial_free || out_blocked;
    outDescs_ = {out_blocked && !spatial_free ? nhwc(yShape_, dt::s8) : memory::desc()};

    // Chunks: enough images for ~kChunkAccBytes of accumulators, a multiple of the
    // thread count in number.
    const int nthr = std::max(1, omp_get_max_threads());
    int64_t nb = std::clamp<int64_t>(kChunkAccBytes / std::max<int64_t>(1, o * ohw * 4), 1,
                                     kMaxChunkImages);
    int64_t chunks = (n + nb - 1) / nb;
    chunks = std::min<int64_t>(n, (chunks + nthr - 1) / nthr * nthr);
    nb_ = (n + chunks - 1) / chunks;
    chunks_ = (n + nb_ - 1) / nb_;
    const int64_t rem = n - (chunks_ - 1) * nb_;

    memory::dims w = toDims(wShape_);
    tag wtag = tag::oihw;
    if (geom_.groups > 1) {
      w = {geom_.groups, wShape_[0] / geom_.groups, wShape_[1], wShape_[2], wShape_[3]};
      wtag = tag::goihw;
    }
    memory wplain({w, dt::s8, wtag}, cpuEngine(), const_cast<void*>(weights_.raw()));
    size_t scratch = 0;
    {
      OmpThreadsScope single(1);
      const int64_t sizes[2] = {nb_, rem};
      for (int p = 0; p < 2; ++p) {
        if (p == 1 && rem == nb_) break;
        Shape xs = xShape_, ys = yShape_;
        xs[0] = ys[0] = sizes[p];
        dnnl::convolution_forward::desc desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
            nhwc(xs, dt::s8), memory::desc(w, dt::s8, tag::any), memory::desc(),
            nhwc(ys, dt::s32), geom_.strides, geom_.dilations, geom_.padL, geom_.padR);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::convolution_forward::primitive_desc pd(desc, attr, cpuEngine());
        prims_[p] = dnnl::convolution_forward(pd);
        if (p == 1 && pd.weights_desc() == weiMem_[0].get_desc()) {
          weiMem_[1] = weiMem_[0];
        } else {
          weiMem_[p] = memory(pd.weights_desc(), cpuEngine());
          dnnl::reorder(wplain, weiMem_[p]).execute(cpuStream(), wplain, weiMem_[p]);
          cpuStream().wait();
        }
        srcDesc_[p] = pd.src_desc();
        dstDesc_[p] = pd.dst_desc();
        scratch = std::max(scratch, pd.scratchpad_desc().get_size());
        impl_ = pd.impl_info_str();
      }
      if (rem == nb_) {
        prims_[1] = prims_[0];
        weiMem_[1] = weiMem_[0];
        srcDesc_[1] = srcDesc_[0];
        dstDesc_[1] = dstDesc_[0];
      }
    }
    threads_.clear();
    threads_.resize(static_cast<size_t>(nthr));
    const size_t osz = dtypeSize(outType_);
    for (ThreadState& t : threads_) {
      t.stream = dnnl::stream(cpuEngine());
      t.acc.allocate(static_cast<size_t>(nb_ * o * ohw) * 4);
      if (!inDirect_) t.x.allocate(static_cast<size_t>(nb_ * c * hw));
      if (!resDirect_) t.r.allocate(static_cast<size_t>(nb_ * o * ohw) * dtypeSize(resType_));
      if (!outDirect_) t.y.allocate(static_cast<size_t>(nb_ * o * ohw) * osz);
      t.scratch.allocate(scratch);
      for (int p = 0; p < 2; ++p) {
        t.src[p] = memory(srcDesc_[p], cpuEngine(), DNNL_MEMORY_NONE);
        t.dst[p] = memory(dstDesc_[p], cpuEngine(), t.acc.get());
        t.pad[p] = memory({{static_cast<memory::dim>(std::max<size_t>(scratch, 1))}, dt::u8,
                           tag::x},
                          cpuEngine(), t.scratch.get());
        t.args[p] = {{DNNL_ARG_SRC, t.src[p]},
                     {DNNL_ARG_WEIGHTS, weiMem_[p]},
                     {DNNL_ARG_DST, t.dst[p]},
                     {DNNL_ARG_SCRATCHPAD, t.pad[p]}};
      }
    }
    logVerbose("    dnnl:qconv {} chunks of {} image(s), oneDNN {}", chunks_, nb_, impl_);
  }

  void execute(const KernelCall& call) override {
    const int64_t n = xShape_[0], c = xShape_[1], o = yShape_[1];
    const int64_t hw = xShape_[2] * xShape_[3], ohw = yShape_[2] * yShape_[3];
    const char* x = static_cast<const char*>(call.in(0).raw());
    const char* r = stage_.hasResidual() ? static_cast<const char*>(call.in(3).raw()) : nullptr;
    char* y = static_cast<char*>(call.out(0).raw());
    const size_t osz = dtypeSize(outType_), rsz = r ? dtypeSize(resType_) : 0;
    const int nthr = static_cast<int>(
        std::min<int64_t>({static_cast<int64_t>(threads_.size()), omp_get_max_threads(), chunks_}));
    bool failed = false;
#pragma omp parallel num_threads(nthr)
    {
      ThreadState& t = threads_[static_cast<size_t>(omp_get_thread_num())];
      // Dynamic: on a busy machine a descheduled thread's chunks go to the other.
#pragma omp for schedule(dynamic, 1)
      for (int64_t ch = 0; ch < chunks_; ++ch) {
        const int64_t n0 = ch * nb_, cnt = std::min(nb_, n - n0);
        const int p = cnt == nb_ ? 0 : 1;
        const void* src = x + n0 * c * hw;
        if (!inDirect_) {
          toChannelsLast(src, t.x.get(), cnt, c, hw, 1);
          src = t.x.get();
        }
        t.src[p].set_data_handle(const_cast<void*>(src));
        try {
          prims_[p].execute(t.stream, t.args[p]);
          t.stream.wait();
        } catch (const dnnl::error& e) {
#pragma omp critical(hq_dnnl_qconv_error)
          {
            failed = true;
            error_ = e.what();
          }
          continue;
        }
        const int64_t elems = cnt * o * ohw, at = n0 * o * ohw;
        const void* res = nullptr;
        if (r) {
          res = r + at * static_cast<int64_t>(rsz);
          if (!resDirect_) {
            toChannelsLast(res, t.r.get(), cnt, o, ohw, rsz);
            res = t.r.get();
          }
        }
        char* yp = y + at * static_cast<int64_t>(osz);
        void* dst = outDirect_ ? static_cast<void*>(yp) : t.y.get();
        stage_.run(static_cast<const int32_t*>(t.acc.get()), res, dst, elems / o);
        if (!outDirect_) toChannelsFirst(t.y.get(), yp, cnt, o, ohw, osz);
      }
    }
    if (failed) throw dnnl::error(dnnl_runtime_error, error_.c_str());
  }

 private:
  struct ThreadState {
    dnnl::stream stream;
    AlignedBuffer acc, x, r, y, scratch;
    memory src[2], dst[2], pad[2];
    std::unordered_map<int, memory> args[2];
  };

  ConvGeom geom_;
  Shape xShape_, wShape_, yShape_;
  Tensor weights_;
  IntOutputStage stage_;
  DType outType_, resType_;
  bool inDirect_ = false, resDirect_ = true, outDirect_ = false;
  int64_t nb_ = 1, chunks_ = 1;
  dnnl::convolution_forward prims_[2];  // [0]: nb_ images, [1]: the last chunk's
  memory weiMem_[2];
  memory::desc srcDesc_[2], dstDesc_[2];
  std::vector<ThreadState> threads_;
  std::string impl_, error_;
};

// ---------------------------------------------------------------------------------------
// QGemm

class DnnlQGemm : public DnnlKernel {
 public:
  DnnlQGemm(int64_t m, int64_t k, int64_t n, std::vector<int8_t> weights, const IntPlan& plan)
      : m_(m), k_(k), n_(n), weights_(std::move(weights)), stage_(makeStage(n, plan)),
        outType_(plan.rq.outType) {}
  std::string name() const override {
    return stage_.hasResidual() ? "dnnl:qgemm+sum" : "dnnl:qgemm";
  }
  bool acceptsBlocked(size_t) const override { return false; }

 protected:
  void build(const std::vector<memory::desc>&, const std::vector<bool>&) override {
    memory::desc src({m_, k_}, dt::s8, tag::nc), dst({m_, n_}, dt::s32, tag::nc);
    dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src,
                                           memory::desc({n_, k_}, dt::s8, tag::any),
                                           memory::desc(), dst);
    dnnl::inner_product_forward::primitive_desc pd(desc, cpuEngine());
    prim_ = dnnl::inner_product_forward(pd);
    weiMem_ = memory(pd.weights_desc(), cpuEngine());
    memory plain({{n_, k_}, dt::s8, tag::oi}, cpuEngine(), weights_.data());
    dnnl::reorder(plain, weiMem_).execute(cpuStream(), plain, weiMem_);
    cpuStream().wait();
    acc_.allocate(static_cast<size_t>(m_ * n_) * 4);
    srcMem_ = memory(src, cpuEngine(), DNNL_MEMORY_NONE);
    dstMem_ = memory(dst, cpuEngine(), acc_.get());
    outDescs_ = {memory::desc()};
  }
  void execute(const KernelCall& call) override {
    srcMem_.set_data_handle(const_cast<void*>(call.in(0).raw()));
    prim_.execute(cpuStream(),
                  {{DNNL_ARG_SRC, srcMem_}, {DNNL_ARG_WEIGHTS, weiMem_}, {DNNL_ARG_DST, dstMem_}});
    cpuStream().wait();
    const int32_t* acc = static_cast<const int32_t*>(acc_.get());
    const char* r = stage_.hasResidual() ? static_cast<const char*>(call.in(3).raw()) : nullptr;
    char* y = static_cast<char*>(call.out(0).raw());
    const int64_t osz = static_cast<int64_t>(dtypeSize(outType_));
    constexpr int64_t kRows = 64;
#pragma omp parallel for schedule(static) if (m_ * n_ >= 16384)
    for (int64_t i = 0; i < m_; i += kRows) {
      const int64_t rows = std::min(kRows, m_ - i);
      stage_.run(acc + i * n_, r ? r + i * n_ * osz : nullptr, y + i * n_ * osz, rows);
    }
  }

 private:
  int64_t m_, k_, n_;
  std::vector<int8_t> weights_;  ///< [N, K]
  IntOutputStage stage_;
  DType outType_;
  dnnl::inner_product_forward prim_;
  memory srcMem_, weiMem_, dstMem_;
  AlignedBuffer acc_;
};

// Prepares a QConv kernel or says why not.
std::unique_ptr<DnnlKernel> prepareQConv(const Node& node, const std::vector<ValueInfo>& in,
                                         const std::vector<ValueInfo>& out, std::string* why) {
  if (node.domain != kIntDomain || node.opType != "QConv") {
    *why = "not an ai.hq QConv";
    return nullptr;
  }
  if (in.size() < 2 || out.empty() || in[0].shape.size() != 4 || in[1].shape.size() != 4 ||
      out[0].shape.size() != 4) {
    *why = "not a 2-D convolution";
    return nullptr;
  }
  IntPlan plan;
  *why = checkCommon(node, in, out, in[1].shape[0], plan);
  if (!why->empty()) return nullptr;
  ConvGeom geom;
  *why = convGeom(node, in[0].shape, in[1].shape, out[0].shape, geom);
  if (!why->empty()) return nullptr;
  const Shape& w = in[1].shape;
  *why = checkBound(in[1].constant->data<int8_t>(), w[0], w[1] * w[2] * w[3], plan);
  if (!why->empty()) return nullptr;
  return std::make_unique<DnnlQConv>(in, out, std::move(geom), plan);
}

std::unique_ptr<DnnlKernel> prepareQGemm(const Node& node, const std::vector<ValueInfo>& in,
                                         const std::vector<ValueInfo>& out, std::string* why) {
  if (node.domain != kIntDomain || node.opType != "QGemm") {
    *why = "not an ai.hq QGemm";
    return nullptr;
  }
  if (in.size() < 2 || out.empty() || in[1].shape.size() != 2 || in[0].shape.empty()) {
    *why = "not a [..., K] x 2-D product";
    return nullptr;
  }
  auto trans_b = ops::intAttr(node, "transB", 0);
  if (!trans_b.isOk() || (*trans_b != 0 && *trans_b != 1)) {
    *why = "bad transB";
    return nullptr;
  }
  const Shape& ws = in[1].shape;
  const int64_t k = ws[*trans_b ? 1 : 0], n = ws[*trans_b ? 0 : 1];
  IntPlan plan;
  *why = checkCommon(node, in, out, n, plan);
  if (!why->empty()) return nullptr;
  Shape ys = in[0].shape;
  ys.back() = n;
  if (in[0].shape.back() != k || out[0].shape != ys || k < 1 || n < 1) {
    *why = "shapes do not fit";
    return nullptr;
  }
  const int64_t m = shapeNumel(in[0].shape) / k;
  const int8_t* wd = in[1].constant->data<int8_t>();
  std::vector<int8_t> weights(static_cast<size_t>(n * k));
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < k; ++i) {
      weights[static_cast<size_t>(j * k + i)] = *trans_b ? wd[j * k + i] : wd[i * n + j];
    }
  }
  *why = checkBound(weights.data(), n, k, plan);
  if (!why->empty()) return nullptr;
  if (m < 1) {
    *why = "empty input";
    return nullptr;
  }
  return std::make_unique<DnnlQGemm>(m, k, n, std::move(weights), plan);
}

using Preparer = std::unique_ptr<DnnlKernel> (*)(const Node&, const std::vector<ValueInfo>&,
                                                 const std::vector<ValueInfo>&, std::string*);

std::unique_ptr<PreparedKernel> makeWith(Preparer prepare, const Node& node,
                                         const std::vector<ValueInfo>& in,
                                         const std::vector<ValueInfo>& out) {
  std::string why;
  std::unique_ptr<DnnlKernel> kernel = prepare(node, in, out, &why);
  if (kernel) {
    // Probe with plain layouts: a primitive oneDNN cannot build leaves the node to the
    // reference kernel.
    Status s = kernel->configure(std::vector<memory::desc>(in.size()),
                                 std::vector<bool>(out.size(), false));
    if (s.isOk()) return kernel;
    why = s.message();
  }
  logVerbose("  {}: int8 fast path off: {}", node.describe(), why);
  return nullptr;
}

}  // namespace

std::unique_ptr<PreparedKernel> makeQConv(const Node& node, const std::vector<ValueInfo>& inputs,
                                          const std::vector<ValueInfo>& outputs) {
  return makeWith(&prepareQConv, node, inputs, outputs);
}

std::unique_ptr<PreparedKernel> makeQGemm(const Node& node, const std::vector<ValueInfo>& inputs,
                                          const std::vector<ValueInfo>& outputs) {
  return makeWith(&prepareQGemm, node, inputs, outputs);
}

std::string intFastRefusal(const Node& node, const std::vector<ValueInfo>& inputs,
                           const std::vector<ValueInfo>& outputs) {
  std::string why;
  Preparer prepare = node.opType == "QGemm" ? &prepareQGemm : &prepareQConv;
  std::unique_ptr<DnnlKernel> kernel = prepare(node, inputs, outputs, &why);
  if (!kernel) return why;
  Status s = kernel->configure(std::vector<memory::desc>(inputs.size()),
                               std::vector<bool>(outputs.size(), false));
  return s.isOk() ? "" : s.message();
}

}  // namespace hq::dnnl_rt
