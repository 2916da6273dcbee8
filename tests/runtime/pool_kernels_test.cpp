// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: shape functions and reference
// kernels. Goldens: hand-computed values below, and tests/fixtures/kernels_conv/pool_cases.txt
// (PyTorch / numpy, see gen_goldens.py there).
#include "conv_test_util.h"

using namespace hq;
using hq::testing::checkClose;
using hq::testing::f32;
using hq::testing::inferOp;
using hq::testing::info;
using hq::testing::runOp;

namespace {
const std::string kCases = std::string(HQ_TEST_DATA) + "/kernels_conv/pool_cases.txt";

Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [name, value] : list) a.set(name, value);
  return a;
}

Attribute ints(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }
Attribute one(int64_t v) { return Attribute::ofInt(v); }

void expectInferError(const std::string& op, const Attributes& a, const std::vector<ValueInfo>& in,
                      ErrorCode code, const std::string& needle, size_t num_outputs = 1) {
  auto r = inferOp(op, a, in, num_outputs);
  REQUIRE_FALSE(r.isOk());
  INFO(r.status().message());
  CHECK(r.status().code() == code);
  CHECK(r.status().message().find(needle) != std::string::npos);
}
}  // namespace

TEST_CASE("max pool golden cases from PyTorch", "[pool]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"MaxPool"}) >= 15);
}

TEST_CASE("average pool golden cases from PyTorch", "[pool]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"AveragePool"}) >= 12);
}

TEST_CASE("global pool golden cases from numpy", "[pool]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"GlobalAveragePool", "GlobalMaxPool"}) == 6);
}

TEST_CASE("max pool 1-D floor and ceil mode, hand-computed", "[pool]") {
  Tensor x = f32({1, 1, 5}, {1, 3, 2, 5, 4});
  auto y = runOp("MaxPool", attrs({{"kernel_shape", ints({2})}, {"strides", ints({2})}}), {&x});
  REQUIRE(y.isOk());
  checkClose((*y)[0], f32({1, 1, 2}, {3, 5}), 0);
  auto yc = runOp(
      "MaxPool",
      attrs({{"kernel_shape", ints({2})}, {"strides", ints({2})}, {"ceil_mode", one(1)}}), {&x});
  REQUIRE(yc.isOk());
  checkClose((*yc)[0], f32({1, 1, 3}, {3, 5, 4}), 0);
  // Indices: flattened positions in X.
  auto yi = runOp(
      "MaxPool",
      attrs({{"kernel_shape", ints({2})}, {"strides", ints({2})}, {"ceil_mode", one(1)}}), {&x}, 2);
  REQUIRE(yi.isOk());
  checkClose((*yi)[1], Tensor::fromVector<int64_t>({1, 1, 3}, {1, 3, 4}), 0);
}

TEST_CASE("average pool count_include_pad both ways, hand-computed", "[pool]") {
  Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  const Attributes base = attrs({{"kernel_shape", ints({3})}, {"pads", ints({1, 1})}});
  auto ex = runOp("AveragePool", base, {&x});
  REQUIRE(ex.isOk());
  checkClose((*ex)[0], f32({1, 1, 4}, {1.5f, 2, 3, 3.5f}), 1e-6);
  Attributes inc = base;
  inc.set("count_include_pad", one(1));
  auto in = runOp("AveragePool", inc, {&x});
  REQUIRE(in.isOk());
  checkClose((*in)[0], f32({1, 1, 4}, {1, 2, 3, 7.0f / 3}), 1e-6);
  // ceil_mode: the last window [4, 6) reaches past the input (and past the padding, of
  // which there is none): it averages the one real element either way.
  Tensor x5 = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  auto c = runOp("AveragePool",
                 attrs({{"kernel_shape", ints({2})},
                        {"strides", ints({2})},
                        {"ceil_mode", one(1)},
                        {"count_include_pad", one(1)}}),
                 {&x5});
  REQUIRE(c.isOk());
  checkClose((*c)[0], f32({1, 1, 3}, {1.5f, 3.5f, 5}), 1e-6);
}

