#include "support/fixed_point.h"

#include <algorithm>

#include <fmt/format.h>

namespace hq::fxp {

std::string toString(const FixedMultiplier& m) {
  return fmt::format("{} * 2^-{} (~{:.10g})", m.multiplier, m.shift, m.value());
}

Expected<IntRange> intRange(int bits) {
  switch (bits) {
    case 8: return kInt8Range;
    case 16: return kInt16Range;
    case 32: return kInt32Range;
    default: break;
  }
  return HQ_ERROR(kUnsupported, "integer width: expected 8, 16 or 32 bits, got {}", bits);
}

double roundHalfEven(double x) {
  // Half to even is symmetric, so round |x|: then x - floor(x) is exact (floor(x) == 0,
  // or floor(x) in [x/2, x]: Sterbenz).
  if (x < 0.0) return -roundHalfEven(-x);
  const double f = std::floor(x);
  const double r = x - f;
  if (r > 0.5) return f + 1.0;
  if (r < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

namespace {

Status checkReal(double real, const std::string& what, bool allow_zero) {
  if (std::isnan(real) || std::isinf(real) || real < 0.0 || (!allow_zero && real == 0.0)) {
    return HQ_ERROR(kInvalidArgument, "{}: expected a finite real {} 0, got {}", what,
                    allow_zero ? ">=" : ">", real);
  }
  return Status::ok();
}

}  // namespace

Expected<FixedMultiplier> quantizeMultiplier(double real, const std::string& what) {
  HQ_RETURN_IF_ERROR(checkReal(real, what, /*allow_zero=*/false));
  int e = 0;
  const double q = std::frexp(real, &e);        // real = q * 2^e, q in [0.5, 1)
  double m = roundHalfEven(std::ldexp(q, 31));  // [2^30, 2^31], exact scaling
  int shift = 31 - e;
  if (m == std::ldexp(1.0, 31)) {  // q rounded up to 1.0
    m = std::ldexp(1.0, 30);
    shift -= 1;
  }
  if (shift < 0) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: {} is too large for an int32 multiplier and a right shift (expected "
                    "< 2^31 - 1/2)",
                    what, real);
  }
  if (shift > kMaxShift) {  // gradual underflow at the largest shift
    shift = kMaxShift;
    m = roundHalfEven(std::ldexp(real, kMaxShift));  // < 2^30 + 1: exact scaling
  }
  return FixedMultiplier{static_cast<int32_t>(m), shift};
}

Expected<FixedMultiplier> quantizeMultiplierAtShift(double real, int shift,
                                                    const std::string& what) {
  HQ_RETURN_IF_ERROR(checkReal(real, what, /*allow_zero=*/true));
  if (shift < 0 || shift > kMaxShift) {
    return HQ_ERROR(kInvalidArgument, "{}: shift expected in [0, {}], got {}", what, kMaxShift,
                    shift);
  }
  const double m = roundHalfEven(std::ldexp(real, shift));
  if (m > static_cast<double>(kMultiplierMax)) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: {} * 2^{} rounds to {}, more than an int32 multiplier holds (2^31 - 1)",
                    what, real, shift, m);
  }
  return FixedMultiplier{static_cast<int32_t>(m), shift};
}

Expected<std::vector<FixedMultiplier>> quantizeMultipliersSharedShift(
    const std::vector<double>& reals, const std::string& what) {
  if (reals.empty()) {
    return HQ_ERROR(kInvalidArgument, "{}: expected at least one multiplier, got none", what);
  }
  int shift = kMaxShift;
  for (size_t i = 0; i < reals.size(); ++i) {
    HQ_ASSIGN_OR_RETURN(FixedMultiplier m,
                        quantizeMultiplier(reals[i], fmt::format("{}[{}]", what, i)));
    shift = std::min(shift, m.shift);
  }
  std::vector<FixedMultiplier> out;
  out.reserve(reals.size());
  for (size_t i = 0; i < reals.size(); ++i) {
    HQ_ASSIGN_OR_RETURN(FixedMultiplier m,
                        quantizeMultiplierAtShift(reals[i], shift, fmt::format("{}[{}]", what, i)));
    out.push_back(m);
  }
  return out;
}

