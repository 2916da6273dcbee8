// ai.hq elementwise ops (schemas/int-ops.md 3, 4.2-4.4, 4.7): QClamp, QAdd (Sub), QMul,
// QRescale, QLookup. Hand-computed goldens (ties to even, negatives, saturation,
// broadcasting), agreement with the float ops on random data within int-ops.md's bounds,
// and malformed nodes rejected with errors naming the node.
#include <cmath>
#include <random>

#include "runtime/int_elementwise_test_util.h"

using namespace hq;
using namespace hq::testing;

namespace {

Attributes requant(int64_t m, int64_t s, int64_t type = 3, int64_t lo = -128, int64_t hi = 127) {
  return intAttrs({{"multiplier", I(m)},
                   {"shift", I(s)},
                   {"out_type", I(type)},
                   {"out_lo", I(lo)},
                   {"out_hi", I(hi)}});
}

Attributes addAttrs(int64_t ma, int64_t mb, int64_t s, int64_t lo = -128, int64_t hi = 127,
                    int64_t type = 3) {
  return intAttrs({{"multiplier_a", I(ma)},
                   {"multiplier_b", I(mb)},
                   {"shift", I(s)},
                   {"out_type", I(type)},
                   {"out_lo", I(lo)},
                   {"out_hi", I(hi)}});
}

constexpr int64_t k2p30 = int64_t{1} << 30;

}  // namespace

// ---- hand-computed goldens ----

TEST_CASE("QClamp clamps int8 and int16 on the input's grid", "[int][elementwise]") {
  Tensor x = ints<int8_t>({7}, {-128, -5, 0, 3, 6, 7, 127});
  auto y = runInt("QClamp", {&x}, intAttrs({{"lo", I(0)}, {"hi", I(6)}}));
  REQUIRE(y.isOk());
  CHECK(y->dtype() == DType::kInt8);
  CHECK(valuesOf(*y) == std::vector<int32_t>{0, 0, 0, 3, 6, 6, 6});
  Tensor x16 = ints<int16_t>({2, 2}, {-32768, -300, 300, 32767});
  auto y16 = runInt("QClamp", {&x16}, intAttrs({{"lo", I(-1000)}, {"hi", I(32767)}}));
  REQUIRE(y16.isOk());
  CHECK(y16->dtype() == DType::kInt16);
  CHECK(y16->shape() == Shape{2, 2});
  CHECK(valuesOf(*y16) == std::vector<int32_t>{-1000, -300, 300, 32767});
}

TEST_CASE("QRescale rounds half to even and saturates", "[int][elementwise]") {
  // M = 2^30 * 2^-31 = 1/2: -2.5 -> -2, -1.5 -> -2, -0.5 -> 0, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2,
  // 63.5 -> 64, -64 exact.
  Tensor x = ints<int8_t>({9}, {-5, -3, -1, 1, 3, 5, 2, 127, -128});
  auto y = runInt("QRescale", {&x}, requant(k2p30, 31));
  REQUIRE(y.isOk());
  CHECK(valuesOf(*y) == std::vector<int32_t>{-2, -2, 0, 0, 2, 2, 1, 64, -64});
  // M = 3/4 = 3 * 2^29 * 2^-31: 1.5 -> 2, 4.5 -> 4, -1.5 -> -2, 7.5 -> 8, 0.75 -> 1.
  Tensor x2 = ints<int8_t>({5}, {2, 6, -2, 10, 1});
  auto y2 = runInt("QRescale", {&x2}, requant(3 * (int64_t{1} << 29), 31));
  REQUIRE(y2.isOk());
  CHECK(valuesOf(*y2) == std::vector<int32_t>{2, 4, -2, 8, 1});
  // int16 -> int8 with M = 2 (2^30 * 2^-29): saturates at both ends; a Relu clamp [0, 127].
  Tensor x16 = ints<int16_t>({4}, {100, -100, 1000, 21});
  auto y16 = runInt("QRescale", {&x16}, requant(k2p30, 29));
  REQUIRE(y16.isOk());
  CHECK(y16->dtype() == DType::kInt8);
  CHECK(valuesOf(*y16) == std::vector<int32_t>{127, -128, 127, 42});
  auto relu = runInt("QRescale", {&x16}, requant(k2p30, 29, 3, 0, 127));
  REQUIRE(relu.isOk());
  CHECK(valuesOf(*relu) == std::vector<int32_t>{127, 0, 127, 42});
  // int8 -> int16 with M = 300 (300 = 0.5859375 * 2^9: m = 0.5859375 * 2^31, s = 22).
  auto wide = runInt("QRescale", {&x}, requant(1258291200, 22, 5, -32768, 32767));
  REQUIRE(wide.isOk());
  CHECK(wide->dtype() == DType::kInt16);
  CHECK(valuesOf(*wide) ==
        std::vector<int32_t>{-1500, -900, -300, 300, 900, 1500, 600, 32767, -32768});
}

