// ai.hq.QMaxPool, QGlobalMaxPool (int-ops.md section 3: exact), QAveragePool and
// QGlobalAveragePool (section 4.1: int32 sum, multiplier of the window's divisor n):
// hand-computed goldens, tests/fixtures/int_compute/cases.txt (window counts from
// torch.avg_pool2d), the float pooling kernels on dequantized data, and malformed nodes.
#include <algorithm>
#include <cmath>

#include "conv_test_util.h"
#include "int_compute_test_util.h"

using namespace hq;
using hq::testing::checkError;
using hq::testing::checkInts;
using hq::testing::i16;
using hq::testing::i32;
using hq::testing::i8;
using hq::testing::inferInt;
using hq::testing::infoOf;
using hq::testing::IntAttrs;
using hq::testing::runInt;

namespace {
const std::string kCases = std::string(HQ_TEST_DATA) + "/int_compute/cases.txt";
constexpr int64_t k2p30 = int64_t{1} << 30;

Tensor runOk(const std::string& op, const IntAttrs& a, const std::vector<const Tensor*>& in) {
  auto r = runInt(op, a, in);
  INFO((r.isOk() ? std::string() : r.status().message()));
  REQUIRE(r.isOk());
  return (*r)[0];
}

/// multiplier / shift attributes from fxp::averageMultipliers(s_in, s_out, count).
IntAttrs& averageTable(IntAttrs& a, float s_in, float s_out, int64_t count) {
  auto table = fxp::averageMultipliers(s_in, s_out, count);
  REQUIRE(table.isOk());
  std::vector<int64_t> m, s;
  for (const auto& f : *table) {
    m.push_back(f.multiplier);
    s.push_back(f.shift);
  }
  return a.requant(m, s);
}
}  // namespace

TEST_CASE("QAveragePool golden cases from PyTorch window counts", "[int]") {
  int count = 0;
  for (const auto& c : hq::testing::readIntGoldenCases(kCases)) {
    if (c.op != "QAveragePool") continue;
    INFO("case " << c.name);
    checkInts(runOk(c.op, c.attrs, {&c.inputs[0]}), c.output);
    ++count;
  }
  CHECK(count == 4);
}

TEST_CASE("QMaxPool never selects padding; int8 and int16", "[int]") {
  Tensor x = i8({1, 1, 3, 3}, {-5, -3, -8, -1, -7, -2, -9, -4, -6});
  auto a = IntAttrs().is("kernel_shape", {2, 2}).is("pads", {1, 1, 1, 1}).is("strides", {2, 2});
  // Windows {-5}, {-3, -8}, {-1, -9}, {-7, -2, -4, -6}: all negative, padding would give 0.
  checkInts(runOk("QMaxPool", a, {&x}), i8({1, 1, 2, 2}, {-5, -3, -1, -2}));
  Tensor x16 = i16({1, 1, 3, 3}, {-5000, -3000, -8000, -1000, -7000, -2000, -9000, -4000, -6000});
  checkInts(runOk("QMaxPool", a, {&x16}), i16({1, 1, 2, 2}, {-5000, -3000, -1000, -2000}));
  // 1-D, ceil_mode keeps a last partial window; dilation 2 skips a neighbour.
  Tensor x1 = i8({1, 1, 5}, {1, 3, 2, 5, 4});
  auto c = IntAttrs().is("kernel_shape", {2}).is("strides", {2}).i("ceil_mode", 1);
  checkInts(runOk("QMaxPool", c, {&x1}), i8({1, 1, 3}, {3, 5, 4}));
  auto d = IntAttrs().is("kernel_shape", {2}).is("dilations", {2});
  checkInts(runOk("QMaxPool", d, {&x1}), i8({1, 1, 3}, {2, 5, 4}));
}

TEST_CASE("QGlobalMaxPool", "[int]") {
  Tensor x = i8({1, 2, 2, 2}, {-1, -2, -3, -4, 5, 0, 5, 1});
  checkInts(runOk("QGlobalMaxPool", IntAttrs(), {&x}), i8({1, 2, 1, 1}, {-1, 5}));
  Tensor x16 = i16({2, 1, 3}, {-32768, -32768, -32767, 300, 32767, 0});
  checkInts(runOk("QGlobalMaxPool", IntAttrs(), {&x16}), i16({2, 1, 1}, {-32767, 32767}));
}

