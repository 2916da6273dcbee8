// global_pool: a full-extent MaxPool/AveragePool (adaptive pooling to 1x1) becomes the
// global pool; pools that are not global stay.
#include <catch2/catch.hpp>

#include "ir/op_registry.h"
#include "ir/passes/passes.h"

using namespace hq;

namespace {

/// x [N, 4, 7, 5] -> `op` with `attrs` -> y (a graph output); shapes left to inference.
std::unique_ptr<Graph> poolGraph(const std::string& op, Attributes attrs, bool indices = false) {
  auto g = std::make_unique<Graph>();
  g->opsetVersion = 13;
  Value* x = g->addValue("x", DType::kFloat32, {-1, 4, 7, 5}, true);
  x->dimParams = {"N", "", "", ""};
  g->mutableInputs().push_back(x);
  Value* y = g->addValue("y", DType::kFloat32);
  std::vector<Value*> outs = {y};
  if (indices) outs.push_back(g->addValue("idx", DType::kInt64));
  g->addNode(op, "pool", {x}, outs, std::move(attrs));
  g->mutableOutputs() = {y};
  if (indices) g->mutableOutputs().push_back(outs[1]);
  return g;
}

Attributes window(std::vector<int64_t> kernel, std::vector<int64_t> strides,
                  std::vector<int64_t> pads = {0, 0, 0, 0}) {
  Attributes a;
  a.set("kernel_shape", Attribute::ofInts(std::move(kernel)));
  a.set("strides", Attribute::ofInts(std::move(strides)));
  a.set("pads", Attribute::ofInts(std::move(pads)));
  return a;
}

}  // namespace

TEST_CASE("global_pool: adaptive_max_pool2d(x, 1) and adaptive_avg_pool2d(x, 1) exports",
          "[passes]") {
  for (const char* op : {"MaxPool", "AveragePool"}) {
    auto g = poolGraph(op, window({7, 5}, {7, 5}));
    auto n = runPass("global_pool", *g);
    REQUIRE(n.isOk());
    CHECK(*n == 1);
    const Node* pool = g->findNode("pool");
    REQUIRE(pool);
    CHECK(pool->opType == (std::string(op) == "MaxPool" ? "GlobalMaxPool" : "GlobalAveragePool"));
    CHECK(pool->attrs.all().empty());
    CHECK(pool->outputs.size() == 1);
    CHECK(pool->outputs[0]->name == "y");
    REQUIRE(inferShapes(*g).isOk());
    CHECK(g->outputs()[0]->shape == Shape{-1, 4, 1, 1});
  }
}

TEST_CASE("global_pool leaves windows that are not the whole input", "[passes]") {
  SECTION("smaller kernel") {
    auto g = poolGraph("MaxPool", window({7, 4}, {7, 4}));
    CHECK(*runPass("global_pool", *g) == 0);
    CHECK(g->findNode("pool")->opType == "MaxPool");
  }
  SECTION("padding") {
    auto g = poolGraph("AveragePool", window({7, 5}, {1, 1}, {1, 0, 1, 0}));
    CHECK(*runPass("global_pool", *g) == 0);
    CHECK(g->findNode("pool")->opType == "AveragePool");
  }
  SECTION("MaxPool whose Indices are read") {
    auto g = poolGraph("MaxPool", window({7, 5}, {1, 1}), /*indices=*/true);
    CHECK(*runPass("global_pool", *g) == 0);
    CHECK(g->findNode("pool")->opType == "MaxPool");
  }
}
