// Reference kernels: Resize (opset 11-18: nearest, linear, cubic on any axes) and
// Upsample (opset 7-9). Separable interpolation: every axis gets a table of taps (input
// index, weight) per output index, following the ONNX reference implementation
// (edge-clamped neighbours, exclude_outside renormalization, tf_crop_and_resize
// extrapolation). Weights and sums are computed in double.
#include <algorithm>
#include <cmath>

#include "ir/ops/resize.h"
#include "runtime/kernels/elementwise_util.h"
#include "runtime/kernels/reference_kernels.h"
#include "runtime/kernels/resize_taps.h"

namespace hq::kernels {

namespace {

using ops::CoordTransform;
using ops::NearestMode;
using ops::ResizeMode;
using ops::ResizeParams;

/// The input coordinate of output index x on one axis (ONNX coordinate transforms).
double sourceCoord(const ResizeParams& p, size_t d, int64_t x, int64_t in_len) {
  const double scale = p.scales[d];
  const double out_len = p.resizedLength[d];
  const double xf = static_cast<double>(x);
  const double in = static_cast<double>(in_len);
  switch (p.coord) {
    case CoordTransform::kHalfPixel: return (xf + 0.5) / scale - 0.5;
    case CoordTransform::kPytorchHalfPixel: return out_len == 1.0 ? -0.5 : (xf + 0.5) / scale - 0.5;
    case CoordTransform::kAlignCorners: return out_len == 1.0 ? 0.0 : xf * (in - 1) / (out_len - 1);
    case CoordTransform::kAsymmetric: return xf / scale;
    case CoordTransform::kTfCropAndResize: {
      const double span = (p.roiEnd[d] - p.roiStart[d]) * (in - 1);
      const double x_ori = out_len == 1.0 ? span / 2 : xf * span / (out_len - 1);
      return x_ori + p.roiStart[d] * (in - 1);
    }
  }
  return 0.0;
}

void cubicCoeffs(double r, double a, double* c) {
  c[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
  c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
  c[2] = ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1;
  c[3] = ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a;
}

}  // namespace

AxisTaps axisTaps(const ResizeParams& p, size_t d, int64_t in_len, int64_t out_len) {
  AxisTaps t;
  t.taps = p.mode == ResizeMode::kNearest ? 1 : p.mode == ResizeMode::kLinear ? 2 : 4;
  t.idx.assign(static_cast<size_t>(out_len * t.taps), 0);
  t.weight.assign(t.idx.size(), 0.0);
  t.outside.assign(static_cast<size_t>(out_len), 0);
  for (int64_t x = 0; x < out_len; ++x) {
    const double src = sourceCoord(p, d, x, in_len);
    int64_t* idx = &t.idx[x * t.taps];
    double* w = &t.weight[x * t.taps];
    if (p.coord == CoordTransform::kTfCropAndResize &&
        (src < 0 || src > static_cast<double>(in_len - 1))) {
      t.outside[x] = 1;
      continue;
    }
    const double fl = std::floor(src);
    const double r = src - fl;
    const int64_t i0 = static_cast<int64_t>(fl);
    if (p.mode == ResizeMode::kNearest) {
      int64_t i = i0;
      if (r != 0) {
        switch (p.nearest) {
          case NearestMode::kRoundPreferFloor: i = r <= 0.5 ? i0 : i0 + 1; break;
          case NearestMode::kRoundPreferCeil: i = r < 0.5 ? i0 : i0 + 1; break;
          case NearestMode::kFloor: i = i0; break;
          case NearestMode::kCeil: i = i0 + 1; break;
        }
      }
      idx[0] = i;
      w[0] = 1.0;
    } else if (p.mode == ResizeMode::kLinear) {
      idx[0] = i0;
      idx[1] = i0 + 1;
      w[0] = 1 - r;
      w[1] = r;
    } else {
      for (int k = 0; k < 4; ++k) idx[k] = i0 - 1 + k;
      cubicCoeffs(r, p.cubicA, w);
    }
    if (p.excludeOutside) {
      double sum = 0;
      for (int64_t k = 0; k < t.taps; ++k) {
        if (idx[k] < 0 || idx[k] >= in_len) w[k] = 0;
        sum += w[k];
      }
      if (sum != 0) {
        for (int64_t k = 0; k < t.taps; ++k) w[k] /= sum;
      }
    }
    for (int64_t k = 0; k < t.taps; ++k) idx[k] = std::clamp<int64_t>(idx[k], 0, in_len - 1);
  }
  // An axis where every output reads exactly one input (scale 1) needs one tap.
  if (t.taps > 1) {
    bool single = true;
    for (int64_t x = 0; x < out_len && single; ++x) {
      int ones = 0;
      for (int64_t k = 0; k < t.taps; ++k) {
        const double wk = t.weight[x * t.taps + k];
        if (wk == 1.0)
          ++ones;
        else if (wk != 0.0)
          single = false;
      }
      single = single && (ones == 1 || t.outside[x]);
    }
    if (single) {
      AxisTaps c;
      c.outside = t.outside;
      for (int64_t x = 0; x < out_len; ++x) {
        int64_t pick = 0;
        for (int64_t k = 0; k < t.taps; ++k) {
          if (t.weight[x * t.taps + k] == 1.0) pick = t.idx[x * t.taps + k];
        }
        c.idx.push_back(pick);
        c.weight.push_back(t.outside[x] ? 0.0 : 1.0);
      }
      return c;
    }
  }
  return t;
}

namespace {

template <typename T>
void interpolate(const ResizeParams& p, const Tensor& x, Tensor& y) {
  const size_t rank = x.shape().size();
  const Shape& out = y.shape();
  std::vector<AxisTaps> axes(rank);
  for (size_t d = 0; d < rank; ++d) axes[d] = axisTaps(p, d, x.dim(d), out[d]);
  std::vector<int64_t> in_stride(rank, 1);
  for (size_t d = rank; d-- > 1;) in_stride[d - 1] = in_stride[d] * x.dim(d);
  const T* in = x.data<T>();
  T* o = y.data<T>();
  const T extrapolation = static_cast<T>(p.extrapolation);
  const int64_t inner = out[rank - 1];
  const int64_t rows = inner ? y.numel() / inner : 0;
  const AxisTaps& last = axes[rank - 1];
#pragma omp parallel
  {
    std::vector<int64_t> offs, next_offs;
    std::vector<double> ws, next_ws;
    std::vector<int64_t> coord(rank - 1);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      // Combine the taps of the outer axes for this row: (input offset, weight) pairs.
      offs.assign(1, 0);
      ws.assign(1, 1.0);
      bool outside = false;
      int64_t rest = row;
      for (size_t d = rank - 1; d-- > 0;) {
        coord[d] = rest % out[d];
        rest /= out[d];
      }
      for (size_t d = 0; d + 1 < rank; ++d) {
        const AxisTaps& a = axes[d];
        if (a.outside[coord[d]]) {
          outside = true;
          break;
        }
        next_offs.clear();
        next_ws.clear();
        for (size_t c = 0; c < offs.size(); ++c) {
          for (int64_t k = 0; k < a.taps; ++k) {
            const double w = a.weight[coord[d] * a.taps + k];
            if (w == 0.0) continue;
            next_offs.push_back(offs[c] + a.idx[coord[d] * a.taps + k] * in_stride[d]);
            next_ws.push_back(ws[c] * w);
          }
        }
        offs.swap(next_offs);
        ws.swap(next_ws);
      }
      T* dst = o + row * inner;
      for (int64_t j = 0; j < inner; ++j) {
        if (outside || last.outside[j]) {
          dst[j] = extrapolation;
          continue;
        }
        double sum = 0;
        for (size_t c = 0; c < offs.size(); ++c) {
          for (int64_t k = 0; k < last.taps; ++k) {
            const double w = last.weight[j * last.taps + k];
            if (w != 0.0)
              sum += ws[c] * w * static_cast<double>(in[offs[c] + last.idx[j * last.taps + k]]);
          }
        }
        dst[j] = static_cast<T>(sum);
      }
    }
  }
}

Status runInterpolation(const KernelCall& call, const ResizeParams& p) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  if (p.outShape != y.shape() || x.dtype() != y.dtype()) {
    return call.error(ErrorCode::kShape, "resize gives {} but the output is {}",
                      shapeString(p.outShape), shapeString(y.shape()));
  }
  if (x.rank() == 0) return call.error(ErrorCode::kShape, "input must have rank >= 1");
  if (y.numel() == 0) return Status::ok();
  if (x.numel() == 0) {
    return call.error(ErrorCode::kShape, "cannot resize the empty input {} to {}",
                      shapeString(x.shape()), shapeString(y.shape()));
  }
  switch (x.dtype()) {
    case DType::kFloat32: interpolate<float>(p, x, y); return Status::ok();
    case DType::kFloat64: interpolate<double>(p, x, y); return Status::ok();
    default:
      return call.error(ErrorCode::kUnsupported, "dtype {} is not supported", dtypeName(x.dtype()));
  }
}

const Tensor* optionalInput(const KernelCall& call, size_t i) {
  return call.has(i) ? &call.in(i) : nullptr;
}

}  // namespace

Status refResize(const KernelCall& call) {
  const Tensor* roi = optionalInput(call, 1);
  HQ_ASSIGN_OR_RETURN(ResizeParams p,
                      ops::resolveResize(call.node, call.in(0).shape(), roi, optionalInput(call, 2),
                                         optionalInput(call, 3)));
  if (p.coord == CoordTransform::kTfCropAndResize && (!roi || roi->numel() == 0)) {
    return call.error(ErrorCode::kShape,
                      "coordinate_transformation_mode='tf_crop_and_resize' needs the roi input");
  }
  return runInterpolation(call, p);
}

Status refUpsample(const KernelCall& call) {
  HQ_ASSIGN_OR_RETURN(ResizeParams p,
                      ops::resolveUpsample(call.node, call.in(0).shape(), optionalInput(call, 1)));
  return runInterpolation(call, p);
}

}  // namespace hq::kernels
