// Edge cases of hq's fixed-point arithmetic (lib/support/fixed_point.h), checked against
// hand-computed values, an exact __int128 reference written here, and goldens computed with
// Python's fractions.Fraction / numpy float32 (tests/fixtures/fixed_point/gen_golden.py).
#include "support/fixed_point.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace hq::fxp {
namespace {

using i128 = __int128;
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

/// Exact round_half_even(x / 2^s) by truncating division (a different algorithm from the
/// header's mask-and-carry).
i128 refRoundShift(i128 x, int s) {
  const i128 d = static_cast<i128>(1) << s;
  i128 q = x / d, r = x % d;
  if (r < 0) {
    r += d;
    q -= 1;
  }
  if (2 * r > d || (2 * r == d && q % 2 != 0)) q += 1;
  return q;
}

int64_t refClamp(i128 v, IntRange r) {
  return static_cast<int64_t>(v < r.lo ? r.lo : v > r.hi ? r.hi : v);
}

i128 abs128(i128 v) { return v < 0 ? -v : v; }

std::vector<std::vector<std::string>> readFixture(const std::string& name) {
  std::ifstream in(std::string(HQ_TEST_DATA) + "/fixed_point/" + name);
  REQUIRE(in.good());
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::vector<std::string> row;
    std::string tok;
    while (ss >> tok) row.push_back(tok);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const FixedMultiplier& m) { return os << toString(m); }
std::ostream& operator<<(std::ostream& os, const IntRange& r) {
  return os << "[" << r.lo << ", " << r.hi << "]";
}

namespace {

FixedMultiplier mustQuantize(double real) {
  auto m = quantizeMultiplier(real);
  INFO("real " << real << ": " << m.status().message());
  REQUIRE(m.isOk());
  return *m;
}

}  // namespace

TEST_CASE("roundingShiftRight: hand-computed ties round half to even", "[fixed_point]") {
  // shift 1: x / 2
  CHECK(roundingShiftRight(1, 1) == 0);    // 0.5
  CHECK(roundingShiftRight(3, 1) == 2);    // 1.5
  CHECK(roundingShiftRight(5, 1) == 2);    // 2.5
  CHECK(roundingShiftRight(7, 1) == 4);    // 3.5
  CHECK(roundingShiftRight(-1, 1) == 0);   // -0.5
  CHECK(roundingShiftRight(-3, 1) == -2);  // -1.5
  CHECK(roundingShiftRight(-5, 1) == -2);  // -2.5
  CHECK(roundingShiftRight(-7, 1) == -4);  // -3.5
  // shift 2: x / 4, non-ties go to nearest
  CHECK(roundingShiftRight(6, 2) == 2);     // 1.5
  CHECK(roundingShiftRight(10, 2) == 2);    // 2.5
  CHECK(roundingShiftRight(7, 2) == 2);     // 1.75
  CHECK(roundingShiftRight(5, 2) == 1);     // 1.25
  CHECK(roundingShiftRight(-5, 2) == -1);   // -1.25
  CHECK(roundingShiftRight(-7, 2) == -2);   // -1.75
  CHECK(roundingShiftRight(-6, 2) == -2);   // -1.5
  CHECK(roundingShiftRight(-10, 2) == -2);  // -2.5
  CHECK(roundingShiftRight(-2, 2) == 0);    // -0.5
  // shift 0 is the identity, including the extremes
  CHECK(roundingShiftRight(kI64Min, 0) == kI64Min);
  CHECK(roundingShiftRight(kI64Max, 0) == kI64Max);
  // shift 63: the largest
  CHECK(roundingShiftRight(kI64Min, 63) == -1);                  // -1.0 exactly
  CHECK(roundingShiftRight(-(int64_t{1} << 62), 63) == 0);       // -0.5 -> 0
  CHECK(roundingShiftRight(-(int64_t{1} << 62) - 1, 63) == -1);  // just below -0.5
  CHECK(roundingShiftRight(int64_t{1} << 62, 63) == 0);          // 0.5 -> 0
  CHECK(roundingShiftRight((int64_t{1} << 62) + 1, 63) == 1);    // just above 0.5
  CHECK(roundingShiftRight(kI64Max, 63) == 1);                   // ~1.0
  CHECK(roundingShiftRight(-(int64_t{3} << 61), 62) == -2);      // -1.5 -> -2
}

TEST_CASE("roundingShiftRight: every shift 0..63 against an exact reference", "[fixed_point]") {
  std::mt19937_64 rng(7);
  std::vector<int64_t> specials = {kI64Min, kI64Min + 1, kI64Max, kI64Max - 1, -1, 0, 1, 2, -2};
  int64_t checked = 0;
  for (int s = 0; s <= kMaxShift; ++s) {
    std::vector<int64_t> xs = specials;
    if (s > 0) {
      const int64_t half = int64_t{1} << (s - 1);
      // Exact ties k * 2^s + 2^(s-1) for even and odd k, and their neighbours.
      for (int64_t k : {int64_t{-3}, int64_t{-2}, int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{2},
                        int64_t{3}}) {
        if (s >= 62 && (k > 0 || k < -1)) continue;  // keep k * 2^s + half in int64
        const int64_t t = static_cast<int64_t>(static_cast<uint64_t>(k) << s) + half;
        for (int64_t d : {int64_t{-1}, int64_t{0}, int64_t{1}}) {
          if ((d > 0 && t == kI64Max) || (d < 0 && t == kI64Min)) continue;
          xs.push_back(t + d);
        }
      }
    }
    for (int i = 0; i < 2000; ++i) {
      const int64_t x = static_cast<int64_t>(rng());
      xs.push_back(i % 2 ? x : x >> (rng() % 64));  // all magnitudes
    }
    for (int64_t x : xs) {
      INFO("x " << x << " shift " << s);
      REQUIRE(roundingShiftRight(x, s) == static_cast<int64_t>(refRoundShift(x, s)));
      ++checked;
    }
  }
  CHECK(checked > 64 * 2000);
}

TEST_CASE("roundingDivide: half to even, exact for any numerator", "[fixed_point]") {
  CHECK(roundingDivide(5, 2) == 2);
  CHECK(roundingDivide(7, 2) == 4);
  CHECK(roundingDivide(-5, 2) == -2);
  CHECK(roundingDivide(-7, 2) == -4);
  CHECK(roundingDivide(1, 3) == 0);
  CHECK(roundingDivide(2, 3) == 1);
  CHECK(roundingDivide(-2, 3) == -1);
  CHECK(roundingDivide(kI64Min, 1) == kI64Min);
  CHECK(roundingDivide(kI64Max, kI64Max) == 1);
  CHECK(roundingDivide(kI64Min, kI64Max) == -1);
  CHECK(roundingDivide(kI64Max / 2 + 1, kI64Max) == 1);  // 2^62 / (2^63 - 1): just above 1/2
  CHECK(roundingDivide(kI64Max / 2, kI64Max) == 0);      // (2^62 - 1) / (2^63 - 1): just below
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    const int64_t num = static_cast<int64_t>(rng()) >> (rng() % 64);
    int64_t den = static_cast<int64_t>(rng() >> (1 + rng() % 63));
    if (den <= 0) den = 1 + (i % 7);
    const i128 d = den;
    i128 q = static_cast<i128>(num) / d, r = static_cast<i128>(num) % d;
    if (r < 0) {
      r += d;
      q -= 1;
    }
    if (2 * r > d || (2 * r == d && q % 2 != 0)) q += 1;
    INFO(num << " / " << den);
    REQUIRE(roundingDivide(num, den) == static_cast<int64_t>(q));
  }
}

