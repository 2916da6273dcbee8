// Import-time passes: the structure before and after each rewrite.
#include <catch2/catch.hpp>

#include "ir/onnx_import.h"
#include "ir/passes/passes.h"
#include "onnx_test_util.h"

using namespace hq;
using hq::test::countOps;
using hq::test::irData;
using hq::test::projectModel;
using hq::test::sharedModel;

namespace {
const ImportOptions kRaw{/*simplify=*/false};

std::unique_ptr<Graph> load(const std::string& path) {
  auto r = importOnnxFile(path, kRaw);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(r).value();
}
}  // namespace

TEST_CASE("passes.def lists each pass once with its opt level", "[passes]") {
  std::vector<std::string> names;
  for (const PassInfo& p : allPasses()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"eliminate_identity", "batchnorm_inference",
                                          "reshape_shape_chain", "global_pool", "remove_dead"});
  REQUIRE(findPass("remove_dead"));
  CHECK(findPass("remove_dead")->optLevel == 1);
  CHECK(findPass("nope") == nullptr);
  Graph g;
  auto r = runPass("nope", g);
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message() == "no graph pass is called 'nope'");
}

TEST_CASE("batchnorm_inference: training-mode BN of fmnist_cnn.float-bn gets one output",
          "[passes]") {
  auto g = load(projectModel("fmnist_cnn.float-bn.onnx"));
  size_t values_before = g->values().size();
  std::map<std::string, size_t> counts;
  REQUIRE(runImportPasses(*g, 1, &counts).isOk());
  CHECK(counts["batchnorm_inference"] == 3);
  CHECK(counts["eliminate_identity"] == 0);
  CHECK(counts["reshape_shape_chain"] == 0);
  CHECK(countOps(*g, "BatchNormalization") == 3);
  CHECK(countOps(*g, "Dropout") == 0);
  CHECK(countOps(*g, "Identity") == 0);
  CHECK(g->nodeCount() == 14);
  for (const Node* n : g->nodes()) {
    if (n->opType != "BatchNormalization") continue;
    CHECK(n->outputs.size() == 1);
    CHECK_FALSE(n->attrs.has("training_mode"));
    CHECK(n->inputs[3]->name.find("running_mean") != std::string::npos);
  }
  // The 6 running-stat outputs are gone; nothing else.
  CHECK(g->values().size() == values_before - 6);
  CHECK(g->findValue("/features/features.0/features.0.1/BatchNormalization_output_1") == nullptr);
}

TEST_CASE("batchnorm_inference rejects a BN whose batch statistics are used", "[passes]") {
  auto g = load(irData("bn_stats_used.onnx"));
  Status s = runImportPasses(*g);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.code() == ErrorCode::kUnsupported);
  CHECK_THAT(s.message(), Catch::StartsWith("node BatchNormalization 'bn': training-mode output 1 "
                                            "('rm') is a graph output"));
  auto full = importOnnxFile(irData("bn_stats_used.onnx"));
  REQUIRE_FALSE(full.isOk());
  CHECK_THAT(full.status().message(),
             Catch::Contains("bn_stats_used.onnx: node BatchNormalization 'bn'"));
}

TEST_CASE("eliminate_identity removes Identity and Dropout, keeping output names", "[passes]") {
  auto g = load(irData("identity_dropout.onnx"));
  REQUIRE(g->nodeCount() == 3);  // Identity, Relu, Dropout (the Constants are constants)
  auto n = runPass("eliminate_identity", *g);
  REQUIRE(n.isOk());
  CHECK(*n == 2);
  REQUIRE(g->nodeCount() == 1);
  const Node* relu = g->nodes()[0];
  CHECK(relu->opType == "Relu");
  CHECK(relu->inputs[0] == g->inputs()[0]);  // Identity bypassed
  REQUIRE(g->outputs().size() == 1);
  CHECK(g->outputs()[0]->name == "y");  // Relu now produces the graph output itself
  CHECK(relu->outputs[0] == g->outputs()[0]);
  CHECK(g->outputs()[0]->producer == relu);
  CHECK(g->findValue("mask") == nullptr);
  REQUIRE(runPass("remove_dead", *g).isOk());
  CHECK(g->constants().empty());  // ratio and training_mode constants were only Dropout's
}

TEST_CASE("eliminate_identity keeps a Dropout whose mask is used", "[passes]") {
  auto g = load(irData("dropout_mask_used.onnx"));
  auto n = runPass("eliminate_identity", *g);
  REQUIRE(n.isOk());
  CHECK(*n == 1);  // only the Identity
  CHECK(countOps(*g, "Dropout") == 1);
  CHECK(countOps(*g, "Identity") == 0);
}

