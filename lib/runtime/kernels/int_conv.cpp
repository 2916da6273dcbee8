// Reference kernels of the ai.hq compute units (schemas/int-ops.md section 2): QConv,
// QConvTranspose, QGemm. int8/int16 X times int8 W, accumulated exactly in int32, then one
// output stage per element: requantizeBiased with the int64 fixed-point bias (or
// requantizeSumBiased with a residual R) to int8/int16, or acc + the int32 bias, clamped,
// for an int32 output. Plain loops in the float
// reference kernels' order (runtime/kernels/conv.cpp), OpenMP over (batch, output channel)
// or rows; the oracle of any faster integer kernel.
#include <algorithm>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "ir/ops/int_compute.h"
#include "runtime/kernels/reference_kernels.h"
#include "runtime/kernels/window3d.h"
#include "support/fixed_point.h"

namespace hq::kernels {

namespace {

/// Largest |value| of an int8 / int16 / int32 dtype.
int64_t maxAbsOf(DType t) {
  return t == DType::kInt8 ? 128 : t == DType::kInt16 ? 32768 : int64_t{1} << 31;
}

/// Largest |x| over a tensor of integers.
template <typename T>
int64_t maxAbs(const T* p, int64_t n) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max<int64_t>(m, std::abs(static_cast<int64_t>(p[i])));
  return m;
}

/// Where the accumulators of one compute node live: `terms` products per output element
/// at most; weight element i belongs to output channel channelOf(i).
struct AccumulatorBound {
  int64_t terms = 0;
  int64_t channels = 0;
  const int8_t* w = nullptr;
  int64_t wCount = 0;
  const int32_t* b = nullptr;  ///< the int32 bias of an int32 output; nullptr: none (or int64)
};

/// The int32 accumulators cannot overflow (hq-convert checks this when it writes the
/// model; a model that breaks it is an error here, never undefined behaviour). First with
/// the dtype's bound for |X| and |W| (no pass over data), then, only if that fails, with
/// the actual largest |X| and per-channel |W[o]|.
template <typename ChannelOf>
Status checkAccumulators(const KernelCall& call, const AccumulatorBound& a, ChannelOf channel_of) {
  const Tensor& x = call.in(0);
  int64_t max_b = 0;
  for (int64_t o = 0; a.b && o < a.channels; ++o) {
    max_b = std::max<int64_t>(max_b, std::abs(static_cast<int64_t>(a.b[o])));
  }
  if (fxp::accumulatorFitsInt32(a.terms, maxAbsOf(x.dtype()), 128, max_b)) return Status::ok();
  const int64_t max_x = x.dtype() == DType::kInt8 ? maxAbs(x.data<int8_t>(), x.numel())
                                                  : maxAbs(x.data<int16_t>(), x.numel());
  std::vector<int64_t> max_w(static_cast<size_t>(a.channels), 0);
  for (int64_t i = 0; i < a.wCount; ++i) {
    int64_t& m = max_w[static_cast<size_t>(channel_of(i))];
    m = std::max<int64_t>(m, std::abs(static_cast<int64_t>(a.w[i])));
  }
  for (int64_t o = 0; o < a.channels; ++o) {
    const int64_t b = a.b ? std::abs(static_cast<int64_t>(a.b[o])) : 0;
    if (!fxp::accumulatorFitsInt32(a.terms, max_x, max_w[static_cast<size_t>(o)], b)) {
      return call.error(ErrorCode::kData,
                        "the int32 accumulator of output channel {} can overflow: {} terms, "
                        "max |X| = {}, max |W| = {}, |B| = {} (hq-convert refuses such models)",
                        o, a.terms, max_x, max_w[static_cast<size_t>(o)], b);
    }
  }
  return Status::ok();
}

/// Dtypes of X, W, B, R and Y and Y's shape; the output stage's parameters.
Expected<ops::IntRequant> checkCall(const KernelCall& call, int64_t channels,
                                    const Shape& expected) {
  if (!call.has(0) || !call.has(1)) return call.error(ErrorCode::kShape, "inputs X and W are required");
  const DType xt = call.in(0).dtype();
  if (xt != DType::kInt8 && xt != DType::kInt16) {
    return call.error(ErrorCode::kUnsupported, "input X has dtype {}; expected int8 or int16",
                      dtypeName(xt));
  }
  if (call.in(1).dtype() != DType::kInt8) {
    return call.error(ErrorCode::kUnsupported, "weight W has dtype {}; expected int8",
                      dtypeName(call.in(1).dtype()));
  }
  ops::IntRequantOptions opts;
  opts.count = channels;
  opts.residual = call.has(3);
  opts.allowInt32 = true;
  HQ_ASSIGN_OR_RETURN(ops::IntRequant rq, ops::readIntRequant(call.node, opts));
  if (call.has(2)) {
    HQ_RETURN_IF_ERROR(ops::checkComputeBias(call.node, rq.outType, call.in(2), channels));
  }
  if (!call.hasOut(0) || call.out(0).dtype() != rq.outType || call.out(0).shape() != expected) {
    return call.error(ErrorCode::kInternal, "output buffer is {} {}; expected {} {}",
                      call.hasOut(0) ? dtypeName(call.out(0).dtype()) : "missing",
                      call.hasOut(0) ? shapeString(call.out(0).shape()) : "",
                      dtypeName(rq.outType), shapeString(expected));
  }
  if (call.has(3) && ((call.in(3).dtype() != DType::kInt8 && call.in(3).dtype() != DType::kInt16) ||
                       call.in(3).shape() != expected)) {
    return call.error(ErrorCode::kShape, "residual R is {} {}; expected int8 or int16 {} (the "
                      "output's shape)", dtypeName(call.in(3).dtype()),
                      shapeString(call.in(3).shape()), shapeString(expected));
  }
  return rq;
}

/// The output stage of `count` accumulators: element i belongs to output channel
/// o0 + i * o_step (o_step 0: one channel plane; 1: a Gemm row). r: residual (int8 or
/// int16, either for either output type) or nullptr;
/// b64: the int64 fixed-point bias of a requantized output, or nullptr (zeros). An int32
/// output's bias is already in acc.
template <typename TY, typename TR>
void outputStage(const int32_t* acc, int64_t count, int64_t o0, int64_t o_step,
                 const ops::IntRequant& rq, const int64_t* b64, const TR* r, TY* y) {
  if constexpr (std::is_same_v<TY, int32_t>) {
    for (int64_t i = 0; i < count; ++i) y[i] = fxp::saturate(acc[i], rq.clamp);
  } else {
    auto bias = [&](size_t o) { return b64 ? b64[o] : int64_t{0}; };
    if (r && o_step == 0) {
      const size_t o = static_cast<size_t>(o0);
      const int32_t m = rq.multiplier[o], rm = rq.residualMultiplier[o];
      const int s = rq.shift[o];
      const int64_t b = bias(o);
      for (int64_t i = 0; i < count; ++i) {
        y[i] = static_cast<TY>(fxp::requantizeSumBiased(acc[i], m, r[i], rm, s, b, rq.clamp));
      }
    } else if (r) {
      for (int64_t i = 0; i < count; ++i) {
        const size_t o = static_cast<size_t>(o0 + i * o_step);
        y[i] = static_cast<TY>(fxp::requantizeSumBiased(acc[i], rq.multiplier[o], r[i],
                                                        rq.residualMultiplier[o], rq.shift[o],
                                                        bias(o), rq.clamp));
      }
    } else if (o_step == 0) {
      const size_t o = static_cast<size_t>(o0);
      const fxp::FixedMultiplier m = rq.at(o);
      const int64_t b = bias(o);
      for (int64_t i = 0; i < count; ++i) {
        y[i] = static_cast<TY>(fxp::requantizeBiased(acc[i], m, b, rq.clamp));
      }
    } else {
      for (int64_t i = 0; i < count; ++i) {
        const size_t o = static_cast<size_t>(o0 + i);
        y[i] = static_cast<TY>(fxp::requantizeBiased(acc[i], rq.at(o), bias(o), rq.clamp));
      }
    }
  }
}

/// The biases of a compute call: int32 (added to the accumulator) for an int32 output,
/// int64 fixed-point (added in the output stage) for a requantized one; nullptr: none.
struct CallBias {
  const int32_t* b32 = nullptr;
  const int64_t* b64 = nullptr;
};

CallBias callBias(const KernelCall& call) {
  CallBias b;
  if (!call.has(2)) return b;
  if (call.in(2).dtype() == DType::kInt32) {
    b.b32 = call.in(2).data<int32_t>();
  } else {
    b.b64 = call.in(2).data<int64_t>();
  }
  return b;
}

/// Sizes of a QConv / QConvTranspose call.
struct ConvDims {
  Window3d g;
  int64_t batch = 0, cIn = 0, cOut = 0;
  int64_t cpg = 0;  ///< input channels per group
  int64_t mpg = 0;  ///< output channels per group
};

/// acc (one output plane of channel m, batch n) += the products of QConv.
template <typename TX>
void convPlane(const ConvDims& cd, int64_t n, int64_t m, const TX* xd, const int8_t* wd,
               int32_t* acc) {
  const Window3d& g = cd.g;
  const int64_t grp = m / cd.mpg, in_plane = g.inPlane(), kvol = g.kernelVolume();
  for (int64_t ic = 0; ic < cd.cpg; ++ic) {
    const TX* xp = xd + (n * cd.cIn + grp * cd.cpg + ic) * in_plane;
    const int8_t* wp = wd + (m * cd.cpg + ic) * kvol;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int32_t wv = wp[(kd * g.k[1] + kh) * g.k[2] + kw];
          if (wv == 0) continue;
          const int64_t off_w = kw * g.d[2] - g.padBegin[2];
          int64_t lo, hi;
          validRange(g.out[2], g.s[2], off_w, g.in[2], &lo, &hi);
          for (int64_t od = 0; od < g.out[0]; ++od) {
            const int64_t id = od * g.s[0] + kd * g.d[0] - g.padBegin[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (int64_t oh = 0; oh < g.out[1]; ++oh) {
              const int64_t ih = oh * g.s[1] + kh * g.d[1] - g.padBegin[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              const TX* xr = xp + (id * g.in[1] + ih) * g.in[2];
              int32_t* ar = acc + (od * g.out[1] + oh) * g.out[2];
              if (g.s[2] == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) ar[ow] += wv * xr[ow + off_w];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) ar[ow] += wv * xr[ow * g.s[2] + off_w];
              }
            }
          }
        }
      }
    }
  }
}