TEST_CASE("saturate and saturateCast clamp at both ends", "[fixed_point]") {
  CHECK(saturateCast<int8_t>(127) == 127);
  CHECK(saturateCast<int8_t>(128) == 127);
  CHECK(saturateCast<int8_t>(-128) == -128);
  CHECK(saturateCast<int8_t>(-129) == -128);
  CHECK(saturateCast<int8_t>(kI64Max) == 127);
  CHECK(saturateCast<int8_t>(kI64Min) == -128);
  CHECK(saturateCast<int16_t>(32768) == 32767);
  CHECK(saturateCast<int16_t>(-32769) == -32768);
  CHECK(saturateCast<int32_t>(int64_t{kI32Max} + 1) == kI32Max);
  CHECK(saturateCast<int32_t>(int64_t{kI32Min} - 1) == kI32Min);
  CHECK(saturateCast<int32_t>(-5) == -5);
  CHECK(saturate(200, kInt8Range) == 127);
  CHECK(saturate(-200, kInt8Range) == -128);
  CHECK(saturate(-3, IntRange{0, 47}) == 0);  // fused Relu6 bounds
  CHECK(saturate(50, IntRange{0, 47}) == 47);
  CHECK(saturate(kI64Max, kInt32Range) == kI32Max);
  CHECK(saturate(kI64Min, kInt32Range) == kI32Min);
  CHECK(intRange(8).value() == kInt8Range);
  CHECK(intRange(16).value() == IntRange{-32768, 32767});
  CHECK(intRange(32).value() == IntRange{kI32Min, kI32Max});
  CHECK_FALSE(intRange(4).isOk());
  CHECK(intRange(12).status().code() == ErrorCode::kUnsupported);
}

TEST_CASE("quantizeMultiplier: hand-computed cases", "[fixed_point]") {
  CHECK(mustQuantize(1.0) == FixedMultiplier{1 << 30, 30});
  CHECK(mustQuantize(0.5) == FixedMultiplier{1 << 30, 31});
  CHECK(mustQuantize(0.75) == FixedMultiplier{3 << 29, 31});
  // Powers of two 2^k: m = 2^30, s = 30 - k while s <= 63.
  for (int k = -33; k <= 30; ++k) {
    INFO("2^" << k);
    CHECK(mustQuantize(std::ldexp(1.0, k)) == FixedMultiplier{1 << 30, 30 - k});
  }
  // Below 2^-33: gradual underflow at shift 63, multiplier = round(M * 2^63).
  CHECK(mustQuantize(std::ldexp(1.0, -34)) == FixedMultiplier{1 << 29, 63});
  CHECK(mustQuantize(std::ldexp(1.0, -63)) == FixedMultiplier{1, 63});
  CHECK(mustQuantize(std::ldexp(1.0, -64)) == FixedMultiplier{0, 63});  // 0.5 -> 0 (even)
  CHECK(mustQuantize(std::ldexp(3.0, -64)) == FixedMultiplier{2, 63});  // 1.5 -> 2
  CHECK(mustQuantize(std::ldexp(5.0, -64)) == FixedMultiplier{2, 63});  // 2.5 -> 2
  CHECK(mustQuantize(std::ldexp(3.0, -65)) == FixedMultiplier{1, 63});  // 0.75 -> 1
  CHECK(mustQuantize(std::numeric_limits<double>::denorm_min()) == FixedMultiplier{0, 63});
  // (2^30 - 1/4) * 2^-63 rounds up to the normalized 2^30 at shift 63.
  CHECK(mustQuantize(std::ldexp(std::ldexp(1.0, 30) - 0.25, -63)) == FixedMultiplier{1 << 30, 63});
  // frexp mantissa rounding up to 1.0: M = 1 - 2^-33 -> q * 2^31 = 2^31 - 1/4 -> 2^31,
  // renormalized to (2^30, 30).
  CHECK(mustQuantize(1.0 - std::ldexp(1.0, -33)) == FixedMultiplier{1 << 30, 30});
  // Exact tie 2^31 - 1/2: even neighbour is 2^31 -> renormalized.
  CHECK(mustQuantize(1.0 - std::ldexp(1.0, -32)) == FixedMultiplier{1 << 30, 30});
  // 2^31 - 3/4 -> 2^31 - 1 stays.
  CHECK(mustQuantize(1.0 - 3 * std::ldexp(1.0, -33)) == FixedMultiplier{kI32Max, 31});
  // Ties of the multiplier itself: 2^30 + 1/2 -> 2^30 (even), 2^30 + 3/2 -> 2^30 + 2.
  CHECK(mustQuantize(std::ldexp(std::ldexp(1.0, 30) + 0.5, -31)) == FixedMultiplier{1 << 30, 31});
  CHECK(mustQuantize(std::ldexp(std::ldexp(1.0, 30) + 1.5, -31)) ==
        FixedMultiplier{(1 << 30) + 2, 31});
  // 1/sqrt(2) = 0.70710678118654752...: 0.7071067811865476 * 2^31 = 1518500249.98...
  CHECK(mustQuantize(0.7071067811865476) == FixedMultiplier{1518500250, 31});
  // 0.1 * 2^34 = 1717986918.4 -> 1717986918, shift 34.
  CHECK(mustQuantize(0.1) == FixedMultiplier{1717986918, 34});
  // Largest: 2^31 - 3/4 -> (2^31 - 1, 0); 2^30 -> (2^30, 0).
  CHECK(mustQuantize(std::ldexp(1.0, 31) - 0.75) == FixedMultiplier{kI32Max, 0});
  CHECK(mustQuantize(std::ldexp(1.0, 30)) == FixedMultiplier{1 << 30, 0});
  CHECK(toString(FixedMultiplier{1 << 30, 31}) == "1073741824 * 2^-31 (~0.5)");
}

