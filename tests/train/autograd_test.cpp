// The reverse-mode engine (train/autograd.h) on whole graphs: parameter gradients of tiny
// CNNs against central finite differences of the scalar loss (the same GradGraph's forward,
// so a stale prepared kernel would show), gradient summation at a value with two consumers,
// memory release, a few plain SGD steps that lower the loss, and error cases.
#include <catch2/catch.hpp>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "train/autograd.h"
#include "train/grad_check.h"
#include "train/loss.h"

namespace hq::train {
namespace {

using testing::randomFloats;

Attribute ints(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }

Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

struct OneThread {
  int before = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(before); }
};

/// x[N,1,6,6] -> Conv(3x3, pad 1, 3 ch) -> Relu -> MaxPool(2) -> Flatten -> Gemm(transB) [N,4]
std::unique_ptr<Graph> plainCnn(std::mt19937& rng) {
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 1, 6, 6}, true);
  g->mutableInputs().push_back(x);
  Value* w = g->addConstant("conv.w", randomFloats({3, 1, 3, 3}, -0.6f, 0.6f, rng));
  Value* b = g->addConstant("conv.b", randomFloats({3}, -0.2f, 0.2f, rng));
  Value* fw = g->addConstant("fc.w", randomFloats({4, 27}, -0.4f, 0.4f, rng));
  Value* fb = g->addConstant("fc.b", randomFloats({4}, -0.2f, 0.2f, rng));
  Value* c = g->addValue("c");
  Value* r = g->addValue("r");
  Value* p = g->addValue("p");
  Value* f = g->addValue("f");
  Value* y = g->addValue("logits");
  g->addNode("Conv", "conv", {x, w, b}, {c}, attrs({{"pads", ints({1, 1, 1, 1})}}));
  g->addNode("Relu", "relu", {c}, {r});
  g->addNode("MaxPool", "pool", {r}, {p},
             attrs({{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}));
  g->addNode("Flatten", "flat", {p}, {f});
  g->addNode("Gemm", "fc", {f, fw, fb}, {y}, attrs({{"transB", Attribute::ofInt(1)}}));
  g->mutableOutputs().push_back(y);
  return g;
}

/// x[N,2,5,5] -> Conv1 -> Relu = a; Conv2(a) = b; Add(a, b) -> Relu -> GlobalAveragePool
/// -> Flatten -> Gemm [N,3]. `a` has two consumers (Conv2 and Add).
std::unique_ptr<Graph> residualCnn(std::mt19937& rng) {
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 2, 5, 5}, true);
  g->mutableInputs().push_back(x);
  Value* w1 = g->addConstant("c1.w", randomFloats({4, 2, 3, 3}, -0.5f, 0.5f, rng));
  Value* b1 = g->addConstant("c1.b", randomFloats({4}, 0.0f, 0.3f, rng));
  Value* w2 = g->addConstant("c2.w", randomFloats({4, 4, 3, 3}, -0.3f, 0.3f, rng));
  Value* b2 = g->addConstant("c2.b", randomFloats({4}, -0.1f, 0.1f, rng));
  Value* fw = g->addConstant("fc.w", randomFloats({3, 4}, -0.8f, 0.8f, rng));
  Value* fb = g->addConstant("fc.b", randomFloats({3}, -0.2f, 0.2f, rng));
  Value* c1 = g->addValue("c1");
  Value* a = g->addValue("a");
  Value* b = g->addValue("b");
  Value* s = g->addValue("s");
  Value* r = g->addValue("r");
  Value* gp = g->addValue("gap");
  Value* f = g->addValue("f");
  Value* y = g->addValue("logits");
  const Attributes pad1 = attrs({{"pads", ints({1, 1, 1, 1})}});
  g->addNode("Conv", "conv1", {x, w1, b1}, {c1}, pad1);
  g->addNode("Relu", "relu1", {c1}, {a});
  g->addNode("Conv", "conv2", {a, w2, b2}, {b}, pad1);
  g->addNode("Add", "add", {a, b}, {s});
  g->addNode("Relu", "relu2", {s}, {r});
  g->addNode("GlobalAveragePool", "gap", {r}, {gp});
  g->addNode("Flatten", "flat", {gp}, {f});
  g->addNode("Gemm", "fc", {f, fw, fb}, {y}, attrs({{"transB", Attribute::ofInt(1)}}));
  g->mutableOutputs().push_back(y);
  return g;
}