/// acc (one output plane of channel m, batch n) += the scattered products of
/// QConvTranspose: y[i * s + k * d - pad_begin] += x[i] * w[k].
template <typename TX>
void convTransposePlane(const ConvDims& cd, int64_t n, int64_t m, const TX* xd, const int8_t* wd,
                        int32_t* acc) {
  const Window3d& g = cd.g;
  const int64_t grp = m / cd.mpg, oc = m % cd.mpg;
  const int64_t in_plane = g.inPlane(), kvol = g.kernelVolume();
  for (int64_t ic = 0; ic < cd.cpg; ++ic) {
    const int64_t c = grp * cd.cpg + ic;
    const TX* xp = xd + (n * cd.cIn + c) * in_plane;
    const int8_t* wp = wd + (c * cd.mpg + oc) * kvol;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int32_t wv = wp[(kd * g.k[1] + kh) * g.k[2] + kw];
          if (wv == 0) continue;
          const int64_t off_w = kw * g.d[2] - g.padBegin[2];
          int64_t lo, hi;
          validRange(g.in[2], g.s[2], off_w, g.out[2], &lo, &hi);
          for (int64_t id = 0; id < g.in[0]; ++id) {
            const int64_t od = id * g.s[0] + kd * g.d[0] - g.padBegin[0];
            if (od < 0 || od >= g.out[0]) continue;
            for (int64_t ih = 0; ih < g.in[1]; ++ih) {
              const int64_t oh = ih * g.s[1] + kh * g.d[1] - g.padBegin[1];
              if (oh < 0 || oh >= g.out[1]) continue;
              const TX* xr = xp + (id * g.in[1] + ih) * g.in[2];
              int32_t* ar = acc + (od * g.out[1] + oh) * g.out[2];
              for (int64_t iw = lo; iw < hi; ++iw) ar[iw * g.s[2] + off_w] += wv * xr[iw];
            }
          }
        }
      }
    }
  }
}