TEST_CASE("quantizeMultiplier: rejects what it cannot represent", "[fixed_point]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {0.0, -0.0, -1.0, -1e-30, nan, inf, -inf, std::ldexp(1.0, 31),
                     std::ldexp(1.0, 31) - 0.5, 1e300}) {
    auto m = quantizeMultiplier(bad, "node conv1: channel 3 multiplier");
    INFO(bad);
    REQUIRE_FALSE(m.isOk());
    CHECK(m.status().code() == ErrorCode::kInvalidArgument);
    CHECK(m.status().message().find("node conv1: channel 3 multiplier") != std::string::npos);
  }
  auto big = quantizeMultiplier(std::ldexp(1.0, 31));
  CHECK(big.status().message().find("too large") != std::string::npos);
}

TEST_CASE("quantizeMultiplier: Python Fraction goldens (largest shift that fits)",
          "[fixed_point]") {
  auto rows = readFixture("multipliers.txt");
  REQUIRE(rows.size() >= 380);
  int rejected = 0;
  for (const auto& row : rows) {
    REQUIRE(row.size() == 3);
    const double real = std::strtod(row[0].c_str(), nullptr);
    const long long m = std::stoll(row[1]);
    const int s = std::stoi(row[2]);
    auto got = quantizeMultiplier(real);
    INFO(row[0] << " = " << real);
    if (m < 0) {
      CHECK_FALSE(got.isOk());
      ++rejected;
      continue;
    }
    REQUIRE(got.isOk());
    CHECK(got->multiplier == m);
    CHECK(got->shift == s);
  }
  CHECK(rejected == 4);  // 2^31 - 1/2, 2^31, 1e300 and one random edge case
}

TEST_CASE("quantizeMultiplier: invariants on random reals", "[fixed_point]") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> expo(-70.0, 30.9);
  for (int i = 0; i < 50000; ++i) {
    const double real = std::exp2(expo(rng));
    const FixedMultiplier m = mustQuantize(real);
    INFO(real << " -> " << toString(m));
    REQUIRE(m.shift >= 0);
    REQUIRE(m.shift <= kMaxShift);
    if (m.shift < kMaxShift) {
      REQUIRE(m.multiplier >= kMultiplierMin);  // normalized
    } else {
      REQUIRE(m.multiplier >= 0);
    }
    // Nearest: |real * 2^s - m| <= 1/2 (exact in double: power-of-two scaling, Sterbenz).
    const double scaled = std::ldexp(real, m.shift);
    const double err = std::fabs(scaled - static_cast<double>(m.multiplier));
    REQUIRE(err <= 0.5);
    if (err == 0.5) REQUIRE(m.multiplier % 2 == 0);
    // Most precise: one more bit of shift would not fit in int32.
    if (m.shift < kMaxShift) REQUIRE(std::ldexp(real, m.shift + 1) >= kI32Max - 0.5);
    // Relative error of a normalized multiplier is at most 2^-31.
    if (m.shift < kMaxShift) REQUIRE(err / scaled <= std::ldexp(1.0, -31));
  }
}

TEST_CASE("quantizeMultiplierAtShift and a shared shift", "[fixed_point]") {
  CHECK(quantizeMultiplierAtShift(0.25, 32).value() == FixedMultiplier{1 << 30, 32});
  CHECK(quantizeMultiplierAtShift(0.0, 10).value() == FixedMultiplier{0, 10});
  CHECK(quantizeMultiplierAtShift(1.5, 1).value() == FixedMultiplier{3, 1});
  CHECK(quantizeMultiplierAtShift(0.3, 3).value() == FixedMultiplier{2, 3});     // 2.4 -> 2
  CHECK(quantizeMultiplierAtShift(0.3125, 3).value() == FixedMultiplier{2, 3});  // 2.5 -> 2
  CHECK(quantizeMultiplierAtShift(0.4375, 3).value() == FixedMultiplier{4, 3});  // 3.5 -> 4
  CHECK_FALSE(quantizeMultiplierAtShift(0.25, 33).isOk());  // 2^31 does not fit
  CHECK_FALSE(quantizeMultiplierAtShift(1.0, 64).isOk());
  CHECK_FALSE(quantizeMultiplierAtShift(1.0, -1).isOk());
  CHECK_FALSE(quantizeMultiplierAtShift(-1.0, 3).isOk());

  // Residual-style pair: the accumulator multiplier is small, the residual's ~1.
  auto pair = quantizeMultipliersSharedShift({0.001, 0.9});
  REQUIRE(pair.isOk());
  const FixedMultiplier big = mustQuantize(0.9);
  CHECK((*pair)[1] == big);                 // the largest keeps its own normalized form
  CHECK((*pair)[0].shift == big.shift);     // 31
  CHECK((*pair)[0].multiplier == 2147484);  // round(0.001 * 2^31) = round(2147483.648)
  auto same = quantizeMultipliersSharedShift({0.5, 0.5});
  CHECK((*same)[0] == FixedMultiplier{1 << 30, 31});
  CHECK((*same)[1] == FixedMultiplier{1 << 30, 31});
  CHECK_FALSE(quantizeMultipliersSharedShift({}).isOk());
  auto bad = quantizeMultipliersSharedShift({0.5, -0.5}, "node add1");
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message().find("node add1[1]") != std::string::npos);
  // The renormalization case: a real whose normalized form had to drop a shift.
  auto edge = quantizeMultipliersSharedShift({1.0 - std::ldexp(1.0, -33), 0.25});
  REQUIRE(edge.isOk());
  CHECK((*edge)[0] == FixedMultiplier{1 << 30, 30});
  CHECK((*edge)[1] == FixedMultiplier{1 << 28, 30});
}

