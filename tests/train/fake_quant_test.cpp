// Fake quantization with the STE and the LSQ scale gradient (train/fake_quant.h): hand
// goldens at the clip edges (int8 and int16), PyTorch's learnable fake quant (per tensor
// with the LSQ gradient scale, per channel), errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "runtime/elementwise_test_util.h"
#include "train/fake_quant.h"
#include "train/fixture_util.h"

namespace hq::train {
namespace {

using testing::checkNear;
using testing::floats;

std::map<std::string, std::vector<float>> readFixture(const std::string& name) {
  return testing::readFixture("train_bnfq", name);
}

TEST_CASE("fake quant: STE mask and LSQ gradient at the int8 clip edges", "[train]") {
  // s = 0.5: x / s = {-129, -128.4, 0.52, 127, 127.6, 127.48}
  //   t = {-129 (clip), -128, 1, 127, 128 (clip), 127}
  Tensor x = floats({6}, {-64.5f, -64.2f, 0.26f, 63.5f, 63.8f, 63.74f});
  Tensor s = floats({1}, {0.5f}), y(DType::kFloat32, {6});
  FakeQuantConfig cfg;
  REQUIRE(fakeQuantForward(x, s, cfg, y).isOk());
  checkNear(y, {-64.0f, -64.0f, 0.5f, 63.5f, 63.5f, 63.5f}, 0);
  Tensor dy = floats({6}, {1, 1, 1, 1, 1, 1}), dx(DType::kFloat32, {6}), ds(DType::kFloat32, {1});
  REQUIRE(fakeQuantBackward(x, s, cfg, dy, &dx, &ds).isOk());
  checkNear(dx, {0, 1, 1, 1, 0, 1}, 0);
  // ds = -128 + (-128 + 128.4) + (1 - 0.52) + 0 + 127 + (127 - 127.48) = -0.6
  CHECK(ds.data<float>()[0] == Approx(-0.6).margin(1e-4));
  // With the gradient scale 1 / sqrt(6 * 127).
  cfg.lsqGradScale = true;
  REQUIRE(fakeQuantBackward(x, s, cfg, dy, nullptr, &ds).isOk());
  CHECK(ds.data<float>()[0] == Approx(-0.6 / std::sqrt(6.0 * 127)).margin(1e-5));
}

TEST_CASE("fake quant: int16 range edges", "[train]") {
  Tensor x = floats({4}, {32767.4f, 32768.0f, -32768.0f, -32769.0f}), s = floats({1}, {1.0f});
  FakeQuantConfig cfg;
  cfg.range = fxp::kInt16Range;
  Tensor y(DType::kFloat32, {4}), dx(DType::kFloat32, {4});
  REQUIRE(fakeQuantForward(x, s, cfg, y).isOk());
  checkNear(y, {32767, 32767, -32768, -32768}, 0);
  Tensor dy = floats({4}, {2, 3, 4, 5});
  REQUIRE(fakeQuantBackward(x, s, cfg, dy, &dx, nullptr).isOk());
  checkNear(dx, {2, 0, 4, 0}, 0);
}

TEST_CASE("fake quant: PyTorch learnable fake quant goldens", "[train]") {
  auto f = readFixture("lsq_torch.txt");
  const Shape xs{2, 3, 4};
  SECTION("per tensor int8 with the LSQ gradient scale") {
    Tensor x = floats(xs, f["pt_x"]), s = floats({1}, {0.05f}), y(DType::kFloat32, xs);
    FakeQuantConfig cfg;
    cfg.lsqGradScale = true;
    REQUIRE(fakeQuantForward(x, s, cfg, y).isOk());
    checkNear(y, f["pt_y"], 1e-6);
    Tensor dx(DType::kFloat32, xs), ds(DType::kFloat32, {1});
    REQUIRE(fakeQuantBackward(x, s, cfg, floats(xs, f["pt_dy"]), &dx, &ds).isOk());
    checkNear(dx, f["pt_dx"], 0);
    checkNear(ds, f["pt_ds"], 1e-5);
  }
  SECTION("per channel int16 along axis 1") {
    Tensor x = floats(xs, f["pc_x"]), s = floats({3}, f["pc_scale"]), y(DType::kFloat32, xs);
    FakeQuantConfig cfg;
    cfg.axis = 1;
    cfg.range = fxp::kInt16Range;
    REQUIRE(fakeQuantForward(x, s, cfg, y).isOk());
    checkNear(y, f["pc_y"], 1e-6);
    Tensor dx(DType::kFloat32, xs), ds(DType::kFloat32, {3});
    REQUIRE(fakeQuantBackward(x, s, cfg, floats(xs, f["pc_dy"]), &dx, &ds).isOk());
    checkNear(dx, f["pc_dx"], 0);
    checkNear(ds, f["pc_ds"], 1e-4);
  }
}

TEST_CASE("fake quant: per-channel along a negative axis and errors", "[train]") {
  // [2, 2] per channel on axis -1: column scales {1, 0.25}.
  Tensor x = floats({2, 2}, {1.2f, 1.2f, 300.0f, 300.0f}), s = floats({2}, {1.0f, 0.25f});
  FakeQuantConfig cfg;
  cfg.axis = -1;
  Tensor y(DType::kFloat32, {2, 2});
  REQUIRE(fakeQuantForward(x, s, cfg, y).isOk());
  checkNear(y, {1.0f, 1.25f, 127.0f, 31.75f}, 0);

  cfg.axis = 0;
  Tensor s3 = floats({3}, {1, 1, 1});
  Status st = fakeQuantForward(x, s3, cfg, y);
  CHECK(st.code() == ErrorCode::kShape);
  CHECK(st.message().find("expected 1 or 2") != std::string::npos);
  cfg.axis = 5;
  CHECK(fakeQuantForward(x, s, cfg, y).code() == ErrorCode::kShape);
  cfg.axis = 1;
  st = fakeQuantForward(x, floats({2}, {1.0f, 0.0f}), cfg, y);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.message().find("scale[1] = 0") != std::string::npos);
  Tensor dsw(DType::kFloat32, {1});
  CHECK(fakeQuantBackward(x, s, cfg, x, nullptr, &dsw).code() == ErrorCode::kShape);
}

TEST_CASE("fake quant: hq.FakeQuant node backward", "[train]") {
  hq::testing::OneNode n("FakeQuant", 3, 1);
  // uint8 zero point 0 (after a Relu): [0, 255], s = 0.1: t = {-1 (clip), 3, 255, 256 (clip)}.
  Tensor x = floats({4}, {-0.1f, 0.31f, 25.5f, 25.6f}), s = floats({1}, {0.1f});
  Tensor zp = Tensor::scalar<uint8_t>(0), y = floats({4}, {0, 0.3f, 25.5f, 25.5f});
  Tensor dy = floats({4}, {1, 2, 3, 4}), dx(DType::kFloat32, {4}), ds(DType::kFloat32, {1});
  BackwardCall call{*n.node, {&x, &s, &zp}, {&y}, {&dy}, {&dx, &ds, nullptr}};
  Status st = backwardFakeQuant(call);
  INFO(st.message());
  REQUIRE(st.isOk());
  checkNear(dx, {0, 2, 3, 0}, 0);
  // ds = 1 * 0 + 2 * (3 - 3.1) + 3 * (255 - 255) + 4 * 255 = 1019.8
  CHECK(ds.data<float>()[0] == Approx(1019.8).epsilon(1e-6));
  // int8 zero point: [-128, 127]; -0.1 is in range now.
  Tensor zp8 = Tensor::scalar<int8_t>(0);
  BackwardCall call8{*n.node, {&x, &s, &zp8}, {&y}, {&dy}, {&dx, nullptr, nullptr}};
  REQUIRE(backwardFakeQuant(call8).isOk());
  checkNear(dx, {1, 2, 0, 0}, 0);
  // A nonzero zero point is refused with the node's name.
  Tensor zp3 = Tensor::scalar<uint8_t>(3);
  BackwardCall bad{*n.node, {&x, &s, &zp3}, {&y}, {&dy}, {&dx, nullptr, nullptr}};
  st = backwardFakeQuant(bad);
  CHECK(st.code() == ErrorCode::kUnsupported);
  CHECK(st.message().find("'n'") != std::string::npos);
  CHECK(st.message().find("zero point 3") != std::string::npos);
}

}  // namespace
}  // namespace hq::train
