// Add/Sub/Mul/Div: integer semantics (truncating division, wrapping), broadcasting shape
// inference with dynamic dims, error messages, and a large case against a naive loop.
#include "runtime/elementwise_test_util.h"

#include <limits>

using namespace hq;
using namespace hq::testing;

TEST_CASE("Integer Div truncates toward zero like ONNX", "[elementwise]") {
  Tensor a = Tensor::fromVector<int32_t>({4}, {7, -7, 7, -7});
  Tensor b = Tensor::fromVector<int32_t>({4}, {2, 2, -2, -2});
  auto r = runOp("Div", {&a, &b});
  REQUIRE(r.isOk());
  CHECK(values<int32_t>((*r)[0]) == std::vector<int32_t>{3, -3, -3, 3});

  Tensor a64 = Tensor::fromVector<int64_t>({3}, {std::numeric_limits<int64_t>::min(), 9, -1});
  Tensor m1 = Tensor::scalar<int64_t>(-1);
  auto r64 = runOp("Div", {&a64, &m1});  // MIN / -1 wraps instead of trapping
  REQUIRE(r64.isOk());
  CHECK(values<int64_t>((*r64)[0]) ==
        std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -9, 1});
}

TEST_CASE("Integer Div by zero is an error, not a crash", "[elementwise]") {
  Tensor a = Tensor::fromVector<int64_t>({2}, {1, 2});
  Tensor b = Tensor::fromVector<int64_t>({2}, {1, 0});
  auto r = runOp("Div", {&a, &b});
  REQUIRE(!r.isOk());
  CHECK(r.status().code() == ErrorCode::kData);
  CHECK_THAT(r.status().message(), Catch::Contains("division by zero"));
}

TEST_CASE("Integer Add/Sub/Mul with broadcasting and wrap-around", "[elementwise]") {
  Tensor a = Tensor::fromVector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::fromVector<int64_t>({3}, {10, 20, 30});
  auto add = runOp("Add", {&a, &b});
  REQUIRE(add.isOk());
  CHECK(values<int64_t>((*add)[0]) == std::vector<int64_t>{11, 22, 33, 14, 25, 36});
  Tensor col = Tensor::fromVector<int64_t>({2, 1}, {1, 2});
  auto sub = runOp("Sub", {&a, &col});
  REQUIRE(sub.isOk());
  CHECK(values<int64_t>((*sub)[0]) == std::vector<int64_t>{0, 1, 2, 2, 3, 4});
  auto mul = runOp("Mul", {&col, &b});
  REQUIRE(mul.isOk());
  CHECK((*mul)[0].shape() == Shape{2, 3});
  CHECK(values<int64_t>((*mul)[0]) == std::vector<int64_t>{10, 20, 30, 20, 40, 60});

  Tensor u = Tensor::fromVector<uint8_t>({2}, {200, 3});
  Tensor v = Tensor::fromVector<uint8_t>({2}, {100, 250});
  auto wrap = runOp("Add", {&u, &v});
  REQUIRE(wrap.isOk());
  CHECK(values<uint8_t>((*wrap)[0]) == std::vector<uint8_t>{44, 253});
  auto wmul = runOp("Mul", {&u, &v});
  REQUIRE(wmul.isOk());
  CHECK(values<uint8_t>((*wmul)[0]) == std::vector<uint8_t>{32, 238});  // 20000 % 256, 750 % 256

  Tensor big = Tensor::fromVector<int32_t>({1}, {std::numeric_limits<int32_t>::max()});
  Tensor one = Tensor::scalar<int32_t>(1);
  auto ov = runOp("Add", {&big, &one});
  REQUIRE(ov.isOk());
  CHECK(values<int32_t>((*ov)[0])[0] == std::numeric_limits<int32_t>::min());
}

TEST_CASE("Broadcast mismatch names both shapes", "[elementwise]") {
  auto r = inferOp("Add", {info(DType::kFloat32, {2, 3}), info(DType::kFloat32, {4})});
  REQUIRE(!r.isOk());
  CHECK(r.status().code() == ErrorCode::kShape);
  CHECK_THAT(r.status().message(), Catch::Contains("[2, 3]") && Catch::Contains("[4]"));

  auto d = inferOp("Mul", {info(DType::kFloat32, {2}), info(DType::kInt32, {2})});
  REQUIRE(!d.isOk());
  CHECK_THAT(d.status().message(), Catch::Contains("float32") && Catch::Contains("int32"));
}

TEST_CASE("Broadcast shape inference keeps a dynamic batch", "[elementwise]") {
  auto r = inferOp("Add", {info(DType::kFloat32, {-1, 3, 4, 4}), info(DType::kFloat32, {3, 1, 1})});
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape == Shape{-1, 3, 4, 4});
  auto s = inferOp("Div", {info(DType::kFloat32, {-1, 1}), info(DType::kFloat32, {1, 5})});
  REQUIRE(s.isOk());
  CHECK((*s)[0].shape == Shape{-1, 5});
}

TEST_CASE("Large broadcast (parallel path) matches a naive loop", "[elementwise]") {
  const int64_t n = 4, c = 16, hw = 1024;
  std::vector<float> a(n * c * hw), b(c);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 97) * 0.5f - 20.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) + 1.0f;
  Tensor ta = floats({n, c, hw}, a), tb = floats({c, 1}, b);
  auto r = runOp("Div", {&ta, &tb});
  REQUIRE(r.isOk());
  const float* got = (*r)[0].data<float>();
  int64_t bad = 0;
  for (int64_t i = 0; i < n * c * hw; ++i) {
    const int64_t ch = (i / hw) % c;
    if (got[i] != a[i] / b[ch]) ++bad;
  }
  CHECK(bad == 0);
}
