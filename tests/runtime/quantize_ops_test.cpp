// QuantizeLinear / DequantizeLinear: hand-computed goldens (round half to even at .5,
// saturation at both ends, per-axis on axis 0 and 1, uint8 zero points, int32
// dequantize), shape inference, and error cases naming the node.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "ir/op_registry.h"
#include "runtime/executor.h"
#include "runtime/kernel.h"

namespace hq {
namespace {

/// Runs one Q or DQ node on constant inputs through runReference (shape function included).
Expected<Tensor> runQuantOp(const std::string& op, const Tensor& x, const Tensor& scale,
                            const Tensor* zp, Attributes attrs = {}) {
  Graph g;
  std::vector<Value*> ins = {g.addConstant("x", x), g.addConstant("scale", scale)};
  std::vector<const Tensor*> data = {&x, &scale};
  if (zp) {
    ins.push_back(g.addConstant("zp", *zp));
    data.push_back(zp);
  }
  Node* n = g.addNode(op, "q0", ins, {g.addValue("y")}, std::move(attrs));
  HQ_ASSIGN_OR_RETURN(auto outs, runReference(*n, data));
  return outs[0];
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  const T* d = t.data<T>();
  return std::vector<T>(d, d + t.numel());
}

Attributes axis(int64_t a) {
  Attributes attrs;
  attrs.set("axis", Attribute::ofInt(a));
  return attrs;
}

}  // namespace

TEST_CASE("QuantizeLinear per tensor: half to even, saturation, uint8 zero point", "[quantize]") {
  // x / 0.5 = 0, 0.5, 1.5, 2.5, -0.5, -1.5, 2, 400, -400 -> rint 0, 0, 2, 2, -0, -2, 2, 400, -400
  // + 10, saturated to [0, 255].
  Tensor x = Tensor::fromVector<float>({9}, {0, 0.25f, 0.75f, 1.25f, -0.25f, -0.75f, 1, 200, -200});
  Tensor zp = Tensor::scalar<uint8_t>(10);
  auto y = runQuantOp("QuantizeLinear", x, Tensor::scalar<float>(0.5f), &zp);
  REQUIRE(y.isOk());
  CHECK(y->dtype() == DType::kUInt8);
  CHECK(y->shape() == Shape{9});
  CHECK(values<uint8_t>(*y) == std::vector<uint8_t>{10, 10, 12, 12, 10, 8, 12, 255, 0});
}

TEST_CASE("QuantizeLinear int8: ties, both saturation ends, NaN and infinities", "[quantize]") {
  // rint: 0, 2, 2, -2, 131, -130, 124, 126, -126 ; + (-3) ; saturate to [-128, 127].
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::fromVector<float>(
      {12}, {0.5f, 1.5f, 2.5f, -2.5f, 131, -130, 124.5f, 125.5f, -125.5f, nan, inf, -inf});
  Tensor zp = Tensor::scalar<int8_t>(-3);
  auto y = runQuantOp("QuantizeLinear", x, Tensor::fromVector<float>({1}, {1.0f}), &zp);
  INFO(y.status().message());
  REQUIRE(y.isOk());
  CHECK(y->dtype() == DType::kInt8);
  CHECK(values<int8_t>(*y) ==
        std::vector<int8_t>{-3, -1, -1, -5, 127, -128, 121, 123, -128, -3, 127, -128});
}

TEST_CASE("QuantizeLinear without zero point gives uint8; int32 input", "[quantize]") {
  auto y = runQuantOp("QuantizeLinear", Tensor::fromVector<float>({3}, {-1, 1.5f, 300}),
                      Tensor::scalar<float>(1.0f), nullptr);
  REQUIRE(y.isOk());
  CHECK(y->dtype() == DType::kUInt8);
  CHECK(values<uint8_t>(*y) == std::vector<uint8_t>{0, 2, 255});
  // int32 x: 5/2 = 2.5 -> 2, -2.5 -> -2, 3.5 -> 4.
  Tensor zp = Tensor::scalar<int8_t>(0);
  auto z = runQuantOp("QuantizeLinear", Tensor::fromVector<int32_t>({3}, {5, -5, 7}),
                      Tensor::scalar<float>(2.0f), &zp);
  REQUIRE(z.isOk());
  CHECK(values<int8_t>(*z) == std::vector<int8_t>{2, -2, 4});
}

TEST_CASE("QuantizeLinear per axis 1 (default) with int8 zero points", "[quantize]") {
  // x [2, 3, 2]; channel c: scale {1, 0.5, 0.25}, zero point {0, 1, -1}.
  //   n0: c0 [1.5, -0.5] -> [2, 0]; c1 [1.25, -1] -> [2+1, -2+1]; c2 [0.375, 40] -> [2-1, 160-1 ->
  //   127] n1: c0 [-1.5, 0.5] -> [-2, 0]; c1 [-1.25, 1] -> [-2+1, 2+1]; c2 [-0.375, -40] -> [-2-1,
  //   -161 -> -128]
  Tensor x = Tensor::fromVector<float>(
      {2, 3, 2}, {1.5f, -0.5f, 1.25f, -1, 0.375f, 40, -1.5f, 0.5f, -1.25f, 1, -0.375f, -40});
  Tensor scale = Tensor::fromVector<float>({3}, {1, 0.5f, 0.25f});
  Tensor zp = Tensor::fromVector<int8_t>({3}, {0, 1, -1});
  auto y = runQuantOp("QuantizeLinear", x, scale, &zp);
  REQUIRE(y.isOk());
  CHECK(values<int8_t>(*y) == std::vector<int8_t>{2, 0, 3, -1, 1, 127, -2, 0, -1, 3, -3, -128});
  auto y1 = runQuantOp("QuantizeLinear", x, scale, &zp, axis(-2));  // the same axis
  REQUIRE(y1.isOk());
  CHECK(y1->equals(*y));
}

TEST_CASE("QuantizeLinear per axis 0 with uint8 zero points", "[quantize]") {
  // row 0: scale 2, zp 128: [1, 3, -5] / 2 = [0.5, 1.5, -2.5] -> [0, 2, -2] + 128
  // row 1: scale 4, zp 0:   [2, 6, -4] / 4 = [0.5, 1.5, -1]   -> [0, 2, -1 -> 0]
  Tensor x = Tensor::fromVector<float>({2, 3}, {1, 3, -5, 2, 6, -4});
  Tensor zp = Tensor::fromVector<uint8_t>({2}, {128, 0});
  auto y = runQuantOp("QuantizeLinear", x, Tensor::fromVector<float>({2}, {2, 4}), &zp, axis(0));
  REQUIRE(y.isOk());
  CHECK(values<uint8_t>(*y) == std::vector<uint8_t>{128, 130, 126, 0, 2, 0});
}

TEST_CASE("DequantizeLinear: int8, uint8, int32 (bias), per axis, no zero point", "[quantize]") {
  Tensor zp8 = Tensor::scalar<int8_t>(-2);
  auto a = runQuantOp("DequantizeLinear", Tensor::fromVector<int8_t>({4}, {-128, -2, 0, 127}),
                      Tensor::scalar<float>(0.5f), &zp8);
  REQUIRE(a.isOk());
  CHECK(a->dtype() == DType::kFloat32);
  CHECK(values<float>(*a) == std::vector<float>{-63, 0, 1, 64.5f});

  Tensor zpu = Tensor::scalar<uint8_t>(128);
  auto b = runQuantOp("DequantizeLinear", Tensor::fromVector<uint8_t>({3}, {0, 128, 255}),
                      Tensor::scalar<float>(0.25f), &zpu);
  REQUIRE(b.isOk());
  CHECK(values<float>(*b) == std::vector<float>{-32, 0, 31.75f});

  // int32: float(2147483647) = 2^31, times 1/8 = 2^28.
  auto c =
      runQuantOp("DequantizeLinear", Tensor::fromVector<int32_t>({3}, {-1000000, 7, 2147483647}),
                 Tensor::scalar<float>(0.125f), nullptr);
  REQUIRE(c.isOk());
  CHECK(values<float>(*c) == std::vector<float>{-125000, 0.875f, 268435456.0f});

  // Per axis 1 on [2, 2]: scale {0.5, 2}, zp {1, -1}.
  Tensor zpa = Tensor::fromVector<int8_t>({2}, {1, -1});
  auto d = runQuantOp("DequantizeLinear", Tensor::fromVector<int8_t>({2, 2}, {3, 3, -128, 127}),
                      Tensor::fromVector<float>({2}, {0.5f, 2}), &zpa);
  REQUIRE(d.isOk());
  CHECK(values<float>(*d) == std::vector<float>{1, 8, -64.5f, 256});

  // Per axis 0 on [2, 2], uint8 without zero point.
  auto e = runQuantOp("DequantizeLinear", Tensor::fromVector<uint8_t>({2, 2}, {1, 2, 3, 4}),
                      Tensor::fromVector<float>({2}, {0.5f, 2}), nullptr, axis(0));
  REQUIRE(e.isOk());
  CHECK(values<float>(*e) == std::vector<float>{0.5f, 1, 6, 8});
}

TEST_CASE("QuantizeLinear / DequantizeLinear shape and parameter errors name the node",
          "[quantize]") {
  Tensor x = Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  SECTION("per-axis scale not matching the axis dim") {
    auto y = runQuantOp("QuantizeLinear", x, Tensor::fromVector<float>({4}, {1, 1, 1, 1}), nullptr);
    REQUIRE(!y.isOk());
    CHECK(y.status().code() == ErrorCode::kShape);
    CHECK_THAT(y.status().message(),
               Catch::Contains("QuantizeLinear 'q0'") && Catch::Contains("x.shape[1] = 3"));
  }
  SECTION("zero point shape differs from the scale's") {
    Tensor zp = Tensor::fromVector<int8_t>({2}, {0, 0});
    auto y = runQuantOp("QuantizeLinear", x, Tensor::fromVector<float>({3}, {1, 1, 1}), &zp);
    REQUIRE(!y.isOk());
    CHECK(y.status().code() == ErrorCode::kShape);
    CHECK_THAT(y.status().message(), Catch::Contains("'q0'") && Catch::Contains("zero point"));
  }
  SECTION("axis out of range") {
    auto y = runQuantOp("DequantizeLinear", Tensor::fromVector<int8_t>({3}, {1, 2, 3}),
                        Tensor::fromVector<float>({3}, {1, 1, 1}), nullptr, axis(1));
    REQUIRE(!y.isOk());
    CHECK(y.status().code() == ErrorCode::kShape);
    CHECK_THAT(y.status().message(), Catch::Contains("axis 1 is out of range"));
  }
  SECTION("2-D scale") {
    auto y = runQuantOp("QuantizeLinear", x, Tensor(DType::kFloat32, {2, 3}), nullptr);
    REQUIRE(!y.isOk());
    CHECK(y.status().code() == ErrorCode::kShape);
  }
  SECTION("zero, negative, NaN scales") {
    for (float s : {0.0f, -0.5f, std::numeric_limits<float>::quiet_NaN()}) {
      auto y = runQuantOp("QuantizeLinear", x, Tensor::fromVector<float>({3}, {1, s, 1}), nullptr);
      REQUIRE(!y.isOk());
      CHECK(y.status().code() == ErrorCode::kData);
      CHECK_THAT(y.status().message(), Catch::Contains("'q0'") && Catch::Contains("scale[1]"));
      Tensor q = Tensor::fromVector<int8_t>({1}, {1});
      auto z = runQuantOp("DequantizeLinear", q, Tensor::scalar<float>(s), nullptr);
      REQUIRE(!z.isOk());
      CHECK(z.status().code() == ErrorCode::kData);
    }
  }
  SECTION("unsupported dtypes") {
    Tensor zp16 = Tensor::scalar<int16_t>(0);
    auto y = runQuantOp("QuantizeLinear", x, Tensor::scalar<float>(1.0f), &zp16);
    REQUIRE(!y.isOk());
    CHECK(y.status().code() == ErrorCode::kUnsupported);
    CHECK_THAT(y.status().message(), Catch::Contains("int16"));
    Tensor zpu = Tensor::scalar<uint8_t>(0);
    auto z = runQuantOp("DequantizeLinear", Tensor::fromVector<int8_t>({1}, {1}),
                        Tensor::scalar<float>(1.0f), &zpu);
    REQUIRE(!z.isOk());
    CHECK(z.status().code() == ErrorCode::kShape);
  }
}

TEST_CASE("a scale known only at run time is checked by the kernel", "[quantize]") {
  Graph g;
  Value* x = g.addValue("x", DType::kFloat32, {2, 3}, true);
  Value* s = g.addValue("s", DType::kFloat32, {}, true);
  g.mutableInputs() = {x, s};
  Value* q = g.addValue("q");
  Value* y = g.addValue("y");
  g.addNode("QuantizeLinear", "quant_x", {x, s, g.addConstant("zp", Tensor::scalar<int8_t>(0))},
            {q});
  g.addNode("DequantizeLinear", "dequant_x", {q, s, g.findValue("zp")}, {y});
  g.mutableOutputs() = {y};
  REQUIRE(inferShapes(g).isOk());
  CHECK(q->dtype == DType::kInt8);
  CHECK(y->dtype == DType::kFloat32);
  for (bool reference : {true, false}) {
    ExecutorOptions opts;
    opts.kernels.referenceOnly = reference;
    auto ex = Executor::create(g, opts);
    REQUIRE(ex.isOk());
    Tensor xin = Tensor::fromVector<float>({2, 3}, {0.25f, 0.75f, -0.25f, -0.75f, 100, -100});
    auto ok = (*ex)->run({xin, Tensor::scalar<float>(0.5f)});
    REQUIRE(ok.isOk());
    CHECK(values<float>((*ok)[0]) == std::vector<float>{0, 1, -0.0f, -1, 63.5f, -64});
    auto bad = (*ex)->run({xin, Tensor::scalar<float>(-1.0f)});
    REQUIRE(!bad.isOk());
    CHECK(bad.status().code() == ErrorCode::kData);
    CHECK_THAT(bad.status().message(), Catch::Contains("QuantizeLinear 'quant_x'"));
  }
}

}  // namespace hq
