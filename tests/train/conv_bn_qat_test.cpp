// Conv+BN QAT units (train/conv_bn_qat.h) and their helper op hq.BnFoldFactor
// (train/bn_fold_factor.h): finite differences, PyTorch's ConvBn2d QAT module (golden from
// tests/fixtures/train_convbn/gen_goldens.py), a calibrated Fashion-MNIST model, fold for export.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <tuple>

#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "runtime/passes/fake_quant.h"
#include "train/autograd.h"
#include "train/bn_fold_factor.h"
#include "train/conv_bn_qat.h"
#include "train/fixture_util.h"
#include "train/grad_check.h"

namespace hq::train {
namespace {

using testing::checkNear;
using testing::floats;

struct OneThread {
  int before = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(before); }
};

using Fixture = std::map<std::string, std::vector<float>>;

Tensor vec(const Fixture& fx, const std::string& key, Shape shape) {
  REQUIRE(fx.count(key));
  return floats(std::move(shape), fx.at(key));
}

/// The training-mode float model of the golden: x [2,2,5,5] -> Conv 'conv' (+ bias) -> BN.
std::unique_ptr<Graph> bnModel(const Fixture& fx, const std::string& tag, bool bias) {
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {2, 2, 5, 5}, true);
  g->mutableInputs().push_back(x);
  std::vector<Value*> cin = {x,
                             g->addConstant("conv.weight", vec(fx, tag + ".weight", {3, 2, 3, 3}))};
  if (bias) cin.push_back(g->addConstant("conv.bias", vec(fx, tag + ".bias", {3})));
  Value* c = g->addValue("conv_out", DType::kFloat32, {2, 3, 5, 5}, true);
  Attributes ca;
  ca.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  ca.set("kernel_shape", Attribute::ofInts({3, 3}));
  g->addNode("Conv", "conv", cin, {c}, ca);
  Value* y = g->addValue("y", DType::kFloat32, {2, 3, 5, 5}, true);
  Attributes ba;
  ba.set("epsilon", Attribute::ofFloat(1e-5f));
  ba.set("momentum", Attribute::ofFloat(0.9f));
  ba.set("training_mode", Attribute::ofInt(1));
  g->addNode("BatchNormalization", "bn",
             {c, g->addConstant("bn.weight", vec(fx, tag + ".gamma", {3})),
              g->addConstant("bn.bias", vec(fx, tag + ".beta", {3})),
              g->addConstant("bn.running_mean", vec(fx, tag + ".mean", {3})),
              g->addConstant("bn.running_var", vec(fx, tag + ".var", {3}))},
             {y}, ba);
  g->mutableOutputs().push_back(y);
  return g;
}

/// The same model as QatModel sees it after hq-calib: BN folded (running stats, double
/// factor as the fold pass), weight behind a per-channel hq.FakeQuant with the golden's scale.
std::unique_ptr<Graph> foldedQatModel(const Fixture& fx, const std::string& tag, bool bias) {
  const Tensor w = vec(fx, tag + ".weight", {3, 2, 3, 3});
  const auto& gm = fx.at(tag + ".gamma");
  const auto& bt = fx.at(tag + ".beta");
  const auto& mn = fx.at(tag + ".mean");
  const auto& vr = fx.at(tag + ".var");
  Tensor wf(DType::kFloat32, w.shape());
  Tensor bf(DType::kFloat32, {3});
  for (int64_t o = 0; o < 3; ++o) {
    const double s = gm[o] / std::sqrt(static_cast<double>(vr[o]) + 1e-5f);
    for (int64_t i = 0; i < 18; ++i) {
      wf.data<float>()[o * 18 + i] = static_cast<float>(w.data<float>()[o * 18 + i] * s);
    }
    const double b = bias ? fx.at(tag + ".bias")[o] : 0.0;
    bf.data<float>()[o] = static_cast<float>((b - mn[o]) * s + bt[o]);
  }
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {2, 2, 5, 5}, true);
  g->mutableInputs().push_back(x);
  Value* wv = g->addConstant("conv.weight_bnfolded", wf);
  Value* sc = g->addConstant("conv.weight_bnfolded_scale", vec(fx, tag + ".scale", {3}));
  Value* zp =
      g->addConstant("conv.weight_bnfolded_zero_point", Tensor::fromVector<int8_t>({3}, {0, 0, 0}));
  Value* wq = g->addValue("conv.weight_bnfolded_dequantized", DType::kFloat32, {3, 2, 3, 3}, true);
  Attributes fa;
  fa.set("axis", Attribute::ofInt(0));
  g->addNode(passes::kFakeQuant, "conv.weight_bnfolded_DequantizeLinear", {wv, sc, zp}, {wq}, fa,
             passes::kHqDomain);
  Value* y = g->addValue("y", DType::kFloat32, {2, 3, 5, 5}, true);
  Attributes ca;
  ca.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  ca.set("kernel_shape", Attribute::ofInts({3, 3}));
  g->addNode("Conv", "conv", {x, wq, g->addConstant("conv_bnfolded_bias", bf)}, {y}, ca);
  g->mutableOutputs().push_back(y);
  return g;
}

