// Dropout for training (train/dropout.h): the mask is SplitMix64's stream (reference
// vector), deterministic by seed, keeps about 1 - ratio, scales by 1 / (1 - ratio); eval is
// the identity; the backward applies the same mask.
#include <catch2/catch.hpp>

#include <cmath>

#include "runtime/elementwise_test_util.h"
#include "train/dropout.h"

namespace hq::train {
namespace {

Tensor ramp(Shape s) {
  Tensor t(DType::kFloat32, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.25f + 0.01f * float(i);
  return t;
}

TEST_CASE("dropout: the mask draws SplitMix64's reference stream", "[train]") {
  // SplitMix64(1234567): 6457827717110365317, 3203168211198807973, 9817491932198370423;
  // uniform01 = (v >> 40) / 2^24.
  CHECK(dropoutUniform(1234567, 0) == float(6457827717110365317ull >> 40) / 16777216.0f);
  CHECK(dropoutUniform(1234567, 1) == float(3203168211198807973ull >> 40) / 16777216.0f);
  CHECK(dropoutUniform(1234567, 2) == float(9817491932198370423ull >> 40) / 16777216.0f);
  // u = {0.3501, 0.1736, 0.5322}: ratio 0.3 keeps elements 0 and 2, scaled by 1 / 0.7.
  Tensor x = Tensor::fromVector<float>({3}, {1, 2, 3}), y(DType::kFloat32, {3});
  Tensor mask(DType::kBool, {3});
  REQUIRE(dropoutForward(x, 0.3f, true, 1234567, y, &mask).isOk());
  CHECK(mask.data<bool>()[0]);
  CHECK_FALSE(mask.data<bool>()[1]);
  CHECK(mask.data<bool>()[2]);
  CHECK(y.data<float>()[0] == Approx(1 / 0.7));
  CHECK(y.data<float>()[1] == 0.0f);
  CHECK(y.data<float>()[2] == Approx(3 / 0.7));
}

TEST_CASE("dropout: deterministic by seed, keeps about 1 - ratio", "[train]") {
  const Shape s{10, 1000};
  Tensor x = ramp(s), y1(DType::kFloat32, s), y2(DType::kFloat32, s), y3(DType::kFloat32, s);
  Tensor m1(DType::kBool, s), m3(DType::kBool, s);
  REQUIRE(dropoutForward(x, 0.25f, true, 42, y1, &m1).isOk());
  REQUIRE(dropoutForward(x, 0.25f, true, 42, y2).isOk());
  REQUIRE(dropoutForward(x, 0.25f, true, 43, y3, &m3).isOk());
  CHECK(y1.equals(y2));
  CHECK_FALSE(m1.equals(m3));
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool k = m1.data<bool>()[i];
    kept += k;
    const float want = k ? x.data<float>()[i] * (1.0f / 0.75f) : 0.0f;
    if (y1.data<float>()[i] != want) FAIL("element " << i);
  }
  CHECK(std::fabs(double(kept) / x.numel() - 0.75) < 0.02);
}

TEST_CASE("dropout: backward applies the forward's mask; eval is the identity", "[train]") {
  const Shape s{4, 8};
  Tensor x = ramp(s), y(DType::kFloat32, s), mask(DType::kBool, s), dx(DType::kFloat32, s);
  Tensor dy = ramp(s);
  for (int64_t i = 0; i < dy.numel(); ++i) dy.data<float>()[i] = float(i % 5) - 2.0f;
  REQUIRE(dropoutForward(x, 0.5f, true, 7, y, &mask).isOk());
  REQUIRE(dropoutBackward(dy, &mask, 0.5f, true, dx).isOk());
  int64_t dropped = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    // y is linear in x: dy/dx = y / x.
    const float slope = y.data<float>()[i] / x.data<float>()[i];
    CHECK(dx.data<float>()[i] == dy.data<float>()[i] * slope);
    dropped += !mask.data<bool>()[i];
  }
  CHECK(dropped > 0);
  CHECK(dropped < x.numel());

  REQUIRE(dropoutForward(x, 0.5f, false, 7, y, &mask).isOk());
  CHECK(y.equals(x));
  for (int64_t i = 0; i < x.numel(); ++i) CHECK(mask.data<bool>()[i]);
  REQUIRE(dropoutBackward(dy, nullptr, 0.5f, false, dx).isOk());
  CHECK(dx.equals(dy));
}

TEST_CASE("dropout: ratio 0 and 1, and errors", "[train]") {
  const Shape s{16};
  Tensor x = ramp(s), y(DType::kFloat32, s);
  REQUIRE(dropoutForward(x, 0.0f, true, 1, y).isOk());
  CHECK(y.equals(x));
  REQUIRE(dropoutForward(x, 1.0f, true, 1, y).isOk());
  for (int64_t i = 0; i < y.numel(); ++i) CHECK(y.data<float>()[i] == 0.0f);
  Status st = dropoutForward(x, 1.5f, true, 1, y);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message().find("ratio 1.5") != std::string::npos);
  Tensor wrong(DType::kFloat32, {8});
  CHECK(dropoutForward(x, 0.5f, true, 1, wrong).code() == ErrorCode::kShape);
  Tensor fmask(DType::kFloat32, s);
  CHECK(dropoutForward(x, 0.5f, true, 1, y, &fmask).code() == ErrorCode::kShape);
  CHECK(dropoutBackward(x, nullptr, 0.5f, true, y).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("dropout: node backward reads ratio, training_mode and the mask", "[train]") {
  hq::testing::OneNode n("Dropout", 3, 2);
  Tensor x = Tensor::fromVector<float>({3}, {1, 2, 3}), y(DType::kFloat32, {3});
  Tensor mask(DType::kBool, {3});
  REQUIRE(dropoutForward(x, 0.3f, true, 1234567, y, &mask).isOk());  // keeps 0 and 2
  Tensor ratio = Tensor::scalar<float>(0.3f), on = Tensor::scalar<bool>(true);
  Tensor dy = Tensor::fromVector<float>({3}, {0.7f, 0.7f, -1.4f}), dx(DType::kFloat32, {3});
  BackwardCall call{
      *n.node, {&x, &ratio, &on}, {&y, &mask}, {&dy, nullptr}, {&dx, nullptr, nullptr}};
  REQUIRE(backwardDropout(call).isOk());
  CHECK(dx.data<float>()[0] == Approx(1.0));
  CHECK(dx.data<float>()[1] == 0.0f);
  CHECK(dx.data<float>()[2] == Approx(-2.0));
  // Eval (no training_mode input): the identity.
  BackwardCall eval{*n.node, {&x, &ratio, nullptr}, {&y, nullptr}, {&dy, nullptr}, {&dx}};
  REQUIRE(backwardDropout(eval).isOk());
  CHECK(dx.equals(dy));
  // Training without the mask.
  BackwardCall nomask{*n.node, {&x, &ratio, &on}, {&y, nullptr}, {&dy, nullptr}, {&dx}};
  Status s = backwardDropout(nomask);
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.message().find("'n'") != std::string::npos);
  CHECK(s.message().find("mask") != std::string::npos);
}

}  // namespace
}  // namespace hq::train