TEST_CASE("QAdd: one rounding of the sum, Sub by a negative multiplier_b", "[int][elementwise]") {
  Tensor a = ints<int8_t>({4}, {1, 2, 3, -3});
  Tensor b = ints<int8_t>({4}, {0, 1, 2, 0});
  // (a + b) / 2: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -1.5 -> -2.
  auto add = runInt("QAdd", {&a, &b}, addAttrs(k2p30, k2p30, 31));
  REQUIRE(add.isOk());
  CHECK(valuesOf(*add) == std::vector<int32_t>{0, 2, 2, -2});
  // (a - b) / 2: 0.5 -> 0, 0.5 -> 0, 0.5 -> 0, -1.5 -> -2.
  auto sub = runInt("QAdd", {&a, &b}, addAttrs(k2p30, -k2p30, 31));
  REQUIRE(sub.isOk());
  CHECK(valuesOf(*sub) == std::vector<int32_t>{0, 0, 0, -2});
  // Each term rounded alone would give round(0.5) + round(0.5) = 0 for a = b = 1 at M = 1/2;
  // the single rounding gives round(1.0) = 1.
  Tensor one = ints<int8_t>({1}, {1});
  auto single = runInt("QAdd", {&one, &one}, addAttrs(k2p30, k2p30, 31));
  REQUIRE(single.isOk());
  CHECK(valuesOf(*single) == std::vector<int32_t>{1});
}

TEST_CASE("QAdd broadcasts, mixes dtypes and clamps", "[int][elementwise]") {
  Tensor a = ints<int16_t>({2, 3}, {10, 20, 30, 40, 50, 60});
  Tensor b = ints<int8_t>({3}, {1, 2, 3});
  // y = a + b / 2 (M_a = 1 = 2^30 * 2^-30, M_b = 1/2 = 2^29 * 2^-30):
  // 10.5 -> 10, 21, 31.5 -> 32, 40.5 -> 40, 51, 61.5 -> 62.
  auto y = runInt("QAdd", {&a, &b}, addAttrs(k2p30, k2p30 / 2, 30));
  REQUIRE(y.isOk());
  CHECK(y->dtype() == DType::kInt8);
  CHECK(y->shape() == Shape{2, 3});
  CHECK(valuesOf(*y) == std::vector<int32_t>{10, 21, 32, 40, 51, 62});
  auto clamped = runInt("QAdd", {&a, &b}, addAttrs(k2p30, k2p30 / 2, 30, -10, 50));
  REQUIRE(clamped.isOk());
  CHECK(valuesOf(*clamped) == std::vector<int32_t>{10, 21, 32, 40, 50, 50});
  // B [2, 1] against A [1, 3] -> [2, 3]; int16 output, 200 + 1000 = 1200 needs int16.
  Tensor col = ints<int8_t>({2, 1}, {-100, 100});
  Tensor row = ints<int16_t>({1, 3}, {-1000, 0, 1000});
  auto outer = runInt("QAdd", {&col, &row}, addAttrs(k2p30, k2p30, 30, -32768, 32767, 5));
  REQUIRE(outer.isOk());
  CHECK(outer->dtype() == DType::kInt16);
  CHECK(outer->shape() == Shape{2, 3});
  CHECK(valuesOf(*outer) == std::vector<int32_t>{-1100, -100, 900, -900, 100, 1100});
  // The same into int8 saturates.
  auto sat = runInt("QAdd", {&col, &row}, addAttrs(k2p30, k2p30, 30));
  REQUIRE(sat.isOk());
  CHECK(valuesOf(*sat) == std::vector<int32_t>{-128, -100, 127, -128, 100, 127});
}

