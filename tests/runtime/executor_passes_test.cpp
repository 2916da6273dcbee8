// The executor's fusion passes: structure after each rewrite, and outputs before/after
// computed with reference kernels only (hq.FusedConv through refFusedConv).
#include <catch2/catch.hpp>

#include <unordered_map>

#include "dnnl_test_util.h"
#include "runtime/passes/fused_conv.h"
#include "runtime/passes/passes.h"

namespace hq {
namespace {

using testing::maxRelDiff;
using testing::randomTensor;

// Evaluate a graph node by node with reference kernels (shapes inferred on the way).
std::vector<Tensor> evalReference(const Graph& g, const std::vector<Tensor>& inputs) {
  std::unordered_map<const Value*, Tensor> env;
  for (size_t i = 0; i < inputs.size(); ++i) env[g.inputs()[i]] = inputs[i];
  for (const Value* v : g.values()) {
    if (v->isConstant()) env[v] = v->constant;
  }
  for (const Node* n : g.nodes()) {
    std::vector<const Tensor*> ins;
    for (const Value* v : n->inputs) ins.push_back(v ? &env.at(v) : nullptr);
    if (passes::isFusedConv(*n)) {
      Node conv = *n;
      conv.opType = "Conv";
      conv.domain = "";
      Value tmp;
      conv.outputs = {&tmp};
      auto shape_only = runReference(conv, {ins[0], ins[1], ins.size() > 2 ? ins[2] : nullptr});
      REQUIRE(shape_only.isOk());
      Tensor y(DType::kFloat32, (*shape_only)[0].shape());
      KernelCall call{*n, ins, {&y}};
      REQUIRE(passes::refFusedConv(call).isOk());
      env[n->outputs[0]] = y;
      continue;
    }
    auto outs = runReference(*n, ins);
    INFO(n->describe() << ": " << outs.status().message());
    REQUIRE(outs.isOk());
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      if (n->outputs[i]) env[n->outputs[i]] = (*outs)[i];
    }
  }
  std::vector<Tensor> out;
  for (const Value* o : g.outputs()) out.push_back(env.at(o));
  return out;
}

size_t count(const Graph& g, const std::string& op) {
  size_t k = 0;
  for (const Node* n : g.nodes()) k += n->opType == op;
  return k;
}

struct Net {
  std::unique_ptr<Graph> g = std::make_unique<Graph>();
  uint32_t seed = 1;
  Value* input(const std::string& name, Shape s) {
    Value* v = g->addValue(name, DType::kFloat32, s, true);
    g->mutableInputs().push_back(v);
    return v;
  }
  Value* c(const std::string& name, Shape s, float lo = -0.5f, float hi = 0.5f) {
    return g->addConstant(name, randomTensor(s, seed++, lo, hi));
  }
  Value* node(const std::string& op, std::vector<Value*> ins, Attributes a = {}) {
    Value* out = g->addValue(op + std::to_string(g->nodeCount()), DType::kFloat32);
    g->addNode(op, op + "_" + std::to_string(g->nodeCount()), ins, {out}, std::move(a));
    return out;
  }
  Value* conv(Value* x, int64_t cin, int64_t cout) {
    Attributes a;
    a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
    return node("Conv", {x, c("w", {cout, cin, 3, 3}), c("b", {cout})}, a);
  }
};

Status inferAll(Graph& g) { return inferShapes(g); }

}  // namespace

TEST_CASE("BatchNormalization folds into the preceding Conv", "[passes]") {
  Net n;
  Value* x = n.input("x", {2, 3, 6, 6});
  Value* y = n.conv(x, 3, 4);
  y = n.node("BatchNormalization", {y, n.c("g", {4}, 0.5f, 2.0f), n.c("be", {4}), n.c("m", {4}),
                                    n.c("v", {4}, 0.1f, 3.0f)});
  n.g->mutableOutputs().push_back(y);
  REQUIRE(inferAll(*n.g).isOk());
  Tensor xin = randomTensor({2, 3, 6, 6}, 77, -2, 2);
  std::vector<Tensor> before = evalReference(*n.g, {xin});
  Tensor w_shared = n.g->findValue("w")->constant;  // shares the buffer
  Tensor w_before = w_shared.clone();

  passes::PassContext ctx;
  auto folded = passes::foldBatchNormIntoConv(*n.g, ctx);
  REQUIRE(folded.isOk());
  CHECK(*folded == 1);
  n.g->removeDeadValues();
  REQUIRE(n.g->verify().isOk());
  CHECK(count(*n.g, "BatchNormalization") == 0);
  CHECK(count(*n.g, "Conv") == 1);
  // The original weights (possibly shared with the user's graph) are untouched.
  CHECK(w_shared.equals(w_before));
  std::vector<Tensor> after = evalReference(*n.g, {xin});
  CHECK(maxRelDiff(after[0], before[0]) <= 1e-5);
  // The folded weights differ from the originals (BN was not the identity).
  CHECK(!n.g->nodes()[0]->input(1)->constant.equals(w_before));
}