std::unique_ptr<GradGraph> makeGrad(const Graph& g, std::vector<std::string> params = {}) {
  AutogradOptions opt;
  opt.parameters = std::move(params);
  auto gg = GradGraph::create(g, opt);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  return std::move(*gg);
}

Tensor forward(GradGraph& g, const Tensor& x, bool training) {
  auto y = g.forward({x}, training);
  INFO(y.status().message());
  REQUIRE(y.isOk());
  return *y;
}

/// (node name, op, input names, output names) in node order: the structure export writes.
using Structure = std::vector<
    std::tuple<std::string, std::string, std::vector<std::string>, std::vector<std::string>>>;
Structure structureOf(const Graph& g);

std::string str(const Structure& s) {
  std::string r;
  for (const auto& [name, op, in, out] : s) {
    r += op + " '" + name + "' (";
    for (const std::string& v : in) r += v + ", ";
    r += ") -> (";
    for (const std::string& v : out) r += v + ", ";
    r += ")\n";
  }
  return r;
}

/// Structures equal (printed when they differ).
void checkSameStructure(const Graph& got, const Graph& want) {
  const std::string a = str(structureOf(got)), b = str(structureOf(want));
  CHECK(a == b);
}

Structure structureOf(const Graph& g) {
  Structure s;
  for (const Node* n : g.nodes()) {
    std::vector<std::string> in, out;
    for (const Value* v : n->inputs) in.push_back(v ? v->name : "");
    for (const Value* v : n->outputs) out.push_back(v ? v->name : "");
    s.emplace_back(n->name, n->opType, in, out);
  }
  return s;
}

std::set<std::string> constantNames(const Graph& g) {
  std::set<std::string> s;
  for (const Value* v : g.constants()) s.insert(v->name);
  return s;
}

double maxAbsDiff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    m = std::max(m, static_cast<double>(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  }
  return m;
}