TEST_CASE("QMul requantizes the exact product", "[int][elementwise]") {
  // M = 1/32 (2^30 * 2^-35): 16/32 = 0.5 -> 0, 1.5 -> 2, -1.5 -> -2, 312.5 -> 127 (saturated).
  Tensor a = ints<int8_t>({5}, {4, 4, -4, 12, 100});
  Tensor b = ints<int8_t>({5}, {4, 12, 12, 4, 100});
  auto y = runInt("QMul", {&a, &b}, requant(k2p30, 35));
  REQUIRE(y.isOk());
  CHECK(valuesOf(*y) == std::vector<int32_t>{0, 2, -2, 2, 127});
  // int16 x int16 = -32768 * -32768 = 2^30, M = 2^-20 -> 1024; scalar B broadcast.
  Tensor a16 = ints<int16_t>({3}, {-32768, 32767, -3});
  Tensor s16 = ints<int16_t>({}, {-32768});
  auto big = runInt("QMul", {&a16, &s16}, requant(k2p30, 50, 5, -32768, 32767));
  REQUIRE(big.isOk());
  CHECK(big->shape() == Shape{3});
  // 32767 * -32768 / 2^20 = -1023.97 -> -1024; -3 * -32768 / 2^20 = 0.09 -> 0.
  CHECK(valuesOf(*big) == std::vector<int32_t>{1024, -1024, 0});
}

TEST_CASE("QLookup per tensor and per channel", "[int][elementwise]") {
  std::vector<int8_t> t(256);
  for (int i = 0; i < 256; ++i) t[i] = static_cast<int8_t>((i * 7) % 256 - 128);
  Tensor table = ints<int8_t>({256}, t);
  Tensor x = ints<int8_t>({4}, {-128, -1, 0, 127});
  auto y = runInt("QLookup", {&x, &table}, intAttrs({{"in_lo", I(-128)}, {"out_type", I(3)}}));
  REQUIRE(y.isOk());
  // T[0] = -128, T[127] = 889 % 256 - 128 = -7, T[128] = 0, T[255] = 249 - 128 = 121.
  CHECK(valuesOf(*y) == std::vector<int32_t>{-128, -7, 0, 121});

  // Channel 0: identity; channel 1: negation (saturating -(-128) to 127); axis 1 of [1, 2, 2].
  std::vector<int8_t> pc(512);
  for (int i = 0; i < 256; ++i) {
    pc[i] = static_cast<int8_t>(i - 128);
    pc[256 + i] = static_cast<int8_t>(std::min(127, 128 - i));
  }
  Tensor per_channel = ints<int8_t>({2, 256}, pc);
  Tensor xc = ints<int8_t>({1, 2, 2}, {5, -128, 5, -128});
  auto yc = runInt("QLookup", {&xc, &per_channel},
                   intAttrs({{"in_lo", I(-128)}, {"out_type", I(3)}, {"axis", I(1)}}));
  REQUIRE(yc.isOk());
  CHECK(valuesOf(*yc) == std::vector<int32_t>{5, -128, -5, 127});
  // The same along the last axis (axis -1 of [2, 2], one value per channel per row).
  Tensor xl = ints<int8_t>({2, 2}, {5, 5, -128, -128});
  auto yl = runInt("QLookup", {&xl, &per_channel},
                   intAttrs({{"in_lo", I(-128)}, {"out_type", I(3)}, {"axis", I(-1)}}));
  REQUIRE(yl.isOk());
  CHECK(valuesOf(*yl) == std::vector<int32_t>{5, -5, -128, 127});

  // int16 input, 65536-entry int16 table T[i] = floor((i - 32768) / 4).
  std::vector<int16_t> t16(65536);
  for (int i = 0; i < 65536; ++i) t16[i] = static_cast<int16_t>((i - 32768) >> 2);
  Tensor table16 = ints<int16_t>({65536}, t16);
  Tensor x16 = ints<int16_t>({4}, {-32768, -1, 0, 32767});
  auto y16 =
      runInt("QLookup", {&x16, &table16}, intAttrs({{"in_lo", I(-32768)}, {"out_type", I(5)}}));
  REQUIRE(y16.isOk());
  CHECK(y16->dtype() == DType::kInt16);
  CHECK(valuesOf(*y16) == std::vector<int32_t>{-8192, -1, 0, 8191});
}

// ---- against the float ops on random data ----

