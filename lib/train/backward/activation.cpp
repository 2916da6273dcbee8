// Backward of the activation family: Relu, Clip, LeakyRelu, PRelu, Sigmoid, HardSigmoid,
// HardSwish, Tanh, Softmax (the forward kernels are runtime/kernels/activation.cpp).
// Float32 only. At a kink the derivative follows PyTorch's choice (noted per op), so that
// hq-qat trains like the PyTorch reference it is measured against.
#include <algorithm>
#include <cmath>
#include <limits>

#include "train/backward/backward_fns.h"
#include "train/backward/grad_util.h"

namespace hq::train {

namespace {

using detail::checkFloatInput;
using detail::checkGradIn;
using detail::gradOutData;

/// Elementwise loops run on several threads from this many elements.
constexpr int64_t kParallelElements = 1 << 15;
/// Elements per piece of a parallel elementwise loop.
constexpr int64_t kChunk = 1 << 14;

/// dx = dy * (x > 0 ? 1 : 0) (unaryBackward's product, so NaN / inf in dy behave the same),
/// vectorized as clipPass below.
__attribute__((target_clones("avx512f", "avx2", "default"))) void reluPass(const float* x,
                                                                           const float* dy,
                                                                           float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : 0.0f);
}

/// dx = dy where lo < x < hi or x is NaN, else 0 (backwardClip's rule, branch-free so that
/// it vectorizes; compiled for AVX-512 / AVX2 too, picked at run time).
__attribute__((target_clones("avx512f", "avx2", "default"))) void clipPass(const float* x,
                                                                           const float* dy,
                                                                           float* dx, int64_t n,
                                                                           float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const bool pass = !(v >= hi) & !(v <= lo);
    dx[i] = pass ? dy[i] : 0.0f;
  }
}

/// dx = dy * d(x) for a unary op, where d reads the input value x (and, when the forward
/// output is available, its value y; else y is recomputed by `fwd`).
template <typename D>
Status unaryBackward(const BackwardCall& call, D deriv) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, x.shape()));
  float* dx = call.gradIn(0).data<float>();
  const float* px = x.data<float>();
  const int64_t n = x.numel();
  if (!dy) {
    std::fill(dx, dx + n, 0.0f);
    return Status::ok();
  }
  // Elementwise, each element written by one thread: the same bytes for any thread count.
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * deriv(px[i]);
  return Status::ok();
}

/// The forward output 0 when the call carries one of the input's shape, else nullptr.
const float* forwardOutput(const BackwardCall& call) {
  if (call.outputs.empty() || call.outputs[0] == nullptr) return nullptr;
  const Tensor& y = call.out(0);
  if (y.dtype() != DType::kFloat32 || y.shape() != call.in(0).shape()) return nullptr;
  return y.data<float>();
}

/// dx = dy * g(y) for ops whose derivative is a function of the output (Sigmoid, Tanh);
/// y comes from the forward output, or is recomputed from x with `fwd`.
template <typename F, typename G>
Status outputBasedBackward(const BackwardCall& call, F fwd, G g) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, x.shape()));
  const float* y = forwardOutput(call);
  const float* px = x.data<float>();
  float* dx = call.gradIn(0).data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float yi = y ? y[i] : fwd(px[i]);
    dx[i] = dy ? dy[i] * g(yi) : 0.0f;
  }
  return Status::ok();
}

float sigmoid(float v) {
  if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.0f + e);
}

}  // namespace

// Relu: dx = dy where x > 0, 0 where x <= 0 (PyTorch's threshold_backward).
Status backwardRelu(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, x.shape()));
  float* dx = call.gradIn(0).data<float>();
  const int64_t n = x.numel();
  if (!dy) {
    std::fill(dx, dx + n, 0.0f);
    return Status::ok();
  }
  const float* px = x.data<float>();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t lo = k * kChunk;
    reluPass(px + lo, dy + lo, dx + lo, std::min(kChunk, n - lo));
  }
  return Status::ok();
}

// Clip: the gradient passes to x only strictly inside the bounds (min < x < max), as
// PyTorch's hardtanh/relu6 backward does; at x == min or x == max the output is taken to be
// the bound, so x gets 0 there and the bound (when its gradient is asked for) gets dy. When
// min > max every output is max. The bounds are the optional scalar inputs 1 and 2 (opset
// >= 11) or the min/max attributes (opset < 11).
Status backwardClip(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  for (size_t i = 1; i < 3; ++i) {
    float& bound = i == 1 ? lo : hi;
    const char* name = i == 1 ? "min" : "max";
    if (call.hasIn(i)) {
      const Tensor& b = call.in(i);
      if (b.dtype() != DType::kFloat32 || b.numel() != 1) {
        return call.error(ErrorCode::kShape, "{} must be a float32 scalar, got {} {}", name,
                          dtypeName(b.dtype()), shapeString(b.shape()));
      }
      bound = b.data<float>()[0];
    } else if (call.attrs().has(name)) {
      bound = call.attrs().getFloat(name, 0.0f);
    }
    HQ_RETURN_IF_ERROR(checkGradIn(call, i));
  }
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, x.shape()));
  const float* px = x.data<float>();
  float* dx = call.wantsGrad(0) ? call.gradIn(0).data<float>() : nullptr;
  if (dx && dy && !call.wantsGrad(1) && !call.wantsGrad(2) && !(lo > hi)) {
    // Only dX (constant bounds, e.g. ReLU6): the same values as the loop below, vectorized.
    const int64_t n = x.numel();
    const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t lo_i = k * kChunk;
      clipPass(px + lo_i, dy + lo_i, dx + lo_i, std::min(kChunk, n - lo_i), lo, hi);
    }
    return Status::ok();
  }
  double dlo = 0, dhi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float g = dy ? dy[i] : 0.0f;
    const float v = px[i];
    float gx = 0.0f;
    if (lo > hi || v >= hi) {
      dhi += g;
    } else if (v <= lo) {
      dlo += g;
    } else {
      gx = g;  // lo < v < hi (NaN falls here too, as the forward passes it through)
    }
    if (dx) dx[i] = gx;
  }
  if (call.wantsGrad(1)) call.gradIn(1).data<float>()[0] = static_cast<float>(dlo);
  if (call.wantsGrad(2)) call.gradIn(2).data<float>()[0] = static_cast<float>(dhi);
  return Status::ok();
}

