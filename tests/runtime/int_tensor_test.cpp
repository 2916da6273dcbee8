// ai.hq tensor ops (schemas/int-ops.md 3, 4.5, 4.6, 4.8): QConcat, QResize (nearest and
// linear), QSoftmax. Hand-computed goldens, agreement with the float Concat / Resize /
// Softmax on random data within int-ops.md's bounds, and malformed nodes rejected with
// errors naming the node.
#include <cmath>
#include <random>

#include "runtime/int_elementwise_test_util.h"

using namespace hq;
using namespace hq::testing;

namespace {

constexpr int64_t k2p30 = int64_t{1} << 30;

Attributes concatAttrs(int64_t axis, std::vector<int64_t> m, std::vector<int64_t> s,
                       int64_t type = 3, int64_t lo = -128, int64_t hi = 127) {
  return intAttrs({{"axis", I(axis)},
                   {"multiplier", Is(std::move(m))},
                   {"shift", Is(std::move(s))},
                   {"out_type", I(type)},
                   {"out_lo", I(lo)},
                   {"out_hi", I(hi)}});
}

Attributes resizeAttrs(const std::string& mode, std::vector<int64_t> sizes,
                       const std::string& coord = "half_pixel") {
  return intAttrs({{"mode", Attribute::ofString(mode)},
                   {"coordinate_transformation_mode", Attribute::ofString(coord)},
                   {"sizes", Is(std::move(sizes))}});
}

/// Linear-mode attributes for an int8 input: F = 12, M = (s_in / s_out) * 2^-24.
void addLinear(Attributes* a, fxp::FixedMultiplier m, int64_t frac_bits = 12) {
  a->set("frac_bits", I(frac_bits));
  a->set("multiplier", I(m.multiplier));
  a->set("shift", I(m.shift));
  a->set("out_type", I(3));
  a->set("out_lo", I(-128));
  a->set("out_hi", I(127));
}

Attributes softmaxAttrs(fxp::FixedMultiplier inv, int64_t axis = -1) {
  return intAttrs({{"axis", I(axis)},
                   {"multiplier", I(inv.multiplier)},
                   {"shift", I(inv.shift)},
                   {"out_type", I(3)},
                   {"out_lo", I(-128)},
                   {"out_hi", I(127)}});
}

}  // namespace

// ---- QConcat ----

TEST_CASE("QConcat with equal scales is a copy", "[int][tensor]") {
  Tensor a = ints<int8_t>({1, 2, 2}, {1, -2, 3, -128});
  Tensor b = ints<int8_t>({1, 1, 2}, {127, 6});
  auto y = runInt("QConcat", {&a, &b}, concatAttrs(1, {k2p30, k2p30}, {30, 30}));
  REQUIRE(y.isOk());
  CHECK(y->shape() == Shape{1, 3, 2});
  CHECK(valuesOf(*y) == std::vector<int32_t>{1, -2, 3, -128, 127, 6});
  // Along the last axis (negative axis): rows interleave.
  Tensor c = ints<int8_t>({2, 1}, {9, 10});
  Tensor d = ints<int8_t>({2, 2}, {1, 2, 3, 4});
  auto z = runInt("QConcat", {&c, &d}, concatAttrs(-1, {k2p30, k2p30}, {30, 30}));
  REQUIRE(z.isOk());
  CHECK(z->shape() == Shape{2, 3});
  CHECK(valuesOf(*z) == std::vector<int32_t>{9, 1, 2, 10, 3, 4});
}

TEST_CASE("QConcat requantizes parts with other scales or dtypes", "[int][tensor]") {
  // Part 0: int16 with M = 1 into int8 (saturates: 300 -> 127, -300 -> -128);
  // part 1: int8 with M = 1/2 (ties to even: 1.5 -> 2, -1.5 -> -2, 2.5 -> 2, 63.5 -> 64);
  // part 2: int8 copy. Axis 0 of [n, 2].
  Tensor a = ints<int16_t>({1, 2}, {300, -300});
  Tensor b = ints<int8_t>({2, 2}, {3, -3, 5, 127});
  Tensor c = ints<int8_t>({1, 2}, {-128, 7});
  auto y = runInt("QConcat", {&a, &b, &c}, concatAttrs(0, {k2p30, k2p30, k2p30}, {30, 31, 30}));
  REQUIRE(y.isOk());
  CHECK(y->shape() == Shape{4, 2});
  CHECK(valuesOf(*y) == std::vector<int32_t>{127, -128, 2, -2, 2, 64, -128, 7});
  // A clamp narrower than the type: the identity part is clamped too (no plain copy).
  auto relu = runInt("QConcat", {&a, &b, &c},
                     concatAttrs(0, {k2p30, k2p30, k2p30}, {30, 31, 30}, 3, 0, 127));
  REQUIRE(relu.isOk());
  CHECK(valuesOf(*relu) == std::vector<int32_t>{127, 0, 2, 0, 2, 64, 0, 7});
  // int16 output: the int16 part is copied, the int8 part scaled by 4 (2^30 * 2^-28).
  auto wide =
      runInt("QConcat", {&a, &b}, concatAttrs(0, {k2p30, k2p30}, {30, 28}, 5, -32768, 32767));
  REQUIRE(wide.isOk());
  CHECK(wide->dtype() == DType::kInt16);
  CHECK(valuesOf(*wide) == std::vector<int32_t>{300, -300, 12, -12, 20, 508});
}

