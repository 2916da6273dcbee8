// Reference kernels of the ai.hq tensor ops (schemas/int-ops.md 3, 4.5, 4.6, 4.8): QConcat,
// QResize (nearest: a gather; linear: integer bilinear weights), QSoftmax. Plain loops over
// hq::fxp; QResize takes its source indices and real weights from the float Resize kernel's
// axisTaps, so both read the same pixels.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ir/ops/int_elementwise.h"
#include "runtime/kernels/int_kernel_util.h"
#include "runtime/kernels/reference_kernels.h"
#include "runtime/kernels/resize_taps.h"

namespace hq::kernels {

namespace {

/// Whether requantize(x, m, clamp) is x for every x of dtype t: m is exactly 1 (2^s * 2^-s)
/// and the clamp is t's full range.
bool isIdentity(fxp::FixedMultiplier m, fxp::IntRange clamp, DType t) {
  return m.shift <= 30 && m.multiplier == (int32_t{1} << m.shift) && clamp == ops::intDTypeRange(t);
}

/// Integer taps of one axis: per output index, `taps` (index, weight) pairs with weights
/// in fixed point of `frac_bits` bits summing to 2^frac_bits.
struct IntTaps {
  int64_t taps = 1;
  std::vector<int64_t> idx;
  std::vector<int32_t> weight;
};

IntTaps intTaps(const AxisTaps& t, int frac_bits) {
  IntTaps r;
  r.taps = t.taps;
  r.idx = t.idx;
  r.weight.resize(t.idx.size());
  const int32_t one = int32_t{1} << frac_bits;
  const size_t n = t.taps == 0 ? 0 : t.idx.size() / static_cast<size_t>(t.taps);
  for (size_t o = 0; o < n; ++o) {
    if (t.taps == 1) {
      r.weight[o] = one;
    } else {  // linear: real weights 1 - l, l; w1 = interpolationWeight(l), w0 = 2^F - w1
      const int32_t w1 = fxp::interpolationWeight(t.weight[2 * o + 1], frac_bits);
      r.weight[2 * o] = one - w1;
      r.weight[2 * o + 1] = w1;
    }
  }
  return r;
}

template <typename TX, typename TY>
void resizeLinear(const Tensor& x, Tensor& y, const IntTaps& ty_taps, const IntTaps& tx_taps,
                  const ops::QResizeParams& p) {
  const int64_t rank = x.rank();
  const int64_t in_h = x.dim(rank - 2), in_w = x.dim(rank - 1);
  const int64_t out_h = y.dim(rank - 2), out_w = y.dim(rank - 1);
  const int64_t planes = in_h * in_w != 0 ? x.numel() / (in_h * in_w) : 0;
  const TX* in = x.data<TX>();
  TY* out = y.data<TY>();
  for (int64_t plane = 0; plane < planes; ++plane) {
    const TX* src = in + plane * in_h * in_w;
    TY* dst = out + plane * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      for (int64_t ox = 0; ox < out_w; ++ox) {
        int64_t acc = 0;  // within int32 (frac_bits checked against the input's bits)
        for (int64_t a = 0; a < ty_taps.taps; ++a) {
          const int64_t wy = ty_taps.weight[oy * ty_taps.taps + a];
          const TX* row = src + ty_taps.idx[oy * ty_taps.taps + a] * in_w;
          for (int64_t b = 0; b < tx_taps.taps; ++b) {
            acc += wy * tx_taps.weight[ox * tx_taps.taps + b] *
                   row[tx_taps.idx[ox * tx_taps.taps + b]];
          }
        }
        dst[oy * out_w + ox] =
            static_cast<TY>(fxp::requantize(static_cast<int32_t>(acc), p.multiplier, p.out.clamp));
      }
    }
  }
}

template <typename T>
void resizeNearest(const Tensor& x, Tensor& y, const AxisTaps& ty_taps, const AxisTaps& tx_taps) {
  const int64_t rank = x.rank();
  const int64_t in_h = x.dim(rank - 2), in_w = x.dim(rank - 1);
  const int64_t out_h = y.dim(rank - 2), out_w = y.dim(rank - 1);
  const int64_t planes = in_h * in_w != 0 ? x.numel() / (in_h * in_w) : 0;
  const T* in = x.data<T>();
  T* out = y.data<T>();
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* src = in + plane * in_h * in_w;
    T* dst = out + plane * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const T* row = src + ty_taps.idx[oy] * in_w;
      for (int64_t ox = 0; ox < out_w; ++ox) dst[oy * out_w + ox] = row[tx_taps.idx[ox]];
    }
  }
}

}  // namespace