TEST_CASE("global pools, hand-computed", "[pool]") {
  Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -5, -2, -3});
  auto avg = runOp("GlobalAveragePool", {}, {&x});
  REQUIRE(avg.isOk());
  checkClose((*avg)[0], f32({1, 2, 1, 1}, {2.5f, -2.75f}), 1e-6);
  auto mx = runOp("GlobalMaxPool", {}, {&x});
  REQUIRE(mx.isOk());
  checkClose((*mx)[0], f32({1, 2, 1, 1}, {4, -1}), 0);
}

TEST_CASE("pool shape inference propagates unknown dims", "[pool]") {
  auto r = inferOp("MaxPool",
                   attrs({{"kernel_shape", ints({3, 3})},
                          {"strides", ints({2, 2})},
                          {"pads", ints({1, 1, 1, 1})}}),
                   {info({-1, 64, 112, -1})});
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape == Shape{-1, 64, 56, -1});
  ValueInfo unknown;
  unknown.dtype = DType::kFloat32;
  auto r2 = inferOp("AveragePool", attrs({{"kernel_shape", ints({2, 2})}}), {unknown});
  REQUIRE(r2.isOk());
  CHECK((*r2)[0].shape == Shape{-1, -1, -1, -1});
  auto r3 = inferOp("GlobalAveragePool", {}, {info({-1, 16, 7, 7})});
  REQUIRE(r3.isOk());
  CHECK((*r3)[0].shape == Shape{-1, 16, 1, 1});
  auto r4 = inferOp("GlobalMaxPool", {}, {unknown});
  REQUIRE(r4.isOk());
  CHECK_FALSE((*r4)[0].hasShape);
  auto r5 = inferOp("MaxPool",
                    attrs({{"kernel_shape", ints({2})},
                           {"auto_pad", Attribute::ofString("SAME_LOWER")},
                           {"strides", ints({2})}}),
                    {info({2, 3, 9}, DType::kUInt8)}, 2);
  REQUIRE(r5.isOk());
  CHECK((*r5)[0].shape == Shape{2, 3, 5});
  CHECK((*r5)[0].dtype == DType::kUInt8);
  CHECK((*r5)[1].dtype == DType::kInt64);
}

TEST_CASE("pool shape errors name the problem", "[pool]") {
  const ValueInfo x = info({1, 2, 8, 8});
  expectInferError("MaxPool", {}, {x}, ErrorCode::kInvalidArgument, "kernel_shape");
  expectInferError("MaxPool", attrs({{"kernel_shape", ints({2})}}), {x}, ErrorCode::kShape,
                   "kernel_shape");
  expectInferError("MaxPool", attrs({{"kernel_shape", ints({2, 2})}, {"storage_order", one(2)}}),
                   {x}, ErrorCode::kInvalidArgument, "storage_order");
  expectInferError("MaxPool", attrs({{"kernel_shape", ints({2, 2})}, {"ceil_mode", one(3)}}), {x},
                   ErrorCode::kInvalidArgument, "ceil_mode");
  expectInferError("MaxPool", attrs({{"kernel_shape", ints({9, 2})}}), {x}, ErrorCode::kShape,
                   "larger than the padded input");
  expectInferError("MaxPool", attrs({{"kernel_shape", ints({2, 2})}}),
                   {info({1, 2, 8, 8}, DType::kFloat64)}, ErrorCode::kUnsupported, "float64");
  expectInferError("AveragePool", attrs({{"kernel_shape", ints({2, 2})}}),
                   {info({1, 2, 8, 8}, DType::kUInt8)}, ErrorCode::kUnsupported, "uint8");
  expectInferError("AveragePool", attrs({{"kernel_shape", ints({2, 2})}, {"pads", ints({1, 1})}}),
                   {x}, ErrorCode::kInvalidArgument, "pads");
  expectInferError("AveragePool",
                   attrs({{"kernel_shape", ints({2, 2})}, {"count_include_pad", one(2)}}), {x},
                   ErrorCode::kInvalidArgument, "count_include_pad");
  expectInferError("AveragePool", attrs({{"kernel_shape", ints({2})}}), {info({4, 8})},
                   ErrorCode::kShape, "rank");
  expectInferError("GlobalAveragePool", {}, {info({4, 8})}, ErrorCode::kShape, "rank");
  expectInferError("GlobalMaxPool", {}, {info({1, 2, 3, 3}, DType::kInt8)}, ErrorCode::kUnsupported,
                   "int8");
}
