// Conv, ConvTranspose, Gemm, MatMul, BatchNormalization: shape functions and reference
// kernels. Goldens: hand-computed values below, and tests/fixtures/kernels_conv/conv_cases.txt
// (PyTorch / numpy, see gen_goldens.py there).
#include "conv_test_util.h"

using namespace hq;
using hq::testing::checkClose;
using hq::testing::f32;
using hq::testing::inferOp;
using hq::testing::info;
using hq::testing::runOp;

namespace {
const std::string kCases = std::string(HQ_TEST_DATA) + "/kernels_conv/conv_cases.txt";

Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [name, value] : list) a.set(name, value);
  return a;
}

Attribute ints(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }

/// Shape inference must fail with `code` and a message containing `needle`.
void expectInferError(const std::string& op, const Attributes& a, const std::vector<ValueInfo>& in,
                      ErrorCode code, const std::string& needle, size_t num_outputs = 1) {
  auto r = inferOp(op, a, in, num_outputs);
  REQUIRE_FALSE(r.isOk());
  INFO(r.status().message());
  CHECK(r.status().code() == code);
  CHECK(r.status().message().find(needle) != std::string::npos);
  CHECK(r.status().message().find("'node'") != std::string::npos);  // names the node
}
}  // namespace

TEST_CASE("conv golden cases from PyTorch", "[conv]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"Conv"}) >= 16);
}

TEST_CASE("conv transpose golden cases from PyTorch", "[conv]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"ConvTranspose"}) >= 11);
}

TEST_CASE("gemm and matmul golden cases from numpy", "[conv]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"Gemm"}) >= 11);
  CHECK(hq::testing::runGoldenFile(kCases, {"MatMul"}) >= 9);
}

TEST_CASE("batch normalization golden cases from PyTorch", "[conv]") {
  CHECK(hq::testing::runGoldenFile(kCases, {"BatchNormalization"}) >= 4);
}

TEST_CASE("conv 3x3 with padding, hand-computed", "[conv]") {
  std::vector<float> xv(25);
  for (int i = 0; i < 25; ++i) xv[i] = static_cast<float>(i);
  Tensor x = f32({1, 1, 5, 5}, xv);
  Tensor w = f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  auto y = runOp("Conv", attrs({{"pads", ints({1, 1, 1, 1})}, {"kernel_shape", ints({3, 3})}}),
                 {&x, &w});
  REQUIRE(y.isOk());
  // Sums of the 3x3 neighbourhoods of 0..24 (zero outside).
  checkClose((*y)[0],
             f32({1, 1, 5, 5}, {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                                117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84}),
             0);
  // Stride 2, no padding: the centres (1,1), (1,3), (3,1), (3,3).
  auto y2 = runOp("Conv", attrs({{"strides", ints({2, 2})}}), {&x, &w});
  REQUIRE(y2.isOk());
  checkClose((*y2)[0], f32({1, 1, 2, 2}, {54, 72, 144, 162}), 0);
}

TEST_CASE("depthwise conv keeps channels apart, hand-computed", "[conv]") {
  // Two channels, 1-D, kernel [1, -1] for channel 0 and [2] ... per channel weights.
  Tensor x = f32({1, 2, 4}, {1, 2, 4, 8, 1, 1, 1, 1});
  Tensor w = f32({2, 1, 2}, {1, -1, 3, 0.5f});
  Tensor b = f32({2}, {0.0f, 10.0f});
  auto y = runOp("Conv", attrs({{"group", Attribute::ofInt(2)}}), {&x, &w, &b});
  REQUIRE(y.isOk());
  checkClose((*y)[0], f32({1, 2, 3}, {-1, -2, -4, 13.5f, 13.5f, 13.5f}), 0);
}

TEST_CASE("conv transpose with output_shape larger than natural pads at the end", "[conv]") {
  // Natural output of x=[1,2], w=[1,1], stride 2 is [1,1,2,2]; output_shape 5 gives total
  // padding -1, which the spec's floor division puts at the end (bias only there).
  Tensor x = f32({1, 1, 2}, {1, 2});
  Tensor w = f32({1, 1, 2}, {1, 1});
  Tensor b = f32({1}, {0.5f});
  auto y = runOp("ConvTranspose", attrs({{"strides", ints({2})}, {"output_shape", ints({5})}}),
                 {&x, &w, &b});
  REQUIRE(y.isOk());
  checkClose((*y)[0], f32({1, 1, 5}, {1.5f, 1.5f, 2.5f, 2.5f, 0.5f}), 0);
  // output_shape with N and C (as some exporters write it) means the same.
  auto y2 = runOp("ConvTranspose",
                  attrs({{"strides", ints({2})}, {"output_shape", ints({1, 1, 5})}}), {&x, &w, &b});
  REQUIRE(y2.isOk());
  checkClose((*y2)[0], (*y)[0], 0);
}

