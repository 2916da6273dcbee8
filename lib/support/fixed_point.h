// hq's fixed-point arithmetic, defined once. hq-convert (which computes the integer
// parameters), the integer kernels, the compiler and the NPU simulator all call these
// functions, so they agree bit for bit. The written contract is schemas/int-ops.md; this
// header is its executable form.
//
// One rounding rule everywhere: round half to even ("banker's rounding"), the rule of
// ONNX QuantizeLinear, so that where the integer arithmetic is exact it gives the bits of
// the fake-quant (QDQ) model it came from, and so that rounding has no bias.
//
// A real multiplier M > 0 is an int32 `multiplier` m and a right `shift` s, M ~= m * 2^-s:
//   normalized:  m in [2^30, 2^31), s in [0, 63]     (31 significant bits)
//   tiny M:      m in [0, 2^30),    s == 63          (M < 2^-33; only "gradual underflow")
// Requantization is a single rounding of the exact 64-bit product:
//   requantize(acc, m, s) = clamp(round_half_even(acc * m / 2^s), lo, hi)
// Unlike TFLite's default (a rounding doubling high multiply, then a rounding shift: two
// roundings, results can be off by one from the correctly rounded product), the result
// here is the correctly rounded value of the exact rational acc * m * 2^-s, so the error
// against the real product acc * M is at most 0.5 + |acc| * |M - m * 2^-s| (before the
// clamp). No left shifts are needed: any M < 2^31 - 1/2 has s >= 0, and no int64 overflow
// is possible (|acc * m| < 2^62 for int32 acc).
#pragma once

#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "support/status.h"

namespace hq::fxp {

/// Largest right shift (bits) of a FixedMultiplier.
inline constexpr int kMaxShift = 63;
/// Normalized multipliers lie in [kMultiplierMin, kMultiplierMax].
inline constexpr int32_t kMultiplierMin = int32_t{1} << 30;
inline constexpr int32_t kMultiplierMax = std::numeric_limits<int32_t>::max();

/// A real multiplier M as an integer multiplier and a right shift: M ~= multiplier * 2^-shift.
struct FixedMultiplier {
  int32_t multiplier = 0;  ///< [2^30, 2^31) normalized; [0, 2^30) only with shift == 63
  int shift = 0;           ///< right shift in bits, [0, 63]

