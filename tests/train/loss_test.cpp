// Losses (train/loss.h): values and gradients against PyTorch goldens (float64
// torch.nn.functional.cross_entropy / mse_loss, printed and pasted here), a finite-difference
// check, numerical stability with large logits, and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "train/grad_check.h"
#include "train/loss.h"

namespace hq::train {
namespace {

// Rows: an ordinary one, one with logits near 100 (a naive exp would overflow), a third.
Tensor goldenLogits() {
  return Tensor::fromVector<float>(
      {3, 4}, {1.0f, 2.0f, -1.0f, 0.5f, 100.0f, -50.0f, 99.0f, 0.0f, -3.0f, 0.25f, 0.0f, 2.0f});
}
const std::vector<int64_t> kLabels = {1, 2, 3};

void checkClose(const Tensor& t, const std::vector<double>& want, double tol) {
  REQUIRE(t.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(t.data<float>()[i] == Approx(want[i]).margin(tol));
  }
}

TEST_CASE("softmax cross-entropy matches PyTorch", "[train]") {
  auto r = softmaxCrossEntropy(goldenLogits(), kLabels);
  REQUIRE(r.isOk());
  CHECK(r->loss == Approx(0.694308094115279).epsilon(1e-6));
  checkClose(r->grad,
             {0.07473593934940037, -0.13017998746704096, 0.010114409519805408, 0.045329638597835176,
              0.2436861928766683, 0.0, -0.2436861928766683, 0.0, 0.0017068717233603317,
              0.044020801940508086, 0.03428343502269891, -0.08001110868656731},
             1e-6);
}

TEST_CASE("softmax cross-entropy with label smoothing matches PyTorch", "[train]") {
  auto r = softmaxCrossEntropy(goldenLogits(), kLabels, 0.1f);
  REQUIRE(r.isOk());
  CHECK(r->loss == Approx(2.8713914274486134).epsilon(1e-6));
  checkClose(
      r->grad,
      {0.06640260601606707, -0.10517998746704092, 0.001781076186472078, 0.03699630526450186,
       0.23535285954333499, -0.008333333333333333, -0.2186861928766683, -0.008333333333333333,
       -0.006626461609973001, 0.035687468607174755, 0.025950101689365585, -0.055011108686567306},
      1e-6);
}

TEST_CASE("softmax cross-entropy gradient matches finite differences", "[train]") {
  std::mt19937 rng(3);
  Tensor x = testing::randomFloats({4, 5}, -2, 2, rng);
  const std::vector<int64_t> labels = {0, 4, 2, 2};
  auto r = softmaxCrossEntropy(x, labels, 0.2f);
  REQUIRE(r.isOk());
  const double eps = 1e-2;
  for (int64_t e = 0; e < x.numel(); ++e) {
    float* p = x.data<float>();
    const float keep = p[e];
    p[e] = keep + static_cast<float>(eps);
    const double up = softmaxCrossEntropy(x, labels, 0.2f)->loss;
    p[e] = keep - static_cast<float>(eps);
    const double down = softmaxCrossEntropy(x, labels, 0.2f)->loss;
    p[e] = keep;
    INFO("element " << e);
    CHECK(r->grad.data<float>()[e] == Approx((up - down) / (2 * eps)).margin(1e-4));
  }
}

TEST_CASE("mean squared error matches PyTorch", "[train]") {
  Tensor p = Tensor::fromVector<float>({2, 3}, {0.5f, -1.0f, 2.0f, 3.0f, 0.0f, -0.25f});
  Tensor t = Tensor::fromVector<float>({2, 3}, {1.0f, 1.0f, 1.0f, 2.5f, -0.5f, 0.0f});
  auto r = meanSquaredError(p, t);
  REQUIRE(r.isOk());
  CHECK(r->loss == Approx(0.96875).epsilon(1e-9));
  checkClose(r->grad,
             {-0.16666666666666666, -0.6666666666666666, 0.3333333333333333, 0.16666666666666666,
              0.16666666666666666, -0.08333333333333333},
             1e-7);
}

TEST_CASE("losses reject bad input with a clear message", "[train]") {
  auto bad_label = softmaxCrossEntropy(goldenLogits(), {1, 4, 0});
  REQUIRE(!bad_label.isOk());
  CHECK_THAT(bad_label.status().message(), Catch::Contains("label 4 of sample 1"));
  auto count = softmaxCrossEntropy(goldenLogits(), {1, 2});
  REQUIRE(!count.isOk());
  CHECK_THAT(count.status().message(), Catch::Contains("expected 3 labels"));
  auto smooth = softmaxCrossEntropy(goldenLogits(), kLabels, 1.5f);
  REQUIRE(!smooth.isOk());
  CHECK_THAT(smooth.status().message(), Catch::Contains("label smoothing"));
  Tensor nan = goldenLogits();
  nan.data<float>()[0] = std::nanf("");
  CHECK(!softmaxCrossEntropy(nan, kLabels).isOk());
  auto mse = meanSquaredError(Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {3, 2}));
  REQUIRE(!mse.isOk());
  CHECK_THAT(mse.status().message(), Catch::Contains("[3, 2]"));
}

}  // namespace
}  // namespace hq::train