Expected<std::vector<FixedMultiplier>> averageMultipliers(float s_in, float s_out,
                                                          int64_t max_count) {
  if (max_count < 1 || max_count > (int64_t{1} << 24)) {
    return HQ_ERROR(kInvalidArgument, "average: element count expected in [1, 2^24], got {}",
                    max_count);
  }
  if (!(s_in > 0.0f) || !(s_out > 0.0f) || std::isinf(s_in) || std::isinf(s_out)) {
    return HQ_ERROR(kInvalidArgument,
                    "average: scales expected positive and finite, got s_in {} s_out {}", s_in,
                    s_out);
  }
  std::vector<FixedMultiplier> out;
  out.reserve(static_cast<size_t>(max_count));
  for (int64_t n = 1; n <= max_count; ++n) {
    const double real =
        static_cast<double>(s_in) / (static_cast<double>(s_out) * static_cast<double>(n));
    HQ_ASSIGN_OR_RETURN(FixedMultiplier m,
                        quantizeMultiplier(real, fmt::format("average of {} elements", n)));
    out.push_back(m);
  }
  return out;
}

Expected<int32_t> quantizeBias(double bias, double acc_scale, bool* saturated) {
  if (std::isnan(bias) || std::isinf(bias)) {
    return HQ_ERROR(kData, "bias: expected a finite value, got {}", bias);
  }
  if (!(acc_scale > 0.0) || std::isinf(acc_scale)) {
    return HQ_ERROR(kData, "bias scale: expected a positive finite value, got {}", acc_scale);
  }
  const double t = bias / acc_scale;
  // Round first, then saturate: -2^31 - 1/2 rounds (to even) to -2^31, which fits.
  const double r = std::isinf(t) ? t : roundHalfEven(t);
  const bool sat =
      r < static_cast<double>(kInt32Range.lo) || r > static_cast<double>(kInt32Range.hi);
  const int32_t q = r < static_cast<double>(kInt32Range.lo)   ? kInt32Range.lo
                    : r > static_cast<double>(kInt32Range.hi) ? kInt32Range.hi
                                                              : static_cast<int32_t>(r);
  if (saturated) *saturated = sat;
  return q;
}

Expected<int64_t> quantizeBiasFixed(double bias, float s_out, int shift) {
  if (std::isnan(bias) || std::isinf(bias)) {
    return HQ_ERROR(kData, "bias: expected a finite value, got {}", bias);
  }
  if (!(s_out > 0.0f) || std::isinf(s_out)) {
    return HQ_ERROR(kData, "output scale: expected a positive finite value, got {}", s_out);
  }
  if (shift < 0 || shift > kMaxShift) {
    return HQ_ERROR(kData, "shift: expected 0..{}, got {}", kMaxShift, shift);
  }
  const double lsb = bias / static_cast<double>(s_out);  // the bias in output LSB
  const double t = std::ldexp(lsb, shift);
  if (!(std::fabs(t) <= static_cast<double>(kMaxFixedBias))) {
    return HQ_ERROR(kData,
                    "bias {} is {:.4g} output LSB: too large for the 64-bit fixed-point bias at "
                    "shift {} (at most 2^61 / 2^shift = {:.4g} LSB)",
                    bias, lsb, shift, std::ldexp(1.0, 61 - shift));
  }
  return static_cast<int64_t>(roundHalfEven(t));
}

bool accumulatorFitsInt32(int64_t terms, int64_t max_abs_x, int64_t max_abs_w,
                          int64_t max_abs_bias) {
  if (terms < 0 || max_abs_x < 0 || max_abs_w < 0 || max_abs_bias < 0) return false;
  const __int128 total = static_cast<__int128>(terms) * max_abs_x * max_abs_w + max_abs_bias;
  // The most negative sum must be >= -2^31 and the most positive <= 2^31 - 1; both are
  // bounded by total, so require total <= 2^31 - 1.
  return total <= static_cast<__int128>(kInt32Range.hi);
}

Expected<std::vector<int32_t>> softmaxExpTable(float s_in) {
  if (!(s_in > 0.0f) || std::isinf(s_in)) {
    return HQ_ERROR(kInvalidArgument, "softmax: input scale expected positive and finite, got {}",
                    s_in);
  }
  std::vector<int32_t> table(256);
  for (int d = 0; d < 256; ++d) {
    const double e = std::ldexp(std::exp(-static_cast<double>(s_in) * d), kSoftmaxExpBits);
    table[static_cast<size_t>(d)] = static_cast<int32_t>(roundHalfEven(e));
  }
  return table;
}

int32_t interpolationWeight(double w, int frac_bits) {
  assert(frac_bits >= 0 && frac_bits <= 30);
  const double one = std::ldexp(1.0, frac_bits);
  if (!(w > 0.0)) return 0;  // also NaN
  if (w >= 1.0) return static_cast<int32_t>(one);
  return static_cast<int32_t>(roundHalfEven(w * one));
}

}  // namespace hq::fxp