TEST_CASE("requantize: hand-computed ties, signs and saturation", "[fixed_point]") {
  const FixedMultiplier half = mustQuantize(0.5);  // exact
  CHECK(requantize(1, half, kInt8Range) == 0);     // 0.5
  CHECK(requantize(3, half, kInt8Range) == 2);     // 1.5
  CHECK(requantize(5, half, kInt8Range) == 2);     // 2.5
  CHECK(requantize(7, half, kInt8Range) == 4);     // 3.5
  CHECK(requantize(-1, half, kInt8Range) == 0);
  CHECK(requantize(-3, half, kInt8Range) == -2);
  CHECK(requantize(-5, half, kInt8Range) == -2);
  CHECK(requantize(-7, half, kInt8Range) == -4);
  CHECK(requantize(255, half, kInt8Range) == 127);    // 127.5 -> 128 -> saturates
  CHECK(requantize(253, half, kInt8Range) == 126);    // 126.5 -> 126
  CHECK(requantize(-257, half, kInt8Range) == -128);  // -128.5 -> -128 (even), in range
  CHECK(requantize(-259, half, kInt8Range) == -128);  // -129.5 -> -130 -> saturates
  // Saturation at both ends for every output type.
  const FixedMultiplier one = mustQuantize(1.0);
  CHECK(requantize(kI32Max, one, kInt8Range) == 127);
  CHECK(requantize(kI32Min, one, kInt8Range) == -128);
  CHECK(requantize(kI32Max, one, kInt16Range) == 32767);
  CHECK(requantize(kI32Min, one, kInt16Range) == -32768);
  CHECK(requantize(kI32Max, one, kInt32Range) == kI32Max);
  CHECK(requantize(kI32Min, one, kInt32Range) == kI32Min);
  const FixedMultiplier huge = mustQuantize(std::ldexp(1.0, 30));  // (2^30, 0)
  CHECK(requantize(2, huge, kInt32Range) == kI32Max);
  CHECK(requantize(-2, huge, kInt32Range) == kI32Min);
  CHECK(requantize(-1, huge, kInt32Range) == -(1 << 30));
  // Fused Relu / Relu6 clamp bounds.
  const FixedMultiplier m = mustQuantize(0.01);
  CHECK(requantize(-5000, m, IntRange{0, 127}) == 0);
  CHECK(requantize(5000, m, IntRange{0, 47}) == 47);
  CHECK(requantize(4000, m, IntRange{0, 47}) == 40);
  // The smallest multipliers: results are exactly 0 (|acc * M| < 1/4), never -1.
  const FixedMultiplier tiny = mustQuantize(std::ldexp(1.0, -40));
  CHECK(tiny == FixedMultiplier{1 << 23, 63});
  for (int32_t acc : {kI32Min, kI32Min + 1, -1, 0, 1, kI32Max}) {
    CHECK(requantize(acc, tiny, kInt32Range) == 0);
    CHECK(requantize(acc, FixedMultiplier{0, 63}, kInt32Range) == 0);
  }
  // At the smallest normalized multiplier 2^-33: acc = -2^31 gives exactly -1/4 -> 0;
  // at 2^-31, acc = -2^31 gives exactly -1.
  CHECK(requantize(kI32Min, mustQuantize(std::ldexp(1.0, -33)), kInt32Range) == 0);
  CHECK(requantize(kI32Min, mustQuantize(std::ldexp(1.0, -31)), kInt32Range) == -1);
  CHECK(requantize(kI32Min, mustQuantize(std::ldexp(1.0, -32)), kInt32Range) == 0);  // -0.5
  CHECK(requantize(kI32Max, mustQuantize(std::ldexp(1.0, -31)), kInt32Range) == 1);  // ~1
}

TEST_CASE("requantize: every shift 0..63 against the exact reference", "[fixed_point]") {
  std::mt19937_64 rng(5);
  const IntRange ranges[] = {kInt8Range, kInt16Range, kInt32Range, IntRange{0, 127}};
  for (int s = 0; s <= kMaxShift; ++s) {
    std::vector<int32_t> ms = {0, 1, kMultiplierMin, kMultiplierMax, kMultiplierMin + 1};
    std::vector<int32_t> accs = {kI32Min, kI32Min + 1, kI32Max, -1, 0, 1, 2, -2};
    for (int i = 0; i < 40; ++i) {
      ms.push_back(static_cast<int32_t>(kMultiplierMin + rng() % (uint64_t{1} << 30)));
      accs.push_back(static_cast<int32_t>(static_cast<uint32_t>(rng())) >> (rng() % 32));
    }
    for (int32_t m : ms) {
      for (int32_t acc : accs) {
        const FixedMultiplier fm{m, s};
        const i128 exact = refRoundShift(static_cast<i128>(acc) * m, s);
        for (const IntRange& r : ranges) {
          INFO("acc " << acc << " m " << m << " s " << s);
          REQUIRE(requantize(acc, fm, r) == refClamp(exact, r));
        }
      }
    }
  }
}

TEST_CASE("requantize: negation symmetry (half to even has no sign bias)", "[fixed_point]") {
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20000; ++i) {
    const FixedMultiplier m{static_cast<int32_t>(kMultiplierMin + rng() % (uint64_t{1} << 30)),
                            static_cast<int>(rng() % 64)};
    const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(rng())) >> (rng() % 32);
    const int32_t r = requantize(acc, m, kInt32Range);
    if (acc == kI32Min || r == kI32Max || r == kI32Min) continue;  // the range is asymmetric
    REQUIRE(requantize(-acc, m, kInt32Range) == -requantize(acc, m, kInt32Range));
  }
}

TEST_CASE("requantize: Python Fraction goldens", "[fixed_point]") {
  auto rows = readFixture("requantize.txt");
  REQUIRE(rows.size() == 600);
  int ties = 0;
  for (const auto& row : rows) {
    REQUIRE(row.size() == 6);
    const int32_t acc = static_cast<int32_t>(std::stoll(row[0]));
    const FixedMultiplier m{static_cast<int32_t>(std::stoll(row[1])), std::stoi(row[2])};
    const IntRange r{static_cast<int32_t>(std::stoll(row[3])),
                     static_cast<int32_t>(std::stoll(row[4]))};
    INFO(row[0] << " " << row[1] << " " << row[2]);
    CHECK(requantize(acc, m, r) == std::stoll(row[5]));
    if (m.shift > 0) {
      const i128 p = static_cast<i128>(acc) * m.multiplier;
      const i128 d = static_cast<i128>(1) << m.shift;
      ties += ((p % d) + d) % d == d / 2;
    }
  }
  CHECK(ties >= 50);  // the goldens exercise exact ties
}

