// The reverse-mode engine (train/autograd.h) on the bundled PyTorch-exported models: the
// evaluation forward agrees with the Executor, the default parameters are every Conv/Gemm
// weight and bias, and a few SGD steps on a fixed batch lower the loss.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "ir/onnx_import.h"
#include "runtime/executor.h"
#include "train/autograd.h"
#include "train/grad_check.h"
#include "train/loss.h"

namespace hq::train {
namespace {

void checkModel(const std::string& path, Shape input_shape, size_t want_params, int steps, float lr,
                int fd_per_param = 0) {
  if (!std::filesystem::exists(path)) {
    WARN("skipped: " << path << " is missing");
    return;
  }
  auto graph = importOnnxFile(path);
  INFO(graph.status().message());
  REQUIRE(graph.isOk());
  std::mt19937 rng(21);
  Tensor x = testing::randomFloats(input_shape, -1, 1, rng);
  const int64_t n = input_shape[0];
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(i % 10);

  auto exec = Executor::create(**graph);
  REQUIRE(exec.isOk());
  auto want = (*exec)->run({x});
  REQUIRE(want.isOk());

  auto gg = GradGraph::create(**graph);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  GradGraph& g = **gg;
  CHECK(g.parameterNames().size() == want_params);
  auto got = g.forward({x}, false);
  REQUIRE(got.isOk());
  REQUIRE(got->shape() == (*want)[0].shape());
  for (int64_t i = 0; i < got->numel(); ++i) {
    CHECK(got->data<float>()[i] == Approx((*want)[0].data<float>()[i]).margin(1e-4));
  }

  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  if (fd_per_param > 0) {
    auto s = g.step({x}, loss);
    REQUIRE(s.isOk());
    auto lossAt = [&]() {
      auto out = g.forward({x}, false);
      REQUIRE(out.isOk());
      return loss(*out)->loss;
    };
    const double eps = 1e-3;
    for (const std::string& name : g.parameterNames()) {
      Tensor* p = g.parameter(name);
      const int64_t stride = std::max<int64_t>(1, p->numel() / fd_per_param);
      for (int64_t e = 0; e < p->numel(); e += stride) {
        float* d = p->data<float>();
        const float keep = d[e];
        d[e] = keep + static_cast<float>(eps);
        const double up = lossAt();
        d[e] = keep - static_cast<float>(eps);
        const double down = lossAt();
        d[e] = keep;
        const double numeric = (up - down) / (2 * eps);
        const double analytic = s->grads.at(name).data<float>()[e];
        INFO(name << " element " << e << ": analytic " << analytic << " numeric " << numeric);
        CHECK(std::fabs(analytic - numeric) <= 2e-3 + 5e-2 * std::fabs(numeric));
      }
    }
  }
  std::vector<double> losses;
  for (int it = 0; it < steps; ++it) {
    auto s = g.step({x}, loss);
    INFO(s.status().message());
    REQUIRE(s.isOk());
    CHECK(g.liveBytes() == 0);
    losses.push_back(s->loss);
    for (const auto& [name, grad] : s->grads) {
      float* w = g.parameter(name)->data<float>();
      for (int64_t i = 0; i < grad.numel(); ++i) w[i] -= lr * grad.data<float>()[i];
    }
  }
  std::string all;
  for (double l : losses) all += std::to_string(l) + " ";
  INFO("losses: " << all);
  for (size_t i = 1; i < losses.size(); ++i) CHECK(losses[i] < losses[i - 1]);
}

TEST_CASE("autograd: fmnist_cnn trains on a fixed batch", "[train]") {
  // 3 Conv + 1 Gemm, each with weight and bias.
  checkModel(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx", {8, 1, 28, 28}, 8, 4,
             1e-4f, 4);
}

TEST_CASE("autograd: mobilenetv2_32 trains on a fixed batch", "[train]") {
  // 52 Conv + 1 Gemm with weight and bias.
  checkModel(std::string(HQ_SHARED_MODELS) + "/mobilenetv2_32.float.onnx", {2, 3, 32, 32}, 106, 2,
             0.005f);
}

}  // namespace
}  // namespace hq::train

namespace hq::train {
namespace {

TEST_CASE("autograd: a training-mode export trains its BatchNormalization scale and bias",
          "[train]") {
  const std::string path = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float-bn.onnx";
  auto graph = importOnnxFile(path);
  INFO(graph.status().message());
  REQUIRE(graph.isOk());
  auto names = defaultParameters(**graph);
  const auto bn_params = std::count_if(names.begin(), names.end(), [&](const std::string& n) {
    for (const Node* node : (*graph)->consumers((*graph)->findValue(n))) {
      if (node->opType == "BatchNormalization") return true;
    }
    return false;
  });
  CHECK(bn_params >= 2);
  // The built-in BatchNormalization backward (autograd.h); training is tested in
  // autograd_train_test.cpp.
  auto gg = GradGraph::create(**graph);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  CHECK((*gg)->parameterNames() == names);
}

}  // namespace
}  // namespace hq::train