template <typename TX, typename TY, typename TR>
void runConv(const KernelCall& call, const ConvDims& cd, bool transpose,
             const ops::IntRequant& rq) {
  const TX* xd = call.in(0).data<TX>();
  const int8_t* wd = call.in(1).data<int8_t>();
  const CallBias cb = callBias(call);
  const int32_t* bd = cb.b32;  // int32 output: the accumulator starts at the bias
  const TR* rd = call.has(3) ? call.in(3).data<TR>() : nullptr;
  TY* yd = call.out(0).data<TY>();
  const int64_t out_plane = cd.g.outPlane(), planes = cd.batch * cd.cOut;

#pragma omp parallel
  {
    std::vector<int32_t> acc(static_cast<size_t>(out_plane));
#pragma omp for schedule(static)
    for (int64_t nm = 0; nm < planes; ++nm) {
      const int64_t n = nm / cd.cOut, m = nm % cd.cOut;
      std::fill(acc.begin(), acc.end(), bd ? bd[m] : 0);
      if (transpose) {
        convTransposePlane(cd, n, m, xd, wd, acc.data());
      } else {
        convPlane(cd, n, m, xd, wd, acc.data());
      }
      outputStage<TY, TR>(acc.data(), out_plane, m, 0, rq, cb.b64,
                          rd ? rd + nm * out_plane : nullptr, yd + nm * out_plane);
    }
  }
}