TEST_CASE("conv_bn_qat: hq.BnFoldFactor values and gradient vs finite differences", "[train]") {
  Node node;
  node.name = "ff";
  node.opType = kBnFoldFactor;
  node.domain = passes::kHqDomain;
  node.attrs.set("epsilon", Attribute::ofFloat(1e-3f));
  std::mt19937 rng(3);
  Tensor gamma = testing::randomFloats({4}, -1.5f, 1.5f, rng);
  Tensor var = testing::randomFloats({4}, 0.2f, 2.0f, rng);
  const std::vector<ValueInfo> infos = {{DType::kFloat32, {4}, true, nullptr},
                                        {DType::kFloat32, {4}, true, nullptr}};
  node.outputs.assign(3, nullptr);
  std::vector<ValueInfo> outs;
  auto kernel = makeBnFoldFactorKernel(node, infos, outs);
  REQUIRE(kernel.isOk());
  REQUIRE(outs.size() == 3);
  CHECK(outs[0].shape == Shape{4, 1, 1, 1});
  CHECK(outs[1].shape == Shape{1, 4, 1, 1});
  CHECK(outs[2].shape == Shape{4});

  auto run = [&](const Tensor& g, std::vector<Tensor>& o) {
    o = {Tensor(DType::kFloat32, outs[0].shape), Tensor(DType::kFloat32, outs[1].shape),
         Tensor(DType::kFloat32, outs[2].shape)};
    KernelCall call{node, {&g, &var}, {&o[0], &o[1], &o[2]}};
    REQUIRE((*kernel)->run(call).isOk());
  };
  std::vector<Tensor> o;
  run(gamma, o);
  for (int64_t c = 0; c < 4; ++c) {
    const float g = gamma.data<float>()[c], v = var.data<float>()[c];
    CHECK(o[0].data<float>()[c] == Approx(g / std::sqrt(v + 1e-3)).epsilon(1e-6));
    CHECK(o[1].data<float>()[c] == o[0].data<float>()[c]);
    CHECK(o[2].data<float>()[c] == Approx(1 / std::sqrt(v + 1e-3)).epsilon(1e-6));
  }

  Tensor r0 = testing::randomFloats({4, 1, 1, 1}, -1, 1, rng);
  Tensor r1 = testing::randomFloats({1, 4, 1, 1}, -1, 1, rng);
  auto loss = [&](const Tensor& g) {
    std::vector<Tensor> y;
    run(g, y);
    double l = 0;
    for (int64_t c = 0; c < 4; ++c) {
      l += static_cast<double>(y[0].data<float>()[c]) * r0.data<float>()[c] +
           static_cast<double>(y[1].data<float>()[c]) * r1.data<float>()[c];
    }
    return l;
  };
  Tensor gg(DType::kFloat32, {4}), gv(DType::kFloat32, {4});
  gv.data<float>()[0] = 42;  // must be overwritten with zero
  BackwardCall call{node, {&gamma, &var}, {&o[0], &o[1], &o[2]}, {&r0, &r1, nullptr}, {&gg, &gv}};
  REQUIRE(backwardBnFoldFactor(call).isOk());
  for (int64_t c = 0; c < 4; ++c) {
    Tensor gp = gamma.clone(), gm = gamma.clone();
    gp.data<float>()[c] += 1e-2f;
    gm.data<float>()[c] -= 1e-2f;
    const double numeric = (loss(gp) - loss(gm)) / 2e-2;
    INFO("channel " << c);
    CHECK(gg.data<float>()[c] == Approx(numeric).epsilon(1e-3).margin(1e-4));
    CHECK(gv.data<float>()[c] == 0.0f);
  }
}