// ---- QResize ----

TEST_CASE("QResize nearest 2x is the float kernel's gather", "[int][tensor]") {
  Tensor x = ints<int8_t>({1, 1, 2, 2}, {1, 2, 3, 4});
  const std::vector<int32_t> want = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  Attributes floor_mode = resizeAttrs("nearest", {1, 1, 4, 4}, "asymmetric");
  floor_mode.set("nearest_mode", Attribute::ofString("floor"));
  auto y = runInt("QResize", {&x}, floor_mode);
  REQUIRE(y.isOk());
  CHECK(y->dtype() == DType::kInt8);
  CHECK(valuesOf(*y) == want);
  // half_pixel, round_prefer_floor: sources -0.25 -> 0, 0.25 -> 0, 0.75 -> 1, 1.25 -> 1.
  auto h = runInt("QResize", {&x}, resizeAttrs("nearest", {1, 1, 4, 4}));
  REQUIRE(h.isOk());
  CHECK(valuesOf(*h) == want);
  // Downscale 4 -> 2 with asymmetric floor picks columns 0 and 2; int16 kept.
  Tensor w = ints<int16_t>({1, 1, 1, 4}, {-1000, 1, 2000, 3});
  Attributes down = resizeAttrs("nearest", {1, 1, 1, 2}, "asymmetric");
  down.set("nearest_mode", Attribute::ofString("floor"));
  auto d = runInt("QResize", {&w}, down);
  REQUIRE(d.isOk());
  CHECK(d->dtype() == DType::kInt16);
  CHECK(valuesOf(*d) == std::vector<int32_t>{-1000, 2000});
}

TEST_CASE("QResize bilinear 2x: exact weights 1/4, 3/4, ties to even", "[int][tensor]") {
  // half_pixel 2x on each axis: output index o reads (1 - t) * in[0] + t * in[1] with
  // t = 0, 1/4, 3/4, 1 (edges clamped). Plane 0 is X = [[0, 1], [2, 3]], so
  // y[i][j] = 2 t_i + t_j:
  //   0    .25  .75  1       ->  0 0 1 1
  //   .5   .75  1.25 1.5     ->  0 1 1 2
  //   1.5  1.75 2.25 2.5     ->  2 2 2 2
  //   2    2.25 2.75 3       ->  2 2 3 3      (0.5 -> 0, 1.5 -> 2, 2.5 -> 2)
  // plane 1 is its negation (rounding half to even is symmetric).
  Tensor x = ints<int8_t>({1, 2, 2, 2}, {0, 1, 2, 3, 0, -1, -2, -3});
  Attributes a = resizeAttrs("linear", {1, 2, 4, 4});
  addLinear(&a, {static_cast<int32_t>(k2p30), 54});  // 2^-24: s_in == s_out
  auto y = runInt("QResize", {&x}, a);
  REQUIRE(y.isOk());
  CHECK(y->shape() == Shape{1, 2, 4, 4});
  CHECK(valuesOf(*y) == std::vector<int32_t>{0,  0,  1,  1,  0,  1,  1,  2,  2,  2, 2,
                                             2,  2,  2,  3,  3,  0,  0,  -1, -1, 0, -1,
                                             -1, -2, -2, -2, -2, -2, -2, -2, -3, -3});
  // Same weights with the output scale halved (M = 2 * 2^-24) saturating at 127:
  // X = [[0, 40], [80, 120]] gives 2 * (80 t_i + 40 t_j).
  Tensor big = ints<int8_t>({1, 1, 2, 2}, {0, 40, 80, 120});
  addLinear(&a, {static_cast<int32_t>(k2p30), 53});
  a.set("sizes", Is({1, 1, 4, 4}));
  auto z = runInt("QResize", {&big}, a);
  REQUIRE(z.isOk());
  CHECK(valuesOf(*z) == std::vector<int32_t>{0, 20, 60, 80, 40, 60, 100, 120, 120, 127, 127, 127,
                                             127, 127, 127, 127});
}

