// Reference kernel: Cast between float32, float64, bool and the integer types.
// Float to integer truncates toward zero; NaN becomes 0 and values beyond int64 clamp,
// then the integer wraps into the target type (as numpy's astype does on x86).
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/kernels/elementwise_util.h"
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

namespace {

/// Like dispatchNumeric, plus bool.
template <typename F>
bool dispatchCastable(DType t, F&& f) {
  if (t == DType::kBool) {
    f(bool{});
    return true;
  }
  return dispatchNumeric(t, std::forward<F>(f));
}

template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To(0);
    constexpr double kMax = 9223372036854775807.0;  // rounds to 2^63
    const double d = static_cast<double>(v);
    int64_t i = d >= kMax ? std::numeric_limits<int64_t>::max()
                : d <= -kMax ? std::numeric_limits<int64_t>::min()
                             : static_cast<int64_t>(d);
    return static_cast<To>(i);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace

Status refCast(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  if (x.numel() != y.numel()) {
    return call.error(ErrorCode::kShape, "output {} does not fit input {}",
                      shapeString(y.shape()), shapeString(x.shape()));
  }
  bool ok = false;
  dispatchCastable(x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    ok = dispatchCastable(y.dtype(), [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* in = x.data<From>();
      To* out = y.data<To>();
      const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) out[i] = convert<To>(in[i]);
    });
  });
  if (!ok) {
    return call.error(ErrorCode::kUnsupported, "cast from {} to {} is not supported",
                      dtypeName(x.dtype()), dtypeName(y.dtype()));
  }
  return Status::ok();
}

}  // namespace hq::kernels
