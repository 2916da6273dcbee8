// Pieces of the trainer (train/trainer.h) that the hq-qat tool tests do not isolate: a
// training-mode PyTorch export made ready for inference runs in the Executor as the training
// engine's evaluation forward computes it (running statistics, no dropout), and training-only
// outputs still in use are refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "ir/onnx_import.h"
#include "runtime/executor.h"
#include "train/autograd.h"
#include "train/trainer.h"

namespace hq::train {
namespace {

/// Max |a - b| between the Executor on `inference` and the training engine's evaluation
/// forward of `trained` on the same random batch.
float maxLogitDiff(const Graph& inference, const Graph& trained, Shape shape) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  Tensor x(DType::kFloat32, shape);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  auto exec = Executor::create(inference);
  REQUIRE(exec.isOk());
  auto ya = (*exec)->run({x});
  REQUIRE(ya.isOk());
  AutogradOptions opt;
  opt.kernels.referenceOnly = true;
  auto gg = GradGraph::create(trained, opt);
  REQUIRE(gg.isOk());
  auto yb = (*gg)->forward({x}, /*training=*/false);
  REQUIRE(yb.isOk());
  const Tensor& ta = (*ya)[0];
  const Tensor& tb = *yb;
  REQUIRE(ta.shape() == tb.shape());
  float d = 0, m = 0;
  for (int64_t i = 0; i < ta.numel(); ++i) {
    d = std::max(d, std::fabs(ta.data<float>()[i] - tb.data<float>()[i]));
    m = std::max(m, std::fabs(tb.data<float>()[i]));
  }
  CHECK(m > 0.1f);  // real logits, not zeros
  return d;
}

void checkInferenceForm(const std::string& path, Shape shape) {
  if (!std::filesystem::exists(path)) {
    WARN("skipped: " << path << " is missing");
    return;
  }
  auto trained = importOnnxFile(path);
  REQUIRE(trained.isOk());
  std::unique_ptr<Graph> inference = (*trained)->clone();
  REQUIRE(toInferenceForm(*inference).isOk());
  int bn = 0, dropout = 0;
  for (const Node* n : inference->nodes()) {
    INFO(n->describe());
    CHECK_FALSE(n->attrs.has("training_mode"));
    if (n->opType == "BatchNormalization" || n->opType == "Dropout") {
      CHECK(n->outputs.size() == 1);
    }
    if (n->opType == "Dropout") CHECK(n->inputs.size() <= 2);
    bn += n->opType == "BatchNormalization";
    dropout += n->opType == "Dropout";
  }
  CHECK(bn > 0);
  CHECK(maxLogitDiff(*inference, **trained, shape) < 1e-4f);
}

}  // namespace

TEST_CASE("toInferenceForm: a training-mode export runs as the engine evaluates it",
          "[train][trainer]") {
  checkInferenceForm(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float-bn.onnx",
                     {4, 1, 28, 28});
  // BatchNormalization x 52 and a Dropout with its training_mode input.
  checkInferenceForm(std::string(HQ_SHARED_MODELS) + "/mobilenetv2_32.float-bn.onnx",
                     {2, 3, 32, 32});
}

TEST_CASE("toInferenceForm: a training-only output still read is refused, naming the node",
          "[train][trainer]") {
  Graph g;
  Value* x = g.addValue("x", DType::kFloat32, {2, 3}, true);
  g.mutableInputs().push_back(x);
  Value* ratio = g.addConstant("ratio", Tensor::scalar<float>(0.5f));
  Value* y = g.addValue("y");
  Value* mask = g.addValue("mask");
  g.addNode("Dropout", "drop", {x, ratio}, {y, mask});
  g.mutableOutputs().push_back(y);
  g.mutableOutputs().push_back(mask);
  Status s = toInferenceForm(g);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message().find("drop") != std::string::npos);
  CHECK(s.message().find("mask") != std::string::npos);
}

}  // namespace hq::train