TEST_CASE("QAdd, Sub and QMul are within 1 LSB of the float ops", "[int][elementwise][float]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> scale(0.002f, 0.05f), ratio(0.6f, 1.5f);
  for (int round = 0; round < 20; ++round) {
    const float sa = scale(rng), sb = scale(rng), so = (sa + sb) * ratio(rng);
    Tensor a = randomInts<int8_t>({2, 3, 4, 5}, rng, -128, 127);
    Tensor b = randomInts<int8_t>({3, 1, 5}, rng, -128, 127);
    Tensor fa = dequantized(a, sa), fb = dequantized(b, sb);
    auto shared = fxp::quantizeMultipliersSharedShift(
        {fxp::rescaleMultiplier(sa, so), fxp::rescaleMultiplier(sb, so)});
    REQUIRE(shared.isOk());
    const auto& m = *shared;
    INFO("round " << round << " scales " << sa << " " << sb << " " << so);
    for (bool sub : {false, true}) {
      auto y =
          runInt("QAdd", {&a, &b},
                 addAttrs(m[0].multiplier, sub ? -m[1].multiplier : m[1].multiplier, m[0].shift));
      REQUIRE(y.isOk());
      Tensor f = runFloat(sub ? "Sub" : "Add", {&fa, &fb});
      CHECK(maxAbsDiff(valuesOf(*y), quantized(f, so, fxp::kInt8Range)) <= 1);
    }
    const float so_mul = sa * sb * 128 * ratio(rng);
    auto mm = fxp::quantizeMultiplier(fxp::computeMultiplier(sa, sb, so_mul));
    REQUIRE(mm.isOk());
    auto y = runInt("QMul", {&a, &b}, requant(mm->multiplier, mm->shift));
    REQUIRE(y.isOk());
    Tensor f = runFloat("Mul", {&fa, &fb});
    CHECK(maxAbsDiff(valuesOf(*y), quantized(f, so_mul, fxp::kInt8Range)) <= 1);
  }
}

TEST_CASE("QRescale is within 1 LSB of dequantize-quantize", "[int][elementwise][float]") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> scale(1e-4f, 0.1f), narrow(8, 512), ratio(0.5f, 2);
  for (int round = 0; round < 20; ++round) {
    const float si = scale(rng), so16 = si * narrow(rng), so8 = si * ratio(rng);
    INFO("round " << round << " scales " << si << " " << so16 << " " << so8);
    Tensor x16 = randomInts<int16_t>({1000}, rng, -32768, 32767);
    Tensor x8 = randomInts<int8_t>({1000}, rng, -128, 127);
    for (const auto& [x, so] : {std::pair<const Tensor*, float>{&x16, so16}, {&x8, so8}}) {
      auto m = fxp::quantizeMultiplier(fxp::rescaleMultiplier(si, so));
      REQUIRE(m.isOk());
      auto y = runInt("QRescale", {x}, requant(m->multiplier, m->shift));
      REQUIRE(y.isOk());
      CHECK(maxAbsDiff(valuesOf(*y), quantized(dequantized(*x, si), so, fxp::kInt8Range)) <= 1);
    }
  }
}

namespace {

/// Tables of f (one float op run on all 2^bits dequantized inputs) via fxp::buildLookupTable.
Tensor buildTable(const std::string& op, Attributes attrs, const Tensor* slope, float s_in,
                  float s_out) {
  Tensor all(DType::kFloat32, {256});
  for (int i = 0; i < 256; ++i) all.data<float>()[i] = fxp::dequantize(i - 128, s_in);
  Tensor f = slope ? runFloat(op, {&all, slope}, attrs) : runFloat(op, {&all}, attrs);
  int next = 0;
  std::vector<int32_t> t =
      fxp::buildLookupTable(fxp::kInt8Range, s_in, s_out, fxp::kInt8Range, [&](float x) {
        REQUIRE(x == all.data<float>()[next]);  // called once per entry, in order
        return f.data<float>()[next++];
      });
  std::vector<int8_t> t8(t.begin(), t.end());
  return Tensor::fromVector<int8_t>({256}, t8);
}

}  // namespace

