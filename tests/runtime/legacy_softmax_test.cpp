// Softmax before opset 13 coerces the input to 2-D at `axis` (default 1); the importer
// rewrites it so hq's opset-13 kernel computes the old meaning.
#include <catch2/catch.hpp>

#include <cmath>

#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "runtime/executor.h"

using namespace hq;

namespace {
std::unique_ptr<Graph> softmaxModel(int64_t opset, const Attributes& attrs) {
  auto g = std::make_unique<Graph>();
  g->name = "softmax";
  g->opsetVersion = opset;
  Value* x = g->addValue("x", DType::kFloat32, {2, 3, 4}, true);
  Value* y = g->addValue("y", DType::kFloat32, {2, 3, 4}, true);
  g->mutableInputs().push_back(x);
  g->mutableOutputs().push_back(y);
  g->addNode("Softmax", "sm", {x}, {y}, attrs);
  return g;
}

std::vector<float> run(const Graph& model) {
  auto bytes = exportOnnxBytes(model);
  REQUIRE(bytes.isOk());
  auto g = importOnnxBytes(*bytes, "softmax.onnx");
  REQUIRE(g.isOk());
  auto ex = Executor::create(**g);
  REQUIRE(ex.isOk());
  Tensor x(DType::kFloat32, {2, 3, 4});
  for (int i = 0; i < 24; ++i) x.data<float>()[i] = 0.1f * static_cast<float>((i * 7) % 11);
  auto out = (*ex)->run({x});
  REQUIRE(out.isOk());
  const float* p = (*out)[0].data<float>();
  return std::vector<float>(p, p + 24);
}

/// Softmax over `group` consecutive elements (the flattened trailing dims).
std::vector<float> expected(int group) {
  std::vector<float> x(24), y(24);
  for (int i = 0; i < 24; ++i) x[i] = 0.1f * static_cast<float>((i * 7) % 11);
  for (int start = 0; start < 24; start += group) {
    double sum = 0;
    for (int i = start; i < start + group; ++i) sum += std::exp(static_cast<double>(x[i]));
    for (int i = start; i < start + group; ++i) y[i] = static_cast<float>(std::exp(x[i]) / sum);
  }
  return y;
}
}  // namespace

TEST_CASE("Softmax of opset 11 with the default axis spans all trailing dims") {
  auto got = run(*softmaxModel(11, {}));
  auto want = expected(12);  // axis 1: softmax over 3*4 elements per batch item
  for (int i = 0; i < 24; ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-5));
}

TEST_CASE("Softmax of opset 11 on the last axis and of opset 13 reduce one axis") {
  Attributes last;
  last.set("axis", Attribute::ofInt(2));
  auto got11 = run(*softmaxModel(11, last));
  auto got13 = run(*softmaxModel(13, {}));  // opset 13 default axis -1
  auto want = expected(4);
  for (int i = 0; i < 24; ++i) {
    CHECK(got11[i] == Approx(want[i]).epsilon(1e-5));
    CHECK(got13[i] == Approx(want[i]).epsilon(1e-5));
  }
}