double lossAt(GradGraph& gg, const Tensor& x, const std::vector<int64_t>& labels) {
  auto out = gg.forward({x}, /*for_backward=*/false);
  REQUIRE(out.isOk());
  auto l = softmaxCrossEntropy(*out, labels);
  REQUIRE(l.isOk());
  return l->loss;
}

/// Compare each parameter's gradient with central differences at up to `per_param`
/// elements spread over the tensor.
void checkWholeGraph(const Graph& graph, const Tensor& x, const std::vector<int64_t>& labels,
                     bool reference_only, int per_param, double eps = 1e-2,
                     AutogradOptions opt = {}) {
  OneThread one_thread;
  opt.kernels.referenceOnly = reference_only;
  auto gg = GradGraph::create(graph, opt);
  REQUIRE(gg.isOk());
  GradGraph& g = **gg;
  auto step =
      g.step({x}, [&](const Tensor& logits) { return softmaxCrossEntropy(logits, labels); });
  INFO(step.status().message());
  REQUIRE(step.isOk());
  CHECK(g.liveBytes() == 0);
  CHECK(step->loss == Approx(lossAt(g, x, labels)).epsilon(1e-6));
  REQUIRE(step->grads.size() == g.parameterNames().size());
  int checked = 0;
  for (const std::string& name : g.parameterNames()) {
    Tensor* p = g.parameter(name);
    REQUIRE(p != nullptr);
    const Tensor& grad = step->grads.at(name);
    REQUIRE(grad.shape() == p->shape());
    const int64_t n = p->numel();
    const int64_t stride = std::max<int64_t>(1, n / per_param);
    for (int64_t e = 0; e < n; e += stride) {
      float* d = p->data<float>();
      const float keep = d[e];
      d[e] = keep + static_cast<float>(eps);
      const double up = lossAt(g, x, labels);
      d[e] = keep - static_cast<float>(eps);
      const double down = lossAt(g, x, labels);
      d[e] = keep;
      const double numeric = (up - down) / (2 * eps);
      const double analytic = grad.data<float>()[e];
      INFO(name << " element " << e << ": analytic " << analytic << " numeric " << numeric);
      CHECK(std::fabs(analytic - numeric) <= 1e-3 + 2e-2 * std::fabs(numeric));
      ++checked;
    }
  }
  if (!reference_only) {
    // The fast path really ran: oneDNN kernels that copy the weights when prepared.
    const auto names = g.kernelNames();
    CHECK(std::count_if(names.begin(), names.end(),
                        [](const std::string& k) { return k.rfind("dnnl:", 0) == 0; }) >= 2);
  } else {
    for (const std::string& k : g.kernelNames()) CHECK(k == "reference");
  }
  CHECK(checked >= 4 * static_cast<int>(g.parameterNames().size()) - 4);
}

TEST_CASE("autograd: whole-graph gradient of Conv-Relu-MaxPool-Flatten-Gemm", "[train]") {
  std::mt19937 rng(11);
  auto graph = plainCnn(rng);
  Tensor x = randomFloats({2, 1, 6, 6}, -1, 1, rng);
  auto names = defaultParameters(*graph);
  CHECK(names == std::vector<std::string>{"conv.w", "conv.b", "fc.w", "fc.b"});
  SECTION("reference kernels") { checkWholeGraph(*graph, x, {1, 3}, true, 12); }
  SECTION("fast kernels, prepared again after each parameter change") {
    checkWholeGraph(*graph, x, {1, 3}, false, 12);
  }
}

TEST_CASE("autograd: a value with two consumers sums its gradients (residual Add)", "[train]") {
  std::mt19937 rng(5);
  auto graph = residualCnn(rng);
  Tensor x = randomFloats({2, 2, 5, 5}, -1, 1, rng);
  checkWholeGraph(*graph, x, {0, 2}, false, 10, 1e-3);
}