TEST_CASE("QResize matches the float Resize", "[int][tensor][float]") {
  std::mt19937 rng(5);
  struct Case {
    const char* mode;
    const char* coord;
    Shape in, out;
    bool by_scales;  // the float model gave scales (else sizes)
  };
  const std::vector<Case> cases = {
      {"linear", "half_pixel", {1, 3, 4, 5}, {1, 3, 8, 10}, true},
      {"linear", "align_corners", {2, 2, 3, 4}, {2, 2, 5, 7}, false},
      {"linear", "asymmetric", {1, 2, 5, 3}, {1, 2, 7, 9}, false},
      {"linear", "pytorch_half_pixel", {1, 1, 6, 6}, {1, 1, 1, 4}, false},
      {"linear", "half_pixel", {1, 2, 4, 4}, {1, 2, 6, 6}, true},  // scale 1.5
      {"nearest", "half_pixel", {1, 3, 4, 5}, {1, 3, 7, 9}, false},
      {"nearest", "asymmetric", {1, 2, 3, 3}, {1, 2, 9, 6}, true},
      {"nearest", "align_corners", {1, 1, 5, 4}, {1, 1, 3, 3}, false},
  };
  for (const Case& c : cases) {
    INFO(c.mode << " " << c.coord << " " << shapeString(c.in) << " -> " << shapeString(c.out));
    const float s_in = 0.02f, s_out = 0.025f;
    Tensor x = randomInts<int8_t>(c.in, rng, -128, 127);
    Attributes fa = intAttrs({{"mode", Attribute::ofString(c.mode)},
                              {"coordinate_transformation_mode", Attribute::ofString(c.coord)}});
    Attributes ia = resizeAttrs(c.mode, c.out, c.coord);
    Tensor fx = dequantized(x, s_in);
    Tensor f;
    if (c.by_scales) {
      std::vector<float> scales;
      for (size_t d = 0; d < c.in.size(); ++d)
        scales.push_back(static_cast<float>(c.out[d]) / static_cast<float>(c.in[d]));
      Tensor st = Tensor::fromVector<float>({4}, scales);
      f = runFloat("Resize", {&fx, nullptr, &st}, fa);
      ia.set("scales", Attribute::ofFloats(scales));
    } else {
      Tensor st = Tensor::fromVector<int64_t>({4}, c.out);
      f = runFloat("Resize", {&fx, nullptr, nullptr, &st}, fa);
    }
    REQUIRE(f.shape() == c.out);
    if (std::string(c.mode) == "nearest") {
      auto y = runInt("QResize", {&x}, ia);
      REQUIRE(y.isOk());
      // A gather: the same values on the same grid.
      CHECK(maxAbsDiff(valuesOf(*y), quantized(f, s_in, fxp::kInt8Range)) == 0);
      continue;
    }
    auto m = fxp::quantizeMultiplier(fxp::rescaleMultiplier(s_in, s_out) * std::ldexp(1.0, -24));
    REQUIRE(m.isOk());
    addLinear(&ia, *m);
    auto y = runInt("QResize", {&x}, ia);
    REQUIRE(y.isOk());
    CHECK(maxAbsDiff(valuesOf(*y), quantized(f, s_out, fxp::kInt8Range)) <= 1);
  }
}

// ---- QSoftmax ----

TEST_CASE("QSoftmax on 10 classes (golden from exact rational arithmetic)", "[int][tensor]") {
  // tests/fixtures/int_elementwise/softmax_golden.py: s_in = 1/16, s_out = 1/128.
  auto e = fxp::softmaxExpTable(0.0625f);
  REQUIRE(e.isOk());
  CHECK((*e)[0] == 65536);
  CHECK((*e)[1] == 61565);
  CHECK((*e)[14] == 27319);
  CHECK((*e)[159] == 3);
  CHECK((*e)[255] == 0);
  Tensor table = Tensor::fromVector<int32_t>({256}, *e);
  auto inv = fxp::quantizeMultiplier(128.0);
  REQUIRE(inv.isOk());
  CHECK(*inv == fxp::FixedMultiplier{1 << 30, 23});
  Tensor x = ints<int8_t>({1, 10}, {-20, 5, 17, 17, 30, -128, 0, 29, 12, 31});
  auto y = runInt("QSoftmax", {&x, &table}, softmaxAttrs(*inv));
  REQUIRE(y.isOk());
  CHECK(valuesOf(*y) == std::vector<int32_t>{1, 6, 12, 12, 28, 0, 4, 26, 9, 29});
  // Along axis 0 of the transposed tensor: the same numbers.
  Tensor xt = ints<int8_t>({10, 1}, {-20, 5, 17, 17, 30, -128, 0, 29, 12, 31});
  auto yt = runInt("QSoftmax", {&xt, &table}, softmaxAttrs(*inv, 0));
  REQUIRE(yt.isOk());
  CHECK(valuesOf(*yt) == valuesOf(*y));
  // One class: probability 1 = 128 / 128, clamped to 127.
  Tensor one = ints<int8_t>({3, 1}, {-5, 0, 100});
  auto y1 = runInt("QSoftmax", {&one, &table}, softmaxAttrs(*inv));
  REQUIRE(y1.isOk());
  CHECK(valuesOf(*y1) == std::vector<int32_t>{127, 127, 127});
}