TEST_CASE("requantizeSum: one rounding of two rescaled terms", "[fixed_point]") {
  // 3 * 0.5 + 2 * 0.25 = 2.0; 3 * 0.5 + 1 * 0.5 = 2.0; 1 * 0.5 + 2 * 0.5 = 1.5 -> 2;
  // 1 * 0.5 + 4 * 0.5 = 2.5 -> 2 (a single rounding: rounding each term first would give 3).
  CHECK(requantizeSum(3, 1 << 30, 2, 1 << 29, 31, kInt8Range) == 2);
  CHECK(requantizeSum(1, 1 << 30, 2, 1 << 30, 31, kInt8Range) == 2);
  CHECK(requantizeSum(1, 1 << 30, 4, 1 << 30, 31, kInt8Range) == 2);
  CHECK(requantizeSum(5, 1 << 30, 4, -(1 << 30), 31, kInt8Range) == 0);  // Sub: 2.5 - 2 = 0.5
  CHECK(requantizeSum(200, 1 << 30, 100, 1 << 30, 31, kInt8Range) == 127);
  CHECK(requantizeSum(-200, 1 << 30, -100, 1 << 30, 31, kInt8Range) == -128);
  // Extremes do not overflow int64.
  CHECK(requantizeSum(kI32Min, kMultiplierMax, kI32Min, kMultiplierMax, 63, kInt32Range) ==
        static_cast<int32_t>(refRoundShift(static_cast<i128>(kI32Min) * kMultiplierMax * 2, 63)));
  CHECK(requantizeSum(kI32Min, -kMultiplierMax, kI32Min, -kMultiplierMax, 0, kInt32Range) ==
        kI32Max);
  auto rows = readFixture("requantize_sum.txt");
  REQUIRE(rows.size() == 300);
  for (const auto& row : rows) {
    REQUIRE(row.size() == 8);
    auto v = [&](int i) { return static_cast<int32_t>(std::stoll(row[static_cast<size_t>(i)])); };
    INFO(row[0] << " " << row[1] << " " << row[2] << " " << row[3] << " " << row[4]);
    CHECK(requantizeSum(v(0), v(1), v(2), v(3), v(4), IntRange{v(5), v(6)}) == v(7));
  }
  // With b = 0 it is requantize.
  std::mt19937_64 rng(13);
  for (int i = 0; i < 5000; ++i) {
    const FixedMultiplier m{static_cast<int32_t>(kMultiplierMin + rng() % (uint64_t{1} << 30)),
                            static_cast<int>(rng() % 64)};
    const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(rng()));
    REQUIRE(requantizeSum(acc, m.multiplier, 0, 12345, m.shift, kInt16Range) ==
            requantize(acc, m, kInt16Range));
  }
}

TEST_CASE("requantize(acc, quantizeMultiplier(M)) is within the stated bound of acc * M",
          "[fixed_point]") {
  // Bound: |r - acc*M| <= 1/2 + |acc| * |M - m*2^-s|, and |M - m*2^-s| <= 2^-(s+1).
  // Checked exactly in __int128 with every quantity over the common denominator 2^K.
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> expo(-40.0, 10.0);
  int checked = 0, above_half = 0;
  while (checked < 100000) {
    const double real = std::exp2(expo(rng));
    const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(rng())) >> (rng() % 32);
    if (std::fabs(static_cast<double>(acc) * real) > std::ldexp(1.0, 30)) continue;
    const FixedMultiplier m = mustQuantize(real);
    const int64_t r = requantize(acc, m, kInt32Range);
    int e = 0;
    const double f = std::frexp(real, &e);
    const int64_t mant = static_cast<int64_t>(std::ldexp(f, 53));  // real = mant * 2^(e-53)
    const int ex = e - 53;                                         // < 0 here
    const int K = std::max(-ex, m.shift);
    const i128 P = static_cast<i128>(acc) * mant * (static_cast<i128>(1) << (K + ex));
    const i128 R = static_cast<i128>(r) << K;
    const i128 dM =
        abs128(static_cast<i128>(mant) * (static_cast<i128>(1) << (K + ex)) -
               static_cast<i128>(m.multiplier) * (static_cast<i128>(1) << (K - m.shift)));
    INFO("acc " << acc << " M " << real << " -> " << toString(m) << " r " << r);
    REQUIRE(2 * dM <= (static_cast<i128>(1) << (K - m.shift)));  // |dM| <= 2^-(s+1)
    const i128 err = abs128(R - P);
    REQUIRE(err <= (static_cast<i128>(1) << (K - 1)) + abs128(acc) * dM);
    above_half += err > (static_cast<i128>(1) << (K - 1));
    ++checked;
  }
  // The multiplier's own rounding does push some results past 1/2 LSB (the bound's second
  // term is not vacuous), but rarely.
  CHECK(above_half > 0);
  CHECK(above_half < checked / 100);
}

TEST_CASE("quantizeLinear: ONNX QuantizeLinear (float32 division, half to even)", "[fixed_point]") {
  CHECK(quantizeLinear(0.5f, 1.0f, kInt8Range) == 0);
  CHECK(quantizeLinear(1.5f, 1.0f, kInt8Range) == 2);
  CHECK(quantizeLinear(2.5f, 1.0f, kInt8Range) == 2);
  CHECK(quantizeLinear(-0.5f, 1.0f, kInt8Range) == 0);
  CHECK(quantizeLinear(-1.5f, 1.0f, kInt8Range) == -2);
  CHECK(quantizeLinear(-2.5f, 1.0f, kInt8Range) == -2);
  CHECK(quantizeLinear(127.5f, 1.0f, kInt8Range) == 127);
  CHECK(quantizeLinear(-128.5f, 1.0f, kInt8Range) == -128);
  CHECK(quantizeLinear(6.0f, 0.125f, kInt8Range) == 48);
  CHECK(quantizeLinear(std::numeric_limits<float>::quiet_NaN(), 0.1f, kInt8Range) == 0);
  CHECK(quantizeLinear(std::numeric_limits<float>::quiet_NaN(), 0.1f, IntRange{3, 9}) == 3);
  CHECK(quantizeLinear(std::numeric_limits<float>::infinity(), 0.1f, kInt8Range) == 127);
  CHECK(quantizeLinear(-std::numeric_limits<float>::infinity(), 0.1f, kInt32Range) == kI32Min);
  CHECK(quantizeLinear(3e9f, 1.0f, kInt32Range) == kI32Max);
  CHECK(quantizeLinear(2147483520.0f, 1.0f, kInt32Range) == 2147483520);  // largest float < 2^31
  auto rows = readFixture("quantize_linear.txt");
  REQUIRE(rows.size() >= 350);
  int float32_matters = 0;
  for (const auto& row : rows) {
    REQUIRE(row.size() == 5);
    const float x = std::strtof(row[0].c_str(), nullptr);
    const float s = std::strtof(row[1].c_str(), nullptr);
    INFO(row[0] << " / " << row[1]);
    CHECK(quantizeLinear(x, s, kInt8Range) == std::stoll(row[2]));
    CHECK(quantizeLinear(x, s, kInt16Range) == std::stoll(row[3]));
    CHECK(quantizeLinear(x, s, kInt32Range) == std::stoll(row[4]));
    const double q64 = std::nearbyint(static_cast<double>(x) / static_cast<double>(s));
    float32_matters += std::fabs(q64) < 1e6 && q64 != static_cast<double>(std::stoll(row[4]));
  }
  CHECK(float32_matters >= 40);  // cases where a double division would round differently
}

