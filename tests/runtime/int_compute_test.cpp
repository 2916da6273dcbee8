// ai.hq.QConv, QConvTranspose, QGemm (schemas/int-ops.md section 2): shape functions and
// reference kernels. Goldens: hand-computed values below and
// tests/fixtures/int_compute/cases.txt (gen_goldens.py: PyTorch float64 accumulators,
// Python-integer half-even requantization with the int64 fixed-point bias); the float
// reference ops on dequantized data;
// and malformed nodes, which must give errors that name the node.
#include <algorithm>
#include <cmath>

#include "conv_test_util.h"
#include "int_compute_test_util.h"

using namespace hq;
using hq::testing::checkError;
using hq::testing::checkInts;
using hq::testing::i16;
using hq::testing::i32;
using hq::testing::i64;
using hq::testing::i8;
using hq::testing::inferInt;
using hq::testing::infoOf;
using hq::testing::IntAttrs;
using hq::testing::runInt;

namespace {
const std::string kCases = std::string(HQ_TEST_DATA) + "/int_compute/cases.txt";
constexpr int64_t k2p30 = int64_t{1} << 30;  // multiplier 2^30: M = 2^(30 - shift)

Tensor runOk(const std::string& op, const IntAttrs& a, const std::vector<const Tensor*>& in) {
  auto r = runInt(op, a, in);
  INFO((r.isOk() ? std::string() : r.status().message()));
  REQUIRE(r.isOk());
  return (*r)[0];
}

int runGoldens(const std::vector<std::string>& ops) {
  int count = 0;
  for (const auto& c : hq::testing::readIntGoldenCases(kCases)) {
    if (std::find(ops.begin(), ops.end(), c.op) == ops.end()) continue;
    INFO("case " << c.name);
    std::vector<const Tensor*> ins;
    for (const Tensor& t : c.inputs) ins.push_back(t.defined() ? &t : nullptr);
    checkInts(runOk(c.op, c.attrs, ins), c.output);
    ++count;
  }
  return count;
}
}  // namespace

TEST_CASE("QConv / QConvTranspose / QGemm golden cases from PyTorch", "[int]") {
  CHECK(runGoldens({"QConv"}) == 7);
  CHECK(runGoldens({"QConvTranspose"}) == 2);
  CHECK(runGoldens({"QGemm"}) == 3);
}

TEST_CASE("QConv requantizes per channel, ties to even", "[int]") {
  // 1x1 conv, two output channels. Channel 0: W 1, M = 1/2; channel 1: W 3, M = 1/2 and a
  // bias of 1 accumulator LSB = 1/2 output LSB: B = 2^30 at shift 31.
  Tensor x = i8({1, 1, 1, 6}, {1, 3, 5, -1, -3, -5});
  Tensor w = i8({2, 1, 1, 1}, {1, 3});
  Tensor b = i64({2}, {0, k2p30});
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(3).requant({k2p30, k2p30}, {31, 31});
  // x / 2: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2, -2.5 -> -2;
  // (3x + 1) / 2 = 2, 5, 8, -1, -4, -7.
  checkInts(runOk("QConv", a, {&x, &w, &b}),
            i8({1, 2, 1, 6}, {0, 2, 2, 0, -2, -2, 2, 5, 8, -1, -4, -7}));
}

TEST_CASE("QConv saturates and clamps to fused activation bounds", "[int]") {
  Tensor x = i8({1, 1, 1, 4}, {100, -100, 3, 2});
  Tensor w = i8({1, 1, 1, 1}, {2});  // acc 200, -200, 6, 4; M = 1
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(3).requant({k2p30}, {30});
  checkInts(runOk("QConv", a, {&x, &w, nullptr}), i8({1, 1, 1, 4}, {127, -128, 6, 4}));
  a.i("out_lo", 0);  // Relu
  checkInts(runOk("QConv", a, {&x, &w, nullptr}), i8({1, 1, 1, 4}, {127, 0, 6, 4}));
  a.i("out_hi", 5);  // Relu6 with s_out = 1.2: quantizeLinear(6, 1.2) = 5
  checkInts(runOk("QConv", a, {&x, &w, nullptr}), i8({1, 1, 1, 4}, {5, 0, 5, 4}));
}