TEST_CASE("mobilenetv2_32.float-bn: Dropout and training-mode BN simplified", "[passes]") {
  std::string path = sharedModel("mobilenetv2_32.float-bn.onnx");
  if (path.empty()) {
    WARN("mobilenetv2_32.float-bn.onnx not found in HQ_SHARED_MODELS; skipped");
    return;
  }
  auto g = load(path);
  CHECK(countOps(*g, "Dropout") == 1);
  std::map<std::string, size_t> counts;
  REQUIRE(runImportPasses(*g, 1, &counts).isOk());
  CHECK(counts["eliminate_identity"] == 1);
  CHECK(counts["batchnorm_inference"] == 52);
  CHECK(countOps(*g, "Dropout") == 0);
  CHECK(g->nodeCount() == 52 + 52 + 35 + 10 + 3);
  const Node* gemm = g->nodes().back();
  REQUIRE(gemm->opType == "Gemm");
  CHECK(gemm->inputs[0]->name == "/Flatten_output_0");
  CHECK(g->findValue("/classifier/classifier.0/Constant_output_0") == nullptr);  // ratio: dead
}

TEST_CASE("reshape_shape_chain: x.view(x.size(0), -1) becomes Reshape(x, [0, -1])", "[passes]") {
  auto g = load(irData("reshape_chain.onnx"));
  REQUIRE(g->nodeCount() == 5);  // Shape, Gather, Unsqueeze, Concat, Reshape
  std::map<std::string, size_t> counts;
  REQUIRE(runImportPasses(*g, 1, &counts).isOk());
  CHECK(counts["reshape_shape_chain"] == 1);
  REQUIRE(g->nodeCount() == 1);
  const Node* reshape = g->nodes()[0];
  CHECK(reshape->opType == "Reshape");
  CHECK(reshape->inputs[0] == g->inputs()[0]);
  REQUIRE(reshape->inputs[1]->isConstant());
  const Tensor& shape = reshape->inputs[1]->constant;
  CHECK(shape.dtype() == DType::kInt64);
  CHECK(shape.shape() == Shape{2});
  CHECK(shape.toInt64() == std::vector<int64_t>{0, -1});
  CHECK(g->constants().size() == 1);  // the chain's constants are dead and gone
  CHECK(g->outputs()[0]->name == "y");
}

TEST_CASE("reshape_shape_chain leaves a chain that gathers another dim", "[passes]") {
  auto g = load(irData("reshape_chain_dim1.onnx"));
  auto n = runPass("reshape_shape_chain", *g);
  REQUIRE(n.isOk());
  CHECK(*n == 0);
  CHECK(g->nodeCount() == 5);
  CHECK_FALSE(g->nodes().back()->inputs[1]->isConstant());
}

TEST_CASE("reshape_shape_chain handles opset-11 Unsqueeze (axes attribute)", "[passes]") {
  // Built in the IR: Shape -> Gather(scalar 0) -> Unsqueeze[axes=[0]] -> Concat(., [8]) ->
  // Reshape.
  Graph g;
  g.opsetVersion = 11;
  Value* x = g.addValue("x", DType::kFloat32, {-1, 2, 4}, true);
  g.mutableInputs().push_back(x);
  Value* shp = g.addValue("shp");
  Value* gat = g.addValue("gat");
  Value* uns = g.addValue("uns");
  Value* cat = g.addValue("cat");
  Value* y = g.addValue("y", DType::kFloat32, {-1, 8}, true);
  g.addNode("Shape", "shape", {x}, {shp});
  g.addNode("Gather", "gather", {shp, g.addConstant("zero", Tensor::scalar<int64_t>(0))}, {gat},
            {});
  Attributes ax;
  ax.set("axes", Attribute::ofInts({0}));
  g.addNode("Unsqueeze", "unsq", {gat}, {uns}, ax);
  Attributes cax;
  cax.set("axis", Attribute::ofInt(0));
  g.addNode("Concat", "concat",
            {uns, g.addConstant("eight", Tensor::fromVector<int64_t>({1}, {8}))}, {cat}, cax);
  g.addNode("Reshape", "reshape", {x, cat}, {y});
  g.mutableOutputs().push_back(y);
  REQUIRE(g.verify().isOk());
  REQUIRE(runImportPasses(g).isOk());
  REQUIRE(g.nodeCount() == 1);
  CHECK(g.nodes()[0]->inputs[1]->constant.toInt64() == std::vector<int64_t>{0, 8});
  CHECK(g.findValue("zero") == nullptr);
}
