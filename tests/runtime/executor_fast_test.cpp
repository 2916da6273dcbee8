// The executor's fast path (fusion passes, oneDNN kernels, blocked layouts kept between
// kernels, aliased views, in-place residual sums) against its reference-only path.
#include <catch2/catch.hpp>

#include <fstream>

#include "data/npy.h"
#include "dnnl_test_util.h"
#include "ir/onnx_import.h"
#include "runtime/executor.h"

namespace hq {
namespace {

using testing::maxRelDiff;
using testing::randomTensor;

bool fileExists(const std::string& p) { return std::ifstream(p).good(); }

Attributes convAttrs(int64_t pad, int64_t group = 1) {
  Attributes a;
  a.set("pads", Attribute::ofInts({pad, pad, pad, pad}));
  if (group > 1) a.set("group", Attribute::ofInt(group));
  return a;
}

// x[N,8,10,10] -> Conv -> BN -> Relu (r1) -> Conv -> Add(r1) -> Clip(0,6) -> MaxPool
// -> depthwise Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> logits[N,10]
std::unique_ptr<Graph> residualNet() {
  auto g = std::make_unique<Graph>();
  uint32_t seed = 100;
  Value* x = g->addValue("x", DType::kFloat32, {-1, 8, 10, 10}, true);
  g->mutableInputs().push_back(x);
  auto c = [&](const std::string& n, Shape s, float lo = -0.5f, float hi = 0.5f) {
    return g->addConstant(n, randomTensor(s, seed++, lo, hi));
  };
  auto v = [&](const std::string& n) { return g->addValue(n); };
  Value *c1 = v("c1"), *bn = v("bn"), *r1 = v("r1"), *c2 = v("c2"), *sum = v("sum");
  Value *clip = v("clip"), *pool = v("pool"), *dw = v("dw"), *r2 = v("r2"), *gap = v("gap");
  Value *flat = v("flat"), *logits = v("logits");
  g->addNode("Conv", "conv1", {x, c("w1", {16, 8, 3, 3}), c("b1", {16})}, {c1}, convAttrs(1));
  g->addNode("BatchNormalization", "bn1",
             {c1, c("gamma", {16}, 0.5f, 1.5f), c("beta", {16}), c("mean", {16}),
              c("var", {16}, 0.5f, 2.0f)},
             {bn});
  g->addNode("Relu", "relu1", {bn}, {r1});
  g->addNode("Conv", "conv2", {r1, c("w2", {16, 16, 3, 3}, -0.2f, 0.2f), c("b2", {16})}, {c2},
             convAttrs(1));
  g->addNode("Add", "add", {r1, c2}, {sum});
  g->addNode("Clip", "clip", {sum, g->addConstant("lo", Tensor::scalar<float>(0.0f)),
                               g->addConstant("hi", Tensor::scalar<float>(6.0f))},
             {clip});
  Attributes pa;
  pa.set("kernel_shape", Attribute::ofInts({2, 2}));
  pa.set("strides", Attribute::ofInts({2, 2}));
  g->addNode("MaxPool", "pool", {clip}, {pool}, pa);
  g->addNode("Conv", "dw", {pool, c("wd", {16, 1, 3, 3}), c("bd", {16})}, {dw}, convAttrs(1, 16));
  g->addNode("Relu", "relu2", {dw}, {r2});
  g->addNode("GlobalAveragePool", "gap", {r2}, {gap});
  g->addNode("Flatten", "flatten", {gap}, {flat});
  Attributes ga;
  ga.set("transB", Attribute::ofInt(1));
  g->addNode("Gemm", "fc", {flat, c("wf", {10, 16}), c("bf", {10})}, {logits}, ga);
  g->mutableOutputs().push_back(logits);
  return g;
}

size_t countKernel(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<size_t>(std::count(names.begin(), names.end(), name));
}

}  // namespace

TEST_CASE("fast executor matches the reference executor on a residual net", "[executor][dnnl]") {
  auto g = residualNet();
  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  auto ref = Executor::create(*g, ref_opts);
  auto fast = Executor::create(*g, {});
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  for (int64_t batch : {3, 5, 3}) {  // two plans, the first one reused
    Tensor x = randomTensor({batch, 8, 10, 10}, static_cast<uint32_t>(batch), -2, 2);
    auto want = (*ref)->run({x});
    auto got = (*fast)->run({x});
    INFO(got.status().message());
    REQUIRE(want.isOk());
    REQUIRE(got.isOk());
    CHECK((*got)[0].shape() == Shape{batch, 10});
    CHECK(maxRelDiff((*got)[0], (*want)[0]) <= 1e-5);
  }
  std::vector<std::string> names = (*fast)->kernelNames();
  // BN folded, Relu fused; Add + Clip fused as sum + Clip; depthwise + Relu; Flatten a view.
  CHECK(names.size() == 7);
  CHECK(countKernel(names, "dnnl:conv+Relu") == 2);
  CHECK(countKernel(names, "dnnl:conv+sum+Clip") == 1);
  CHECK(countKernel(names, "dnnl:pool") == 2);
  CHECK(countKernel(names, "view") == 1);
  CHECK(countKernel(names, "dnnl:gemm") == 1);
  for (const std::string& n : (*ref)->kernelNames()) CHECK(n == "reference");
  CHECK((*ref)->kernelNames().size() == 12);
  // The user's graph is untouched.
  CHECK(g->nodeCount() == 12);
}

TEST_CASE("kept values stop fusion there and come back in the plain layout", "[executor][dnnl]") {
  auto g = residualNet();
  ExecutorOptions ref_opts, fast_opts;
  ref_opts.kernels.referenceOnly = true;
  ref_opts.keep = fast_opts.keep = {"r1", "pool", "flat"};
  auto ref = Executor::create(*g, ref_opts);
  auto fast = Executor::create(*g, fast_opts);
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  Tensor x = randomTensor({4, 8, 10, 10}, 7, -2, 2);
  auto want = (*ref)->run({x});
  auto got = (*fast)->run({x});
  REQUIRE(want.isOk());
  REQUIRE(got.isOk());
  CHECK(maxRelDiff((*got)[0], (*want)[0]) <= 1e-5);
  for (const char* name : {"r1", "pool", "flat"}) {
    INFO(name);
    REQUIRE((*fast)->kept().count(name) == 1);
    CHECK(maxRelDiff((*fast)->kept().at(name), (*ref)->kept().at(name)) <= 1e-5);
  }
  std::vector<std::string> names = (*fast)->kernelNames();
  // r1 kept: conv1 + Relu still fuse (r1 is their output), but the Add cannot take r1
  // in place; Flatten kept: a copy, not a view.
  CHECK(countKernel(names, "view") == 0);
  CHECK(countKernel(names, "dnnl:conv+sum+Clip") == 1);
}

TEST_CASE("fmnist_cnn: fast path matches the reference path and PyTorch", "[executor][dnnl]") {
  std::string model = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx";
  if (!fileExists(model)) {
    WARN("skipped: " << model << " not found");
    return;
  }
  auto g = importOnnxFile(model);
  INFO(g.status().message());
  REQUIRE(g.isOk());
  auto input = readNpy(std::string(HQ_TEST_DATA) + "/runtime/fmnist_cnn_pytorch_input.npy");
  auto logits = readNpy(std::string(HQ_TEST_DATA) + "/runtime/fmnist_cnn_pytorch_logits.npy");
  REQUIRE(input.isOk());
  REQUIRE(logits.isOk());
  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  auto ref = Executor::create(**g, ref_opts);
  auto fast = Executor::create(**g, {});
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  for (const Tensor& x : {*input, randomTensor({16, 1, 28, 28}, 9, -1, 1)}) {
    auto want = (*ref)->run({x});
    auto got = (*fast)->run({x});
    REQUIRE(want.isOk());
    REQUIRE(got.isOk());
    CHECK(maxRelDiff((*got)[0], (*want)[0]) <= 1e-5);
  }
  // PyTorch's logits for the same 8 real test images (exported with the model).
  auto got = (*fast)->run({*input});
  REQUIRE(got.isOk());
  CHECK(maxRelDiff((*got)[0], *logits) <= 1e-4);
  std::vector<std::string> names = (*fast)->kernelNames();
  CHECK(countKernel(names, "dnnl:conv+Relu") == 3);
  CHECK(countKernel(names, "reference") == 0);
}

TEST_CASE("mobilenetv2_32: fast path matches the reference path", "[executor][dnnl]") {
  std::string model = std::string(HQ_SHARED_MODELS) + "/mobilenetv2_32.float.onnx";
  if (!fileExists(model)) {
    WARN("skipped: " << model << " not found");
    return;
  }
  auto g = importOnnxFile(model);
  REQUIRE(g.isOk());
  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  auto ref = Executor::create(**g, ref_opts);
  auto fast = Executor::create(**g, {});
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  Tensor x = randomTensor({2, 3, 32, 32}, 21, -1, 1);
  auto want = (*ref)->run({x});
  auto got = (*fast)->run({x});
  REQUIRE(want.isOk());
  REQUIRE(got.isOk());
  CHECK(maxRelDiff((*got)[0], (*want)[0]) <= 1e-4);
  std::vector<std::string> names = (*fast)->kernelNames();
  CHECK(countKernel(names, "dnnl:conv+Clip") == 35);
  CHECK(countKernel(names, "dnnl:conv+sum") == 10);
  CHECK(countKernel(names, "reference") == 0);
}

}  // namespace hq