TEST_CASE("QConv geometry: pads, strides, dilations, groups", "[int]") {
  Tensor x = i8({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w = i8({1, 1, 1, 3}, {1, 0, -1});
  auto base = IntAttrs().is("kernel_shape", {1, 3}).out(3).requant({k2p30}, {30});
  // Pad 1 on both sides of W, stride 2: windows [0 1 2], [2 3 4], [4 5 0].
  auto padded = base;
  padded.is("pads", {0, 1, 0, 1}).is("strides", {1, 2});
  checkInts(runOk("QConv", padded, {&x, &w, nullptr}), i8({1, 1, 1, 3}, {-2, -2, 4}));
  // Dilation 2: one window x0 - x4.
  auto dilated = base;
  dilated.is("dilations", {1, 2});
  checkInts(runOk("QConv", dilated, {&x, &w, nullptr}), i8({1, 1, 1, 1}, {-4}));
  // Depthwise (group 2): channel 0 = 2x + 1, channel 1 = -x (M = 1: B = 1 LSB * 2^30).
  Tensor xd = i8({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor wd = i8({2, 1, 1, 1}, {2, -1});
  Tensor bd = i64({2}, {k2p30, 0});
  auto dw = IntAttrs().is("kernel_shape", {1, 1}).i("group", 2).out(3).requant(
      {k2p30, k2p30}, {30, 30});
  checkInts(runOk("QConv", dw, {&xd, &wd, &bd}), i8({1, 2, 1, 2}, {3, 5, -3, -4}));
}

TEST_CASE("QConv with int16 input", "[int]") {
  Tensor x = i16({1, 1, 1, 3}, {1000, -2000, 300});
  Tensor w = i8({1, 1, 1, 1}, {3});  // acc 3000, -6000, 900; M = 1/16
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(5).requant({k2p30}, {34});
  // 187.5 -> 188, -375, 56.25 -> 56.
  checkInts(runOk("QConv", a, {&x, &w, nullptr}), i16({1, 1, 1, 3}, {188, -375, 56}));
  a.out(3).requant({k2p30}, {34});  // the same into int8 saturates
  checkInts(runOk("QConv", a, {&x, &w, nullptr}), i8({1, 1, 1, 3}, {127, -128, 56}));
}

TEST_CASE("QConv residual: one rounding of acc * m + R * m_r", "[int]") {
  Tensor x = i8({1, 1, 1, 4}, {1, 1, 3, 5});
  Tensor w = i8({1, 1, 1, 1}, {1});
  Tensor r = i8({1, 1, 1, 4}, {0, 1, 0, -2});
  // M = 1/2, M_r = 1/4 at the shared shift 31: y = x / 2 + r / 4.
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(3).requant({k2p30}, {31}).is(
      "residual_multiplier", {k2p30 / 2});
  // 0.5 -> 0; 0.75 -> 1 (rounding each term first would give 0 + 0); 1.5 -> 2; 2.0 -> 2.
  checkInts(runOk("QConv", a, {&x, &w, nullptr, &r}), i8({1, 1, 1, 4}, {0, 1, 2, 2}));
  // The clamp comes after the sum: x/2 + r/4 = 0.5 - 2 = -1.5 -> -2, and Relu makes it 0.
  Tensor r2 = i8({1, 1, 1, 4}, {-8, 1, 0, -2});
  checkInts(runOk("QConv", a, {&x, &w, nullptr, &r2}), i8({1, 1, 1, 4}, {-2, 1, 2, 2}));
  a.i("out_lo", 0);
  checkInts(runOk("QConv", a, {&x, &w, nullptr, &r2}), i8({1, 1, 1, 4}, {0, 1, 2, 2}));
}

TEST_CASE("QConv int32 output: the accumulator clamped, no requantization", "[int]") {
  Tensor x = i8({1, 1, 1, 3}, {-128, 127, 5});
  Tensor w = i8({2, 1, 1, 1}, {-128, 127});
  Tensor b = i32({2}, {1000000, -7});
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(6);
  checkInts(runOk("QConv", a, {&x, &w, &b}),
            i32({1, 2, 1, 3}, {1016384, 983744, 999360, -16263, 16122, 628}));
  a.i("out_lo", 0);  // Relu
  checkInts(runOk("QConv", a, {&x, &w, &b}),
            i32({1, 2, 1, 3}, {1016384, 983744, 999360, 0, 16122, 628}));
}

TEST_CASE("QConvTranspose scatters with stride, pads, output_padding and groups", "[int]") {
  Tensor x = i8({1, 1, 1, 2}, {1, 2});
  Tensor w = i8({1, 1, 1, 3}, {1, 2, 3});
  // Stride 2: x0 * w at 0..2 plus x1 * w at 2..4.
  auto a = IntAttrs().is("kernel_shape", {1, 3}).is("strides", {1, 2}).out(3).requant({k2p30},
                                                                                      {30});
  checkInts(runOk("QConvTranspose", a, {&x, &w, nullptr}), i8({1, 1, 1, 5}, {1, 2, 5, 4, 6}));
  auto padded = a;
  padded.is("pads", {0, 1, 0, 1});
  checkInts(runOk("QConvTranspose", padded, {&x, &w, nullptr}), i8({1, 1, 1, 3}, {2, 5, 4}));
  auto out_pad = a;
  out_pad.is("output_padding", {0, 1});
  checkInts(runOk("QConvTranspose", out_pad, {&x, &w, nullptr}),
            i8({1, 1, 1, 6}, {1, 2, 5, 4, 6, 0}));
  // Group 2, one channel each: y0 = (3 * x0 + 1) / 2 = 2, y1 = -x1 (bias 1/2 output LSB of
  // channel 0: 2^30 at shift 31).
  Tensor xg = i8({1, 2, 1, 1}, {1, 2});
  Tensor wg = i8({2, 1, 1, 1}, {3, -1});
  Tensor bg = i64({2}, {k2p30, 0});
  auto g = IntAttrs().is("kernel_shape", {1, 1}).i("group", 2).out(3).requant({k2p30, k2p30},
                                                                              {31, 30});
  checkInts(runOk("QConvTranspose", g, {&xg, &wg, &bg}), i8({1, 2, 1, 1}, {2, -2}));
}

TEST_CASE("QGemm: transB 0 and 1, per-channel multipliers, batch dims", "[int]") {
  Tensor x = i8({2, 3}, {1, 2, 3, -1, 0, 2});
  Tensor w = i8({3, 2}, {1, -1, 2, 0, 0, 3});
  Tensor wt = i8({2, 3}, {1, 2, 0, -1, 0, 3});
  // The bias is +1 accumulator LSB on channel 0 and -1 on channel 1: B = +-2^30 in the
  // fixed-point form (1/2 output LSB at shift 31, 1 at shift 30), b32 for the int32 output.
  Tensor b = i64({2}, {k2p30, -k2p30});
  Tensor b32 = i32({2}, {1, -1});
  // acc + bias row 0: 6, 7; row 1: 0, 6. Channel 0: M = 1/2, channel 1: M = 1.
  auto a = IntAttrs().out(3).requant({k2p30, k2p30}, {31, 30});
  const Tensor want = i8({2, 2}, {3, 7, 0, 6});
  checkInts(runOk("QGemm", a, {&x, &w, &b}), want);
  auto at = a;
  at.i("transB", 1);
  checkInts(runOk("QGemm", at, {&x, &wt, &b}), want);
  Tensor x3 = x.reshaped({1, 2, 3});
  checkInts(runOk("QGemm", a, {&x3, &w, &b}), want.reshaped({1, 2, 2}));
  // int32 output (the classifier's high-precision output) keeps the accumulators.
  checkInts(runOk("QGemm", IntAttrs().out(6), {&x, &w, &b32}), i32({2, 2}, {6, 7, 0, 6}));
}

TEST_CASE("QConv: the fixed-point bias moves ties an int32 bias cannot", "[int]") {
  // s_in * s_w = 1, s_out = 2: M = 1/2 (2^30, shift 31), so odd accumulators are ties.
  // A real bias of 0.4 (0.2 output LSB) is 0 as an int32 at the accumulator scale
  // (round(0.4)), and every tie goes to even; as the fixed-point bias
  // round(0.4 / 2 * 2^31) = 429496730 it lifts 0.5 -> 0.7 -> 1 and 1.5 -> 1.7 -> 2.
  Tensor x = i8({1, 1, 1, 4}, {1, 3, -1, -3});
  Tensor w = i8({1, 1, 1, 1}, {1});
  auto bias = fxp::quantizeBiasFixed(0.4, 2.0f, 31);
  REQUIRE(bias.isOk());
  CHECK(*bias == 429496730);
  auto b32 = fxp::quantizeBias(0.4, 1.0);
  REQUIRE(b32.isOk());
  CHECK(*b32 == 0);
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(3).requant({k2p30}, {31});
  Tensor b = i64({1}, {*bias});
  // 0.7 -> 1, 1.7 -> 2, -0.3 -> 0, -1.3 -> -1.
  checkInts(runOk("QConv", a, {&x, &w, &b}), i8({1, 1, 1, 4}, {1, 2, 0, -1}));
  // The old int32 bias (0 here) gives the ties to even: 0, 2, 0, -2.
  Tensor b_old = i64({1}, {int64_t{*b32} * k2p30});
  checkInts(runOk("QConv", a, {&x, &w, &b_old}), i8({1, 1, 1, 4}, {0, 2, 0, -2}));
  // With a residual the bias joins the same single rounding: x/2 + r/4 + 0.2.
  Tensor r = i8({1, 1, 1, 4}, {1, 0, 0, 2});
  a.is("residual_multiplier", {k2p30 / 2});
  // 0.5 + 0.25 + 0.2 = 0.95 -> 1; 1.7 -> 2; -0.3 -> 0; -1.5 + 0.5 + 0.2 = -0.8 -> -1.
  checkInts(runOk("QConv", a, {&x, &w, &b, &r}), i8({1, 1, 1, 4}, {1, 2, 0, -1}));
  // A whole number of LSB (B = 100 * 2^31) leaves the ties to even: 100.5 -> 100,
  // 101.5 -> 102, 99.5 -> 100, 98.5 -> 98; 200 LSB saturates int8.
  Tensor big = i64({1}, {int64_t{100} << 31});
  a.drop("residual_multiplier");
  checkInts(runOk("QConv", a, {&x, &w, &big}), i8({1, 1, 1, 4}, {100, 102, 100, 98}));
  big = i64({1}, {int64_t{200} << 31});
  checkInts(runOk("QConv", a, {&x, &w, &big}), i8({1, 1, 1, 4}, {127, 127, 127, 127}));
}

// --- Against the float ops ---------------------------------------------------------------
//
// The float path dequantizes X, W (per channel) and B (scale s_in * s_w[c]), runs hq's
// float reference kernel, adds the dequantized residual, applies the activation, and
// quantizes with s_out. The integer result may differ from it by at most 1 LSB
// (int-ops.md section 7: the multiplier rounding, relative <= 2^-31, and the float
// model's own float32 arithmetic, ~1 ulp, can each flip a rounding only near a tie), and
// such flips must be rare.

namespace {

struct FloatCase {
  std::string op;              ///< QConv, QConvTranspose or QGemm
  IntAttrs geometry;           ///< the float op's attributes
  Shape x, w;
  DType xType = DType::kInt8;
  DType outType = DType::kInt8;
  int64_t group = 1;
  bool residual = false;
  bool relu6 = false;
};

void compareWithFloat(const FloatCase& fc, uint32_t seed) {
  std::mt19937 rng(seed);
  const bool int16 = fc.xType == DType::kInt16;
  Tensor x = int16 ? hq::testing::randomInts<int16_t>(fc.x, -32768, 32767, rng)
                   : hq::testing::randomInts<int8_t>(fc.x, -128, 127, rng);
  Tensor w = hq::testing::randomInts<int8_t>(fc.w, -127, 127, rng);
  const bool gemm = fc.op == "QGemm", transpose = fc.op == "QConvTranspose";
  const int64_t trans_b = fc.geometry.a.getInt("transB", 0);
  const int64_t c_out = gemm ? fc.w[trans_b ? 0 : 1] : transpose ? fc.w[1] * fc.group : fc.w[0];
  const int64_t kvol = gemm ? 1 : shapeNumel(Shape(fc.w.begin() + 2, fc.w.end()));
  const int64_t cpg = transpose ? fc.w[0] / fc.group : 0, mpg = c_out / fc.group;
  auto w_channel = [&](int64_t i) -> int64_t {
    if (gemm) return trans_b ? i / fc.w[1] : i % fc.w[1];
    if (!transpose) return i / (fc.w[1] * kvol);
    const int64_t c = i / (mpg * kvol), oc = (i / kvol) % mpg;
    return (c / cpg) * mpg + oc;
  };
  // The bias: random int32 at the accumulator scale, dequantized for the float op; an int32
  // output uses it as it is, a requantized one as fxp::quantizeBiasFixed of the same real
  // values (below, once the shifts are known).
  Tensor b = hq::testing::randomInts<int32_t>({c_out}, -20000, 20000, rng);
  const float s_in = int16 ? 0.0002f : 0.05f;
  std::uniform_real_distribution<float> sw_dist(0.002f, 0.01f);
  std::vector<float> s_w(static_cast<size_t>(c_out)), s_acc(s_w.size());
  for (size_t c = 0; c < s_w.size(); ++c) {
    s_w[c] = sw_dist(rng);
    s_acc[c] = static_cast<float>(static_cast<double>(s_in) * s_w[c]);
  }
  Tensor xf = hq::testing::dequantizeTensor(x, {s_in}, [](int64_t) { return 0; });
  Tensor wf = hq::testing::dequantizeTensor(w, s_w, w_channel);
  Tensor bf = hq::testing::dequantizeTensor(b, s_acc, [](int64_t i) { return i; });
  const std::string float_op = gemm ? "Gemm" : transpose ? "ConvTranspose" : "Conv";
  auto yf_r = hq::testing::runOp(float_op, fc.geometry.a, {&xf, &wf, &bf});
  REQUIRE(yf_r.isOk());
  Tensor yf = (*yf_r)[0];
  const int64_t plane = gemm ? 1 : shapeNumel(Shape(yf.shape().begin() + 2, yf.shape().end()));
  auto y_channel = [&](int64_t i) { return gemm ? i % c_out : (i / plane) % c_out; };

  float max_abs = 0;
  for (int64_t i = 0; i < yf.numel(); ++i) max_abs = std::max(max_abs, std::fabs(yf.data<float>()[i]));
  const fxp::IntRange type_range = fc.outType == DType::kInt16 ? fxp::kInt16Range
                                   : fc.outType == DType::kInt32 ? fxp::kInt32Range
                                                                 : fxp::kInt8Range;
  // s_out puts the largest output near 100 (int16: 20000) LSB; with Relu6, 6 at 111 LSB.
  const float s_out = fc.relu6 ? 6.5f / 120.0f
                               : max_abs / (fc.outType == DType::kInt16 ? 20000.0f : 100.0f);
  const float s_r = s_out * 1.37f;

  IntAttrs a = fc.geometry;
  a.i("out_type", static_cast<int64_t>(fc.outType)).i("out_lo", type_range.lo).i("out_hi",
                                                                                  type_range.hi);
  fxp::IntRange clamp = type_range;
  if (fc.relu6) {
    clamp = {0, std::min(type_range.hi, fxp::quantizeLinear(6.0f, s_out, type_range))};
    a.i("out_lo", clamp.lo).i("out_hi", clamp.hi);
  }
  Tensor r;
  if (fc.residual) r = hq::testing::randomInts<int8_t>(yf.shape(), -128, 127, rng);
  if (fc.outType != DType::kInt32) {
    std::vector<int64_t> mult, shift, rmult;
    for (int64_t c = 0; c < c_out; ++c) {
      const double m = fxp::computeMultiplier(s_in, s_w[static_cast<size_t>(c)], s_out);
      if (fc.residual) {
        auto ms = fxp::quantizeMultipliersSharedShift({m, fxp::rescaleMultiplier(s_r, s_out)});
        REQUIRE(ms.isOk());
        mult.push_back((*ms)[0].multiplier);
        rmult.push_back((*ms)[1].multiplier);
        shift.push_back((*ms)[0].shift);
      } else {
        auto q = fxp::quantizeMultiplier(m);
        REQUIRE(q.isOk());
        mult.push_back(q->multiplier);
        shift.push_back(q->shift);
      }
    }
    a.requant(mult, shift);
    if (fc.residual) a.is("residual_multiplier", rmult);
    std::vector<int64_t> fixed;
    for (int64_t c = 0; c < c_out; ++c) {
      auto q = fxp::quantizeBiasFixed(bf.data<float>()[c], s_out,
                                      static_cast<int>(shift[static_cast<size_t>(c)]));
      REQUIRE(q.isOk());
      fixed.push_back(*q);
    }
    b = i64({c_out}, fixed);
  }
  auto yi_r = runInt(fc.op, a, {&x, &w, &b, fc.residual ? &r : nullptr});
  INFO((yi_r.isOk() ? "" : yi_r.status().message()));
  REQUIRE(yi_r.isOk());
  const std::vector<int64_t> yi = (*yi_r)[0].toInt64();
  REQUIRE(static_cast<int64_t>(yi.size()) == yf.numel());
  const std::vector<int64_t> rv = fc.residual ? r.toInt64() : std::vector<int64_t>{};

  int64_t exact = 0, max_diff = 0;
  for (size_t i = 0; i < yi.size(); ++i) {
    float v = yf.data<float>()[i];
    int64_t want;
    if (fc.outType == DType::kInt32) {
      // Y's scale is s_in * s_w[c]: the accumulator itself.
      want = std::llround(static_cast<double>(v) / s_acc[static_cast<size_t>(y_channel(i))]);
    } else {
      if (fc.residual) v += fxp::dequantize(static_cast<int32_t>(rv[i]), s_r);
      if (fc.relu6) v = std::min(std::max(v, 0.0f), 6.0f);
      want = fxp::quantizeLinear(v, s_out, type_range);
    }
    const int64_t diff = std::abs(yi[i] - want);
    max_diff = std::max(max_diff, diff);
    exact += diff == 0;
  }
  INFO(fc.op << ": " << exact << " of " << yi.size() << " exact, max diff " << max_diff);
  CHECK(max_diff <= 1);
  CHECK(exact >= static_cast<int64_t>(yi.size() * 99 / 100));
  // Not vacuous: outputs span the range.
  const auto [lo, hi] = std::minmax_element(yi.begin(), yi.end());
  CHECK(*hi - *lo > (fc.outType == DType::kInt8 ? 60 : 1000));
}

IntAttrs convGeometry(std::vector<int64_t> k, std::vector<int64_t> strides,
                      std::vector<int64_t> pads, std::vector<int64_t> dil, int64_t group) {
  return IntAttrs().is("kernel_shape", k).is("strides", strides).is("pads", pads).is(
      "dilations", dil).i("group", group);
}

}  // namespace

TEST_CASE("QConv matches the float Conv within 1 LSB", "[int]") {
  FloatCase fc;
  fc.op = "QConv";
  SECTION("groups, stride, pads, dilation") {
    fc.geometry = convGeometry({3, 3}, {2, 1}, {1, 1, 1, 1}, {1, 2}, 2);
    fc.x = {2, 4, 9, 8};
    fc.w = {6, 2, 3, 3};
    fc.group = 2;
    compareWithFloat(fc, 1);
  }
  SECTION("depthwise, residual, Relu6") {
    fc.geometry = convGeometry({3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 8);
    fc.x = {1, 8, 6, 6};
    fc.w = {8, 1, 3, 3};
    fc.group = 8;
    fc.residual = true;
    fc.relu6 = true;
    compareWithFloat(fc, 2);
  }
  SECTION("int16 input and output") {
    fc.geometry = convGeometry({3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
    fc.x = {1, 3, 6, 6};
    fc.w = {4, 3, 3, 3};
    fc.xType = DType::kInt16;
    fc.outType = DType::kInt16;
    compareWithFloat(fc, 3);
  }
  SECTION("int32 output") {
    fc.geometry = convGeometry({3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
    fc.x = {1, 4, 5, 5};
    fc.w = {5, 4, 3, 3};
    fc.outType = DType::kInt32;
    compareWithFloat(fc, 4);
  }
}

TEST_CASE("QConvTranspose and QGemm match the float ops within 1 LSB", "[int]") {
  FloatCase fc;
  SECTION("ConvTranspose, groups, stride 2, output_padding") {
    fc.op = "QConvTranspose";
    fc.geometry = convGeometry({3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 2);
    fc.geometry.is("output_padding", {1, 1});
    fc.x = {1, 4, 5, 5};
    fc.w = {4, 3, 3, 3};
    fc.group = 2;
    compareWithFloat(fc, 5);
  }
  SECTION("Gemm transB = 0, residual") {
    fc.op = "QGemm";
    fc.x = {6, 40};
    fc.w = {40, 10};
    fc.residual = true;
    compareWithFloat(fc, 6);
  }
  SECTION("Gemm transB = 1, int16 input") {
    fc.op = "QGemm";
    fc.geometry.i("transB", 1);
    fc.x = {6, 40};
    fc.w = {10, 40};
    fc.xType = DType::kInt16;
    compareWithFloat(fc, 7);
  }
}

// --- Malformed nodes ---------------------------------------------------------------------

namespace {
struct ConvNode {
  Tensor x = i8({1, 2, 4, 4}, std::vector<int64_t>(32, 1));
  Tensor w = i8({3, 2, 3, 3}, std::vector<int64_t>(54, 1));
  Tensor b = i64({3}, {1, 2, 3});
  Tensor r = i8({1, 3, 4, 4}, std::vector<int64_t>(48, 1));
  IntAttrs a = IntAttrs().is("kernel_shape", {3, 3}).is("pads", {1, 1, 1, 1}).out(3).requant(
      {k2p30, k2p30, k2p30}, {31, 31, 31});

  std::vector<ValueInfo> infos(bool residual = false) const {
    std::vector<ValueInfo> v = {infoOf(x, false), infoOf(w, true), infoOf(b, true)};
    if (residual) v.push_back(infoOf(r, false));
    return v;
  }
  Status infer(const std::string& op = "QConv", bool residual = false) const {
    return inferInt(op, a, infos(residual)).status();
  }
};
}  // namespace

TEST_CASE("QConv shape function: a valid node", "[int]") {
  ConvNode n;
  auto r = inferInt("QConv", n.a, n.infos());
  REQUIRE(r.isOk());
  CHECK((*r)[0].dtype == DType::kInt8);
  CHECK(shapeString((*r)[0].shape) == "[1, 3, 4, 4]");
  n.a.out(5).requant({k2p30, k2p30, k2p30}, {31, 31, 31});
  REQUIRE(inferInt("QConv", n.a, n.infos()).isOk());
  CHECK((*inferInt("QConv", n.a, n.infos()))[0].dtype == DType::kInt16);
}

TEST_CASE("QConv: malformed dtypes and inputs are errors naming the node", "[int]") {
  ConvNode n;
  SECTION("X float32") {
    n.x = hq::testing::f32({1, 2, 4, 4}, std::vector<float>(32, 1.0f));
    checkError(n.infer(), ErrorCode::kUnsupported, "expected int8 or int16");
  }
  SECTION("X int32") {
    n.x = i32({1, 2, 4, 4}, std::vector<int64_t>(32, 1));
    checkError(n.infer(), ErrorCode::kUnsupported, "(X) has dtype int32");
  }
  SECTION("W int16") {
    n.w = i16({3, 2, 3, 3}, std::vector<int64_t>(54, 1));
    checkError(n.infer(), ErrorCode::kUnsupported, "(W) has dtype int16; expected int8");
  }
  SECTION("W not a constant") {
    auto v = n.infos();
    v[1].constant = nullptr;
    checkError(inferInt("QConv", n.a, v).status(), ErrorCode::kUnsupported,
               "constant initializer");
  }
  SECTION("B int8") {
    n.b = i8({3}, {1, 2, 3});
    checkError(n.infer(), ErrorCode::kUnsupported, "bias B has dtype int8; expected int64");
  }
  SECTION("B int32 with a requantized output (the old accumulator-scale bias)") {
    n.b = i32({3}, {1, 2, 3});
    checkError(n.infer(), ErrorCode::kUnsupported, "bias B has dtype int32; expected int64");
    // The reference kernel refuses it too.
    checkError(runInt("QConv", n.a, {&n.x, &n.w, &n.b}).status(), ErrorCode::kUnsupported,
               "expected int64");
  }
  SECTION("B int64 with an int32 output") {
    n.a.out(6).drop("multiplier").drop("shift");
    checkError(n.infer(), ErrorCode::kUnsupported, "bias B has dtype int64; expected int32");
    checkError(runInt("QConv", n.a, {&n.x, &n.w, &n.b}).status(), ErrorCode::kUnsupported,
               "expected int32");
  }
  SECTION("B beyond kMaxFixedBias") {
    n.b = i64({3}, {1, -fxp::kMaxFixedBias - 1, 3});
    checkError(n.infer(), ErrorCode::kData, "B[1]");
    n.b = i64({3}, {1, fxp::kMaxFixedBias, -fxp::kMaxFixedBias});  // the bounds themselves
    CHECK(n.infer().isOk());
  }
  SECTION("B not a constant") {
    auto v = n.infos();
    v[2].constant = nullptr;
    checkError(inferInt("QConv", n.a, v).status(), ErrorCode::kUnsupported,
               "constant initializer");
  }
  SECTION("B of the wrong length") {
    n.b = i64({2}, {1, 2});
    checkError(n.infer(), ErrorCode::kShape, "bias B");
  }
  SECTION("channels do not fit the group") {
    n.a.i("group", 2);
    checkError(n.infer(), ErrorCode::kShape, "group 2");
  }
  SECTION("kernel_shape differs from W") {
    n.a.is("kernel_shape", {2, 2});
    checkError(n.infer(), ErrorCode::kShape, "kernel_shape");
  }
  SECTION("X missing") {
    auto v = n.infos();
    v[0] = ValueInfo();
    checkError(inferInt("QConv", n.a, v).status(), ErrorCode::kShape, "(X) is missing");
  }
  SECTION("five inputs") {
    auto v = n.infos(true);
    v.push_back(v[3]);
    checkError(inferInt("QConv", n.a, v).status(), ErrorCode::kShape, "at most 4");
  }
}

TEST_CASE("QConv: malformed requantization attributes are errors naming the node", "[int]") {
  ConvNode n;
  const ErrorCode kArg = ErrorCode::kInvalidArgument;
  SECTION("out_type missing") {
    n.a.drop("out_type");
    checkError(n.infer(), kArg, "'out_type' is required");
  }
  SECTION("out_type float") {
    n.a.i("out_type", 1);
    checkError(n.infer(), kArg, "'out_type' = 1");
  }
  SECTION("out_lo missing") {
    n.a.drop("out_lo");
    checkError(n.infer(), kArg, "'out_lo' is required");
  }
  SECTION("out_hi outside int8") {
    n.a.i("out_hi", 128);
    checkError(n.infer(), kArg, "clamp bounds");
  }
  SECTION("out_lo > out_hi") {
    n.a.i("out_lo", 10).i("out_hi", 5);
    checkError(n.infer(), kArg, "out_lo <= out_hi");
  }
  SECTION("multiplier of the wrong length") {
    n.a.is("multiplier", {k2p30, k2p30});
    checkError(n.infer(), kArg, "'multiplier' has 2 values, expected 3");
  }
  SECTION("negative multiplier") {
    n.a.is("multiplier", {k2p30, -1, k2p30});
    checkError(n.infer(), kArg, "value -1 at index 1");
  }
  SECTION("multiplier 2^31") {
    n.a.is("multiplier", {k2p30, 2 * k2p30, k2p30});
    checkError(n.infer(), kArg, "value 2147483648");
  }
  SECTION("shift 64") {
    n.a.is("shift", {31, 64, 31});
    checkError(n.infer(), kArg, "'shift' has value 64");
  }
  SECTION("shift -1") {
    n.a.is("shift", {-1, 31, 31});
    checkError(n.infer(), kArg, "'shift' has value -1");
  }
  SECTION("shift missing") {
    n.a.drop("shift");
    checkError(n.infer(), kArg, "'shift' is required");
  }
  SECTION("multiplier a float") {
    n.a.f("multiplier", 0.5f);
    checkError(n.infer(), kArg, "list of ints");
  }
  SECTION("int32 output with multipliers") {
    n.a.out(6);
    checkError(n.infer(), kArg, "must be absent");
  }
  SECTION("int32 output with a residual") {
    n.a.out(6).drop("multiplier").drop("shift");
    checkError(n.infer("QConv", true), ErrorCode::kUnsupported, "not allowed");
  }
  SECTION("R without residual_multiplier") {
    checkError(n.infer("QConv", true), kArg, "'residual_multiplier' is required");
  }
  SECTION("residual_multiplier without R") {
    n.a.is("residual_multiplier", {1, 1, 1});
    checkError(n.infer(), kArg, "residual input R");
  }
  SECTION("R of another int dtype than Y is valid; an int32 R is not") {
    n.a.is("residual_multiplier", {1, 1, 1});
    n.r = i16({1, 3, 4, 4}, std::vector<int64_t>(48, 1));
    CHECK(n.infer("QConv", true).isOk());
    n.r = i32({1, 3, 4, 4}, std::vector<int64_t>(48, 1));
    checkError(n.infer("QConv", true), ErrorCode::kUnsupported, "(R) has dtype int32");
  }
  SECTION("R of another shape") {
    n.a.is("residual_multiplier", {1, 1, 1});
    n.r = i8({1, 3, 4, 3}, std::vector<int64_t>(36, 1));
    checkError(n.infer("QConv", true), ErrorCode::kShape, "(R) has shape [1, 3, 4, 3]");
  }
  SECTION("residual_multiplier of the wrong length") {
    n.a.is("residual_multiplier", {1, 1});
    checkError(n.infer("QConv", true), kArg, "'residual_multiplier' has 2 values");
  }
}

TEST_CASE("QConvTranspose and QGemm: malformed nodes are errors naming the node", "[int]") {
  SECTION("QConvTranspose output_padding >= stride") {
    Tensor x = i8({1, 3, 2, 2}, std::vector<int64_t>(12, 1));
    Tensor w = i8({3, 1, 2, 2}, std::vector<int64_t>(12, 1));
    auto a = IntAttrs().is("kernel_shape", {2, 2}).is("output_padding", {1, 1}).out(3).requant(
        {k2p30}, {31});
    checkError(inferInt("QConvTranspose", a, {infoOf(x, false), infoOf(w, true)}).status(),
               ErrorCode::kInvalidArgument, "output_padding");
  }
  Tensor x = i8({2, 4}, std::vector<int64_t>(8, 1));
  Tensor w = i8({4, 3}, std::vector<int64_t>(12, 1));
  auto a = IntAttrs().out(3).requant({k2p30, k2p30, k2p30}, {31, 31, 31});
  SECTION("valid") {
    auto r = inferInt("QGemm", a, {infoOf(x, false), infoOf(w, true)});
    REQUIRE(r.isOk());
    CHECK(shapeString((*r)[0].shape) == "[2, 3]");
  }
  SECTION("transB 2") {
    a.i("transB", 2);
    checkError(inferInt("QGemm", a, {infoOf(x, false), infoOf(w, true)}).status(),
               ErrorCode::kInvalidArgument, "'transB' = 2");
  }
  SECTION("K differs") {
    a.i("transB", 1);
    checkError(inferInt("QGemm", a, {infoOf(x, false), infoOf(w, true)}).status(),
               ErrorCode::kShape, "inner dimensions differ");
  }
  SECTION("W 3-D") {
    Tensor w3 = i8({1, 4, 3}, std::vector<int64_t>(12, 1));
    checkError(inferInt("QGemm", a, {infoOf(x, false), infoOf(w3, true)}).status(),
               ErrorCode::kShape, "expected 2-D");
  }
  SECTION("B of the wrong length") {
    Tensor b = i64({4}, {1, 2, 3, 4});
    checkError(
        inferInt("QGemm", a, {infoOf(x, false), infoOf(w, true), infoOf(b, true)}).status(),
        ErrorCode::kShape, "bias B");
  }
  SECTION("multiplier per input channel instead of output channel") {
    a.requant({k2p30, k2p30, k2p30, k2p30}, {31, 31, 31, 31});
    checkError(inferInt("QGemm", a, {infoOf(x, false), infoOf(w, true)}).status(),
               ErrorCode::kInvalidArgument, "has 4 values, expected 3");
  }
}

TEST_CASE("QConv refuses accumulators that can overflow int32", "[int]") {
  // 600 terms of int16 x int8: 600 * 32767 * 127 > 2^31 - 1 with full-range data.
  Tensor w = i8({1, 600, 1, 1}, std::vector<int64_t>(600, 127));
  auto a = IntAttrs().is("kernel_shape", {1, 1}).out(6);
  Tensor big = i16({1, 600, 1, 1}, std::vector<int64_t>(600, 32767));
  auto r = runInt("QConv", a, {&big, &w, nullptr});
  checkError(r.status(), ErrorCode::kData, "can overflow");
  // The same node on data whose actual range fits: exact.
  Tensor small = i16({1, 600, 1, 1}, std::vector<int64_t>(600, -100));
  checkInts(runOk("QConv", a, {&small, &w, nullptr}), i32({1, 1, 1, 1}, {-7620000}));
}