TEST_CASE("QSoftmax is within its bound of the float Softmax", "[int][tensor][float]") {
  std::mt19937 rng(9);
  const float s_in = 0.05f, s_out = 1.0f / 128;
  auto e = fxp::softmaxExpTable(s_in);
  REQUIRE(e.isOk());
  Tensor table = Tensor::fromVector<int32_t>({256}, *e);
  auto inv = fxp::quantizeMultiplier(1.0 / s_out);
  REQUIRE(inv.isOk());
  const int64_t n = 10;
  Tensor x = randomInts<int8_t>({64, n}, rng, -128, 127);
  auto y = runInt("QSoftmax", {&x, &table}, softmaxAttrs(*inv));
  REQUIRE(y.isOk());
  Tensor fx = dequantized(x, s_in);
  Tensor f = runFloat("Softmax", {&fx}, intAttrs({{"axis", I(-1)}}));
  const std::vector<int32_t> got = valuesOf(*y);
  CHECK(maxAbsDiff(got, quantized(f, s_out, fxp::kInt8Range)) <= 1);
  // Against the exact real value: 1/2 LSB + (N + 1) * 2^-17 / s_out (int-ops.md 4.8).
  const double bound = 0.5 + static_cast<double>(n + 1) * std::ldexp(1.0, -17) / s_out + 1e-9;
  double worst = 0;
  for (int64_t r = 0; r < 64; ++r) {
    const int8_t* row = x.data<int8_t>() + r * n;
    double mx = -1e300, sum = 0;
    for (int64_t k = 0; k < n; ++k) mx = std::max(mx, static_cast<double>(row[k]));
    for (int64_t k = 0; k < n; ++k) sum += std::exp((row[k] - mx) * static_cast<double>(s_in));
    for (int64_t k = 0; k < n; ++k) {
      const double real = std::exp((row[k] - mx) * static_cast<double>(s_in)) / sum / s_out;
      const double clamped = std::min(127.0, real);
      worst = std::max(worst, std::fabs(got[r * n + k] - clamped));
    }
  }
  INFO("worst |Y - p / s_out| = " << worst << " LSB, bound " << bound);
  CHECK(worst <= bound);
}

// ---- malformed nodes ----