TEST_CASE("gemm and matmul, hand-computed", "[conv]") {
  Tensor a = f32({2, 2}, {1, 2, 3, 4});
  Tensor b = f32({2, 2}, {5, 6, 7, 8});
  Tensor c = Tensor::scalar<float>(1.0f);
  auto y = runOp("Gemm", attrs({{"alpha", Attribute::ofFloat(2)}, {"beta", Attribute::ofFloat(3)}}),
                 {&a, &b, &c});
  REQUIRE(y.isOk());
  checkClose((*y)[0], f32({2, 2}, {41, 47, 89, 103}), 0);
  // transA and transB: A^T B^T = (B A)^T = [[23, 31], [34, 46]].
  auto yt = runOp("Gemm", attrs({{"transA", Attribute::ofInt(1)}, {"transB", Attribute::ofInt(1)}}),
                  {&a, &b, nullptr});
  REQUIRE(yt.isOk());
  checkClose((*yt)[0], f32({2, 2}, {23, 31, 34, 46}), 0);

  Tensor u = f32({3}, {1, 2, 3});
  Tensor v = f32({3}, {4, 5, 6});
  auto dot = runOp("MatMul", {}, {&u, &v});
  REQUIRE(dot.isOk());
  CHECK((*dot)[0].rank() == 0);
  CHECK((*dot)[0].data<float>()[0] == 32.0f);
}

TEST_CASE("batch normalization inference, hand-computed", "[conv]") {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});  // N=2, C=2
  Tensor scale = f32({2}, {1, 2}), bias = f32({2}, {0, 1});
  Tensor mean = f32({2}, {1, 2}), var = f32({2}, {4, 1});
  auto y = runOp("BatchNormalization", attrs({{"epsilon", Attribute::ofFloat(0)}}),
                 {&x, &scale, &bias, &mean, &var});
  REQUIRE(y.isOk());
  // ch0: (x - 1) / 2; ch1: 2 (x - 2) + 1.
  checkClose((*y)[0], f32({2, 2}, {0, 1, 1, 5}), 0);
}

