// Fake quantization: forward (QuantizeLinear + DequantizeLinear), STE and LSQ backward.
#include "train/fake_quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ir/ops/window.h"

namespace hq::train {
namespace {

/// Elements per partial sum of a per-tensor scale gradient.
constexpr int64_t kChunk = 16384;

/// The STE: d = g where nearbyint(x / sc) lies in [qmin, qmax], else 0. Rounds with
/// (v + 1.5 * 2^23) - 1.5 * 2^23, which equals nearbyint (ties to even) for |v| < 2^22; larger
/// |v| lie far outside any int8/int16 range, and NaN / inf fail the test either way, so the
/// mask is nearbyint's. Branch-free so that it vectorizes (AVX-512 / AVX2 clones).
__attribute__((target_clones("avx512f", "avx2", "default"))) void stePass(const float* x,
                                                                          const float* g, float* d,
                                                                          int64_t n, float sc,
                                                                          float qmin, float qmax) {
  const float magic = 12582912.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] / sc;
    const float t = (v + magic) - magic;
    const bool in = (t >= qmin) & (t <= qmax) & (v < 4194304.0f) & (v > -4194304.0f);
    d[i] = in ? g[i] : 0.0f;
  }
}

/// x viewed as [outer, channels, inner] with one scale per channel (channels == 1: per tensor).
struct FqLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};

Status checkFloat(const Tensor& t, const Shape& shape, const char* what) {
  if (t.dtype() != DType::kFloat32 || t.shape() != shape) {
    return HQ_ERROR(kShape, "fake quant: {} must be float32 {}, got {} {}", what,
                    shapeString(shape), dtypeName(t.dtype()), shapeString(t.shape()));
  }
  return Status::ok();
}

Expected<FqLayout> layoutOf(const Tensor& x, const Tensor& scale, const FakeQuantConfig& cfg) {
  HQ_RETURN_IF_ERROR(checkFloat(x, x.shape(), "X"));
  HQ_RETURN_IF_ERROR(checkFloat(scale, scale.shape(), "scale"));
  if (!(cfg.range.lo <= 0 && cfg.range.hi > 0)) {
    return HQ_ERROR(kInvalidArgument, "fake quant: range [{}, {}] must have qmin <= 0 < qmax",
                    cfg.range.lo, cfg.range.hi);
  }
  const float* s = scale.data<float>();
  for (int64_t c = 0; c < scale.numel(); ++c) {
    if (!(s[c] > 0.0f && std::isfinite(s[c]))) {
      return HQ_ERROR(kInvalidArgument, "fake quant: scale[{}] = {} must be > 0 and finite", c,
                      s[c]);
    }
  }
  FqLayout l;
  l.inner = x.numel();
  if (scale.numel() == 1) return l;
  const int64_t axis = cfg.axis < 0 ? cfg.axis + x.rank() : cfg.axis;
  if (axis < 0 || axis >= x.rank()) {
    return HQ_ERROR(kShape, "fake quant: axis {} is outside X {}", cfg.axis,
                    shapeString(x.shape()));
  }
  if (scale.numel() != x.dim(axis)) {
    return HQ_ERROR(kShape, "fake quant: {} scales for X {} along axis {}: expected 1 or {}",
                    scale.numel(), shapeString(x.shape()), axis, x.dim(axis));
  }
  l.channels = x.dim(axis);
  l.inner = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d) l.inner *= x.dim(d);
  l.outer = 1;
  for (int64_t d = 0; d < axis; ++d) l.outer *= x.dim(d);
  return l;
}

}  // namespace

Status fakeQuantForward(const Tensor& x, const Tensor& scale, const FakeQuantConfig& config,
                        Tensor& y) {
  HQ_ASSIGN_OR_RETURN(FqLayout l, layoutOf(x, scale, config));
  HQ_RETURN_IF_ERROR(checkFloat(y, x.shape(), "Y"));
  const float* xd = x.data<float>();
  const float* s = scale.data<float>();
  float* yd = y.data<float>();
  const int64_t rows = l.outer * l.channels;
#pragma omp parallel for schedule(static) if (x.numel() > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const float sc = s[r % l.channels];
    const int64_t off = r * l.inner;
    for (int64_t i = 0; i < l.inner; ++i) {
      yd[off + i] = fxp::dequantize(fxp::quantizeLinear(xd[off + i], sc, config.range), sc);
    }
  }
  return Status::ok();
}