// LeakyRelu: dx = dy where x > 0, alpha * dy where x <= 0 (PyTorch's choice at 0).
Status backwardLeakyRelu(const BackwardCall& call) {
  const float alpha = call.attrs().getFloat("alpha", 0.01f);
  return unaryBackward(call, [alpha](float v) { return v > 0.0f ? 1.0f : alpha; });
}

// PRelu: y = x > 0 ? x : slope * x with slope broadcast (unidirectionally) to x.
// dx = dy where x > 0, slope * dy elsewhere; dslope = the sum of x * dy where x <= 0, over
// the axes along which slope is broadcast.
Status backwardPRelu(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 1));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 1));
  const Tensor& x = call.in(0);
  const Tensor& slope = call.in(1);
  const kernels::BroadcastLoops loops = kernels::planBroadcast(x.shape(), slope.shape());
  if (loops.numel != x.numel() || slope.rank() > x.rank()) {
    return call.error(ErrorCode::kShape, "slope {} does not broadcast to input {}",
                      shapeString(slope.shape()), shapeString(x.shape()));
  }
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, x.shape()));
  const float* px = x.data<float>();
  const float* ps = slope.data<float>();
  float* dx = call.wantsGrad(0) ? call.gradIn(0).data<float>() : nullptr;
  std::vector<double> ds(call.wantsGrad(1) ? static_cast<size_t>(slope.numel()) : 0, 0.0);
  detail::forEachBroadcast(loops, [&](int64_t o, int64_t ix, int64_t is) {
    const float g = dy ? dy[o] : 0.0f;
    const bool pos = px[ix] > 0.0f;
    if (dx) dx[ix] = pos ? g : ps[is] * g;
    if (!ds.empty() && !pos) ds[static_cast<size_t>(is)] += static_cast<double>(px[ix]) * g;
  });
  if (call.wantsGrad(1)) {
    float* out = call.gradIn(1).data<float>();
    for (size_t i = 0; i < ds.size(); ++i) out[i] = static_cast<float>(ds[i]);
  }
  return Status::ok();
}

// Sigmoid: dx = dy * y * (1 - y).
Status backwardSigmoid(const BackwardCall& call) {
  return outputBasedBackward(call, sigmoid, [](float y) { return y * (1.0f - y); });
}

// HardSigmoid: y = clamp(alpha * x + beta, 0, 1); dx = alpha * dy strictly inside (0, 1).
Status backwardHardSigmoid(const BackwardCall& call) {
  const float alpha = call.attrs().getFloat("alpha", 0.2f);
  const float beta = call.attrs().getFloat("beta", 0.5f);
  return unaryBackward(call, [alpha, beta](float v) {
    const float t = alpha * v + beta;
    return t > 0.0f && t < 1.0f ? alpha : 0.0f;
  });
}

// HardSwish: y = x * clamp(x / 6 + 1/2, 0, 1); dx = 0 for x < -3, dy * (x / 3 + 1/2) for
// -3 <= x <= 3, dy for x > 3 (PyTorch's hardswish_backward).
Status backwardHardSwish(const BackwardCall& call) {
  return unaryBackward(call, [](float v) {
    if (v < -3.0f) return 0.0f;
    if (v <= 3.0f) return v / 3.0f + 0.5f;
    return 1.0f;
  });
}

// Tanh: dx = dy * (1 - y^2).
Status backwardTanh(const BackwardCall& call) {
  return outputBasedBackward(
      call, [](float v) { return std::tanh(v); }, [](float y) { return 1.0f - y * y; });
}

// Softmax (opset-13 semantics: one axis, default -1): along each line of the axis,
// dx = y * (dy - sum(dy * y)). y is the forward output, or is recomputed from x.
Status backwardSoftmax(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  const int64_t rank = x.rank();
  int64_t axis = call.attrs().getInt("axis", -1);
  if (axis < -rank || axis >= rank) {
    return call.error(ErrorCode::kShape, "axis {} is out of range for rank {}", axis, rank);
  }
  if (axis < 0) axis += rank;
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, x.shape()));
  float* dx = call.gradIn(0).data<float>();
  if (!dy) {
    std::fill(dx, dx + x.numel(), 0.0f);
    return Status::ok();
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.dim(d);
  const int64_t n = x.dim(axis);
  const float* y_out = forwardOutput(call);
  const float* px = x.data<float>();
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t line = 0; line < outer * inner; ++line) {
    const int64_t base = (line / inner) * n * inner + line % inner;
    if (y_out) {
      for (int64_t k = 0; k < n; ++k) y[k] = y_out[base + k * inner];
    } else {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, static_cast<double>(px[base + k * inner]));
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        y[k] = std::exp(px[base + k * inner] - mx);
        sum += y[k];
      }
      for (int64_t k = 0; k < n; ++k) y[k] /= sum;
    }
    double dot = 0;
    for (int64_t k = 0; k < n; ++k) dot += y[k] * dy[base + k * inner];
    for (int64_t k = 0; k < n; ++k) {
      dx[base + k * inner] = static_cast<float>(y[k] * (dy[base + k * inner] - dot));
    }
  }
  return Status::ok();
}

}  // namespace hq::train