  /// The exact real value multiplier * 2^-shift (exact in double).
  double value() const { return std::ldexp(static_cast<double>(multiplier), -shift); }
  bool operator==(const FixedMultiplier& o) const {
    return multiplier == o.multiplier && shift == o.shift;
  }
  bool operator!=(const FixedMultiplier& o) const { return !(*this == o); }
};

/// "1518500250 * 2^-31 (~0.7071067812)".
std::string toString(const FixedMultiplier& m);

/// Closed integer range [lo, hi] of a quantized dtype or of a fused clamp.
struct IntRange {
  int32_t lo = 0;
  int32_t hi = 0;
  bool operator==(const IntRange& o) const { return lo == o.lo && hi == o.hi; }
};

/// Range of a signed integer of `bits` bits (8: [-128, 127], 16: [-32768, 32767],
/// 32: [-2^31, 2^31 - 1]). Errors for other widths.
Expected<IntRange> intRange(int bits);
inline constexpr IntRange kInt8Range{-128, 127};
inline constexpr IntRange kInt16Range{-32768, 32767};
inline constexpr IntRange kInt32Range{std::numeric_limits<int32_t>::min(),
                                      std::numeric_limits<int32_t>::max()};

// ---------------------------------------------------------------------------------------
// Multipliers from real scales (hq-convert; not on the inference path).

/// The nearest FixedMultiplier to `real`: frexp gives real = q * 2^e (q in [0.5, 1));
/// m = round_half_even(q * 2^31) (exact in double), s = 31 - e; m == 2^31 becomes
/// (2^30, s - 1). If s > 63: s = 63 and m = round_half_even(real * 2^63) (may be 0:
/// then every int32 accumulator requantizes to 0, which is also the correctly rounded
/// value since |acc * real| < 1/4). Errors (kInvalidArgument): real zero, negative, NaN
/// or infinite; real >= 2^31 - 1/2 (would need s < 0). `what` names the multiplier in
/// messages ("node conv1: channel 3 multiplier").
Expected<FixedMultiplier> quantizeMultiplier(double real, const std::string& what = "multiplier");

/// real as m * 2^-shift for a given shift: m = round_half_even(real * 2^shift), which must
/// be <= 2^31 - 1. real may be 0 here (m = 0); errors for negative, NaN, infinite, a
/// shift outside [0, 63] or m too large.
Expected<FixedMultiplier> quantizeMultiplierAtShift(double real, int shift,
                                                    const std::string& what = "multiplier");

/// Several multipliers that share one shift (for sums with a single rounding: residual
/// Add, Add/Sub): the shift is the smallest of their quantizeMultiplier shifts (that of
/// the largest real), and each m_i = round_half_even(real_i * 2^shift). The largest is
/// normalized; smaller ones have fewer significant bits but the same absolute precision
/// 2^-(shift+1). Errors: empty list, or any real invalid as in quantizeMultiplier.
Expected<std::vector<FixedMultiplier>> quantizeMultipliersSharedShift(
    const std::vector<double>& reals, const std::string& what = "multipliers");

/// The real requantization multiplier of a compute op: (s_in * s_w) / s_out in double (the
/// product of two floats is exact in double; one rounding for the division).
inline double computeMultiplier(float s_in, float s_w, float s_out) {
  return (static_cast<double>(s_in) * static_cast<double>(s_w)) / static_cast<double>(s_out);
}

/// The real multiplier of a rescale s_in / s_out in double (one rounding).
inline double rescaleMultiplier(float s_in, float s_out) {
  return static_cast<double>(s_in) / static_cast<double>(s_out);
}

/// Multipliers of an average over n elements, for n = 1 .. max_count: element n-1 is
/// quantizeMultiplier(s_in / (s_out * n)) (s_out * n exact in double). For AveragePool
/// (window counts vary at padded borders when count_include_pad = 0) and
/// GlobalAveragePool (one count). Errors: max_count < 1 or > 2^24, invalid scales.
Expected<std::vector<FixedMultiplier>> averageMultipliers(float s_in, float s_out,
                                                          int64_t max_count);

// ---------------------------------------------------------------------------------------
// Integer arithmetic (the inference path: inline, branch-free where it matters).

/// round_half_even(x / 2^shift), exactly, for shift in [0, 63] (shift 0 returns x).
/// Arithmetic (floor) shift plus a carry from the remainder: 3 -> 2 (1.5), 5 -> 2 (2.5),
/// -3 -> -2, -1 -> 0 at shift 1.
inline int64_t roundingShiftRight(int64_t x, int shift) {
  assert(shift >= 0 && shift <= kMaxShift);
  if (shift == 0) return x;
  const int64_t q = x >> shift;  // floor (arithmetic shift; g++ and clang guarantee it)
  const uint64_t r = static_cast<uint64_t>(x) & ((uint64_t{1} << shift) - 1);  // [0, 2^s)
  const uint64_t half = uint64_t{1} << (shift - 1);
  // Round up when r > half, or r == half and q is odd: (r + odd(q)) > half.
  return q + static_cast<int64_t>(r + static_cast<uint64_t>(q & 1) > half);
}

/// round_half_even(num / den) for den > 0, exactly (any int64 num).
inline int64_t roundingDivide(int64_t num, int64_t den) {
  assert(den > 0);
  int64_t q = num / den, r = num % den;  // truncation
  if (r < 0) {
    r += den;
    q -= 1;
  }
  // r in [0, den): compare r with den - r instead of 2r with den (no overflow).
  const int64_t rest = den - r;
  return q + static_cast<int64_t>(r > rest || (r == rest && (q & 1) != 0));
}

/// x clamped to [r.lo, r.hi].
inline int32_t saturate(int64_t x, IntRange r) {
  return static_cast<int32_t>(x < r.lo ? r.lo : x > r.hi ? r.hi : x);
}

/// x clamped to the range of T (int8_t, int16_t, int32_t, ...).
template <typename T>
inline T saturateCast(int64_t x) {
  constexpr int64_t lo = std::numeric_limits<T>::min();
  constexpr int64_t hi = std::numeric_limits<T>::max();
  return static_cast<T>(x < lo ? lo : x > hi ? hi : x);
}

/// clamp(round_half_even(acc * m / 2^s), out): THE requantization of hq (Conv/Gemm
/// accumulators, pooling sums, rescales). `out` is the output dtype's range intersected
/// with any fused activation's clamp.
inline int32_t requantize(int32_t acc, FixedMultiplier m, IntRange out) {
  const int64_t p = static_cast<int64_t>(acc) * m.multiplier;  // |p| < 2^62
  return saturate(roundingShiftRight(p, m.shift), out);
}

/// clamp(round_half_even((a * ma + b * mb) / 2^shift), out): two rescaled terms summed
/// before one rounding (residual Add fused into a conv, Add, Sub with mb < 0). ma and mb
/// are any int32 except INT32_MIN; a, b any int32 (|a*ma + b*mb| < 2^63: no overflow).
inline int32_t requantizeSum(int32_t a, int32_t ma, int32_t b, int32_t mb, int shift,
                             IntRange out) {
  assert(ma != std::numeric_limits<int32_t>::min() && mb != std::numeric_limits<int32_t>::min());
  const int64_t p = static_cast<int64_t>(a) * ma + static_cast<int64_t>(b) * mb;
  return saturate(roundingShiftRight(p, shift), out);
}

/// Largest |bias| of a compute op's fixed-point bias (2^61): with |acc * m| < 2^62 and a
/// residual term below 2^47, the 64-bit sum cannot overflow.
inline constexpr int64_t kMaxFixedBias = int64_t{1} << 61;

/// The requantization of a compute op (Conv / Gemm unit) with its bias in the output's
/// fixed-point units (quantizeBiasFixed):
///   clamp(round_half_even((acc * m + bias) / 2^s), out)
/// acc is the exact int32 sum of products (no bias), |bias| <= kMaxFixedBias.
inline int32_t requantizeBiased(int32_t acc, FixedMultiplier m, int64_t bias, IntRange out) {
  assert(bias >= -kMaxFixedBias && bias <= kMaxFixedBias);
  const int64_t p = static_cast<int64_t>(acc) * m.multiplier + bias;
  return saturate(roundingShiftRight(p, m.shift), out);
}

/// The same with a fused residual r (multiplier mr, sharing the shift):
///   clamp(round_half_even((acc * m + r * mr + bias) / 2^shift), out)
/// |r| <= 2^15 and mr < 2^31 keep r * mr below 2^47.
inline int32_t requantizeSumBiased(int32_t acc, int32_t m, int32_t r, int32_t mr, int shift,
                                   int64_t bias, IntRange out) {
  assert(bias >= -kMaxFixedBias && bias <= kMaxFixedBias);
  const int64_t p =
      static_cast<int64_t>(acc) * m + static_cast<int64_t>(r) * mr + bias;
  return saturate(roundingShiftRight(p, shift), out);
}

// ---------------------------------------------------------------------------------------
// The boundary with float (QDQ models, graph inputs and outputs).

/// ONNX QuantizeLinear with zero point 0: clamp(nearbyint(x / scale), out), the division in
/// IEEE float32 and rounding half to even (the default rounding mode); NaN gives 0 (then
/// clamped), +-inf saturate. Same bits as hq's QuantizeLinear kernel and ONNX Runtime.
inline int32_t quantizeLinear(float x, float scale, IntRange out) {
  const float t = std::nearbyint(x / scale);
  if (t != t) return saturate(0, out);
  const double d = static_cast<double>(t);
  if (d <= static_cast<double>(out.lo)) return out.lo;
  if (d >= static_cast<double>(out.hi)) return out.hi;
  return static_cast<int32_t>(t);
}

/// ONNX DequantizeLinear with zero point 0: float(q) * scale in float32 (float(q) rounds
/// half to even for |q| > 2^24).
inline float dequantize(int32_t q, float scale) { return static_cast<float>(q) * scale; }

/// A compute op's bias in the output's fixed-point units, for requantizeBiased:
/// round_half_even(bias / s_out * 2^shift), computed in double (bias / s_out one rounding,
/// the power of two exact), where shift is the op's requantization shift for that channel.
/// The bias then errs by at most 2^-(shift+1) output LSB (plus 2^-53 relative), instead of
/// the 1/2 accumulator LSB (= M/2 output LSB) of an int32 bias at scale s_in * s_w.
/// Errors (kData): bias NaN/infinite, s_out not > 0 finite, shift outside [0, 63], or a
/// result beyond kMaxFixedBias (the message says how many output LSB the bias is).
Expected<int64_t> quantizeBiasFixed(double bias, float s_out, int shift);

/// An int32 bias: round_half_even(bias / acc_scale) in double, saturated to int32
/// (*saturated, when given, says whether it was). acc_scale is s_in * s_w[c] (exact in
/// double from float scales). Errors (kData): bias NaN/infinite, acc_scale not > 0 finite.
Expected<int32_t> quantizeBias(double bias, double acc_scale, bool* saturated = nullptr);

/// round_half_even(x) of a finite double (exact, independent of the rounding mode).
double roundHalfEven(double x);

/// Whether an int32 accumulator of `terms` products |x| <= max_abs_x, |w| <= max_abs_w
/// plus a bias |b| <= max_abs_bias cannot overflow (int8 x int8: max_abs 128 each).
bool accumulatorFitsInt32(int64_t terms, int64_t max_abs_x, int64_t max_abs_w,
                          int64_t max_abs_bias);

// ---------------------------------------------------------------------------------------
// Lookup tables and interpolation weights.

/// A table for an elementwise function f of one input dtype: entry i is
/// quantizeLinear(f(dequantize(in.lo + i, s_in)), s_out, out) for i in [0, in.hi - in.lo],
/// f evaluated on float32 exactly as the float model's kernel evaluates it, so that the
/// table reproduces the fake-quant model bit for bit. Index with lookup().
template <typename F>
std::vector<int32_t> buildLookupTable(IntRange in, float s_in, float s_out, IntRange out, F&& f) {
  std::vector<int32_t> table;
  table.reserve(static_cast<size_t>(static_cast<int64_t>(in.hi) - in.lo + 1));
  for (int64_t q = in.lo; q <= in.hi; ++q) {
    const float x = dequantize(static_cast<int32_t>(q), s_in);
    table.push_back(quantizeLinear(static_cast<float>(f(x)), s_out, out));
  }
  return table;
}

/// table[q - in_lo]: the entry of input value q (q in [in_lo, in_lo + table size)).
inline int32_t lookup(const int32_t* table, int32_t q, int32_t in_lo) {
  return table[static_cast<int64_t>(q) - in_lo];
}

/// Fractional bits of Softmax's exponential table: E[d] = round_half_even(2^16 * exp(-s_in*d)).
inline constexpr int kSoftmaxExpBits = 16;

/// Softmax's exponential table for int8 inputs: 256 entries, E[d] for d = max - x in
/// [0, 255], computed in double (E[0] = 2^16). Errors: s_in not positive and finite.
Expected<std::vector<int32_t>> softmaxExpTable(float s_in);

/// One Softmax output: clamp(round_half_even(e * m / (sum * 2^s)), out), where e = E[d_i],
/// sum = the sum of E[d_j] along the axis (> 0, as E[0] is in it) and (m, s) represents
/// 1 / s_out. Requires e * m and sum * 2^s < 2^63 (hq-convert checks the axis length).
inline int32_t softmaxOutput(int32_t e, int64_t sum, FixedMultiplier inv_out, IntRange out) {
  assert(sum > 0 && inv_out.shift < 63 &&
         sum <= (std::numeric_limits<int64_t>::max() >> inv_out.shift));
  return saturate(
      roundingDivide(static_cast<int64_t>(e) * inv_out.multiplier, sum << inv_out.shift), out);
}

/// Fractional bits of integer linear-interpolation weights for an input of `bits` bits:
/// 16 - bits / 2 (int8: 12, int16: 8), the most for which a 2-D bilinear sum
/// sum(wy * wx * q) with weights summing to 2^(2F) fits in int32.
inline int interpolationFracBits(int bits) { return 16 - bits / 2; }

/// An interpolation weight in fixed point: round_half_even(w * 2^frac_bits) clamped to
/// [0, 2^frac_bits], for a real weight w in [0, 1] (NaN gives 0).
int32_t interpolationWeight(double w, int frac_bits);

}  // namespace hq::fxp