/// Dispatch on (X dtype, Y dtype, R dtype); `fn` is a generic lambda taking (TX{}, TY{},
/// TR{}); TR is int8_t when there is no residual.
template <typename Fn>
void dispatchTypes(DType xt, DType yt, DType rt, Fn&& fn) {
  auto with_r = [&](auto tx, auto ty) {
    if (rt == DType::kInt16) {
      fn(tx, ty, int16_t{});
    } else {
      fn(tx, ty, int8_t{});
    }
  };
  auto with_y = [&](auto tx) {
    if (yt == DType::kInt8) {
      with_r(tx, int8_t{});
    } else if (yt == DType::kInt16) {
      with_r(tx, int16_t{});
    } else {
      fn(tx, int32_t{}, int8_t{});  // an int32 output has no residual
    }
  };
  if (xt == DType::kInt8) {
    with_y(int8_t{});
  } else {
    with_y(int16_t{});
  }
}

Status qconv(const KernelCall& call, bool transpose) {
  if (!call.has(0) || !call.has(1)) return call.error(ErrorCode::kShape, "inputs X and W are required");
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  if (w.rank() < 3 || w.rank() > 5 || x.rank() != w.rank()) {
    return call.error(ErrorCode::kShape, "X {} and W {} must have the same rank, 3 to 5",
                      shapeString(x.shape()), shapeString(w.shape()));
  }
  HQ_ASSIGN_OR_RETURN(int64_t group, ops::intAttr(call.node, "group", 1));
  const bool channels_ok =
      group >= 1 && (transpose ? (x.dim(1) == w.dim(0) && w.dim(0) % group == 0)
                               : (x.dim(1) == w.dim(1) * group && w.dim(0) % group == 0));
  if (!channels_ok) {
    return call.error(ErrorCode::kShape, "X {} and W {} do not fit with group {}",
                      shapeString(x.shape()), shapeString(w.shape()), group);
  }
  const std::vector<int64_t> kernel = ops::spatialDims(w.shape());
  const std::vector<int64_t> in = ops::spatialDims(x.shape());
  ops::Window win;
  if (transpose) {
    HQ_ASSIGN_OR_RETURN(win, ops::transposeWindow(call.node, in, kernel));
  } else {
    HQ_ASSIGN_OR_RETURN(win, ops::forwardWindow(call.node, in, kernel, {}));
  }
  ConvDims cd;
  cd.g = toWindow3d(win);
  cd.batch = x.dim(0);
  cd.cIn = x.dim(1);
  cd.cOut = transpose ? w.dim(1) * group : w.dim(0);
  cd.cpg = transpose ? x.dim(1) / group : w.dim(1);
  cd.mpg = cd.cOut / group;
  Shape expected = {cd.batch, cd.cOut};
  expected.insert(expected.end(), win.output.begin(), win.output.end());
  HQ_ASSIGN_OR_RETURN(ops::IntRequant rq, checkCall(call, cd.cOut, expected));

  AccumulatorBound bound;
  bound.terms = cd.cpg * cd.g.kernelVolume();
  bound.channels = cd.cOut;
  bound.w = w.data<int8_t>();
  bound.wCount = w.numel();
  bound.b = callBias(call).b32;  // a requantized output's bias is not in the accumulator
  const int64_t kvol = cd.g.kernelVolume(), cpg = cd.cpg, mpg = cd.mpg;
  if (transpose) {
    // W [C, O / group, k...]: element i is (c, oc, k) with output channel grp * mpg + oc.
    HQ_RETURN_IF_ERROR(checkAccumulators(call, bound, [&](int64_t i) {
      const int64_t c = i / (mpg * kvol), oc = (i / kvol) % mpg;
      return (c / cpg) * mpg + oc;
    }));
  } else {
    HQ_RETURN_IF_ERROR(
        checkAccumulators(call, bound, [&](int64_t i) { return i / (cpg * kvol); }));
  }
  const DType rt = call.has(3) ? call.in(3).dtype() : DType::kInt8;
  dispatchTypes(x.dtype(), rq.outType, rt, [&](auto tx, auto ty, auto tr) {
    runConv<decltype(tx), decltype(ty), decltype(tr)>(call, cd, transpose, rq);
  });
  return Status::ok();
}

