// Activations and Softmax: hand-computed values, dtypes, optional inputs, error cases.
#include "runtime/elementwise_test_util.h"

using namespace hq;
using namespace hq::testing;

TEST_CASE("Relu zeroes negatives for float and int32", "[elementwise]") {
  Tensor x = floats({5}, {-1.5f, 0.0f, 2.25f, -3.0f, 7.0f});
  auto r = runOp("Relu", {&x});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {5}, {0, 0, 2.25f, 0, 7});

  Tensor xi = Tensor::fromVector<int32_t>({2, 2}, {-5, 3, 0, -1});
  auto ri = runOp("Relu", {&xi});
  REQUIRE(ri.isOk());
  CHECK(values<int32_t>((*ri)[0]) == std::vector<int32_t>{0, 3, 0, 0});
}

TEST_CASE("Clip bounds from attributes (opset < 11)", "[elementwise]") {
  Tensor x = floats({4}, {-2.0f, -0.5f, 0.5f, 3.0f});
  auto r =
      runOp("Clip", {&x}, attrs({{"min", Attribute::ofFloat(-1)}, {"max", Attribute::ofFloat(1)}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {4}, {-1, -0.5f, 0.5f, 1});
}

TEST_CASE("Clip bounds from optional inputs, either may be absent", "[elementwise]") {
  Tensor x = floats({3}, {-2.0f, 0.5f, 3.0f});
  Tensor lo = Tensor::scalar<float>(0.0f), hi = Tensor::scalar<float>(1.0f);
  SECTION("min only") {
    auto r = runOp("Clip", {&x, &lo});
    REQUIRE(r.isOk());
    checkClose((*r)[0], {3}, {0, 0.5f, 3});
  }
  SECTION("max only") {
    auto r = runOp("Clip", {&x, nullptr, &hi});
    REQUIRE(r.isOk());
    checkClose((*r)[0], {3}, {-2, 0.5f, 1});
  }
  SECTION("neither") {
    auto r = runOp("Clip", {&x});
    REQUIRE(r.isOk());
    checkClose((*r)[0], {3}, {-2, 0.5f, 3});
  }
  SECTION("min > max gives max everywhere, like numpy.clip") {
    Tensor lo2 = Tensor::scalar<float>(2.0f);
    auto r = runOp("Clip", {&x, &lo2, &hi});
    REQUIRE(r.isOk());
    checkClose((*r)[0], {3}, {1, 1, 1});
  }
}

TEST_CASE("Clip on int8 with int8 bounds", "[elementwise]") {
  Tensor x = Tensor::fromVector<int8_t>({5}, {-128, -4, 0, 6, 127});
  Tensor lo = Tensor::scalar<int8_t>(-3), hi = Tensor::scalar<int8_t>(5);
  auto r = runOp("Clip", {&x, &lo, &hi});
  REQUIRE(r.isOk());
  CHECK(values<int8_t>((*r)[0]) == std::vector<int8_t>{-3, -3, 0, 5, 5});
}

TEST_CASE("Clip rejects non-scalar or mistyped bounds", "[elementwise]") {
  Tensor x = floats({2}, {1, 2});
  Tensor lo = floats({2}, {0, 0});
  auto r = runOp("Clip", {&x, &lo});
  REQUIRE(!r.isOk());
  CHECK(r.status().code() == ErrorCode::kShape);
  CHECK_THAT(r.status().message(), Catch::Contains("must be a scalar") && Catch::Contains("[2]"));
  Tensor loi = Tensor::scalar<int32_t>(0);
  auto r2 = runOp("Clip", {&x, &loi});
  REQUIRE(!r2.isOk());
  CHECK_THAT(r2.status().message(), Catch::Contains("int32") && Catch::Contains("float32"));
}

TEST_CASE("LeakyRelu uses alpha (default 0.01)", "[elementwise]") {
  Tensor x = floats({3}, {-2.0f, 3.0f, -100.0f});
  auto r = runOp("LeakyRelu", {&x}, attrs({{"alpha", Attribute::ofFloat(0.1f)}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {3}, {-0.2f, 3, -10});
  auto d = runOp("LeakyRelu", {&x});
  REQUIRE(d.isOk());
  checkClose((*d)[0], {3}, {-0.02f, 3, -1});
}

TEST_CASE("PRelu broadcasts the slope per channel", "[elementwise]") {
  Tensor x = floats({1, 2, 2, 2}, {-1, 2, -3, 4, -1, 2, -3, 4});
  Tensor slope = floats({2, 1, 1}, {0.1f, 0.5f});
  auto r = runOp("PRelu", {&x, &slope});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {1, 2, 2, 2}, {-0.1f, 2, -0.3f, 4, -0.5f, 2, -1.5f, 4});

  Tensor last = floats({2}, {2, 3});  // along the last axis
  auto r2 = runOp("PRelu", {&x, &last});
  REQUIRE(r2.isOk());
  checkClose((*r2)[0], {1, 2, 2, 2}, {-2, 2, -6, 4, -2, 2, -6, 4});
}

TEST_CASE("PRelu rejects a slope that does not broadcast to X", "[elementwise]") {
  Tensor x = floats({2, 2}, {1, 2, 3, 4});
  Tensor slope = floats({3}, {1, 2, 3});
  auto r = runOp("PRelu", {&x, &slope});
  REQUIRE(!r.isOk());
  CHECK_THAT(r.status().message(), Catch::Contains("[3]") && Catch::Contains("[2, 2]"));
  // Unidirectional: the slope may not make the output bigger than X.
  Tensor big = floats({2, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1});
  CHECK(!runOp("PRelu", {&x, &big}).isOk());
}

TEST_CASE("Sigmoid is exact at known points and stable at extremes", "[elementwise]") {
  const float ln3 = std::log(3.0f);
  Tensor x = floats({5}, {0.0f, ln3, -ln3, 100.0f, -100.0f});
  auto r = runOp("Sigmoid", {&x});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {5}, {0.5f, 0.75f, 0.25f, 1.0f, 0.0f}, 1e-5, 1e-30);
}

TEST_CASE("HardSigmoid and HardSwish clamp to [0, 1]", "[elementwise]") {
  Tensor x = floats({4}, {-3, 0, 1, 3});
  auto r = runOp("HardSigmoid", {&x});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {4}, {0, 0.5f, 0.7f, 1});
  auto c = runOp("HardSigmoid", {&x},
                 attrs({{"alpha", Attribute::ofFloat(0.5f)}, {"beta", Attribute::ofFloat(0.25f)}}));
  REQUIRE(c.isOk());
  checkClose((*c)[0], {4}, {0, 0.25f, 0.75f, 1});

  Tensor y = floats({7}, {-4, -3, -1, 0, 1, 3, 4});
  auto s = runOp("HardSwish", {&y});
  REQUIRE(s.isOk());
  checkClose((*s)[0], {7}, {0, 0, -1.0f / 3, 0, 2.0f / 3, 3, 4});
}

TEST_CASE("Tanh", "[elementwise]") {
  Tensor x = floats({3}, {0.0f, 0.5f, -2.0f});
  auto r = runOp("Tanh", {&x});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {3}, {0.0f, 0.46211716f, -0.96402758f});
}

