// BatchNormalization for training (train/batchnorm.h): PyTorch goldens (nn.BatchNorm2d in
// train mode, two steps), finite-difference checks of dx, dscale, dbias, the running-stat
// update (ONNX momentum; unbiased or biased variance), inference backward, errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "runtime/elementwise_test_util.h"
#include "runtime/kernel.h"
#include "train/batchnorm.h"
#include "train/fixture_util.h"

namespace hq::train {
namespace {

using testing::checkNear;
using testing::floats;

std::map<std::string, std::vector<float>> readFixture(const std::string& name) {
  return testing::readFixture("train_bnfq", name);
}

Tensor random(Shape s, std::mt19937& rng, float lo, float hi) {
  Tensor t(DType::kFloat32, std::move(s));
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += double(a.data<float>()[i]) * b.data<float>()[i];
  return s;
}

TEST_CASE("batchnorm: two training steps match PyTorch nn.BatchNorm2d", "[train]") {
  auto f = readFixture("batchnorm_torch.txt");
  const Shape xs{4, 3, 2, 3};
  Tensor scale = floats({3}, f["scale"]), bias = floats({3}, f["bias"]);
  Tensor rm = floats({3}, f["running_mean0"]), rv = floats({3}, f["running_var0"]);
  BatchNormOptions opt;
  opt.momentum = 0.9f;  // PyTorch momentum 0.1
  Tensor x1 = floats(xs, f["x1"]), x2 = floats(xs, f["x2"]), y(DType::kFloat32, xs);
  REQUIRE(batchNormTrainForward(x1, scale, bias, &rm, &rv, opt, y).isOk());
  BatchNormSaved saved;
  REQUIRE(batchNormTrainForward(x2, scale, bias, &rm, &rv, opt, y, &saved).isOk());
  checkNear(y, f["y2"], 1e-5);
  checkNear(rm, f["running_mean2"], 1e-6);
  checkNear(rv, f["running_var2"], 1e-6);
  Tensor dy = floats(xs, f["dy"]);
  Tensor dx(DType::kFloat32, xs), ds(DType::kFloat32, {3}), db(DType::kFloat32, {3});
  REQUIRE(batchNormTrainBackward(x2, scale, saved, dy, &dx, &ds, &db).isOk());
  checkNear(dx, f["dx"], 1e-5);
  checkNear(ds, f["dscale"], 1e-5);
  checkNear(db, f["dbias"], 1e-5);

  SECTION("the ONNX spec's biased variance gives another running_var") {
    Tensor rm2 = floats({3}, f["running_mean0"]), rv2 = floats({3}, f["running_var0"]);
    opt.runningVariance = RunningVariance::kBiased;
    REQUIRE(batchNormTrainForward(x1, scale, bias, &rm2, &rv2, opt, y).isOk());
    REQUIRE(batchNormTrainForward(x2, scale, bias, &rm2, &rv2, opt, y).isOk());
    checkNear(rm2, f["running_mean2"], 1e-6);
    CHECK(std::fabs(rv2.data<float>()[0] - f["running_var2"][0]) > 1e-4);
  }
}

TEST_CASE("batchnorm: running statistics by hand", "[train]") {
  // One channel, x = {1, 3}: mean 2, biased variance 1, unbiased 2; momentum 0.5.
  Tensor x = floats({2, 1}, {1, 3}), scale = floats({1}, {1}), bias = floats({1}, {0});
  Tensor y(DType::kFloat32, {2, 1});
  BatchNormOptions opt;
  opt.momentum = 0.5f;
  opt.epsilon = 0.0f;
  Tensor rm = floats({1}, {0}), rv = floats({1}, {1});
  REQUIRE(batchNormTrainForward(x, scale, bias, &rm, &rv, opt, y).isOk());
  CHECK(rm.data<float>()[0] == 1.0f);
  CHECK(rv.data<float>()[0] == 1.5f);
  CHECK(y.data<float>()[0] == -1.0f);
  CHECK(y.data<float>()[1] == 1.0f);
  opt.runningVariance = RunningVariance::kBiased;
  rv = floats({1}, {1});
  REQUIRE(batchNormTrainForward(x, scale, bias, nullptr, &rv, opt, y).isOk());
  CHECK(rv.data<float>()[0] == 1.0f);
}

TEST_CASE("batchnorm: training backward matches finite differences", "[train]") {
  std::mt19937 rng(11);
  const Shape xs{3, 2, 2, 2};
  Tensor x = random(xs, rng, -1, 1), scale = random({2}, rng, 0.5, 1.5);
  Tensor bias = random({2}, rng, -0.5, 0.5), r = random(xs, rng, -1, 1);
  BatchNormOptions opt;
  auto loss = [&]() {
    Tensor y(DType::kFloat32, xs);
    REQUIRE(batchNormTrainForward(x, scale, bias, nullptr, nullptr, opt, y).isOk());
    return dot(y, r);
  };
  Tensor dx(DType::kFloat32, xs), ds(DType::kFloat32, {2}), db(DType::kFloat32, {2});
  auto saved = batchNormStatistics(x, opt.epsilon);
  REQUIRE(saved.isOk());
  REQUIRE(batchNormTrainBackward(x, scale, *saved, r, &dx, &ds, &db).isOk());
  const double eps = 1e-2;
  for (auto [t, g] : {std::pair<Tensor*, Tensor*>{&x, &dx}, {&scale, &ds}, {&bias, &db}}) {
    for (int64_t i = 0; i < t->numel(); ++i) {
      float& p = t->data<float>()[i];
      const float keep = p;
      p = keep + float(eps);
      const double up = loss();
      p = keep - float(eps);
      const double down = loss();
      p = keep;
      const double numeric = (up - down) / (2 * eps);
      INFO("element " << i << " analytic " << g->data<float>()[i] << " numeric " << numeric);
      CHECK(std::fabs(g->data<float>()[i] - numeric) <= 2e-3 + 2e-2 * std::fabs(numeric));
    }
  }
}

TEST_CASE("batchnorm: inference backward is a per-channel affine", "[train]") {
  // x = {1, 3}, mean 1, var 3, eps 1: inv_std 0.5, scale 2: dx = dy, xhat = {0, 1}.
  Tensor x = floats({1, 1, 1, 2}, {1, 3}), scale = floats({1}, {2});
  Tensor mean = floats({1}, {1}), var = floats({1}, {3}), dy = floats({1, 1, 1, 2}, {0.5, -2});
  Tensor dx(DType::kFloat32, {1, 1, 1, 2}), ds(DType::kFloat32, {1}), db(DType::kFloat32, {1});
  REQUIRE(batchNormEvalBackward(x, scale, mean, var, 1.0f, dy, &dx, &ds, &db).isOk());
  CHECK(dx.data<float>()[0] == 0.5f);
  CHECK(dx.data<float>()[1] == -2.0f);
  CHECK(ds.data<float>()[0] == -2.0f);
  CHECK(db.data<float>()[0] == -1.5f);
  // Only dx.
  REQUIRE(batchNormEvalBackward(x, scale, mean, var, 1.0f, dy, &dx, nullptr, nullptr).isOk());
  CHECK(dx.data<float>()[1] == -2.0f);
  // Negative var + eps.
  Tensor bad = floats({1}, {-2});
  Status s = batchNormEvalBackward(x, scale, mean, bad, 1.0f, dy, &dx, nullptr, nullptr);
  CHECK(s.code() == ErrorCode::kData);
}

TEST_CASE("batchnorm: errors say what was expected", "[train]") {
  Tensor y(DType::kFloat32, {4});
  Tensor c1 = floats({1}, {1});
  BatchNormOptions opt;
  Status s = batchNormTrainForward(floats({4}, {1, 2, 3, 4}), c1, c1, nullptr, nullptr, opt, y);
  CHECK(s.code() == ErrorCode::kShape);
  CHECK(s.message().find("rank >= 2") != std::string::npos);
  Tensor x = floats({2, 2}, {1, 2, 3, 4}), y2(DType::kFloat32, {2, 2});
  s = batchNormTrainForward(x, c1, floats({2}, {0, 0}), nullptr, nullptr, opt, y2);
  CHECK(s.code() == ErrorCode::kShape);
  CHECK(s.message().find("scale has shape [1], expected [2]") != std::string::npos);
  opt.momentum = 2.0f;
  Tensor c2 = floats({2}, {1, 1});
  s = batchNormTrainForward(x, c2, c2, nullptr, nullptr, opt, y2);
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  BatchNormSaved saved;  // empty: wrong channel count
  Tensor dx(DType::kFloat32, {2, 2});
  s = batchNormTrainBackward(x, c2, saved, x, &dx, nullptr, nullptr);
  CHECK(s.code() == ErrorCode::kShape);
}

/// Finite-difference check of the node backward against the reference kernel's forward
/// (training_mode 0 or 1), for X, scale and B.
void checkNodeGradients(int64_t training_mode) {
  std::mt19937 rng(3);
  const Shape xs{2, 3, 2, 2};
  std::vector<Tensor> in = {random(xs, rng, -1, 1), random({3}, rng, 0.5, 1.5),
                            random({3}, rng, -0.5, 0.5), random({3}, rng, -0.3, 0.3),
                            random({3}, rng, 0.5, 1.5)};
  Attributes attrs;
  attrs.set("training_mode", Attribute::ofInt(training_mode));
  hq::testing::OneNode n("BatchNormalization", 5, 1, attrs);
  Tensor r = random(xs, rng, -1, 1);
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : in) ptrs.push_back(&t);
  auto loss = [&]() {
    auto outs = runReference(*n.node, ptrs);
    REQUIRE(outs.isOk());
    return dot((*outs)[0], r);
  };
  auto outs = runReference(*n.node, ptrs);
  REQUIRE(outs.isOk());
  std::vector<Tensor> grads = {Tensor(DType::kFloat32, xs), Tensor(DType::kFloat32, {3}),
                               Tensor(DType::kFloat32, {3}), Tensor(DType::kFloat32, {3})};
  BackwardCall call{
      *n.node, ptrs, {&(*outs)[0]}, {&r}, {&grads[0], &grads[1], &grads[2], &grads[3], nullptr}};
  grads[3].data<float>()[0] = 5.0f;  // overwritten with zero
  Status s = backwardBatchNormalization(call);
  INFO(s.message());
  REQUIRE(s.isOk());
  CHECK(grads[3].data<float>()[0] == 0.0f);
  const double eps = 1e-2;
  for (size_t k = 0; k < 3; ++k) {
    for (int64_t i = 0; i < in[k].numel(); ++i) {
      float& p = in[k].data<float>()[i];
      const float keep = p;
      p = keep + float(eps);
      const double up = loss();
      p = keep - float(eps);
      const double down = loss();
      p = keep;
      const double numeric = (up - down) / (2 * eps);
      const float analytic = grads[k].data<float>()[i];
      INFO("training_mode " << training_mode << " input " << k << " element " << i << " analytic "
                            << analytic << " numeric " << numeric);
      CHECK(std::fabs(analytic - numeric) <= 2e-3 + 2e-2 * std::fabs(numeric));
    }
  }
}

TEST_CASE("batchnorm: node backward matches finite differences of the reference kernel",
          "[train]") {
  checkNodeGradients(1);
  checkNodeGradients(0);
}

TEST_CASE("batchnorm: node backward errors name the node", "[train]") {
  hq::testing::OneNode n("BatchNormalization", 5, 1, {}, {true, true, true, true, false});
  Tensor x = floats({1, 1, 1, 1}, {1}), c = floats({1}, {1});
  Tensor dx(DType::kFloat32, {1, 1, 1, 1});
  BackwardCall call{*n.node, {&x, &c, &c, &c, nullptr}, {&x}, {&x}, {&dx}};
  Status s = backwardBatchNormalization(call);
  CHECK(s.code() == ErrorCode::kShape);
  CHECK(s.message().find("'n'") != std::string::npos);
  CHECK(s.message().find("input 4 is missing") != std::string::npos);
  Tensor bad = floats({2}, {1, 1});
  BackwardCall call2{*n.node, {&x, &bad, &c, &c, &c}, {&x}, {&x}, {&dx}};
  s = backwardBatchNormalization(call2);
  CHECK(s.code() == ErrorCode::kShape);
  CHECK(s.message().find("'n'") != std::string::npos);
  CHECK(s.message().find("scale has shape [2]") != std::string::npos);
}

}  // namespace
}  // namespace hq::train
