// The engine's built-in training behaviour (train/autograd.h): the training-mode
// fmnist_cnn export (BatchNormalization with batch statistics and running-stat updates)
// trains on real Fashion-MNIST images, a QDQ model from hq-calib trains through its fake
// quantization (float weights, STE) and its evaluation forward equals the Executor's, and
// Dropout masks repeat with the seed.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "runtime/executor.h"
#include "train/autograd.h"
#include "train/grad_check.h"
#include "train/loss.h"

namespace hq::train {
namespace {

struct OneThread {
  int before = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(before); }
};

/// The first `n` images and labels of a built-in dataset.
void loadImages(const std::string& spec, int64_t n, Tensor& images, std::vector<int64_t>& labels) {
  DatasetOptions opt;
  opt.limit = n;
  auto data = openDataset(spec, opt);
  INFO(data.status().message());
  REQUIRE(data.isOk());
  REQUIRE((*data)->size() == n);
  const Shape s = (*data)->sampleShape();
  images = Tensor(DType::kFloat32, {n, s[0], s[1], s[2]});
  const int64_t per = shapeNumel(s);
  labels.assign(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE((*data)->readInto(i, 0, images.data<float>() + i * per, &labels[i]).isOk());
  }
}

/// `steps` plain SGD steps on one batch; the losses.
std::vector<double> sgdSteps(GradGraph& g, const Tensor& x, const std::vector<int64_t>& labels,
                             int steps, float lr) {
  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  std::vector<double> losses;
  for (int it = 0; it < steps; ++it) {
    auto s = g.step({x}, loss);
    INFO(s.status().message());
    REQUIRE(s.isOk());
    losses.push_back(s->loss);
    for (const auto& [name, grad] : s->grads) {
      float* w = g.parameter(name)->data<float>();
      for (int64_t i = 0; i < grad.numel(); ++i) w[i] -= lr * grad.data<float>()[i];
    }
  }
  return losses;
}

std::string join(const std::vector<double>& v) {
  std::string s;
  for (double d : v) s += std::to_string(d) + " ";
  return s;
}

TEST_CASE("autograd: the training-mode BatchNormalization export trains on Fashion-MNIST",
          "[train]") {
  OneThread one;
  auto graph = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float-bn.onnx");
  INFO(graph.status().message());
  REQUIRE(graph.isOk());
  Tensor x;
  std::vector<int64_t> labels;
  loadImages("fashion-mnist-train", 64, x, labels);
  auto gg = GradGraph::create(**graph);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  GradGraph& g = **gg;
  // 3 Conv weights, 3 BN scales and biases, Gemm weight and bias.
  CHECK(g.parameterNames().size() == 11);
  const std::string mean = "features.0.1.running_mean", var = "features.0.1.running_var";
  REQUIRE(g.initializer(mean));
  const Tensor mean0 = g.initializer(mean)->clone(), var0 = g.initializer(var)->clone();

  const std::vector<double> losses = sgdSteps(g, x, labels, 10, 0.01f);
  INFO("losses: " << join(losses));
  CHECK(losses.back() < 0.9 * losses.front());
  for (size_t i = 1; i < losses.size(); ++i) CHECK(losses[i] < losses[i - 1]);

  // Running statistics moved toward the batch statistics, and the caller's graph kept its own.
  double moved = 0;
  for (int64_t c = 0; c < mean0.numel(); ++c) {
    moved += std::fabs(g.initializer(mean)->data<float>()[c] - mean0.data<float>()[c]);
    moved += std::fabs(g.initializer(var)->data<float>()[c] - var0.data<float>()[c]);
  }
  CHECK(moved > 1e-3);
  const Tensor& orig = (*graph)->findValue(mean)->constant;
  for (int64_t c = 0; c < mean0.numel(); ++c) {
    CHECK(orig.data<float>()[c] == mean0.data<float>()[c]);
  }

  // A training forward moves the running mean; evaluation forwards do not.
  const Tensor before = g.initializer(mean)->clone();
  auto y = g.forward({x}, true);
  REQUIRE(y.isOk());
  // The evaluation forward uses the running statistics: it differs from the training one.
  auto ye = g.forward({x}, false);
  REQUIRE(ye.isOk());
  double diff = 0;
  for (int64_t i = 0; i < y->numel(); ++i) {
    diff += std::fabs(y->data<float>()[i] - ye->data<float>()[i]);
  }
  CHECK(diff > 1e-3);
  // Evaluation forwards leave the running statistics alone.
  const Tensor after = g.initializer(mean)->clone();
  REQUIRE(g.forward({x}, false).isOk());
  for (int64_t c = 0; c < after.numel(); ++c) {
    CHECK(g.initializer(mean)->data<float>()[c] == after.data<float>()[c]);
  }
  bool changed = false;
  for (int64_t c = 0; c < after.numel(); ++c) {
    changed = changed || after.data<float>()[c] != before.data<float>()[c];
  }
  CHECK(changed);
}

}  // namespace
}  // namespace hq::train