TEST_CASE("QLookup is bit-exact against the float activation kernels",
          "[int][elementwise][float]") {
  std::mt19937 rng(3);
  struct Case {
    const char* op;
    Attributes attrs;
    float s_in, s_out;
  };
  const std::vector<Case> cases = {
      {"Sigmoid", {}, 0.05f, 1.0f / 128},
      {"Tanh", {}, 0.03f, 1.0f / 127},
      {"LeakyRelu", intAttrs({{"alpha", Attribute::ofFloat(0.1f)}}), 0.04f, 0.041f},
      {"HardSwish", {}, 0.05f, 0.045f},
      {"HardSigmoid", {}, 0.07f, 1.0f / 128},
  };
  for (const Case& c : cases) {
    INFO(c.op);
    Tensor table = buildTable(c.op, c.attrs, nullptr, c.s_in, c.s_out);
    Tensor x = randomInts<int8_t>({4, 300}, rng, -128, 127);
    auto y = runInt("QLookup", {&x, &table}, intAttrs({{"in_lo", I(-128)}, {"out_type", I(3)}}));
    REQUIRE(y.isOk());
    Tensor fx = dequantized(x, c.s_in);
    Tensor f = runFloat(c.op, {&fx}, c.attrs);
    CHECK(maxAbsDiff(valuesOf(*y), quantized(f, c.s_out, fxp::kInt8Range)) == 0);
  }
  // PRelu with a per-channel slope: one table per channel, axis 1 of NCHW.
  const std::vector<float> slopes = {0.25f, -0.5f, 0.01f};
  const float s_in = 0.03f, s_out = 0.02f;
  std::vector<int8_t> pc;
  for (float s : slopes) {
    Tensor slope = Tensor::fromVector<float>({1}, {s});
    Tensor t = buildTable("PRelu", {}, &slope, s_in, s_out);
    pc.insert(pc.end(), t.data<int8_t>(), t.data<int8_t>() + 256);
  }
  Tensor tables = Tensor::fromVector<int8_t>({3, 256}, pc);
  Tensor x = randomInts<int8_t>({2, 3, 5, 7}, rng, -128, 127);
  auto y = runInt("QLookup", {&x, &tables},
                  intAttrs({{"in_lo", I(-128)}, {"out_type", I(3)}, {"axis", I(1)}}));
  REQUIRE(y.isOk());
  Tensor fx = dequantized(x, s_in);
  Tensor slope = Tensor::fromVector<float>({3, 1, 1}, slopes);
  Tensor f = runFloat("PRelu", {&fx, &slope});
  CHECK(maxAbsDiff(valuesOf(*y), quantized(f, s_out, fxp::kInt8Range)) == 0);
}

// ---- malformed nodes: errors naming the node, never a crash ----

TEST_CASE("QClamp, QRescale, QAdd and QMul reject malformed nodes", "[int][elementwise][errors]") {
  Tensor x = ints<int8_t>({3}, {1, 2, 3});
  Tensor f = Tensor::fromVector<float>({3}, {1, 2, 3});
  Tensor y2 = ints<int8_t>({2}, {1, 2});
  checkNodeError(runInt("QClamp", {&x}, intAttrs({{"lo", I(5)}, {"hi", I(1)}})).status(), "lo");
  checkNodeError(runInt("QClamp", {&x}, intAttrs({{"lo", I(-129)}, {"hi", I(1)}})).status(),
                 "int8");
  checkNodeError(runInt("QClamp", {&x}, intAttrs({{"lo", I(0)}})).status(), "'hi' is required");
  checkNodeError(runInt("QClamp", {&f}, intAttrs({{"lo", I(0)}, {"hi", I(1)}})).status(),
                 "float32");
  checkNodeError(runInt("QRescale", {&x}, requant(k2p30, 64)).status(), "shift=64");
  checkNodeError(runInt("QRescale", {&x}, requant(-5, 3)).status(), "multiplier=-5");
  checkNodeError(runInt("QRescale", {&x}, requant(int64_t{1} << 31, 3)).status(), "multiplier");
  checkNodeError(runInt("QRescale", {&x}, requant(k2p30, 30, 6)).status(), "out_type=6");
  checkNodeError(runInt("QRescale", {&x}, requant(k2p30, 30, 3, -128, 200)).status(), "out_hi");
  checkNodeError(runInt("QRescale", {&x}, requant(k2p30, 30, 3, 5, 4)).status(), "out_lo");
  Attributes wrong_kind = requant(k2p30, 30);
  wrong_kind.set("multiplier", Is({k2p30}));
  checkNodeError(runInt("QRescale", {&x}, wrong_kind).status(), "must be int, got ints");
  Attributes no_type = requant(k2p30, 30);
  no_type.erase("out_type");
  checkNodeError(runInt("QRescale", {&x}, no_type).status(), "'out_type' is required");
  checkNodeError(runInt("QAdd", {&x, &y2}, addAttrs(k2p30, k2p30, 30)).status(),
                 "cannot broadcast");
  checkNodeError(runInt("QAdd", {&x, &x, &x}, addAttrs(k2p30, k2p30, 30)).status(),
                 "expects 2 input(s), got 3");
  checkNodeError(runInt("QAdd", {&x, nullptr}, addAttrs(k2p30, k2p30, 30)).status(),
                 "input 1 is missing");
  checkNodeError(runInt("QAdd", {&x, &f}, addAttrs(k2p30, k2p30, 30)).status(), "int8 or int16");
  checkNodeError(
      runInt("QAdd", {&x, &x}, addAttrs(k2p30, std::numeric_limits<int32_t>::min(), 30)).status(),
      "multiplier_b");
  checkNodeError(runInt("QAdd", {&x, &x}, addAttrs(-1, k2p30, 30)).status(), "multiplier_a");
  Attributes no_b = addAttrs(k2p30, k2p30, 30);
  no_b.erase("multiplier_b");
  checkNodeError(runInt("QAdd", {&x, &x}, no_b).status(), "'multiplier_b' is required");
  checkNodeError(runInt("QMul", {&x, &y2}, requant(k2p30, 30)).status(), "cannot broadcast");
  checkNodeError(runInt("QMul", {&x}, requant(k2p30, 30)).status(), "expects 2 input(s)");
}