TEST_CASE("training-mode BatchNormalization is not folded", "[passes]") {
  Net n;
  Value* y = n.conv(n.input("x", {2, 3, 6, 6}), 3, 4);
  Attributes a;
  a.set("training_mode", Attribute::ofInt(1));
  y = n.node("BatchNormalization",
             {y, n.c("g", {4}), n.c("be", {4}), n.c("m", {4}), n.c("v", {4}, 0.1f, 1.0f)}, a);
  n.g->mutableOutputs().push_back(y);
  auto folded = passes::foldBatchNormIntoConv(*n.g, {});
  REQUIRE(folded.isOk());
  CHECK(*folded == 0);
  CHECK(count(*n.g, "BatchNormalization") == 1);
}

TEST_CASE("Conv + Add + Relu and Conv + Clip become FusedConv and keep outputs", "[passes]") {
  Net n;
  Value* x = n.input("x", {2, 4, 5, 5});
  Value* a = n.conv(x, 4, 4);
  Value* b = n.node("Clip", {a, n.g->addConstant("lo", Tensor::scalar<float>(0.0f)),
                             n.g->addConstant("hi", Tensor::scalar<float>(0.3f))});
  Value* c = n.conv(b, 4, 4);
  Value* s = n.node("Add", {c, x});          // residual: the graph input
  Value* r = n.node("Relu", {s});
  n.g->mutableOutputs().push_back(r);
  REQUIRE(inferAll(*n.g).isOk());
  Tensor xin = randomTensor({2, 4, 5, 5}, 5, -2, 2);
  std::vector<Tensor> before = evalReference(*n.g, {xin});

  std::vector<std::pair<std::string, int>> counts;
  REQUIRE(passes::runInferencePasses(*n.g, {}, &counts).isOk());
  REQUIRE(n.g->verify().isOk());
  CHECK(counts == std::vector<std::pair<std::string, int>>{
                      {"fold-batchnorm-into-conv", 0}, {"fuse-conv-add", 1},
                      {"fuse-conv-activation", 2}, {"fuse-quantize-dequantize", 0}});
  REQUIRE(n.g->nodeCount() == 2);
  std::vector<Node*> nodes = n.g->nodes();
  CHECK(passes::isFusedConv(*nodes[0]));
  CHECK(passes::fusedActivationOf(*nodes[0]).kind == "Clip");
  CHECK(passes::fusedActivationOf(*nodes[0]).beta == Approx(0.3f));
  CHECK(passes::isFusedConv(*nodes[1]));
  CHECK(passes::fusedActivationOf(*nodes[1]).kind == "Relu");
  REQUIRE(nodes[1]->inputs.size() == 4);
  CHECK(nodes[1]->inputs[3] == x);
  CHECK(n.g->outputs()[0] == r);  // the output value keeps its identity
  std::vector<Tensor> after = evalReference(*n.g, {xin});
  CHECK(maxRelDiff(after[0], before[0]) <= 1e-6);
}

TEST_CASE("fusion stops at values used twice, graph outputs and protected values", "[passes]") {
  SECTION("conv output read by two nodes") {
    Net n;
    Value* a = n.conv(n.input("x", {1, 2, 4, 4}), 2, 2);
    Value* r = n.node("Relu", {a});
    Value* s = n.node("Add", {a, r});
    n.g->mutableOutputs().push_back(s);
    REQUIRE(passes::runInferencePasses(*n.g, {}).isOk());
    CHECK(count(*n.g, "Conv") == 1);
    CHECK(n.g->nodeCount() == 3);
  }
  SECTION("conv output is a graph output") {
    Net n;
    Value* a = n.conv(n.input("x", {1, 2, 4, 4}), 2, 2);
    Value* r = n.node("Relu", {a});
    n.g->mutableOutputs().push_back(a);
    n.g->mutableOutputs().push_back(r);
    REQUIRE(passes::runInferencePasses(*n.g, {}).isOk());
    CHECK(count(*n.g, "Conv") == 1);
    CHECK(count(*n.g, "Relu") == 1);
  }
  SECTION("conv output protected (a kept value)") {
    Net n;
    Value* a = n.conv(n.input("x", {1, 2, 4, 4}), 2, 2);
    Value* r = n.node("Relu", {a});
    n.g->mutableOutputs().push_back(r);
    passes::PassContext ctx;
    ctx.protect.insert(a);
    REQUIRE(passes::runInferencePasses(*n.g, ctx).isOk());
    CHECK(count(*n.g, "Conv") == 1);
  }
}

}  // namespace hq