template <typename TX, typename TY, typename TR>
void runGemm(const KernelCall& call, int64_t rows, int64_t k_size, int64_t n_size, bool trans_b,
             const ops::IntRequant& rq) {
  const TX* xd = call.in(0).data<TX>();
  const int8_t* wd = call.in(1).data<int8_t>();
  const CallBias cb = callBias(call);
  const int32_t* bd = cb.b32;  // int32 output: the accumulator starts at the bias
  const TR* rd = call.has(3) ? call.in(3).data<TR>() : nullptr;
  TY* yd = call.out(0).data<TY>();

#pragma omp parallel
  {
    std::vector<int32_t> acc(static_cast<size_t>(n_size));
#pragma omp for schedule(static)
    for (int64_t m = 0; m < rows; ++m) {
      const TX* xr = xd + m * k_size;
      if (trans_b) {
        // W [N, K]: one dot product of contiguous rows per output.
        for (int64_t n = 0; n < n_size; ++n) {
          const int8_t* wr = wd + n * k_size;
          int32_t sum = bd ? bd[n] : 0;
          for (int64_t k = 0; k < k_size; ++k) sum += static_cast<int32_t>(xr[k]) * wr[k];
          acc[static_cast<size_t>(n)] = sum;
        }
      } else {
        // W [K, N]: add x[m, k] * row k of W.
        for (int64_t n = 0; n < n_size; ++n) acc[static_cast<size_t>(n)] = bd ? bd[n] : 0;
        for (int64_t k = 0; k < k_size; ++k) {
          const int32_t xv = xr[k];
          if (xv == 0) continue;
          const int8_t* wr = wd + k * n_size;
          for (int64_t n = 0; n < n_size; ++n) acc[static_cast<size_t>(n)] += xv * wr[n];
        }
      }
      outputStage<TY, TR>(acc.data(), n_size, 0, 1, rq, cb.b64, rd ? rd + m * n_size : nullptr,
                          yd + m * n_size);
    }
  }
}

}  // namespace

Status refQConv(const KernelCall& call) { return qconv(call, /*transpose=*/false); }

Status refQConvTranspose(const KernelCall& call) { return qconv(call, /*transpose=*/true); }

Status refQGemm(const KernelCall& call) {
  if (!call.has(0) || !call.has(1)) return call.error(ErrorCode::kShape, "inputs X and W are required");
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  HQ_ASSIGN_OR_RETURN(int64_t trans_b, ops::intAttr(call.node, "transB", 0));
  if (w.rank() != 2 || x.rank() < 1 || (trans_b != 0 && trans_b != 1)) {
    return call.error(ErrorCode::kShape, "X {} must be [..., K] and W {} 2-D (transB = {})",
                      shapeString(x.shape()), shapeString(w.shape()), trans_b);
  }
  const int64_t k_size = w.dim(trans_b ? 1 : 0), n_size = w.dim(trans_b ? 0 : 1);
  if (x.dim(-1) != k_size) {
    return call.error(ErrorCode::kShape, "inner dimensions of X {} and W {} (transB = {}) differ",
                      shapeString(x.shape()), shapeString(w.shape()), trans_b);
  }
  Shape expected = x.shape();
  expected.back() = n_size;
  HQ_ASSIGN_OR_RETURN(ops::IntRequant rq, checkCall(call, n_size, expected));
  AccumulatorBound bound;
  bound.terms = k_size;
  bound.channels = n_size;
  bound.w = w.data<int8_t>();
  bound.wCount = w.numel();
  bound.b = callBias(call).b32;  // a requantized output's bias is not in the accumulator
  if (trans_b) {
    HQ_RETURN_IF_ERROR(checkAccumulators(call, bound, [&](int64_t i) { return i / k_size; }));
  } else {
    HQ_RETURN_IF_ERROR(checkAccumulators(call, bound, [&](int64_t i) { return i % n_size; }));
  }
  const int64_t rows = k_size > 0 ? x.numel() / k_size : shapeNumel(expected) / std::max<int64_t>(1, n_size);
  const DType rt = call.has(3) ? call.in(3).dtype() : DType::kInt8;
  dispatchTypes(x.dtype(), rq.outType, rt, [&](auto tx, auto ty, auto tr) {
    runGemm<decltype(tx), decltype(ty), decltype(tr)>(call, rows, k_size, n_size, trans_b != 0,
                                                      rq);
  });
  return Status::ok();
}

}  // namespace hq::kernels