TEST_CASE("conv_bn_qat: a Conv+BN unit trains as PyTorch's ConvBn2d QAT module", "[train]") {
  OneThread one;
  const Fixture fx = testing::readFixture("train_convbn", "convbn_torch.txt");
  for (const bool bias : {false, true}) {
    const std::string tag = bias ? "bias" : "nobias";
    INFO(tag);
    auto bn = bnModel(fx, tag, bias);
    auto folded = foldedQatModel(fx, tag, bias);
    const Tensor x = vec(fx, tag + ".x", {2, 2, 5, 5});

    // The folded model in evaluation is PyTorch's eval forward.
    auto ref = makeGrad(*folded);
    checkNear(forward(*ref, x, false), fx.at(tag + ".y_eval"), 1e-5);

    auto g = folded->clone();
    std::vector<std::string> expanded;
    Status s = expandConvBnForQat(*g, *bn, &expanded);
    INFO(s.message());
    REQUIRE(s.isOk());
    CHECK(expanded == std::vector<std::string>{"conv"});
    REQUIRE(g->verify().isOk());
    std::vector<std::string> params = defaultParameters(*g);
    CHECK(params == std::vector<std::string>{"conv.weight", "bn.weight", "bn.bias"});
    if (bias) params.push_back("conv.bias");
    auto gg = makeGrad(*g, params);
    // The weight parameter is the unfolded W.
    checkNear(*gg->parameter("conv.weight"), fx.at(tag + ".weight"), 0);

    checkNear(forward(*gg, x, false), fx.at(tag + ".y_eval"), 1e-5);
    checkNear(forward(*gg, x, true), fx.at(tag + ".y_train"), 1e-5);
    auto grads = gg->backward(vec(fx, tag + ".r", {2, 3, 5, 5}));
    INFO(grads.status().message());
    REQUIRE(grads.isOk());
    checkNear(grads->at("conv.weight"), fx.at(tag + ".grad_weight"), 2e-5);
    checkNear(grads->at("bn.weight"), fx.at(tag + ".grad_gamma"), 2e-5);
    checkNear(grads->at("bn.bias"), fx.at(tag + ".grad_beta"), 2e-5);
    if (bias) checkNear(grads->at("conv.bias"), fx.at(tag + ".grad_bias"), 2e-5);
    checkNear(*gg->initializer("bn.running_mean"), fx.at(tag + ".mean_after"), 1e-6);
    checkNear(*gg->initializer("bn.running_var"), fx.at(tag + ".var_after"), 1e-6);
  }
}

TEST_CASE("conv_bn_qat: fold for export restores the calibrated structure and the eval forward",
          "[train]") {
  OneThread one;
  const Fixture fx = testing::readFixture("train_convbn", "convbn_torch.txt");
  auto bn = bnModel(fx, "bias", true);
  auto folded = foldedQatModel(fx, "bias", true);
  auto g = folded->clone();
  REQUIRE(expandConvBnForQat(*g, *bn, nullptr).isOk());
  auto gg = makeGrad(*g, {"conv.weight", "bn.weight", "bn.bias", "conv.bias"});
  const Tensor x = vec(fx, "bias.x", {2, 2, 5, 5});
  // Move every parameter and the running statistics away from the start.
  const Tensor r = vec(fx, "bias.r", {2, 3, 5, 5});
  for (int step = 0; step < 2; ++step) {
    forward(*gg, x, true);
    auto grads = gg->backward(r);
    REQUIRE(grads.isOk());
    for (const auto& [name, grad] : *grads) {
      float* p = gg->parameter(name)->data<float>();
      for (int64_t i = 0; i < grad.numel(); ++i) p[i] -= 1e-3f * grad.data<float>()[i];
    }
  }
  const Tensor want = forward(*gg, x, false);
  auto out = gg->graph().clone();
  Status s = foldConvBnForExport(*out);
  INFO(s.message());
  REQUIRE(s.isOk());
  REQUIRE(out->verify().isOk());
  checkSameStructure(*out, *folded);
  CHECK(constantNames(*out) == constantNames(*folded));
  auto back = makeGrad(*out);
  const Tensor got = forward(*back, x, false);
  CHECK(maxAbsDiff(got, want) <= 1e-5);
  // The trained numbers are folded in: the weight differs from the calibrated one.
  CHECK(maxAbsDiff(out->findValue("conv.weight_bnfolded")->constant,
                   folded->findValue("conv.weight_bnfolded")->constant) > 1e-6);
  // No unit left: folding again changes nothing.
  REQUIRE(foldConvBnForExport(*out).isOk());
  checkSameStructure(*out, *folded);
}