TEST_CASE("QAveragePool divisors: count_include_pad, ceil_mode, ties to even", "[int]") {
  Tensor x = i8({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Equal scales: M_n = 1/n; n = 1, 2, 4 are exact powers of two.
  auto a = IntAttrs().is("kernel_shape", {2, 2}).is("pads", {1, 1, 1, 1}).is("strides", {2, 2})
               .out(3);
  averageTable(a, 1.0f, 1.0f, 4);
  CHECK(a.a.getInts("multiplier")[0] == k2p30);
  CHECK(a.a.getInts("shift")[0] == 30);
  CHECK(a.a.getInts("multiplier")[3] == k2p30);
  CHECK(a.a.getInts("shift")[3] == 32);
  // Without pads counted: {1} / 1, {2, 3} / 2 = 2.5 -> 2, {4, 7} / 2 = 5.5 -> 6, 28 / 4 = 7.
  checkInts(runOk("QAveragePool", a, {&x}), i8({1, 1, 2, 2}, {1, 2, 6, 7}));
  // Counting the padding, every window has n = 4: 0.25 -> 0, 1.25 -> 1, 2.75 -> 3, 7.
  a.i("count_include_pad", 1);
  checkInts(runOk("QAveragePool", a, {&x}), i8({1, 1, 2, 2}, {0, 1, 3, 7}));

  // ceil_mode: the last window {5} is partial. With an end pad of 1 the padded window
  // counts 2 when count_include_pad = 1 (5 / 2 = 2.5 -> 2), else 1.
  Tensor x1 = i8({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  auto c = IntAttrs().is("kernel_shape", {1, 2}).is("strides", {1, 2}).i("ceil_mode", 1).out(3);
  averageTable(c, 1.0f, 1.0f, 2);
  checkInts(runOk("QAveragePool", c, {&x1}), i8({1, 1, 1, 3}, {2, 4, 5}));
  c.i("count_include_pad", 1);
  checkInts(runOk("QAveragePool", c, {&x1}), i8({1, 1, 1, 3}, {2, 4, 5}));
  c.is("pads", {0, 0, 0, 1});
  checkInts(runOk("QAveragePool", c, {&x1}), i8({1, 1, 1, 3}, {2, 4, 2}));
  c.i("count_include_pad", 0);
  checkInts(runOk("QAveragePool", c, {&x1}), i8({1, 1, 1, 3}, {2, 4, 5}));
}

TEST_CASE("QAveragePool and QGlobalAveragePool: int16, saturation, clamp", "[int]") {
  // int16 in, int8 out at M = 1/(2 * 256): sums 30000, -30000, 1000 -> 58.59 -> 59,
  // -58.59 -> -59, 1.95 -> 2; with out_hi = 50: 50.
  Tensor x = i16({1, 1, 1, 6}, {10000, 20000, -10000, -20000, 400, 600});
  auto a = IntAttrs().is("kernel_shape", {1, 2}).is("strides", {1, 2}).out(3).requant(
      {k2p30, k2p30}, {39, 39});
  checkInts(runOk("QAveragePool", a, {&x}), i8({1, 1, 1, 3}, {59, -59, 2}));
  a.i("out_hi", 50);
  checkInts(runOk("QAveragePool", a, {&x}), i8({1, 1, 1, 3}, {50, -59, 2}));
  a.requant({k2p30, k2p30}, {33, 33});  // M = 1/8: +-3750 saturate int8, 125 does not
  checkInts(runOk("QAveragePool", a.out(3), {&x}), i8({1, 1, 1, 3}, {127, -128, 125}));

  // Global: sums 10 and -6 over n = 4: 2.5 -> 2, -1.5 -> -2.
  Tensor g = i8({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -2, -1});
  auto ga = IntAttrs().out(3).requant({k2p30}, {32});
  checkInts(runOk("QGlobalAveragePool", ga, {&g}), i8({1, 2, 1, 1}, {2, -2}));
  ga.i("out_lo", 0);  // a Relu bound
  checkInts(runOk("QGlobalAveragePool", ga, {&g}), i8({1, 2, 1, 1}, {2, 0}));
  auto g16 = IntAttrs().out(5).requant({k2p30}, {28});  // M = 4 into int16
  checkInts(runOk("QGlobalAveragePool", g16, {&g}), i16({1, 2, 1, 1}, {40, -24}));
}

// --- Against the float pooling kernels ------------------------------------------------------
// Max pools are exact (int-ops.md section 7: bit-exact). Averages: the integer result is
// within 1 LSB of quantize(float AveragePool(dequantized X)) (the multiplier rounding and the
// float model's float32 sum and division can each flip a rounding only near a tie), and
// with equal power-of-two scales and n a power of two it is exact.

namespace {
struct PoolStats {
  int64_t exact = 0, total = 0, maxDiff = 0;
};

/// count: the kernel volume (QAveragePool: one multiplier per divisor 1..count) or the
/// plane size (QGlobalAveragePool: the one multiplier of n = count).
PoolStats compareAverage(const std::string& float_op, const IntAttrs& geometry, const Tensor& x,
                         float s_in, float s_out, int64_t count) {
  Tensor xf = hq::testing::dequantizeTensor(x, {s_in}, [](int64_t) { return 0; });
  auto yf = hq::testing::runOp(float_op, geometry.a, {&xf});
  REQUIRE(yf.isOk());
  IntAttrs a = geometry;
  a.out(3);
  averageTable(a, s_in, s_out, count);
  if (float_op == "GlobalAveragePool") {
    a.requant({a.a.getInts("multiplier").back()}, {a.a.getInts("shift").back()});
  }
  auto yi = runInt("Q" + float_op, a, {&x});
  INFO((yi.isOk() ? "" : yi.status().message()));
  REQUIRE(yi.isOk());
  const std::vector<int64_t> got = (*yi)[0].toInt64();
  REQUIRE(static_cast<int64_t>(got.size()) == (*yf)[0].numel());
  PoolStats st;
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t want = fxp::quantizeLinear((*yf)[0].data<float>()[i], s_out, fxp::kInt8Range);
    const int64_t d = std::abs(got[i] - want);
    st.maxDiff = std::max(st.maxDiff, d);
    st.exact += d == 0;
    ++st.total;
  }
  return st;
}
}  // namespace

TEST_CASE("QAveragePool and QGlobalAveragePool match the float ops within 1 LSB", "[int]") {
  std::mt19937 rng(11);
  Tensor x = hq::testing::randomInts<int8_t>({2, 3, 9, 8}, -128, 127, rng);
  for (int64_t ceil_mode : {0, 1}) {
    for (int64_t include_pad : {0, 1}) {
      auto geo = IntAttrs().is("kernel_shape", {3, 3}).is("strides", {2, 2}).is(
          "pads", {1, 0, 1, 1}).i("ceil_mode", ceil_mode).i("count_include_pad", include_pad);
      // Scales with an irrational-looking ratio: real ties (where either side may win)
      // are then rare.
      PoolStats st = compareAverage("AveragePool", geo, x, 0.0317f, 0.0211f, 9);
      INFO("ceil_mode " << ceil_mode << " count_include_pad " << include_pad << ": " << st.exact
                        << " of " << st.total << " exact, max diff " << st.maxDiff);
      CHECK(st.maxDiff <= 1);
      CHECK(st.exact >= st.total * 98 / 100);
    }
  }
  PoolStats g = compareAverage("GlobalAveragePool", IntAttrs(), x, 0.0317f, 0.0113f, 72);
  CHECK(g.maxDiff <= 1);
  CHECK(g.exact >= g.total - 1);
  // Equal power-of-two scales, n = 4 everywhere: exactly round_half_even(sum / 4).
  auto even = IntAttrs().is("kernel_shape", {2, 2}).is("strides", {2, 2});
  PoolStats e = compareAverage("AveragePool", even, x, 0.0625f, 0.0625f, 4);
  CHECK(e.exact == e.total);
}

TEST_CASE("QMaxPool and QGlobalMaxPool equal the float ops exactly", "[int]") {
  std::mt19937 rng(12);
  for (DType t : {DType::kInt8, DType::kInt16}) {
    Tensor x = t == DType::kInt8 ? hq::testing::randomInts<int8_t>({2, 3, 9, 8}, -128, 127, rng)
                                 : hq::testing::randomInts<int16_t>({2, 3, 9, 8}, -32768, 32767,
                                                                    rng);
    const float s = t == DType::kInt8 ? 0.05f : 0.0003f;
    const fxp::IntRange range = t == DType::kInt8 ? fxp::kInt8Range : fxp::kInt16Range;
    Tensor xf = hq::testing::dequantizeTensor(x, {s}, [](int64_t) { return 0; });
    for (const auto& [op, geo] :
         {std::pair<std::string, IntAttrs>{"MaxPool", IntAttrs().is("kernel_shape", {3, 3}).is(
                                                          "strides", {2, 2}).is(
                                                          "pads", {1, 1, 1, 0}).is(
                                                          "dilations", {1, 2}).i("ceil_mode", 1)},
          {"GlobalMaxPool", IntAttrs()}}) {
      INFO(op << " " << dtypeName(t));
      auto yf = hq::testing::runOp(op, geo.a, {&xf});
      REQUIRE(yf.isOk());
      Tensor yi = runOk("Q" + op, geo, {&x});
      REQUIRE(yi.dtype() == t);
      const std::vector<int64_t> got = yi.toInt64();
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        bad += got[i] != fxp::quantizeLinear((*yf)[0].data<float>()[i], s, range);
      }
      CHECK(bad == 0);
    }
  }
}

// --- Malformed nodes ---------------------------------------------------------------------

TEST_CASE("Integer pools: malformed nodes are errors naming the node", "[int]") {
  Tensor x = i8({1, 2, 4, 4}, std::vector<int64_t>(32, 1));
  auto avg = IntAttrs().is("kernel_shape", {3, 3}).out(3);
  averageTable(avg, 1.0f, 1.0f, 9);
  REQUIRE(inferInt("QAveragePool", avg, {infoOf(x, false)}).isOk());
  SECTION("QMaxPool on float32") {
    Tensor xf = hq::testing::f32({1, 1, 2, 2}, {1, 2, 3, 4});
    checkError(inferInt("QMaxPool", IntAttrs().is("kernel_shape", {2, 2}), {infoOf(xf, false)})
                   .status(),
               ErrorCode::kUnsupported, "expected int8 or int16");
  }
  SECTION("QMaxPool with an Indices output") {
    checkError(
        inferInt("QMaxPool", IntAttrs().is("kernel_shape", {2, 2}), {infoOf(x, false)}, 2)
            .status(),
        ErrorCode::kShape, "no Indices output");
  }
  SECTION("QMaxPool without kernel_shape") {
    checkError(inferInt("QMaxPool", IntAttrs(), {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "kernel_shape");
  }
  SECTION("QGlobalMaxPool on int32") {
    Tensor x32 = i32({1, 1, 2, 2}, {1, 2, 3, 4});
    checkError(inferInt("QGlobalMaxPool", IntAttrs(), {infoOf(x32, false)}).status(),
               ErrorCode::kUnsupported, "(X) has dtype int32");
  }
  SECTION("QAveragePool multipliers not one per divisor") {
    avg.requant({k2p30, k2p30, k2p30, k2p30}, {30, 31, 32, 32});
    checkError(inferInt("QAveragePool", avg, {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "has 4 values, expected 9");
  }
  SECTION("QAveragePool int32 output") {
    avg.out(6);
    checkError(inferInt("QAveragePool", avg, {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "'out_type' = 6");
  }
  SECTION("QAveragePool count_include_pad 2") {
    avg.i("count_include_pad", 2);
    checkError(inferInt("QAveragePool", avg, {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "count_include_pad");
  }
  SECTION("QAveragePool shift out of range") {
    avg.is("shift", {30, 31, 31, 32, 32, 32, 32, 33, 99});
    checkError(inferInt("QAveragePool", avg, {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "'shift' has value 99 at index 8");
  }
  SECTION("QGlobalAveragePool with two multipliers") {
    auto g = IntAttrs().out(3).requant({k2p30, k2p30}, {30, 31});
    checkError(inferInt("QGlobalAveragePool", g, {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "has 2 values, expected 1");
  }
  SECTION("QGlobalAveragePool without out_hi") {
    auto g = IntAttrs().out(3).requant({k2p30}, {30}).drop("out_hi");
    checkError(inferInt("QGlobalAveragePool", g, {infoOf(x, false)}).status(),
               ErrorCode::kInvalidArgument, "'out_hi' is required");
  }
}

TEST_CASE("QGlobalAveragePool refuses sums that can overflow int32", "[int]") {
  // 70000 int16 elements: 70000 * 32767 > 2^31 - 1 with full-range data.
  auto g = IntAttrs().out(5).requant({k2p30}, {46});
  Tensor big = i16({1, 1, 70000}, std::vector<int64_t>(70000, 32767));
  checkError(runInt("QGlobalAveragePool", g, {&big}).status(), ErrorCode::kData, "can overflow");
  // The actual range fits: sum 70000 * 1000 = 7e7, times 2^30 / 2^46 = 1068.1 -> 1068.
  Tensor small = i16({1, 1, 70000}, std::vector<int64_t>(70000, 1000));
  checkInts(runOk("QGlobalAveragePool", g, {&small}), i16({1, 1, 1}, {1068}));
}
