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

namespace hq::train {
namespace {

TEST_CASE("autograd: a QDQ model from hq-calib trains its float weights through fake quant",
          "[train]") {
  OneThread one;
  auto flt = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx");
  REQUIRE(flt.isOk());
  DatasetOptions dopt;
  dopt.limit = 32;
  auto data = openDataset("fashion-mnist-calib", dopt);
  REQUIRE(data.isOk());
  CalibOptions copt;
  copt.progress = false;
  copt.threads = 1;
  copt.batchSize = 32;
  auto qc = QConfig::load("default");
  REQUIRE(qc.isOk());
  auto r = calibrate(**flt, **data, *qc, copt);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  const Graph& qdq = *r->model;

  Tensor x;
  std::vector<int64_t> labels;
  loadImages("fashion-mnist-train", 32, x, labels);
  auto exec = Executor::create(qdq);
  REQUIRE(exec.isOk());
  auto want = (*exec)->run({x});
  REQUIRE(want.isOk());

  auto gg = GradGraph::create(qdq);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  GradGraph& g = **gg;
  // The float weights "<W>" (from "<W>_quantized") and the float biases.
  CHECK(g.parameterNames().size() == 8);
  const std::string fc = "fc.weight";
  REQUIRE(g.parameter(fc));
  CHECK(g.parameter(fc)->dtype() == DType::kFloat32);
  CHECK(!g.graph().findValue("fc.weight_quantized"));
  int fake_quants = 0;
  for (const Node* n : g.graph().nodes()) {
    CHECK(n->opType != "QuantizeLinear");
    CHECK(n->opType != "DequantizeLinear");
    fake_quants += n->opType == "FakeQuant" ? 1 : 0;
  }
  CHECK(fake_quants == 4 + 6);  // 4 weights; input, 3 Relu, pool and logits activations

  auto got = g.forward({x}, false);
  REQUIRE(got.isOk());
  REQUIRE(got->shape() == (*want)[0].shape());
  for (int64_t i = 0; i < got->numel(); ++i) {
    CHECK(got->data<float>()[i] == Approx((*want)[0].data<float>()[i]).margin(1e-5));
  }

  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  auto s = g.step({x}, loss);
  REQUIRE(s.isOk());
  for (const std::string& name : g.parameterNames()) {
    double sum = 0;
    const Tensor& gr = s->grads.at(name);
    for (int64_t i = 0; i < gr.numel(); ++i) sum += std::fabs(gr.data<float>()[i]);
    INFO(name);
    CHECK(sum > 0);
  }
  const std::vector<double> losses = sgdSteps(g, x, labels, 4, 0.002f);
  INFO("losses: " << join(losses));
  for (size_t i = 1; i < losses.size(); ++i) CHECK(losses[i] < losses[i - 1]);
}

}  // namespace
}  // namespace hq::train

namespace hq::train {
namespace {

/// x[N,6] -> Gemm(8) -> Relu -> Dropout(ratio 0.5; no training_mode input) -> Gemm(3).
std::unique_ptr<Graph> dropoutMlp() {
  std::mt19937 rng(5);
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 6}, true);
  g->mutableInputs().push_back(x);
  Value* w1 = g->addConstant("w1", testing::randomFloats({8, 6}, -0.5f, 0.5f, rng));
  Value* w2 = g->addConstant("w2", testing::randomFloats({3, 8}, -0.5f, 0.5f, rng));
  Value* ratio = g->addConstant("ratio", Tensor::fromVector<float>({}, {0.5f}));
  Value* h = g->addValue("h");
  Value* r = g->addValue("r");
  Value* d = g->addValue("d");
  Value* y = g->addValue("y");
  Attributes tb;
  tb.set("transB", Attribute::ofInt(1));
  g->addNode("Gemm", "fc1", {x, w1}, {h}, tb);
  g->addNode("Relu", "relu", {h}, {r});
  g->addNode("Dropout", "drop", {r, ratio}, {d});
  g->addNode("Gemm", "fc2", {d, w2}, {y}, tb);
  g->mutableOutputs().push_back(y);
  return g;
}

std::vector<double> dropoutLosses(const Graph& graph, uint64_t seed, const Tensor& x) {
  AutogradOptions opt;
  opt.seed = seed;
  auto gg = GradGraph::create(graph, opt);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  return sgdSteps(**gg, x, {0, 1, 2, 0}, 4, 0.1f);
}

TEST_CASE("autograd: Dropout masks repeat with the seed and differ between steps", "[train]") {
  auto graph = dropoutMlp();
  std::mt19937 rng(9);
  const Tensor x = testing::randomFloats({4, 6}, -1, 1, rng);
  const std::vector<double> a = dropoutLosses(*graph, 7, x), b = dropoutLosses(*graph, 7, x);
  const std::vector<double> c = dropoutLosses(*graph, 8, x);
  INFO("seed 7: " << join(a) << " seed 8: " << join(c));
  CHECK(a == b);
  CHECK(a != c);
  {
    auto g1 = GradGraph::create(*graph);
    REQUIRE(g1.isOk());
    const Tensor first = (*g1)->forward({x}, true)->clone();
    const Tensor second = (*g1)->forward({x}, true)->clone();
    double diff = 0;
    for (int64_t i = 0; i < first.numel(); ++i) {
      diff += std::fabs(first.data<float>()[i] - second.data<float>()[i]);
    }
    CHECK(diff > 1e-3);  // the next step draws another mask
  }

  // Evaluation is the identity (== the Executor's inference Dropout); training drops about
  // half of the hidden units and scales the rest by 2, and its gradient matches the forward:
  // a finite difference of the loss with the same mask (same seed, same step count).
  auto exec = Executor::create(*graph);
  REQUIRE(exec.isOk());
  auto want = (*exec)->run({x});
  REQUIRE(want.isOk());
  auto gg = GradGraph::create(*graph);
  REQUIRE(gg.isOk());
  auto got = (*gg)->forward({x}, false);
  REQUIRE(got.isOk());
  for (int64_t i = 0; i < got->numel(); ++i) {
    CHECK(got->data<float>()[i] == Approx((*want)[0].data<float>()[i]).margin(1e-6));
  }
  const std::vector<int64_t> labels = {0, 1, 2, 0};
  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  auto s = (*gg)->step({x}, loss);
  REQUIRE(s.isOk());
  const double eps = 1e-3;
  for (int64_t e = 0; e < 48; e += 7) {
    // Fresh engines run their first training forward with the mask of step 0.
    auto lossWith = [&](float delta) {
      auto g2 = GradGraph::create(*graph);
      REQUIRE(g2.isOk());
      (*g2)->parameter("w1")->data<float>()[e] += delta;
      auto out = (*g2)->forward({x}, true);
      REQUIRE(out.isOk());
      return loss(*out)->loss;
    };
    const double numeric = (lossWith(eps) - lossWith(-eps)) / (2 * eps);
    const double analytic = s->grads.at("w1").data<float>()[e];
    INFO("w1[" << e << "]: analytic " << analytic << " numeric " << numeric);
    CHECK(std::fabs(analytic - numeric) <= 1e-3 + 2e-2 * std::fabs(numeric));
  }
}

}  // namespace
}  // namespace hq::train