TEST_CASE("QLookup rejects tables that do not fit the input", "[int][elementwise][errors]") {
  Tensor x = ints<int8_t>({1, 2, 2}, {1, 2, 3, 4});
  Tensor t8 = Tensor(DType::kInt8, {256});
  Tensor t16 = Tensor(DType::kInt16, {256});
  Tensor short_table = Tensor(DType::kInt8, {255});
  Tensor pc3 = Tensor(DType::kInt8, {3, 256});
  Tensor pc2 = Tensor(DType::kInt8, {2, 256});
  Tensor t3d = Tensor(DType::kInt8, {1, 2, 256});
  const Attributes ok = intAttrs({{"in_lo", I(-128)}, {"out_type", I(3)}});
  REQUIRE(runInt("QLookup", {&x, &t8}, ok).isOk());
  checkNodeError(runInt("QLookup", {&x, &t16}, ok).status(), "output dtype int8");
  checkNodeError(runInt("QLookup", {&x, &short_table}, ok).status(), "256 entries");
  checkNodeError(runInt("QLookup", {&x, &t3d}, ok).status(), "[C, 256]");
  checkNodeError(runInt("QLookup", {&x, &pc2}, ok).status(), "needs the attribute axis");
  Attributes axis1 = ok;
  axis1.set("axis", I(1));
  REQUIRE(runInt("QLookup", {&x, &pc2}, axis1).isOk());
  checkNodeError(runInt("QLookup", {&x, &pc3}, axis1).status(), "3 channels");
  checkNodeError(runInt("QLookup", {&x, &t8}, axis1).status(), "only allowed with a per-channel");
  Attributes axis5 = ok;
  axis5.set("axis", I(5));
  checkNodeError(runInt("QLookup", {&x, &pc2}, axis5).status(), "out of range");
  checkNodeError(
      runInt("QLookup", {&x, &t8}, intAttrs({{"in_lo", I(0)}, {"out_type", I(3)}})).status(),
      "in_lo=0");
  checkNodeError(
      runInt("QLookup", {&x, &t16}, intAttrs({{"in_lo", I(-128)}, {"out_type", I(6)}})).status(),
      "out_type=6");
  checkNodeError(runInt("QLookup", {&x}, ok).status(), "expects 2 input(s)");
}

TEST_CASE("ai.hq kernels called with a wrong output report it", "[int][elementwise][errors]") {
  Graph g;
  Value* in = g.addValue("x");
  Value* out = g.addValue("y");
  Node* node = g.addNode("QClamp", kIntNodeName, {in}, {out},
                         intAttrs({{"lo", I(0)}, {"hi", I(6)}}), kIntDomain);
  Tensor x = ints<int8_t>({3}, {1, 2, 3});
  Tensor wrong_shape(DType::kInt8, {4});
  Tensor wrong_type(DType::kInt16, {3});
  ReferenceKernel k = findReferenceKernel("QClamp", kIntDomain);
  REQUIRE(k);
  checkNodeError(k(KernelCall{*node, {&x}, {&wrong_shape}}), "output 0 must be int8 [3]");
  checkNodeError(k(KernelCall{*node, {&x}, {&wrong_type}}), "got int16 [3]");
  checkNodeError(k(KernelCall{*node, {&x}, {nullptr}}), "output 0 is missing");
  checkNodeError(k(KernelCall{*node, {nullptr}, {&wrong_shape}}), "input 0 is missing");
}