TEST_CASE("QConcat, QResize and QSoftmax reject malformed nodes", "[int][tensor][errors]") {
  Tensor a = ints<int8_t>({1, 2}, {1, 2});
  Tensor b = ints<int8_t>({1, 3}, {1, 2, 3});
  Tensor f = Tensor::fromVector<float>({1, 2}, {1, 2});
  checkNodeError(runInt("QConcat", {&a, &b}, concatAttrs(1, {k2p30}, {30})).status(),
                 "one entry per input (2)");
  checkNodeError(runInt("QConcat", {&a, &b}, concatAttrs(2, {k2p30, k2p30}, {30, 30})).status(),
                 "out of range");
  checkNodeError(runInt("QConcat", {&a, &b}, concatAttrs(0, {k2p30, k2p30}, {30, 30})).status(),
                 "must match");
  checkNodeError(runInt("QConcat", {&a, &f}, concatAttrs(1, {k2p30, k2p30}, {30, 30})).status(),
                 "int8 or int16");
  checkNodeError(runInt("QConcat", {&a, &b}, concatAttrs(1, {k2p30, k2p30}, {30, 70})).status(),
                 "shift[1]=70");
  checkNodeError(runInt("QConcat", {}, concatAttrs(1, {}, {})).status(), "at least one input");

  Tensor x = ints<int8_t>({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor x16 = ints<int16_t>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor x2 = ints<int8_t>({2}, {1, 2});
  checkNodeError(runInt("QResize", {&x}, resizeAttrs("cubic", {1, 2, 4, 4})).status(), "cubic");
  checkNodeError(runInt("QResize", {&x}, resizeAttrs("area", {1, 2, 4, 4})).status(), "area");
  checkNodeError(
      runInt("QResize", {&x}, resizeAttrs("nearest", {1, 2, 4, 4}, "tf_crop_and_resize")).status(),
      "tf_crop_and_resize");
  checkNodeError(runInt("QResize", {&x}, resizeAttrs("nearest", {1, 4, 4, 4})).status(),
                 "only the last two");
  checkNodeError(runInt("QResize", {&x}, resizeAttrs("nearest", {1, 2, 4})).status(),
                 "3 values for the rank-4");
  checkNodeError(runInt("QResize", {&x}, resizeAttrs("nearest", {1, 2, 0, 4})).status(),
                 "positive");
  checkNodeError(runInt("QResize", {&x2}, resizeAttrs("nearest", {4})).status(), "rank >= 2");
  Attributes no_sizes = resizeAttrs("nearest", {1, 2, 4, 4});
  no_sizes.erase("sizes");
  checkNodeError(runInt("QResize", {&x}, no_sizes).status(), "'sizes' is required");
  Attributes scaled_c = resizeAttrs("nearest", {1, 2, 4, 4});
  scaled_c.set("scales", Attribute::ofFloats({1, 2, 2, 2}));
  checkNodeError(runInt("QResize", {&x}, scaled_c).status(), "scale != 1");
  Attributes nearest_type = resizeAttrs("nearest", {1, 2, 4, 4});
  nearest_type.set("out_type", I(5));
  checkNodeError(runInt("QResize", {&x}, nearest_type).status(), "keeps the input dtype");
  Attributes lin = resizeAttrs("linear", {1, 2, 4, 4});
  checkNodeError(runInt("QResize", {&x}, lin).status(), "'frac_bits' is required");
  addLinear(&lin, {static_cast<int32_t>(k2p30), 54}, 13);
  checkNodeError(runInt("QResize", {&x}, lin).status(), "frac_bits=13 must be 12");
  Attributes lin16 = resizeAttrs("linear", {1, 1, 4, 4});
  addLinear(&lin16, {static_cast<int32_t>(k2p30), 46}, 12);
  checkNodeError(runInt("QResize", {&x16}, lin16).status(), "must be 8 for an int16");
  lin16.set("frac_bits", I(8));
  REQUIRE(runInt("QResize", {&x16}, lin16).isOk());
  lin16.erase("multiplier");
  checkNodeError(runInt("QResize", {&x16}, lin16).status(), "'multiplier' is required");

  auto e = fxp::softmaxExpTable(0.1f);
  REQUIRE(e.isOk());
  Tensor table = Tensor::fromVector<int32_t>({256}, *e);
  Tensor short_table(DType::kInt32, {255});
  Tensor table8(DType::kInt8, {256});
  std::vector<int32_t> negative = *e;
  negative[7] = -1;
  Tensor bad_table = Tensor::fromVector<int32_t>({256}, negative);
  Tensor sx = ints<int8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor sx16 = ints<int16_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const fxp::FixedMultiplier inv{static_cast<int32_t>(k2p30), 23};
  REQUIRE(runInt("QSoftmax", {&sx, &table}, softmaxAttrs(inv)).isOk());
  checkNodeError(runInt("QSoftmax", {&sx16, &table}, softmaxAttrs(inv)).status(), "must be int8");
  checkNodeError(runInt("QSoftmax", {&sx, &short_table}, softmaxAttrs(inv)).status(),
                 "int32 table [256]");
  checkNodeError(runInt("QSoftmax", {&sx, &table8}, softmaxAttrs(inv)).status(),
                 "int32 table [256]");
  checkNodeError(runInt("QSoftmax", {&sx, &bad_table}, softmaxAttrs(inv)).status(), "E[7] = -1");
  checkNodeError(runInt("QSoftmax", {&sx, &table}, softmaxAttrs(inv, 2)).status(), "out of range");
  checkNodeError(runInt("QSoftmax", {&sx, &table}, softmaxAttrs({1 << 30, 63})).status(),
                 "at most 62");
  checkNodeError(runInt("QSoftmax", {&sx, &table}, softmaxAttrs({1 << 30, 60})).status(),
                 "overflows");
  checkNodeError(runInt("QSoftmax", {&sx}, softmaxAttrs(inv)).status(), "expects 2 input(s)");
}