TEST_CASE("dequantize is float32 q * scale", "[fixed_point]") {
  CHECK(dequantize(3, 0.5f) == 1.5f);
  CHECK(dequantize(-128, 0.25f) == -32.0f);
  CHECK(dequantize(0, 0.1f) == 0.0f);
  CHECK(dequantize(kI32Max, 1.0f) == 2147483648.0f);  // float(2^31 - 1) rounds to 2^31
  CHECK(dequantize(16777217, 1.0f) == 16777216.0f);   // 2^24 + 1 -> even 2^24
  CHECK(dequantize(7, 0.1f) == 7.0f * 0.1f);
}

TEST_CASE("quantizeBias: half to even in double, saturation reported", "[fixed_point]") {
  bool sat = true;
  CHECK(quantizeBias(2.5, 1.0, &sat).value() == 2);
  CHECK_FALSE(sat);
  CHECK(quantizeBias(-2.5, 1.0).value() == -2);
  CHECK(quantizeBias(3.5, 1.0).value() == 4);
  CHECK(quantizeBias(0.3, 0.1).value() == 3);  // 0.3 / 0.1 = 2.9999999999999996 -> 3
  const double s = static_cast<double>(0.02f) * static_cast<double>(0.003f);
  CHECK(quantizeBias(0.123, s).value() == static_cast<int32_t>(std::nearbyint(0.123 / s)));
  CHECK(quantizeBias(1e10, 1.0, &sat).value() == kI32Max);
  CHECK(sat);
  CHECK(quantizeBias(-1e10, 1.0, &sat).value() == kI32Min);
  CHECK(sat);
  CHECK(quantizeBias(-2147483648.5, 1.0, &sat).value() == kI32Min);  // tie -> even, fits
  CHECK_FALSE(sat);
  CHECK(quantizeBias(2147483647.5, 1.0, &sat).value() == kI32Max);  // tie -> 2^31: saturates
  CHECK(sat);
  CHECK(quantizeBias(1.0, 1e-320, &sat).value() == kI32Max);  // division overflows to inf
  CHECK(sat);
  CHECK(quantizeBias(std::nan(""), 1.0).status().code() == ErrorCode::kData);
  CHECK(quantizeBias(1.0, 0.0).status().code() == ErrorCode::kData);
  CHECK(quantizeBias(1.0, -1.0).status().code() == ErrorCode::kData);
}

TEST_CASE("roundHalfEven of doubles", "[fixed_point]") {
  CHECK(roundHalfEven(0.5) == 0.0);
  CHECK(roundHalfEven(1.5) == 2.0);
  CHECK(roundHalfEven(2.5) == 2.0);
  CHECK(roundHalfEven(-0.5) == 0.0);
  CHECK(roundHalfEven(-2.5) == -2.0);
  CHECK(roundHalfEven(-3.5) == -4.0);
  CHECK(roundHalfEven(-0.5 - std::ldexp(1.0, -53)) == -1.0);  // just beyond the tie
  CHECK(roundHalfEven(0.5 - std::ldexp(1.0, -54)) == 0.0);
  CHECK(roundHalfEven(4503599627370497.0) == 4503599627370497.0);  // 2^52 + 1: integral
  CHECK(roundHalfEven(std::ldexp(1.0, 31) - 0.5) == std::ldexp(1.0, 31));
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  for (int i = 0; i < 10000; ++i) {
    const double x = u(rng);
    REQUIRE(roundHalfEven(x) == std::nearbyint(x));  // default mode: to nearest even
  }
}

TEST_CASE("averageMultipliers: 1/N folded into the multiplier", "[fixed_point]") {
  auto ms = averageMultipliers(0.05f, 0.05f, 9);
  REQUIRE(ms.isOk());
  REQUIRE(ms->size() == 9);
  CHECK((*ms)[0] == FixedMultiplier{1 << 30, 30});  // n = 1: exactly 1
  CHECK((*ms)[3] == FixedMultiplier{1 << 30, 32});  // n = 4: exactly 1/4
  // Power-of-two counts are exact: the sum's average rounds half to even, exactly.
  for (int n : {1, 2, 4, 8}) {
    for (int sum = -128 * n; sum <= 127 * n; ++sum) {
      INFO("n " << n << " sum " << sum);
      REQUIRE(requantize(sum, (*ms)[static_cast<size_t>(n - 1)], kInt8Range) ==
              static_cast<int32_t>(roundHalfEven(static_cast<double>(sum) / n)));
    }
  }
  // Odd counts have no exact ties, and sum / n stays >= 1/(2n) away from one, far more than
  // the multiplier's error |sum| * 2^-(s+1): the results are the correctly rounded averages.
  for (int n : {3, 5, 7, 9}) {
    for (int sum = -128 * n; sum <= 127 * n; ++sum) {
      REQUIRE(requantize(sum, (*ms)[static_cast<size_t>(n - 1)], kInt8Range) ==
              static_cast<int32_t>(roundHalfEven(static_cast<double>(sum) / n)));
    }
  }
  // Different scales: s_in / (s_out * n) with s_out * n exact in double.
  auto g = averageMultipliers(0.1f, 0.02f, 49);
  REQUIRE(g.isOk());
  CHECK((*g)[48] == mustQuantize(static_cast<double>(0.1f) / (static_cast<double>(0.02f) * 49)));
  CHECK_FALSE(averageMultipliers(0.1f, 0.1f, 0).isOk());
  CHECK_FALSE(averageMultipliers(0.0f, 0.1f, 4).isOk());
  CHECK_FALSE(averageMultipliers(0.1f, std::numeric_limits<float>::infinity(), 4).isOk());
}