TEST_CASE("autograd: only the chosen parameters get gradients, and the input none", "[train]") {
  OneThread one_thread;
  std::mt19937 rng(2);
  auto graph = plainCnn(rng);
  Tensor x = randomFloats({3, 1, 6, 6}, -1, 1, rng);
  AutogradOptions opt;
  opt.parameters = {"fc.w"};
  auto gg = GradGraph::create(*graph, opt);
  REQUIRE(gg.isOk());
  auto full = GradGraph::create(*graph);
  REQUIRE(full.isOk());
  const std::vector<int64_t> labels = {0, 1, 2};
  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  auto some = (*gg)->step({x}, loss);
  auto all = (*full)->step({x}, loss);
  REQUIRE(some.isOk());
  REQUIRE(all.isOk());
  REQUIRE(some->grads.size() == 1);
  const Tensor& a = some->grads.at("fc.w");
  const Tensor& b = all->grads.at("fc.w");
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data<float>()[i] == b.data<float>()[i]);
  // The caller's graph keeps its own weights when the engine's copy is updated.
  (*gg)->parameter("fc.w")->data<float>()[0] += 1.0f;
  CHECK(graph->findValue("fc.w")->constant.data<float>()[0] !=
        (*gg)->parameter("fc.w")->data<float>()[0]);
}

TEST_CASE("autograd: saved activations are freed; training keeps more than inference", "[train]") {
  OneThread one_thread;
  std::mt19937 rng(4);
  auto graph = residualCnn(rng);
  Tensor x = randomFloats({4, 2, 5, 5}, -1, 1, rng);
  auto gg = GradGraph::create(*graph);
  REQUIRE(gg.isOk());
  GradGraph& g = **gg;
  REQUIRE(g.forward({x}, false).isOk());
  const size_t inference_peak = g.peakBytes();
  // Inference: x (400 B... ) is freed after conv1; at most two [4,4,5,5] maps (1600 B each)
  // plus one more are alive at a time.
  CHECK(inference_peak <= 3 * 1600);
  REQUIRE(g.forward({x}, true).isOk());
  CHECK(g.peakBytes() > inference_peak);
  CHECK(g.liveBytes() > 0);
  auto grads = g.backward(Tensor(DType::kFloat32, {4, 3}));
  REQUIRE(grads.isOk());
  CHECK(g.liveBytes() == 0);
  // A second backward without a forward is an error.
  auto again = g.backward(Tensor(DType::kFloat32, {4, 3}));
  REQUIRE(!again.isOk());
  CHECK_THAT(again.status().message(), Catch::Contains("forward"));
}

TEST_CASE("autograd: plain SGD steps lower the loss on a tiny synthetic dataset", "[train]") {
  OneThread one_thread;
  std::mt19937 rng(8);
  auto graph = plainCnn(rng);
  // Class k (of 4): a bright 3x3 quadrant k, plus noise.
  const int n = 16;
  Tensor x = randomFloats({n, 1, 6, 6}, -0.2f, 0.2f, rng);
  std::vector<int64_t> labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = i % 4;
    const int r0 = (i % 4) / 2 * 3, c0 = (i % 4) % 2 * 3;
    for (int r = r0; r < r0 + 3; ++r) {
      for (int c = c0; c < c0 + 3; ++c) x.data<float>()[i * 36 + r * 6 + c] += 1.0f;
    }
  }
  auto gg = GradGraph::create(*graph);
  REQUIRE(gg.isOk());
  GradGraph& g = **gg;
  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  std::vector<double> losses;
  const float lr = 0.5f;
  for (int it = 0; it < 8; ++it) {
    auto s = g.step({x}, loss);
    REQUIRE(s.isOk());
    losses.push_back(s->loss);
    for (const auto& [name, grad] : s->grads) {
      float* w = g.parameter(name)->data<float>();
      for (int64_t i = 0; i < grad.numel(); ++i) w[i] -= lr * grad.data<float>()[i];
    }
  }
  INFO("losses: " << losses[0] << " ... " << losses.back());
  for (size_t i = 1; i < losses.size(); ++i) CHECK(losses[i] < losses[i - 1]);
  CHECK(losses.back() < 0.6 * losses.front());
}