TEST_CASE("conv shape inference propagates unknown dims", "[conv]") {
  auto r = inferOp("Conv", attrs({{"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}),
                   {info({-1, 3, 32, -1}), info({8, 3, 3, 3}), info({8})});
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape == Shape{-1, 8, 16, -1});
  // Unknown rank of X: rank from W, everything but C_out unknown.
  ValueInfo x_unknown;
  x_unknown.dtype = DType::kFloat32;
  auto r2 = inferOp("Conv", {}, {x_unknown, info({4, 2, 3})});
  REQUIRE(r2.isOk());
  CHECK((*r2)[0].shape == Shape{-1, 4, -1});
  // SAME_UPPER with dynamic spatial size stays unknown; known sizes give ceil(in / s).
  auto r3 = inferOp(
      "Conv", attrs({{"auto_pad", Attribute::ofString("SAME_UPPER")}, {"strides", ints({2, 3})}}),
      {info({1, 2, 7, -1}), info({4, 2, 3, 3})});
  REQUIRE(r3.isOk());
  CHECK((*r3)[0].shape == Shape{1, 4, 4, -1});
  // ConvTranspose: C_out = W dim 1 * group, dynamic batch.
  auto r4 =
      inferOp("ConvTranspose", attrs({{"group", Attribute::ofInt(2)}, {"strides", ints({2, 2})}}),
              {info({-1, 4, 5, 5}), info({4, 3, 3, 3})});
  REQUIRE(r4.isOk());
  CHECK((*r4)[0].shape == Shape{-1, 6, 11, 11});
  auto r5 = inferOp("MatMul", {}, {info({-1, 1, 3, 4}), info({5, 4, 2})});
  REQUIRE(r5.isOk());
  CHECK((*r5)[0].shape == Shape{-1, 5, 3, 2});
  auto r6 = inferOp("Gemm", attrs({{"transB", Attribute::ofInt(1)}}),
                    {info({-1, 16}), info({10, 16}), info({10})});
  REQUIRE(r6.isOk());
  CHECK((*r6)[0].shape == Shape{-1, 10});
}

TEST_CASE("conv shape errors name the problem", "[conv]") {
  const Attributes none;
  expectInferError("Conv", none, {info({1, 3, 8}), info({4, 3, 3, 3})}, ErrorCode::kShape, "rank");
  expectInferError("Conv", none, {info({1, 3, 8, 8}), info({4, 2, 3, 3})}, ErrorCode::kShape,
                   "channels");
  expectInferError("Conv", attrs({{"group", Attribute::ofInt(3)}}),
                   {info({1, 6, 8, 8}), info({4, 2, 3, 3})}, ErrorCode::kShape, "group 3");
  expectInferError("Conv", attrs({{"group", Attribute::ofInt(0)}}),
                   {info({1, 6, 8, 8}), info({4, 2, 3, 3})}, ErrorCode::kInvalidArgument, "group");
  expectInferError("Conv", none, {info({1, 3, 8, 8}), info({4, 3, 3, 3}), info({5})},
                   ErrorCode::kShape, "bias");
  expectInferError("Conv", none, {info({1, 3, 8, 8}, DType::kFloat64), info({4, 3, 3, 3})},
                   ErrorCode::kUnsupported, "float64");
  expectInferError("Conv", attrs({{"auto_pad", Attribute::ofString("SAME")}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kUnsupported, "auto_pad");
  expectInferError("Conv", attrs({{"strides", ints({1, 1, 1})}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kInvalidArgument,
                   "strides");
  expectInferError("Conv", attrs({{"strides", ints({1, 0})}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kInvalidArgument,
                   "strides");
  expectInferError("Conv", attrs({{"strides", Attribute::ofInt(2)}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kInvalidArgument,
                   "'strides' must be a list of ints");
  expectInferError("Conv", attrs({{"pads", ints({1, 1, -1, 1})}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kInvalidArgument, "pads");
  expectInferError("Conv", attrs({{"kernel_shape", ints({3, 5})}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kShape, "kernel_shape");
  expectInferError("Conv", attrs({{"dilations", ints({4, 1})}}),
                   {info({1, 3, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kShape, "window extent 9");
  expectInferError("Conv", none, {info({1, 3, 2, 2, 2, 2}), info({4, 3, 1, 1, 1, 1})},
                   ErrorCode::kUnsupported, "rank");
  expectInferError("ConvTranspose", none, {info({1, 3, 8, 8}), info({4, 3, 3, 3})},
                   ErrorCode::kShape, "channels");
  expectInferError("ConvTranspose", attrs({{"output_padding", ints({2, 0})}}),
                   {info({1, 4, 8, 8}), info({4, 3, 3, 3})}, ErrorCode::kInvalidArgument,
                   "output_padding");
  expectInferError("Gemm", none, {info({2, 3}), info({4, 5})}, ErrorCode::kShape, "inner");
  expectInferError("Gemm", none, {info({2, 3}), info({3, 5}), info({3})}, ErrorCode::kShape,
                   "does not broadcast");
  expectInferError("Gemm", none, {info({2, 3, 1}), info({3, 5})}, ErrorCode::kShape, "2-D");
  expectInferError("Gemm", attrs({{"transA", Attribute::ofInt(2)}}), {info({2, 3}), info({3, 5})},
                   ErrorCode::kInvalidArgument, "transA");
  expectInferError("MatMul", none, {info({2, 3}), info({4, 5})}, ErrorCode::kShape, "inner");
  expectInferError("MatMul", none, {info({2, 2, 3}), info({3, 3, 5})}, ErrorCode::kShape,
                   "broadcast");
  expectInferError("MatMul", none, {info({2, 3}, DType::kInt32), info({3, 5}, DType::kInt32)},
                   ErrorCode::kUnsupported, "int32");
}

TEST_CASE("batch normalization shape checks", "[conv]") {
  auto ok = inferOp("BatchNormalization", {},
                    {info({-1, 3, 4, 4}), info({3}), info({3}), info({3}), info({3})});
  REQUIRE(ok.isOk());
  CHECK(ok->at(0).shape == Shape{-1, 3, 4, 4});
  expectInferError("BatchNormalization", {},
                   {info({1, 3, 4, 4}), info({3}), info({4}), info({3}), info({3})},
                   ErrorCode::kShape, "input 2 (B)");
  expectInferError("BatchNormalization", attrs({{"spatial", Attribute::ofInt(0)}}),
                   {info({1, 3, 4, 4}), info({3}), info({3}), info({3}), info({3})},
                   ErrorCode::kUnsupported, "spatial");
  expectInferError("BatchNormalization", {},
                   {info({1, 3, 4, 4}), info({3}), info({3}), info({3}), info({3})},
                   ErrorCode::kUnsupported, "output 1", 3);
  // training_mode=1 accepts the running statistics outputs.
  auto tr = inferOp("BatchNormalization", attrs({{"training_mode", Attribute::ofInt(1)}}),
                    {info({2, 3, 4}), info({3}), info({3}), info({3}), info({3})}, 3);
  REQUIRE(tr.isOk());
  CHECK(tr->at(1).shape == Shape{3});
  CHECK(tr->at(2).shape == Shape{3});
}

TEST_CASE("kernels reject mismatched tensors without crashing", "[conv]") {
  Tensor x = f32({1, 3, 5, 5}, std::vector<float>(75, 1.0f));
  Tensor w = f32({2, 2, 3, 3}, std::vector<float>(36, 1.0f));
  auto r = runOp("Conv", {}, {&x, &w});
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message().find("channels") != std::string::npos);
  Tensor xd(DType::kFloat64, {1, 2, 5, 5});
  auto r2 = runOp("Conv", {}, {&xd, &w});
  REQUIRE_FALSE(r2.isOk());
  CHECK(r2.status().code() == ErrorCode::kUnsupported);
}
