// The whole import pipeline (simplify=true: passes, then shape inference) on the real models,
// and the export of its result.
#include <catch2/catch.hpp>

#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "onnx_test_util.h"

using namespace hq;
using hq::test::countOps;
using hq::test::irData;
using hq::test::projectModel;
using hq::test::sharedModel;

namespace {
std::unique_ptr<Graph> loadSimplified(const std::string& path) {
  auto r = importOnnxFile(path);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(r).value();
}

/// Every value has a dtype and a shape; only the batch dim (dim 0) may be unknown.
void checkAllTyped(const Graph& g) {
  for (const Value* v : g.values()) {
    INFO("value " << v->name);
    CHECK(v->dtype != DType::kUndefined);
    REQUIRE(v->hasShape);
    for (size_t d = 0; d < v->shape.size(); ++d) {
      if (d > 0 || v->isConstant()) CHECK(v->shape[d] >= 0);
    }
  }
}

/// The simplified graph exports, passes the checker and re-imports to the same graph.
void checkExports(const Graph& g) {
  auto bytes = exportOnnxBytes(g);
  INFO(bytes.status().message());
  REQUIRE(bytes.isOk());
  Status s = checkOnnxBytes(*bytes, "simplified");
  INFO(s.message());
  REQUIRE(s.isOk());
  auto back = importOnnxBytes(*bytes, "simplified", ImportOptions{false});
  REQUIRE(back.isOk());
  hq::test::checkSameGraph(g, **back);
}
}  // namespace

TEST_CASE("pipeline: fmnist_cnn.float.onnx gets every shape", "[onnx][pipeline]") {
  auto g = loadSimplified(projectModel("fmnist_cnn.float.onnx"));
  CHECK(g->nodeCount() == 11);
  checkAllTyped(*g);
  CHECK(g->findValue("/features/features.0/features.0.0/Conv_output_0")->shape ==
        Shape{-1, 16, 28, 28});
  CHECK(g->findValue("/features/features.1/MaxPool_output_0")->shape == Shape{-1, 16, 14, 14});
  CHECK(g->findValue("/features/features.3/MaxPool_output_0")->shape == Shape{-1, 32, 7, 7});
  CHECK(g->findValue("/pool/GlobalAveragePool_output_0")->shape == Shape{-1, 64, 1, 1});
  CHECK(g->findValue("/flatten/Flatten_output_0")->shape == Shape{-1, 64});
  CHECK(g->outputs()[0]->shape == Shape{-1, 10});
  CHECK(g->outputs()[0]->dimParams == std::vector<std::string>{"batch", ""});
  checkExports(*g);
}

TEST_CASE("pipeline: fmnist_cnn.float-bn.onnx has inference BN with one output",
          "[onnx][pipeline]") {
  auto g = loadSimplified(projectModel("fmnist_cnn.float-bn.onnx"));
  CHECK(g->nodeCount() == 14);
  CHECK(countOps(*g, "Dropout") == 0);
  CHECK(countOps(*g, "Identity") == 0);
  REQUIRE(countOps(*g, "BatchNormalization") == 3);
  for (const Node* n : g->nodes()) {
    if (n->opType != "BatchNormalization") continue;
    CHECK(n->outputs.size() == 1);
    CHECK_FALSE(n->attrs.has("training_mode"));
  }
  checkAllTyped(*g);
  CHECK(g->findValue("/features/features.4/features.4.1/BatchNormalization_output_0")->shape ==
        Shape{-1, 64, 7, 7});
  CHECK(g->outputs()[0]->shape == Shape{-1, 10});
  checkExports(*g);
}

TEST_CASE("pipeline: mobilenetv2_32 models", "[onnx][pipeline]") {
  for (const char* name : {"mobilenetv2_32.float.onnx", "mobilenetv2_32.float-bn.onnx"}) {
    std::string path = sharedModel(name);
    if (path.empty()) {
      WARN(name << " not found in HQ_SHARED_MODELS; skipped");
      continue;
    }
    INFO(name);
    auto g = loadSimplified(path);
    CHECK(countOps(*g, "Dropout") == 0);
    CHECK(countOps(*g, "Constant") == 0);
    CHECK(countOps(*g, "Conv") == 52);
    checkAllTyped(*g);
    CHECK(g->findValue("/features/features.0/features.0.2/Clip_output_0")->shape ==
          Shape{-1, 32, 16, 16});
    CHECK(g->findValue("/Flatten_output_0")->shape == Shape{-1, 1280});
    CHECK(g->outputs()[0]->shape == Shape{-1, 10});
    checkExports(*g);
  }
}

TEST_CASE("pipeline: the reshape chain ends as a typed Reshape", "[onnx][pipeline]") {
  auto g = loadSimplified(irData("reshape_chain.onnx"));
  REQUIRE(g->nodeCount() == 1);
  CHECK(g->nodes()[0]->inputs[1]->constant.toInt64() == std::vector<int64_t>{0, -1});
  CHECK(g->outputs()[0]->shape == Shape{-1, 16});
  checkExports(*g);
}