TEST_CASE("accumulatorFitsInt32 bounds int8 x int8 sums", "[fixed_point]") {
  // 131071 * 128 * 128 = 2147467264 <= 2^31 - 1; one more term does not fit.
  CHECK(accumulatorFitsInt32(131071, 128, 128, 0));
  CHECK(accumulatorFitsInt32(131071, 128, 128, 16383));
  CHECK_FALSE(accumulatorFitsInt32(131071, 128, 128, 16384));
  CHECK_FALSE(accumulatorFitsInt32(131072, 128, 128, 0));
  CHECK(accumulatorFitsInt32(3 * 3 * 512, 128, 127, 1 << 30));
  CHECK_FALSE(accumulatorFitsInt32(-1, 128, 128, 0));
  CHECK_FALSE(accumulatorFitsInt32(int64_t{1} << 62, int64_t{1} << 62, 1, 0));  // no overflow
}

TEST_CASE("lookup tables reproduce the fake-quant function on every input", "[fixed_point]") {
  // Identity with equal scales: table[q + 128] == q.
  auto id = buildLookupTable(kInt8Range, 0.05f, 0.05f, kInt8Range, [](float x) { return x; });
  REQUIRE(id.size() == 256);
  for (int q = -128; q <= 127; ++q) CHECK(lookup(id.data(), q, -128) == q);
  // Sigmoid, s_in = 1/16, s_out = 1/128 (output range [0, 127]):
  //   q = 0  -> sigmoid(0) = 0.5 -> 64;   q = 16 -> sigmoid(1) = 0.7310586 -> 93.57 -> 94;
  //   q = -16 -> 0.2689414 -> 34.42 -> 34; q = 127 -> sigmoid(7.9375) = 0.99964 -> 127.95 -> 127.
  auto sig = buildLookupTable(kInt8Range, 1.0f / 16, 1.0f / 128, IntRange{0, 127},
                              [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
  CHECK(lookup(sig.data(), 0, -128) == 64);
  CHECK(lookup(sig.data(), 16, -128) == 94);
  CHECK(lookup(sig.data(), -16, -128) == 34);
  CHECK(lookup(sig.data(), 127, -128) == 127);
  CHECK(lookup(sig.data(), -128, -128) == 0);  // sigmoid(-8) = 0.000335 -> 0.04 -> 0
  // int16 input: 65536 entries.
  auto wide = buildLookupTable(kInt16Range, 1.0f, 256.0f, kInt8Range, [](float x) { return x; });
  REQUIRE(wide.size() == 65536);
  CHECK(lookup(wide.data(), 384, -32768) == 2);  // 1.5 -> 2
  CHECK(lookup(wide.data(), 640, -32768) == 2);  // 2.5 -> 2
  CHECK(lookup(wide.data(), -32768, -32768) == -128);
}

TEST_CASE("softmax: 16-bit exponential table and one rounding division", "[fixed_point]") {
  // s_in = 1/4: E[d] = round(2^16 * e^(-d/4)).
  auto t = softmaxExpTable(0.25f);
  REQUIRE(t.isOk());
  REQUIRE(t->size() == 256);
  CHECK((*t)[0] == 65536);
  CHECK((*t)[4] == 24109);  // 65536 * e^-1 = 24109.27
  CHECK((*t)[8] == 8869);   // 65536 * e^-2 = 8869.23
  CHECK((*t)[255] == 0);    // 65536 * e^-63.75 ~ 1e-23
  for (size_t d = 1; d < 256; ++d) REQUIRE((*t)[d] <= (*t)[d - 1]);
  CHECK_FALSE(softmaxExpTable(0.0f).isOk());
  CHECK_FALSE(softmaxExpTable(-1.0f).isOk());
  // Two equal inputs, s_out = 1/128: each p = 1/2 -> 64.
  const FixedMultiplier inv = mustQuantize(128.0);
  CHECK(inv == FixedMultiplier{1 << 30, 23});
  CHECK(softmaxOutput(65536, 2 * 65536, inv, kInt8Range) == 64);
  // One certain class: p = 1 -> 128 -> saturates to 127.
  CHECK(softmaxOutput(65536, 65536, inv, kInt8Range) == 127);
  // p = 3/8 * 128 = 48 exactly; p = 1/3 * 128 = 42.67 -> 43; tie 0.5 -> 0: e / sum = 1/256.
  CHECK(softmaxOutput(3, 8, inv, kInt8Range) == 48);
  CHECK(softmaxOutput(1, 3, inv, kInt8Range) == 43);
  CHECK(softmaxOutput(1, 256, inv, kInt8Range) == 0);
  CHECK(softmaxOutput(3, 256, inv, kInt8Range) == 2);  // 1.5 -> 2
  // Against the real softmax for logits {0, 1, 2} * 0.25 scale (int8 inputs 0, 4, 8).
  const int32_t e0 = (*t)[8], e1 = (*t)[4], e2 = (*t)[0];
  const int64_t sum = int64_t{e0} + e1 + e2;
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  CHECK(softmaxOutput(e2, sum, inv, kInt8Range) == static_cast<int32_t>(std::nearbyint(128 / z)));
  CHECK(softmaxOutput(e1, sum, inv, kInt8Range) ==
        static_cast<int32_t>(std::nearbyint(128 * std::exp(-1.0) / z)));
  CHECK(softmaxOutput(e0, sum, inv, kInt8Range) ==
        static_cast<int32_t>(std::nearbyint(128 * std::exp(-2.0) / z)));
}

TEST_CASE("interpolation weights in fixed point", "[fixed_point]") {
  CHECK(interpolationFracBits(8) == 12);
  CHECK(interpolationFracBits(16) == 8);
  CHECK(interpolationWeight(0.25, 12) == 1024);
  CHECK(interpolationWeight(0.75, 12) == 3072);
  CHECK(interpolationWeight(1.0, 12) == 4096);
  CHECK(interpolationWeight(1.5, 12) == 4096);
  CHECK(interpolationWeight(0.0, 12) == 0);
  CHECK(interpolationWeight(-0.1, 12) == 0);
  CHECK(interpolationWeight(std::nan(""), 12) == 0);
  CHECK(interpolationWeight(1.0 / 3, 8) == 85);       // 85.33
  CHECK(interpolationWeight(0.5 / 256 * 3, 8) == 2);  // 1.5 -> 2
  CHECK(interpolationWeight(0.5 / 256 * 5, 8) == 2);  // 2.5 -> 2
  // A 2-D bilinear sum at the extremes fits int32: int8 (F = 12) and int16 (F = 8).
  const int64_t one8 = int64_t{1} << (2 * interpolationFracBits(8));
  const int64_t one16 = int64_t{1} << (2 * interpolationFracBits(16));
  CHECK(one8 * -128 >= kI32Min);
  CHECK(one8 * 127 <= kI32Max);
  CHECK(one16 * -32768 >= kI32Min);
  CHECK(one16 * 32767 <= kI32Max);
}

}  // namespace hq::fxp

namespace hq::fxp {

TEST_CASE("requantizeBiased: the bias joins the 64-bit product before the one rounding",
          "[fixed_point]") {
  // acc 3 at M = 0.5 (2^30, 31) is 1.5; a bias of +0.25 LSB (2^29 at shift 31) makes 1.75 -> 2,
  // -0.25 makes 1.25 -> 1; +0.5 makes 2.0; bias 0 keeps the tie 1.5 -> 2 (even).
  const FixedMultiplier half{1 << 30, 31};
  CHECK(requantizeBiased(3, half, 1 << 29, kInt8Range) == 2);
  CHECK(requantizeBiased(3, half, -(1 << 29), kInt8Range) == 1);
  CHECK(requantizeBiased(3, half, 1 << 30, kInt8Range) == 2);
  CHECK(requantizeBiased(1, half, 0, kInt8Range) == 0);   // 0.5 -> 0
  CHECK(requantizeBiased(5, half, 0, kInt8Range) == 2);   // 2.5 -> 2
  // An int32 bias would have to be a whole accumulator LSB (0.5 output LSB here): the
  // fixed-point bias carries 0.25 exactly.
  CHECK(requantizeBiased(-3, half, -(1 << 29), kInt8Range) == -2);  // -1.75
  CHECK(requantizeBiased(1000, half, 0, kInt8Range) == 127);
  CHECK(requantizeBiased(-1000, half, -kMaxFixedBias, kInt8Range) == -128);
  // Against the exact reference on random values, including the extremes.
  std::mt19937_64 rng(29);
  for (int i = 0; i < 20000; ++i) {
    const FixedMultiplier m{static_cast<int32_t>(kMultiplierMin + rng() % (uint64_t{1} << 30)),
                            static_cast<int>(rng() % 64)};
    const int32_t acc = i == 0 ? kI32Min : i == 1 ? kI32Max
                                         : static_cast<int32_t>(static_cast<uint32_t>(rng()));
    const int64_t bias = static_cast<int64_t>(rng() % (2 * static_cast<uint64_t>(kMaxFixedBias) + 1)) -
                         kMaxFixedBias;
    const i128 exact = refRoundShift(static_cast<i128>(acc) * m.multiplier + bias, m.shift);
    REQUIRE(requantizeBiased(acc, m, bias, kInt16Range) == refClamp(exact, kInt16Range));
    REQUIRE(requantizeBiased(acc, m, 0, kInt16Range) == requantize(acc, m, kInt16Range));
    const int32_t r = static_cast<int32_t>(rng() % 65536) - 32768;
    const int32_t mr = static_cast<int32_t>(rng() % (uint64_t{1} << 31));
    const i128 exact_sum = refRoundShift(
        static_cast<i128>(acc) * m.multiplier + static_cast<i128>(r) * mr + bias, m.shift);
    REQUIRE(requantizeSumBiased(acc, m.multiplier, r, mr, m.shift, bias, kInt32Range) ==
            refClamp(exact_sum, kInt32Range));
  }
}

TEST_CASE("quantizeBiasFixed: the bias in output LSB with `shift` fraction bits",
          "[fixed_point]") {
  // 0.3 / 0.1 = 3 LSB (in double: 2.9999999999999996) at shift 4 -> 47.99999... -> 48.
  auto b = quantizeBiasFixed(0.3, 0.1f, 4);
  REQUIRE(b.isOk());
  CHECK(*b == static_cast<int64_t>(std::nearbyint(0.3 / static_cast<double>(0.1f) * 16)));
  // Exact powers of two: 1.5 / 0.5 = 3 LSB, at shift 40 -> 3 * 2^40; ties to even at shift 0.
  CHECK(*quantizeBiasFixed(1.5, 0.5f, 40) == 3 * (int64_t{1} << 40));
  CHECK(*quantizeBiasFixed(1.25, 0.5f, 0) == 2);   // 2.5 -> 2
  CHECK(*quantizeBiasFixed(1.75, 0.5f, 0) == 4);   // 3.5 -> 4
  CHECK(*quantizeBiasFixed(-1.25, 0.5f, 0) == -2);
  CHECK(*quantizeBiasFixed(0.0, 0.5f, 63) == 0);
  // The bound: 2^61 units.
  CHECK(*quantizeBiasFixed(std::ldexp(1.0, 21), 1.0f, 40) == kMaxFixedBias);
  auto big = quantizeBiasFixed(std::ldexp(1.0, 22), 1.0f, 40);
  REQUIRE_FALSE(big.isOk());
  CHECK_THAT(big.status().message(), Catch::Contains("output LSB"));
  CHECK_FALSE(quantizeBiasFixed(std::nan(""), 1.0f, 3).isOk());
  CHECK_FALSE(quantizeBiasFixed(1.0, 0.0f, 3).isOk());
  CHECK_FALSE(quantizeBiasFixed(1.0, 1.0f, 64).isOk());
  // Far more precise than an int32 bias at the accumulator scale: with M = s_in * s_w / s_out
  // = 0.0223, an int32 bias errs by up to M / 2 = 0.011 output LSB; this one by 2^-(s+1).
  const float s_in = 0.0078125f, s_w = 0.0121f, s_out = 0.004237f;
  const FixedMultiplier m = mustQuantize(computeMultiplier(s_in, s_w, s_out));
  const double bias = 0.01234567;
  const double exact_lsb = bias / s_out;
  const double fixed_lsb = std::ldexp(static_cast<double>(*quantizeBiasFixed(bias, s_out, m.shift)), -m.shift);
  CHECK(std::fabs(fixed_lsb - exact_lsb) <= std::ldexp(1.0, -m.shift - 1) * 1.0001);
}

}  // namespace hq::fxp
