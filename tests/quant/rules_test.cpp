// The quantization rule table and plan: units, shared scales, points and their specs.
#include <catch2/catch.hpp>

#include "ir/onnx_import.h"
#include "quant/qdq.h"
#include "quant/rules.h"

using namespace hq;

namespace {
Value* act(Graph& g, const std::string& name) { return g.addValue(name, DType::kFloat32, {1, 4, 8, 8}, true); }
Value* weight(Graph& g, const std::string& name) {
  Tensor w(DType::kFloat32, {4, 4, 3, 3});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = 0.01f * static_cast<float>(i % 17 - 8);
  return g.addConstant(name, w);
}
Attributes pads1() {
  Attributes a;
  a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  return a;
}
}  // namespace

TEST_CASE("a Conv absorbs its residual Add and Relu; MaxPool shares its input's scale") {
  Graph g;
  g.opsetVersion = 13;
  Value* x = act(g, "x");
  g.mutableInputs().push_back(x);
  Value* c1 = act(g, "c1");
  Value* r1 = act(g, "r1");
  g.addNode("Conv", "conv1", {x, weight(g, "w1")}, {c1}, pads1());
  g.addNode("Relu", "relu1", {c1}, {r1});
  Value* c2 = act(g, "c2");
  Value* sum = act(g, "sum");
  Value* r2 = act(g, "r2");
  g.addNode("Conv", "conv2", {r1, weight(g, "w2")}, {c2}, pads1());
  g.addNode("Add", "add", {c2, r1}, {sum});
  g.addNode("Relu", "relu2", {sum}, {r2});
  Value* pooled = g.addValue("pooled", DType::kFloat32, {1, 4, 4, 4}, true);
  Attributes pool;
  pool.set("kernel_shape", Attribute::ofInts({2, 2}));
  pool.set("strides", Attribute::ofInts({2, 2}));
  g.addNode("MaxPool", "pool", {r2}, {pooled}, pool);
  g.mutableOutputs().push_back(pooled);

  auto plan = planQuantization(g, QConfig::defaults());
  REQUIRE(plan.isOk());
  REQUIRE(plan->units.size() == 2);
  CHECK(plan->units[0].nodes.size() == 2);  // conv1 + relu1
  CHECK(plan->units[0].output == r1);
  CHECK(plan->units[1].residualAdd != nullptr);
  CHECK(plan->units[1].activation != nullptr);
  CHECK(plan->units[1].output == r2);
  // Points: input x, w1, r1, w2, r2 (no point between a conv and its Add/Relu).
  std::vector<std::string> names;
  for (const auto& p : plan->points) names.push_back(p.value->name);
  CHECK(names == std::vector<std::string>{"x", "w1", "r1", "w2", "r2"});
  CHECK(plan->pointFor(c2) == nullptr);
  CHECK(plan->pointFor(sum) == nullptr);
  REQUIRE(plan->pointFor(pooled) != nullptr);
  CHECK(plan->pointFor(pooled)->value == r2);
  // The default qconfig: input fixed at 1/128, weights per-channel along axis 0.
  CHECK(plan->points[0].spec.fixedScale.value() == 1.0 / 128);
  CHECK(plan->points[1].spec.perChannel);
  CHECK(plan->points[1].channelAxis == 0);
}

TEST_CASE("ops without an integer form are refused by name") {
  Graph g;
  Value* x = act(g, "x");
  Value* y = act(g, "y");
  Value* z = act(g, "z");
  g.mutableInputs().push_back(x);
  g.mutableInputs().push_back(y);
  g.addNode("Div", "divide", {x, y}, {z});
  g.mutableOutputs().push_back(z);
  auto plan = planQuantization(g, QConfig::defaults());
  REQUIRE_FALSE(plan.isOk());
  CHECK(plan.status().code() == ErrorCode::kUnsupported);
  CHECK(plan.status().message().find("Div 'divide'") != std::string::npos);
}

TEST_CASE("the fmnist model plans four units, one per Conv/Gemm") {
  auto g = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx");
  REQUIRE(g.isOk());
  REQUIRE(prepareForQuantization(**g).isOk());
  auto plan = planQuantization(**g, QConfig::defaults());
  REQUIRE(plan.isOk());
  CHECK(plan->units.size() == 4);  // 3 Conv(+Relu) and the Gemm
  int weights = 0, activations = 0;
  for (const auto& p : plan->points) (p.kind == QuantPoint::Kind::kWeight ? weights : activations)++;
  CHECK(weights == 4);
  // input, 3 conv units, GlobalAveragePool (requant), Gemm output; MaxPool and Flatten share.
  CHECK(activations == 6);
}

TEST_CASE("quantizeValue rounds half to even and saturates") {
  CHECK(quantizeValue(0.5f, 1.0f, 0, -128, 127) == 0);
  CHECK(quantizeValue(1.5f, 1.0f, 0, -128, 127) == 2);
  CHECK(quantizeValue(-2.5f, 1.0f, 0, -128, 127) == -2);
  CHECK(quantizeValue(1000.0f, 1.0f, 0, -128, 127) == 127);
  CHECK(quantizeValue(-1000.0f, 1.0f, 0, -128, 127) == -128);
  CHECK(quantizeValue(0.25f, 0.5f, 3, -128, 127) == 3);  // 0.25 / 0.5 = 0.5 -> 0 (even), + 3
}