TEST_CASE("autograd: an op without backward on the gradient path names the node", "[train]") {
  OneThread one_thread;
  std::mt19937 rng(1);
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 1, 4, 4}, true);
  g->mutableInputs().push_back(x);
  Value* w = g->addConstant("w", randomFloats({2, 1, 3, 3}, -1, 1, rng));
  Value* fw = g->addConstant("fc.w", randomFloats({2, 3}, -1, 1, rng));
  Value* rx = g->addValue("rx");
  Value* c = g->addValue("c");
  Value* m = g->addValue("m");
  Value* f = g->addValue("f");
  Value* y = g->addValue("y");
  // Round has no backward but reads only the input: no gradient needed there.
  g->addNode("Round", "round_input", {x}, {rx});
  g->addNode("Conv", "conv", {rx, w}, {c});
  g->addNode("GlobalMaxPool", "gmp", {c}, {m});
  g->addNode("Flatten", "flat", {m}, {f});
  g->addNode("Gemm", "fc", {f, fw}, {y});
  g->mutableOutputs().push_back(y);

  auto bad = GradGraph::create(*g);
  REQUIRE(!bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("GlobalMaxPool 'gmp'"));
  CHECK_THAT(bad.status().message(), Catch::Contains("no backward"));

  // Training only the Gemm weight: GlobalMaxPool is off the gradient path, so it is fine.
  AutogradOptions opt;
  opt.parameters = {"fc.w"};
  auto ok = GradGraph::create(*g, opt);
  INFO(ok.status().message());
  REQUIRE(ok.isOk());
  Tensor in = randomFloats({2, 1, 4, 4}, -2, 2, rng);
  auto s = (*ok)->step({in}, [](const Tensor& t) { return softmaxCrossEntropy(t, {0, 1}); });
  INFO(s.status().message());
  REQUIRE(s.isOk());
  CHECK(s->grads.at("fc.w").shape() == Shape{2, 3});

  auto wrong = (*ok)->forward({randomFloats({2, 1, 5, 4}, -1, 1, rng)});
  REQUIRE(!wrong.isOk());
  CHECK_THAT(wrong.status().message(), Catch::Contains("input 'x' must have shape [?, 1, 4, 4]"));

  AutogradOptions unknown;
  unknown.parameters = {"nope"};
  auto missing = GradGraph::create(*g, unknown);
  REQUIRE(!missing.isOk());
  CHECK_THAT(missing.status().message(), Catch::Contains("'nope'"));
}

// A test-only op outside the registry: y = 2 x in training, y = x in evaluation, with its
// forward and backward plugged in through AutogradOptions (the hooks BatchNormalization
// training mode, Dropout and fake quantization use).
class DoubleKernel : public PreparedKernel {
 public:
  explicit DoubleKernel(bool training) : factor_(training ? 2.0f : 1.0f) {}
  Status run(const KernelCall& call) override {
    const float* x = call.in(0).data<float>();
    float* y = call.out(0).data<float>();
    for (int64_t i = 0; i < call.in(0).numel(); ++i) y[i] = factor_ * x[i];
    return Status::ok();
  }
  std::string name() const override { return "test:double"; }

 private:
  float factor_;
};