TEST_CASE("conv_bn_qat: errors name the node", "[train]") {
  const Fixture fx = testing::readFixture("train_convbn", "convbn_torch.txt");
  auto bn = bnModel(fx, "nobias", false);
  {
    auto g = foldedQatModel(fx, "nobias", false);
    g->findNode("conv")->name = "other";
    Status s = expandConvBnForQat(*g, *bn, nullptr);
    REQUIRE(!s.isOk());
    CHECK_THAT(s.message(),
               Catch::Contains("Conv 'conv'") && Catch::Contains("BatchNormalization 'bn'"));
  }
  {
    auto g = foldedQatModel(fx, "nobias", false);
    g->findValue("conv.weight_bnfolded")->constant = Tensor(DType::kFloat32, {3, 2, 1, 1});
    Status s = expandConvBnForQat(*g, *bn, nullptr);
    REQUIRE(!s.isOk());
    CHECK_THAT(s.message(), Catch::Contains("Conv 'conv'") && Catch::Contains("[3, 2, 3, 3]"));
  }
  {
    auto g = foldedQatModel(fx, "nobias", false);
    REQUIRE(expandConvBnForQat(*g, *bn, nullptr).isOk());
    Status s = expandConvBnForQat(*g, *bn, nullptr);
    REQUIRE(!s.isOk());
    CHECK_THAT(s.message(), Catch::Contains("Conv 'conv' is already expanded"));
  }
}

/// The first `n` images of a built-in dataset.
Tensor images(const std::string& spec, int64_t n) {
  DatasetOptions opt;
  opt.limit = n;
  auto data = openDataset(spec, opt);
  REQUIRE(data.isOk());
  const Shape s = (*data)->sampleShape();
  Tensor t(DType::kFloat32, {n, s[0], s[1], s[2]});
  int64_t label = 0;
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE((*data)->readInto(i, 0, t.data<float>() + i * shapeNumel(s), &label).isOk());
  }
  return t;
}

/// The evaluation forward of `g` up to value `name` ("" : the graph output).
Tensor evalAt(const Graph& g, const std::string& name, const Tensor& x) {
  AutogradOptions opt;
  opt.output = name;
  auto gg = GradGraph::create(g, opt);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  return forward(**gg, x, false);
}

/// Logits and the three Conv+BN unit outputs (before Relu, not fake-quantized) of fmnist_cnn
/// agree within 1e-5.
void checkSameForward(const Graph& got, const Graph& want, const Tensor& x) {
  for (const std::string unit :
       {"", "/features/features.0/features.0.1/BatchNormalization_output_0",
        "/features/features.2/features.2.1/BatchNormalization_output_0",
        "/features/features.4/features.4.1/BatchNormalization_output_0"}) {
    INFO("value '" << unit << "'");
    const double d = maxAbsDiff(evalAt(got, unit, x), evalAt(want, unit, x));
    CHECK(d <= 1e-5);
  }
}