TEST_CASE("Activations on float64", "[elementwise]") {
  Tensor x = Tensor::fromVector<double>({3}, {-1.0, 0.0, 2.0});
  auto r = runOp("Sigmoid", {&x});
  REQUIRE(r.isOk());
  auto v = values<double>((*r)[0]);
  CHECK(v[0] == Approx(0.2689414213699951).epsilon(1e-12));
  CHECK(v[1] == 0.5);
  CHECK(v[2] == Approx(0.8807970779778823).epsilon(1e-12));
}

TEST_CASE("Softmax is stable for large inputs and sums to one", "[elementwise]") {
  Tensor x = floats({2, 3}, {1000, 1001, 1002, -5, -5, -5});
  auto r = runOp("Softmax", {&x});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {2, 3},
             {0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f});
}

TEST_CASE("Activation shape functions: dtype and axis checks", "[elementwise]") {
  auto u8 = inferOp("LeakyRelu", {info(DType::kUInt8, {2})});
  REQUIRE(!u8.isOk());
  CHECK(u8.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(u8.status().message(), Catch::Contains("uint8"));

  auto sm =
      inferOp("Softmax", {info(DType::kFloat32, {4, 5})}, attrs({{"axis", Attribute::ofInt(2)}}));
  REQUIRE(!sm.isOk());
  CHECK_THAT(sm.status().message(), Catch::Contains("axis 2 is out of range for rank 2"));

  auto dyn = inferOp("Sigmoid", {info(DType::kFloat32, {-1, 10})});
  REQUIRE(dyn.isOk());
  CHECK((*dyn)[0].shape == Shape{-1, 10});
}
