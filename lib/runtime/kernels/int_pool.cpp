// Reference kernels of the ai.hq pooling ops (schemas/int-ops.md sections 3 and 4.1), NCHW,
// 1-D to 3-D windows, int8 or int16:
// - QMaxPool, QGlobalMaxPool: the max over the window (padded positions are never
//   selected); exact, output dtype = input dtype.
// - QAveragePool, QGlobalAveragePool: the int32 sum over the window positions inside the
//   input, then requantize with the multiplier of the window's divisor n (entry n - 1),
//   n counted exactly as the float AveragePool kernel (runtime/kernels/pool.cpp) counts it.
#include <algorithm>
#include <limits>
#include <vector>

#include "ir/ops/int_compute.h"
#include "runtime/kernels/reference_kernels.h"
#include "runtime/kernels/window3d.h"
#include "support/fixed_point.h"

namespace hq::kernels {

namespace {

Status requireIntInput(const KernelCall& call) {
  if (!call.has(0)) return call.error(ErrorCode::kShape, "input X is required");
  const DType t = call.in(0).dtype();
  if (t != DType::kInt8 && t != DType::kInt16) {
    return call.error(ErrorCode::kUnsupported, "input X has dtype {}; expected int8 or int16",
                      dtypeName(t));
  }
  if (call.in(0).rank() < 3 || call.in(0).rank() > 5) {
    return call.error(ErrorCode::kShape, "input X has shape {}; expected rank 3 to 5",
                      shapeString(call.in(0).shape()));
  }
  return Status::ok();
}

Status checkOutput(const KernelCall& call, DType dtype, const Shape& expected) {
  if (!call.hasOut(0) || call.out(0).dtype() != dtype || call.out(0).shape() != expected) {
    return call.error(ErrorCode::kInternal, "output buffer is {} {}; expected {} {}",
                      call.hasOut(0) ? dtypeName(call.out(0).dtype()) : "missing",
                      call.hasOut(0) ? shapeString(call.out(0).shape()) : "", dtypeName(dtype),
                      shapeString(expected));
  }
  return Status::ok();
}

/// The window of QMaxPool / QAveragePool for X's shape; checks the output buffer.
Expected<Window3d> poolWindow(const KernelCall& call, bool is_max, DType out_type) {
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(auto kernel, ops::intsAttr(call.node, "kernel_shape", {}, 0, 1));
  if (static_cast<int64_t>(kernel.size()) != x.rank() - 2) {
    return call.error(ErrorCode::kShape,
                      "X {} needs one kernel_shape value per spatial dim (got {})",
                      shapeString(x.shape()), kernel.size());
  }
  ops::ForwardWindowOptions opts;
  HQ_ASSIGN_OR_RETURN(int64_t ceil_mode, ops::intAttr(call.node, "ceil_mode", 0));
  opts.ceilMode = ceil_mode != 0;
  opts.readDilations = is_max;
  HQ_ASSIGN_OR_RETURN(ops::Window win,
                      ops::forwardWindow(call.node, ops::spatialDims(x.shape()), kernel, opts));
  Shape expected = {x.dim(0), x.dim(1)};
  expected.insert(expected.end(), win.output.begin(), win.output.end());
  HQ_RETURN_IF_ERROR(checkOutput(call, out_type, expected));
  return toWindow3d(win);
}

template <typename T>
void maxPool(const Tensor& x, Tensor& y, const Window3d& g) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  const T* xd = x.data<T>();
  T* yd = y.data<T>();

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* xp = xd + nc * in_plane;
    T* yp = yd + nc * out_plane;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          // Only positions inside the input compete; a window entirely in the padding (only
          // possible with pads >= kernel) gives the type's minimum, as the float kernel's
          // lowest float quantizes to it.
          T best = std::numeric_limits<T>::min();
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = od * g.s[0] + kd * g.d[0] - g.padBegin[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = oh * g.s[1] + kh * g.d[1] - g.padBegin[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              const T* xr = xp + (id * g.in[1] + ih) * g.in[2];
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const int64_t iw = ow * g.s[2] + kw * g.d[2] - g.padBegin[2];
                if (iw >= 0 && iw < g.in[2] && xr[iw] > best) best = xr[iw];
              }
            }
          }
          yp[(od * g.out[1] + oh) * g.out[2] + ow] = best;
        }
      }
    }
  }
}

template <typename T>
void globalMaxPool(const Tensor& x, Tensor& y) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t plane = planes > 0 ? x.numel() / planes : 0;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* p = xd + nc * plane;
    T best = std::numeric_limits<T>::min();
    for (int64_t i = 0; i < plane; ++i) best = p[i] > best ? p[i] : best;
    yd[nc] = best;
  }
}

/// The int32 sums cannot overflow: `count` terms of |x| <= the dtype's bound, else of
/// the actual largest |x| (hq-convert checks this when it writes the model).
Status checkSum(const KernelCall& call, int64_t count) {
  const Tensor& x = call.in(0);
  const bool int8 = x.dtype() == DType::kInt8;
  if (fxp::accumulatorFitsInt32(count, int8 ? 128 : 32768, 1, 0)) return Status::ok();
  int64_t max_x = 0;
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = int8 ? x.data<int8_t>()[i] : x.data<int16_t>()[i];
    max_x = std::max(max_x, v < 0 ? -v : v);
  }
  if (!fxp::accumulatorFitsInt32(count, max_x, 1, 0)) {
    return call.error(ErrorCode::kData,
                      "the int32 sum of {} elements with max |X| = {} can overflow (hq-convert "
                      "refuses such models)",
                      count, max_x);
  }
  return Status::ok();
}

