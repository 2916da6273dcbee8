// Resize and Upsample: hand-computed cases, opset-18 axes and aspect-ratio policies,
// shape inference with unknown scales, rejected attributes.
#include "runtime/elementwise_test_util.h"

using namespace hq;
using namespace hq::testing;

TEST_CASE("Resize nearest x2 repeats pixels (asymmetric, floor)", "[tensor_ops][resize]") {
  Tensor x = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = floats({4}, {1, 1, 2, 2});
  auto r = runOp("Resize", {&x, nullptr, &scales},
                 attrs({{"mode", Attribute::ofString("nearest")},
                        {"coordinate_transformation_mode", Attribute::ofString("asymmetric")},
                        {"nearest_mode", Attribute::ofString("floor")}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
}

TEST_CASE("Resize bilinear half_pixel x2 by hand", "[tensor_ops][resize]") {
  // 1-D along W: in [0, 4], out x -> (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
  // clamped to the edges: 0, 1, 3, 4.
  Tensor x = floats({1, 1, 1, 2}, {0, 4});
  Tensor scales = floats({4}, {1, 1, 1, 2});
  auto r =
      runOp("Resize", {&x, nullptr, &scales}, attrs({{"mode", Attribute::ofString("linear")}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {1, 1, 1, 4}, {0, 1, 3, 4});
}

TEST_CASE("Resize with opset-18 axes resizes only the listed axes", "[tensor_ops][resize]") {
  Tensor x = floats({1, 2, 1, 2}, {0, 4, 10, 20});
  Tensor scales = floats({2}, {2, 2});
  auto r =
      runOp("Resize", {&x, nullptr, &scales},
            attrs({{"mode", Attribute::ofString("linear")}, {"axes", Attribute::ofInts({2, -1})}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {1, 2, 2, 4},
             {0, 1, 3, 4, 0, 1, 3, 4, 10, 12.5f, 17.5f, 20, 10, 12.5f, 17.5f, 20});
}

TEST_CASE("Resize keep_aspect_ratio_policy picks one scale", "[tensor_ops][resize]") {
  Tensor x = floats({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor sizes = int64s({2}, {4, 4});
  Attributes a = attrs({{"axes", Attribute::ofInts({2, 3})},
                        {"keep_aspect_ratio_policy", Attribute::ofString("not_larger")}});
  auto shape = inferOp(
      "Resize", {info(DType::kFloat32, {1, 1, 2, 4}), {}, {}, info(DType::kInt64, {2}, &sizes)}, a);
  REQUIRE(shape.isOk());
  CHECK((*shape)[0].shape == Shape{1, 1, 2, 4});  // scale min(4/2, 4/4) = 1
  a.set("keep_aspect_ratio_policy", Attribute::ofString("not_smaller"));
  auto big = inferOp(
      "Resize", {info(DType::kFloat32, {1, 1, 2, 4}), {}, {}, info(DType::kInt64, {2}, &sizes)}, a);
  REQUIRE(big.isOk());
  CHECK((*big)[0].shape == Shape{1, 1, 4, 8});  // scale max(2, 1) = 2
  auto r = runOp("Resize", {&x, nullptr, nullptr, &sizes}, a);
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape() == Shape{1, 1, 4, 8});
  CHECK((*r)[0].data<float>()[0] == 1.0f);
  CHECK((*r)[0].data<float>()[31] == 8.0f);
}

TEST_CASE("Resize shape inference", "[tensor_ops][resize]") {
  Tensor scales = floats({4}, {1, 1, 2, 0.5f});
  auto known = inferOp(
      "Resize", {info(DType::kFloat32, {-1, 3, 10, 9}), {}, info(DType::kFloat32, {4}, &scales)});
  REQUIRE(known.isOk());
  CHECK((*known)[0].shape == Shape{-1, 3, 20, 4});  // floor(9 * 0.5) = 4, batch stays dynamic

  auto unknown =
      inferOp("Resize", {info(DType::kFloat32, {1, 3, 10, 10}), {}, info(DType::kFloat32, {4})});
  REQUIRE(unknown.isOk());
  CHECK((*unknown)[0].shape == Shape{-1, -1, -1, -1});
}

TEST_CASE("Resize rejects unsupported attributes and bad parameters", "[tensor_ops][resize]") {
  Tensor x = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = floats({4}, {1, 1, 2, 2});
  auto aa = runOp("Resize", {&x, nullptr, &scales}, attrs({{"antialias", Attribute::ofInt(1)}}));
  REQUIRE(!aa.isOk());
  CHECK(aa.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(aa.status().message(), Catch::Contains("antialias=1"));

  auto mode =
      runOp("Resize", {&x, nullptr, &scales}, attrs({{"mode", Attribute::ofString("area")}}));
  REQUIRE(!mode.isOk());
  CHECK(mode.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(mode.status().message(), Catch::Contains("mode='area'"));

  auto coord = runOp(
      "Resize", {&x, nullptr, &scales},
      attrs({{"coordinate_transformation_mode", Attribute::ofString("tf_half_pixel_for_nn")}}));
  REQUIRE(!coord.isOk());
  CHECK_THAT(coord.status().message(), Catch::Contains("tf_half_pixel_for_nn"));

  Tensor sizes = int64s({4}, {1, 1, 4, 4});
  auto both = runOp("Resize", {&x, nullptr, &scales, &sizes});
  REQUIRE(!both.isOk());
  CHECK_THAT(both.status().message(), Catch::Contains("both"));

  Tensor short_scales = floats({2}, {2, 2});
  auto len = runOp("Resize", {&x, nullptr, &short_scales});
  REQUIRE(!len.isOk());
  CHECK_THAT(len.status().message(), Catch::Contains("2 values for 4 axes"));
}

TEST_CASE("Upsample nearest (scales input) and linear (scales attribute)", "[tensor_ops][resize]") {
  Tensor x = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = floats({4}, {1, 1, 2, 3});
  auto r = runOp("Upsample", {&x, &scales});
  REQUIRE(r.isOk());
  checkClose((*r)[0], {1, 1, 4, 6},
             {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});

  // Linear, asymmetric: x_in = x_out / 2 -> 0, 0.5, 1, 1.5 (clamped to 1).
  Tensor y = floats({1, 1, 1, 2}, {0, 4});
  auto l = runOp("Upsample", {&y},
                 attrs({{"mode", Attribute::ofString("linear")},
                        {"scales", Attribute::ofFloats({1, 1, 1, 2})}}));
  REQUIRE(l.isOk());
  checkClose((*l)[0], {1, 1, 1, 4}, {0, 2, 4, 4});

  auto bad = runOp("Upsample", {&y}, attrs({{"scales", Attribute::ofFloats({1, 2})}}));
  REQUIRE(!bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("2 values for a rank-4 input"));
}

TEST_CASE("Resize with two inputs is opset 10's Resize(X, scales)", "[tensor_ops][resize]") {
  Tensor x = floats({1, 1, 1, 2}, {0, 4});
  Tensor scales = floats({4}, {1, 1, 1, 2});
  // Asymmetric like Upsample: x_in = x_out / 2 -> 0, 0.5, 1, 1.5 (clamped).
  auto l = runOp("Resize", {&x, &scales}, attrs({{"mode", Attribute::ofString("linear")}}));
  REQUIRE(l.isOk());
  checkClose((*l)[0], {1, 1, 1, 4}, {0, 2, 4, 4});
  auto n = runOp("Resize", {&x, &scales});
  REQUIRE(n.isOk());
  checkClose((*n)[0], {1, 1, 1, 4}, {0, 0, 4, 4});
}