Status refQConcat(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  Tensor& y = call.out(0);
  HQ_ASSIGN_OR_RETURN(ops::QConcatParams p,
                      ops::readQConcat(call.node, call.inputs.size(), y.rank()));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < p.axis; ++d) outer *= y.dim(d);
  for (int64_t d = p.axis + 1; d < y.rank(); ++d) inner *= y.dim(d);
  const int64_t out_chunk = y.dim(p.axis) * inner;
  int64_t offset = 0;  // of part i within one output chunk
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const Tensor& x = call.in(i);
    const int64_t chunk = x.dim(p.axis) * inner;
    const fxp::FixedMultiplier m = p.parts[i];
    const bool copy = x.dtype() == y.dtype() && isIdentity(m, p.out.clamp, y.dtype());
    dispatchIntActivation(x.dtype(), [&](auto tx) {
      using TX = decltype(tx);
      dispatchIntActivation(y.dtype(), [&](auto ty) {
        using TY = decltype(ty);
        const TX* src = x.data<TX>();
        TY* dst = y.data<TY>() + offset;
        for (int64_t o = 0; o < outer; ++o, src += chunk, dst += out_chunk) {
          if (copy) {
            std::memcpy(dst, src, static_cast<size_t>(chunk) * sizeof(TY));
            continue;
          }
          for (int64_t j = 0; j < chunk; ++j) {
            dst[j] = static_cast<TY>(fxp::requantize(src[j], m, p.out.clamp));
          }
        }
      });
    });
    offset += chunk;
  }
  return Status::ok();
}

Status refQResize(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  HQ_ASSIGN_OR_RETURN(ops::QResizeParams p, ops::resolveQResize(call.node, x.dtype(), x.shape()));
  if (y.numel() == 0) return Status::ok();
  if (x.numel() == 0) {
    return call.error(ErrorCode::kShape, "cannot resize the empty input {} to {}",
                      shapeString(x.shape()), shapeString(y.shape()));
  }
  const int64_t rank = x.rank();
  const size_t dh = static_cast<size_t>(rank - 2), dw = static_cast<size_t>(rank - 1);
  const AxisTaps th = axisTaps(p.resize, dh, x.dim(dh), y.dim(dh));
  const AxisTaps tw = axisTaps(p.resize, dw, x.dim(dw), y.dim(dw));
  if (p.resize.mode == ops::ResizeMode::kNearest) {
    dispatchIntActivation(x.dtype(), [&](auto t) { resizeNearest<decltype(t)>(x, y, th, tw); });
    return Status::ok();
  }
  const IntTaps ih = intTaps(th, p.fracBits), iw = intTaps(tw, p.fracBits);
  dispatchIntActivation(x.dtype(), [&](auto tx) {
    dispatchIntActivation(
        y.dtype(), [&](auto ty) { resizeLinear<decltype(tx), decltype(ty)>(x, y, ih, iw, p); });
  });
  return Status::ok();
}

Status refQSoftmax(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  const Tensor& x = call.in(0);
  const Tensor& e = call.in(1);
  Tensor& y = call.out(0);
  HQ_ASSIGN_OR_RETURN(ops::QSoftmaxParams p, ops::readQSoftmax(call.node, x.rank()));
  const int32_t* table = e.data<int32_t>();
  const int32_t one = int32_t{1} << fxp::kSoftmaxExpBits;
  for (int64_t d = 0; d < e.numel(); ++d) {
    if (table[d] < 0 || table[d] > one || (d == 0 && table[d] == 0)) {
      return call.error(ErrorCode::kData,
                        "exponential table E[{}] = {} is outside [{}, 65536] (E = "
                        "softmaxExpTable(s_in): E[0] = 65536, decreasing to >= 0)",
                        d, table[d], d == 0 ? 1 : 0);
    }
  }
  const int64_t length = x.dim(p.axis);
  if (!ops::softmaxAxisFits(length, p.invOut.shift)) {
    return call.error(ErrorCode::kInvalidArgument,
                      "an axis of {} elements with shift={} overflows the int64 divisor", length,
                      p.invOut.shift);
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < p.axis; ++d) outer *= x.dim(d);
  for (int64_t d = p.axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int8_t* in = x.data<int8_t>();
  dispatchIntActivation(y.dtype(), [&](auto ty) {
    using TY = decltype(ty);
    TY* out = y.data<TY>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * length * inner + i;
        int32_t mx = -128;
        for (int64_t k = 0; k < length; ++k) mx = std::max<int32_t>(mx, in[base + k * inner]);
        int64_t sum = 0;
        for (int64_t k = 0; k < length; ++k) sum += table[mx - in[base + k * inner]];
        for (int64_t k = 0; k < length; ++k) {
          const int32_t ek = table[mx - in[base + k * inner]];
          out[base + k * inner] =
              static_cast<TY>(fxp::softmaxOutput(ek, sum, p.invOut, p.out.clamp));
        }
      }
    }
  });
  return Status::ok();
}

}  // namespace hq::kernels
