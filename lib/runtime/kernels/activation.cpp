// Reference kernels: activations and Softmax. Float math runs in the tensor's own type
// (float32 or float64); Relu and Clip also take integer tensors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/kernels/elementwise_util.h"
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

namespace {

template <typename T, typename F>
void unaryApply(const Tensor& x, Tensor& y, F f) {
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
}

Status unsupportedDtype(const KernelCall& call, DType t) {
  return call.error(ErrorCode::kUnsupported, "dtype {} is not supported", dtypeName(t));
}

/// Run f<T>() for float32 / float64 inputs; error for other dtypes.
template <typename F>
Status floatOnly(const KernelCall& call, F&& f) {
  switch (call.in(0).dtype()) {
    case DType::kFloat32: f(float{}); return Status::ok();
    case DType::kFloat64: f(double{}); return Status::ok();
    default: return unsupportedDtype(call, call.in(0).dtype());
  }
}

}  // namespace

Status refRelu(const KernelCall& call) {
  const Tensor& x = call.in(0);
  bool ok = dispatchNumeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // `x < 0 ? 0 : x` keeps NaN, like numpy's maximum.
    unaryApply<T>(x, call.out(0), [](T v) { return v < T(0) ? T(0) : v; });
  });
  return ok ? Status::ok() : unsupportedDtype(call, x.dtype());
}

Status refClip(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Status status;
  bool ok = dispatchNumeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if constexpr (std::is_floating_point_v<T>) {
      lo = -std::numeric_limits<T>::infinity();
      hi = std::numeric_limits<T>::infinity();
    }
    // Bounds: optional scalar inputs (opset >= 11) or float attributes (opset < 11).
    for (size_t i = 1; i < 3; ++i) {
      T& bound = i == 1 ? lo : hi;
      const char* name = i == 1 ? "min" : "max";
      if (call.has(i)) {
        const Tensor& b = call.in(i);
        if (b.dtype() != x.dtype() || b.numel() != 1) {
          status = call.error(ErrorCode::kShape, "{} must be a {} scalar, got {} {}", name,
                              dtypeName(x.dtype()), dtypeName(b.dtype()), shapeString(b.shape()));
          return;
        }
        bound = b.data<T>()[0];
      } else if (call.attrs().has(name)) {
        bound = static_cast<T>(call.attrs().getFloat(name, 0.0f));
      }
    }
    // min(max(x, lo), hi): all values become hi when lo > hi, as numpy.clip does.
    unaryApply<T>(x, call.out(0), [lo, hi](T v) {
      if (v != v) return v;  // NaN stays NaN
      return std::min(std::max(v, lo), hi);
    });
  });
  if (!ok) return unsupportedDtype(call, x.dtype());
  return status;
}

Status refLeakyRelu(const KernelCall& call) {
  const double alpha = call.attrs().getFloat("alpha", 0.01f);
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    const T a = static_cast<T>(alpha);
    unaryApply<T>(call.in(0), call.out(0), [a](T v) { return v < T(0) ? a * v : v; });
  });
}

Status refPRelu(const KernelCall& call) {
  const Tensor& x = call.in(0);
  const Tensor& slope = call.in(1);
  if (slope.dtype() != x.dtype()) {
    return call.error(ErrorCode::kShape, "slope dtype {} differs from input dtype {}",
                      dtypeName(slope.dtype()), dtypeName(x.dtype()));
  }
  const BroadcastLoops loops = planBroadcast(x.shape(), slope.shape());
  if (loops.numel != x.numel()) {
    return call.error(ErrorCode::kShape, "slope {} does not broadcast to input {}",
                      shapeString(slope.shape()), shapeString(x.shape()));
  }
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    broadcastApply(loops, x.data<T>(), slope.data<T>(), call.out(0).data<T>(),
                   [](T v, T s) { return v < T(0) ? s * v : v; });
  });
}

Status refSigmoid(const KernelCall& call) {
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    unaryApply<T>(call.in(0), call.out(0), [](T v) {
      // Stable on both sides: exp never overflows.
      if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
      const T e = std::exp(v);
      return e / (T(1) + e);
    });
  });
}

Status refHardSigmoid(const KernelCall& call) {
  const double alpha = call.attrs().getFloat("alpha", 0.2f);
  const double beta = call.attrs().getFloat("beta", 0.5f);
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    unaryApply<T>(call.in(0), call.out(0),
                  [a, b](T v) { return std::max(T(0), std::min(T(1), a * v + b)); });
  });
}

Status refHardSwish(const KernelCall& call) {
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    unaryApply<T>(call.in(0), call.out(0),
                  [](T v) { return v * std::max(T(0), std::min(T(1), v / T(6) + T(0.5))); });
  });
}

Status refTanh(const KernelCall& call) {
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    unaryApply<T>(call.in(0), call.out(0), [](T v) { return std::tanh(v); });
  });
}

// Round half to even (ONNX Round; the rounding of QuantizeLinear): nearbyint in the default
// rounding mode.
Status refRound(const KernelCall& call) {
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    unaryApply<T>(call.in(0), call.out(0), [](T v) { return std::nearbyint(v); });
  });
}

// Opset-13 semantics: normalize along one axis (default -1).
Status refSoftmax(const KernelCall& call) {
  const Tensor& x = call.in(0);
  const int64_t rank = x.rank();
  int64_t axis = call.attrs().getInt("axis", -1);
  if (axis < -rank || axis >= rank) {
    return call.error(ErrorCode::kShape, "axis {} is out of range for rank {}", axis, rank);
  }
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.dim(d);
  const int64_t n = x.dim(axis);
  return floatOnly(call, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = call.out(0).data<T>();
    const int64_t lines = outer * inner;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t line = 0; line < lines; ++line) {
      const int64_t base = (line / inner) * n * inner + line % inner;
      const T* p = in + base;
      T* q = out + base;
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, p[k * inner]);
      T sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        q[k * inner] = std::exp(p[k * inner] - mx);
        sum += q[k * inner];
      }
      const T inv = T(1) / sum;
      for (int64_t k = 0; k < n; ++k) q[k * inner] *= inv;
    }
  });
}

}  // namespace hq::kernels