TEST_CASE("autograd: training forward and backward of an op plug in through hooks", "[train]") {
  OneThread one_thread;
  std::mt19937 rng(9);
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 1, 4, 4}, true);
  g->mutableInputs().push_back(x);
  Value* w = g->addConstant("w", randomFloats({3, 1, 3, 3}, -1, 1, rng));
  Value* fw = g->addConstant("fc.w", randomFloats({2, 3}, -1, 1, rng));
  Value* c = g->addValue("c");
  Value* d = g->addValue("d");
  Value* m = g->addValue("m");
  Value* f = g->addValue("f");
  Value* y = g->addValue("y");
  g->addNode("Conv", "conv", {x, w}, {c});
  g->addNode("Double", "double", {c}, {d}, {}, "test.hq");
  g->addNode("GlobalAveragePool", "gap", {d}, {m});
  g->addNode("Flatten", "flat", {m}, {f});
  g->addNode("Gemm", "fc", {f, fw}, {y}, attrs({{"transB", Attribute::ofInt(1)}}));
  g->mutableOutputs().push_back(y);

  // Without the hooks the custom op has no backward.
  auto plain = GradGraph::create(*g);
  REQUIRE(!plain.isOk());
  CHECK_THAT(plain.status().message(), Catch::Contains("Double 'double' (domain 'test.hq')"));

  int backward_calls = 0;
  std::vector<bool> modes;
  AutogradOptions opt;
  opt.forwardOf = [&](const Node& node, const std::vector<ValueInfo>& in,
                      std::vector<ValueInfo>& out,
                      bool training) -> Expected<std::unique_ptr<PreparedKernel>> {
    if (node.opType != "Double") return std::unique_ptr<PreparedKernel>();
    CHECK(out.empty());  // unknown to the registry
    out = {in[0]};
    out[0].constant = nullptr;
    modes.push_back(training);
    return std::unique_ptr<PreparedKernel>(new DoubleKernel(training));
  };
  opt.backwardOf = [&](const Node& node) -> NodeBackward {
    if (node.opType != "Double") return defaultBackwardOf(node);
    return [&](const BackwardCall& call) {
      ++backward_calls;
      const float* dy = call.gradOut(0).data<float>();
      float* dx = call.gradIn(0).data<float>();
      for (int64_t i = 0; i < call.gradIn(0).numel(); ++i) dx[i] = 2.0f * dy[i];
      return Status::ok();
    };
  };
  auto gg = GradGraph::create(*g, opt);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  Tensor in = randomFloats({2, 1, 4, 4}, -1, 1, rng);
  const std::vector<int64_t> labels = {1, 0};
  auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
  auto train = (*gg)->step({in}, loss);
  REQUIRE(train.isOk());
  CHECK(backward_calls == 1);
  CHECK((*gg)->kernelNames()[1] == "test:double");
  // Training doubles the logits (the Gemm has no bias): evaluation gives half of them.
  auto eval = (*gg)->forward({in}, false);
  REQUIRE(eval.isOk());
  for (int64_t i = 0; i < eval->numel(); ++i) {
    CHECK(eval->data<float>()[i] == Approx(train->output.data<float>()[i] / 2).margin(1e-5));
  }
  CHECK(modes == std::vector<bool>{true, false});
  // The gradient through the hooked backward: an engine whose Double is an identity, with
  // fc.w doubled, computes the same logits, so its conv-weight gradient must be the same.
  AutogradOptions ident = opt;
  ident.backwardOf = [&](const Node& node) -> NodeBackward {
    if (node.opType != "Double") return defaultBackwardOf(node);
    return [](const BackwardCall& call) {
      std::copy_n(call.gradOut(0).data<float>(), call.gradIn(0).numel(),
                  call.gradIn(0).data<float>());
      return Status::ok();
    };
  };
  ident.forwardOf = [&](const Node& node, const std::vector<ValueInfo>& i,
                        std::vector<ValueInfo>& out,
                        bool) -> Expected<std::unique_ptr<PreparedKernel>> {
    if (node.opType != "Double") return std::unique_ptr<PreparedKernel>();
    out = {i[0]};
    return std::unique_ptr<PreparedKernel>(new DoubleKernel(false));
  };
  auto id = GradGraph::create(*g, ident);
  REQUIRE(id.isOk());
  Tensor* fc = (*id)->parameter("fc.w");
  for (int64_t i = 0; i < fc->numel(); ++i) fc->data<float>()[i] *= 2.0f;
  auto ref = (*id)->step({in}, loss);
  REQUIRE(ref.isOk());
  CHECK(ref->loss == Approx(train->loss).epsilon(1e-6));
  const Tensor& a = train->grads.at("w");
  const Tensor& b = ref->grads.at("w");
  for (int64_t i = 0; i < a.numel(); ++i) {
    CHECK(a.data<float>()[i] == Approx(b.data<float>()[i]).margin(1e-5));
  }
}

}  // namespace
}  // namespace hq::train
