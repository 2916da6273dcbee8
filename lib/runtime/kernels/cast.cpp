// Reference kernel: Cast between float16, float32, float64, bool and the integer types.
// Float to integer truncates toward zero; NaN becomes 0 and values beyond int64 clamp,
// then the integer wraps into the target type (as numpy's astype does on x86). To float16
// rounds to nearest even (one rounding, also from float64).
#include <cmath>
#include <cstring>
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
    int64_t i = d >= kMax    ? std::numeric_limits<int64_t>::max()
                : d <= -kMax ? std::numeric_limits<int64_t>::min()
                             : static_cast<int64_t>(d);
    return static_cast<To>(i);
  } else {
    return static_cast<To>(v);
  }
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  const uint32_t bits =
      exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t doubleToHalf(double d) {
  const uint16_t sign = std::signbit(d) ? 0x8000u : 0;
  const double a = std::fabs(d);
  if (std::isnan(d)) return sign | 0x7e00u;
  if (a >= 65520.0) return sign | 0x7c00u;  // rounds to infinity
  if (a < 6.103515625e-05) {                // below 2^-14: subnormal, units of 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0));
  }
  int e2 = 0;
  const double fr = std::frexp(a, &e2);  // a = fr * 2^e2, fr in [0.5, 1)
  int exp = e2 - 1;
  int64_t mant = static_cast<int64_t>(std::nearbyint((fr * 2.0 - 1.0) * 1024.0));
  if (mant == 1024) {
    mant = 0;
    ++exp;
  }
  if (exp + 15 >= 31) return sign | 0x7c00u;
  return sign | static_cast<uint16_t>(((exp + 15) << 10) | mant);
}

}  // namespace

Status refCast(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  if (x.numel() != y.numel()) {
    return call.error(ErrorCode::kShape, "output {} does not fit input {}", shapeString(y.shape()),
                      shapeString(x.shape()));
  }
  const int64_t n = x.numel();
  if (x.dtype() == DType::kFloat16 || y.dtype() == DType::kFloat16) {
    bool ok = true;
    if (x.dtype() == y.dtype()) {
      std::memcpy(y.raw(), x.raw(), x.nbytes());
    } else if (x.dtype() == DType::kFloat16) {
      const uint16_t* in = static_cast<const uint16_t*>(x.raw());
      ok = dispatchCastable(y.dtype(), [&](auto to_tag) {
        using To = decltype(to_tag);
        To* out = y.data<To>();
        for (int64_t i = 0; i < n; ++i) out[i] = convert<To>(halfToFloat(in[i]));
      });
    } else {
      uint16_t* out = static_cast<uint16_t*>(y.raw());
      ok = dispatchCastable(x.dtype(), [&](auto from_tag) {
        using From = decltype(from_tag);
        const From* in = x.data<From>();
        for (int64_t i = 0; i < n; ++i) out[i] = doubleToHalf(convert<double>(in[i]));
      });
    }
    if (ok) return Status::ok();
  }
  bool ok = false;
  dispatchCastable(x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    ok = dispatchCastable(y.dtype(), [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* in = x.data<From>();
      To* out = y.data<To>();
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