template <typename TX, typename TY>
void averagePool(const Tensor& x, Tensor& y, const Window3d& g, bool include_pad,
                 const ops::IntRequant& rq) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  const TX* xd = x.data<TX>();
  TY* yd = y.data<TY>();
  const int32_t empty = fxp::saturate(0, rq.clamp);

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const TX* xp = xd + nc * in_plane;
    TY* yp = yd + nc * out_plane;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const AverageSpan sd = averageSpan(g, 0, od);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const AverageSpan sh = averageSpan(g, 1, oh);
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const AverageSpan sw = averageSpan(g, 2, ow);
          int32_t sum = 0;
          for (int64_t id = sd.lo; id < sd.hi; ++id) {
            for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
              const TX* xr = xp + (id * g.in[1] + ih) * g.in[2];
              for (int64_t iw = sw.lo; iw < sw.hi; ++iw) sum += xr[iw];
            }
          }
          const int64_t n = averageCount(sd, sh, sw, include_pad);
          // n is in [1, kernel volume] except for a window entirely in the padding (n = 0,
          // only with pads >= kernel), which averages nothing: 0, as the float kernel.
          yp[(od * g.out[1] + oh) * g.out[2] + ow] = static_cast<TY>(
              n > 0 ? fxp::requantize(sum, rq.at(static_cast<size_t>(n - 1)), rq.clamp) : empty);
        }
      }
    }
  }
}

template <typename TX, typename TY>
void globalAveragePool(const Tensor& x, Tensor& y, const ops::IntRequant& rq) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t plane = planes > 0 ? x.numel() / planes : 0;
  const TX* xd = x.data<TX>();
  TY* yd = y.data<TY>();
  const fxp::FixedMultiplier m = rq.at(0);
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const TX* p = xd + nc * plane;
    int32_t sum = 0;
    for (int64_t i = 0; i < plane; ++i) sum += p[i];
    yd[nc] = static_cast<TY>(plane > 0 ? fxp::requantize(sum, m, rq.clamp)
                                       : fxp::saturate(0, rq.clamp));
  }
}

/// Dispatch on (X dtype, Y dtype), both int8 or int16; `fn` takes (TX{}, TY{}).
template <typename Fn>
void dispatchTypes(DType xt, DType yt, Fn&& fn) {
  auto with_y = [&](auto tx) {
    if (yt == DType::kInt8) {
      fn(tx, int8_t{});
    } else {
      fn(tx, int16_t{});
    }
  };
  if (xt == DType::kInt8) {
    with_y(int8_t{});
  } else {
    with_y(int16_t{});
  }
}

}  // namespace

Status refQMaxPool(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireIntInput(call));
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(Window3d g, poolWindow(call, /*is_max=*/true, x.dtype()));
  if (x.dtype() == DType::kInt8) {
    maxPool<int8_t>(x, call.out(0), g);
  } else {
    maxPool<int16_t>(x, call.out(0), g);
  }
  return Status::ok();
}

Status refQGlobalMaxPool(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireIntInput(call));
  const Tensor& x = call.in(0);
  Shape expected(static_cast<size_t>(x.rank()), 1);
  expected[0] = x.dim(0);
  expected[1] = x.dim(1);
  HQ_RETURN_IF_ERROR(checkOutput(call, x.dtype(), expected));
  if (x.dtype() == DType::kInt8) {
    globalMaxPool<int8_t>(x, call.out(0));
  } else {
    globalMaxPool<int16_t>(x, call.out(0));
  }
  return Status::ok();
}

Status refQAveragePool(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireIntInput(call));
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(auto kernel, ops::intsAttr(call.node, "kernel_shape", {}, 0, 1));
  int64_t kvol = 1;
  for (int64_t k : kernel) kvol *= k;
  ops::IntRequantOptions opts;
  opts.count = kvol;
  opts.countMeaning = "one per divisor n = 1 .. kernel volume, at index n - 1";
  HQ_ASSIGN_OR_RETURN(ops::IntRequant rq, ops::readIntRequant(call.node, opts));
  HQ_ASSIGN_OR_RETURN(Window3d g, poolWindow(call, /*is_max=*/false, rq.outType));
  HQ_ASSIGN_OR_RETURN(int64_t include_pad, ops::intAttr(call.node, "count_include_pad", 0));
  HQ_RETURN_IF_ERROR(checkSum(call, kvol));
  dispatchTypes(x.dtype(), rq.outType, [&](auto tx, auto ty) {
    averagePool<decltype(tx), decltype(ty)>(x, call.out(0), g, include_pad != 0, rq);
  });
  return Status::ok();
}

Status refQGlobalAveragePool(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireIntInput(call));
  const Tensor& x = call.in(0);
  ops::IntRequantOptions opts;
  opts.count = 1;
  opts.countMeaning = "one: the divisor is H * W";
  HQ_ASSIGN_OR_RETURN(ops::IntRequant rq, ops::readIntRequant(call.node, opts));
  Shape expected(static_cast<size_t>(x.rank()), 1);
  expected[0] = x.dim(0);
  expected[1] = x.dim(1);
  HQ_RETURN_IF_ERROR(checkOutput(call, rq.outType, expected));
  const int64_t planes = x.dim(0) * x.dim(1);
  HQ_RETURN_IF_ERROR(checkSum(call, planes > 0 ? x.numel() / planes : 0));
  dispatchTypes(x.dtype(), rq.outType, [&](auto tx, auto ty) {
    globalAveragePool<decltype(tx), decltype(ty)>(x, call.out(0), rq);
  });
  return Status::ok();
}

}  // namespace hq::kernels