Status fakeQuantBackward(const Tensor& x, const Tensor& scale, const FakeQuantConfig& config,
                         const Tensor& dy, Tensor* dx, Tensor* dscale) {
  HQ_ASSIGN_OR_RETURN(FqLayout l, layoutOf(x, scale, config));
  HQ_RETURN_IF_ERROR(checkFloat(dy, x.shape(), "dY"));
  if (dx != nullptr) HQ_RETURN_IF_ERROR(checkFloat(*dx, x.shape(), "dX"));
  if (dscale != nullptr) HQ_RETURN_IF_ERROR(checkFloat(*dscale, scale.shape(), "dscale"));
  const float* xd = x.data<float>();
  const float* s = scale.data<float>();
  const float* g = dy.data<float>();
  float* d = dx != nullptr ? dx->data<float>() : nullptr;
  const float qmin = static_cast<float>(config.range.lo);
  const float qmax = static_cast<float>(config.range.hi);
  if (dscale == nullptr && d != nullptr) {
    // STE only (the scale does not train): elementwise, the same test as below.
    const int64_t rows = l.outer * l.channels;
    const int64_t n = x.numel();
    if (l.channels == 1) {
      const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > 65536)
      for (int64_t k = 0; k < chunks; ++k) {
        const int64_t lo = k * kChunk;
        stePass(xd + lo, g + lo, d + lo, std::min(kChunk, n - lo), s[0], qmin, qmax);
      }
      return Status::ok();
    }
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t off = r * l.inner;
      stePass(xd + off, g + off, d + off, l.inner, s[r % l.channels], qmin, qmax);
    }
    return Status::ok();
  }
  std::vector<double> ds(static_cast<size_t>(l.channels), 0.0);
  if (l.channels == 1 && l.inner > 2 * kChunk) {
    // Per tensor: fixed chunks summed in order (the same bytes for any thread count).
    const int64_t chunks = (l.inner + kChunk - 1) / kChunk;
    std::vector<double> part(static_cast<size_t>(chunks), 0.0);
    const float sc = s[0];
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < chunks; ++k) {
      double acc = 0.0;
      const int64_t end = std::min(l.inner, (k + 1) * kChunk);
      for (int64_t i = k * kChunk; i < end; ++i) {
        const float v = xd[i] / sc;
        const float t = std::nearbyint(v);
        const bool in_range = t >= qmin && t <= qmax;
        if (d != nullptr) d[i] = in_range ? g[i] : 0.0f;
        if (t != t) continue;
        const double dq = in_range ? t - static_cast<double>(xd[i]) / sc : (t < qmin ? qmin : qmax);
        acc += static_cast<double>(g[i]) * dq;
      }
      part[static_cast<size_t>(k)] = acc;
    }
    for (double v : part) ds[0] += v;
  } else {
    // Per channel (the outer loop inside, so that each channel's sum has one owner).
#pragma omp parallel for schedule(static) if (x.numel() > 65536)
    for (int64_t c = 0; c < l.channels; ++c) {
      const float sc = s[c];
      double acc = 0.0;
      for (int64_t o = 0; o < l.outer; ++o) {
        const int64_t off = (o * l.channels + c) * l.inner;
        for (int64_t i = 0; i < l.inner; ++i) {
          const float v = xd[off + i] / sc;
          const float t = std::nearbyint(v);
          const bool in_range = t >= qmin && t <= qmax;  // false for NaN
          if (d != nullptr) d[off + i] = in_range ? g[off + i] : 0.0f;
          if (t != t) continue;
          // t - x / s in double: float32's x / s errs by up to half an ulp of |x / s|
          // (1/512 near 2^15), which would swamp the term for int16 ranges.
          const double dq =
              in_range ? t - static_cast<double>(xd[off + i]) / sc : (t < qmin ? qmin : qmax);
          acc += static_cast<double>(g[off + i]) * dq;
        }
      }
      ds[static_cast<size_t>(c)] = acc;
    }
  }
  if (dscale != nullptr) {
    double factor = 1.0;
    if (config.lsqGradScale) {
      const double n = static_cast<double>(l.outer * l.inner);
      factor = n > 0 ? 1.0 / std::sqrt(n * config.range.hi) : 1.0;
    }
    float* out = dscale->data<float>();
    for (size_t c = 0; c < ds.size(); ++c) out[c] = static_cast<float>(ds[c] * factor);
  }
  return Status::ok();
}

Status backwardFakeQuant(const BackwardCall& call) {
  if (!call.hasIn(0) || !call.hasIn(1)) {
    return call.error(ErrorCode::kShape, "inputs X and scale are required");
  }
  FakeQuantConfig cfg;
  HQ_ASSIGN_OR_RETURN(cfg.axis, ops::intAttr(call.node, "axis", 1));
  HQ_ASSIGN_OR_RETURN(int64_t grad_scale, ops::intAttr(call.node, "lsq_grad_scale", 0));
  cfg.lsqGradScale = grad_scale != 0;
  cfg.range = fxp::IntRange{0, 255};
  if (call.hasIn(2)) {
    const Tensor& zp = call.in(2);
    if (zp.dtype() == DType::kInt8) {
      cfg.range = fxp::kInt8Range;
    } else if (zp.dtype() != DType::kUInt8) {
      return call.error(ErrorCode::kUnsupported, "zero point dtype {} is not int8 or uint8",
                        dtypeName(zp.dtype()));
    }
    for (int64_t v : zp.toInt64()) {
      if (v != 0) {
        return call.error(ErrorCode::kUnsupported,
                          "zero point {} is not 0 (fake quant trains symmetric only)", v);
      }
    }
    if (call.wantsGrad(2) && call.gradIn(2).dtype() == DType::kFloat32) {
      Tensor& g = call.gradIn(2);
      std::fill(g.data<float>(), g.data<float>() + g.numel(), 0.0f);
    }
  }
  Tensor* dx = call.wantsGrad(0) ? &call.gradIn(0) : nullptr;
  Tensor* ds = call.wantsGrad(1) ? &call.gradIn(1) : nullptr;
  if (dx == nullptr && ds == nullptr) return Status::ok();
  Tensor zero;
  const Tensor* dy = call.hasGradOut(0) ? &call.gradOut(0) : nullptr;
  if (dy == nullptr) {
    zero = Tensor(DType::kFloat32, call.in(0).shape());
    dy = &zero;
  }
  Status s = fakeQuantBackward(call.in(0), call.in(1), cfg, *dy, dx, ds);
  if (!s.isOk()) return call.error(s.code(), "{}", s.message());
  return Status::ok();
}

}  // namespace hq::train