TEST_CASE("conv_bn_qat: the calibrated fmnist_cnn expands, evaluates as calibrated, folds back",
          "[train]") {
  OneThread one;
  auto bn = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float-bn.onnx");
  REQUIRE(bn.isOk());
  DatasetOptions dopt;
  dopt.limit = 64;
  auto data = openDataset("fashion-mnist-calib", dopt);
  REQUIRE(data.isOk());
  CalibOptions copt;
  copt.progress = false;
  copt.threads = 1;
  copt.batchSize = 64;
  auto qc = QConfig::load("default");
  REQUIRE(qc.isOk());
  auto cal = calibrate(**bn, **data, *qc, copt);
  INFO(cal.status().message());
  REQUIRE(cal.isOk());
  // QatModel's training graph: the QDQ rewrite GradGraph::create does.
  auto before = makeGrad(*cal->model)->graph().clone();
  const Tensor x = images("fashion-mnist-test", 16);

  auto g = before->clone();
  std::vector<std::string> expanded;
  Status s = expandConvBnForQat(*g, **bn, &expanded);
  INFO(s.message());
  REQUIRE(s.isOk());
  CHECK(expanded == std::vector<std::string>{"/features/features.0/features.0.0/Conv",
                                             "/features/features.2/features.2.0/Conv",
                                             "/features/features.4/features.4.0/Conv"});
  int bns = 0, factors = 0;
  for (const Node* n : g->nodes()) {
    bns += n->opType == "BatchNormalization";
    factors += isBnFoldFactor(*n);
  }
  CHECK(bns == 3);
  CHECK(factors == 3);
  // The calibrated model's evaluation (bias correction included: beta absorbs it).
  checkSameForward(*g, *before, x);

  auto gg = makeGrad(*g);
  // Unfolded weights, BN scale and bias, fc weight and bias.
  CHECK(gg->parameterNames().size() == 3 * 3 + 2);
  CHECK(gg->parameter("features.0.0.weight"));
  CHECK(gg->parameter("features.4.1.weight"));

  // Fold back right away: the calibrated training graph, same names and numbers.
  {
    auto out = g->clone();
    REQUIRE(foldConvBnForExport(*out).isOk());
    checkSameStructure(*out, *before);
    CHECK(constantNames(*out) == constantNames(*before));
    checkSameForward(*out, *before, x);
  }

  // After a few training steps (batch statistics, running stats updated, weights moved), the
  // folded graph evaluates as the expanded one.
  Tensor r(DType::kFloat32, {16, 10});
  for (int64_t i = 0; i < r.numel(); ++i) r.data<float>()[i] = (i % 7) * 0.01f - 0.03f;
  for (int step = 0; step < 2; ++step) {
    forward(*gg, x, true);
    auto grads = gg->backward(r);
    REQUIRE(grads.isOk());
    for (const auto& [name, grad] : *grads) {
      float* p = gg->parameter(name)->data<float>();
      for (int64_t i = 0; i < grad.numel(); ++i) p[i] -= 1e-2f * grad.data<float>()[i];
    }
  }
  const Graph& trained = gg->graph();
  CHECK(maxAbsDiff(evalAt(trained, "", x), evalAt(*before, "", x)) > 1e-3);
  auto out = trained.clone();
  REQUIRE(foldConvBnForExport(*out).isOk());
  checkSameStructure(*out, *before);
  checkSameForward(*out, trained, x);
}

}  // namespace
}  // namespace hq::train

namespace hq::train {
namespace {

TEST_CASE("conv_bn_qat: mobilenetv2_32 (depthwise, residual) expands and folds back",
          "[train][.slow]") {
  // Opt-in ([.slow], ~10 s): calibration and evaluation of MobileNetV2 on 2 cores.
  const std::string path = std::string(HQ_SHARED_MODELS) + "/mobilenetv2_32.float-bn.onnx";
  if (!std::ifstream(path).good()) {
    WARN(path << " not found; skipped");
    return;
  }
  auto bn = importOnnxFile(path);
  REQUIRE(bn.isOk());
  DatasetOptions dopt;
  dopt.limit = 16;
  auto data = openDataset("fashion-mnist-calib-32", dopt);
  REQUIRE(data.isOk());
  CalibOptions copt;
  copt.progress = false;
  copt.batchSize = 16;
  auto qc = QConfig::load("default");
  REQUIRE(qc.isOk());
  auto cal = calibrate(**bn, **data, *qc, copt);
  INFO(cal.status().message());
  REQUIRE(cal.isOk());
  auto before = makeGrad(*cal->model)->graph().clone();
  const Tensor x = images("fashion-mnist-test-32", 4);
  auto g = before->clone();
  std::vector<std::string> expanded;
  Status s = expandConvBnForQat(*g, **bn, &expanded);
  INFO(s.message());
  REQUIRE(s.isOk());
  CHECK(expanded.size() == 52);
  const double d = maxAbsDiff(evalAt(*g, "", x), evalAt(*before, "", x));
  CHECK(d <= 1e-5);
  auto out = g->clone();
  REQUIRE(foldConvBnForExport(*out).isOk());
  checkSameStructure(*out, *before);
  CHECK(maxAbsDiff(evalAt(*out, "", x), evalAt(*before, "", x)) <= 1e-5);
}

}  // namespace
}  // namespace hq::train
