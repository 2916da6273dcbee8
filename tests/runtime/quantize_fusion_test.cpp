// The executor's QDQ path: the vectorized fake-quant loop and hq.FakeQuant equal
// QuantizeLinear -> DequantizeLinear bit for bit; the fuse-quantize-dequantize pass (what
// it fuses and what it leaves); conv fusions still apply in front of a Q->DQ pair; a small
// exact QDQ model gives the same bits fast and reference; the hand-made QDQ fmnist_cnn
// (tests/fixtures/qdq/) matches numpy.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <set>

#include "data/npy.h"
#include "dnnl_test_util.h"
#include "ir/onnx_import.h"
#include "runtime/executor.h"
#include "runtime/kernels/quantize.h"
#include "runtime/passes/fake_quant.h"

namespace hq {
namespace {

using testing::randomTensor;

/// Random floats around the quantization grid of `scale`: exact .5 ties (when x/scale
/// is exact), grid points, values beyond both saturation ends, NaN, infinities, zeros,
/// denormals.
Tensor trickyData(int64_t n, float scale, uint32_t seed) {
  Tensor t(DType::kFloat32, {n});
  float* d = t.data<float>();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> k(-300, 300), kind(0, 9);
  std::uniform_real_distribution<float> u(-300.0f, 300.0f);
  for (int64_t i = 0; i < n; ++i) {
    switch (kind(rng)) {
      case 0:
      case 1:
      case 2: d[i] = (static_cast<float>(k(rng)) + 0.5f) * scale; break;
      case 3: d[i] = static_cast<float>(k(rng)) * scale; break;
      case 4: d[i] = std::nextafter((static_cast<float>(k(rng)) + 0.5f) * scale, 0.0f); break;
      case 5: {
        const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                  std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  0.0f,
                                  -0.0f,
                                  std::numeric_limits<float>::denorm_min(),
                                  1e30f,
                                  -1e30f};
        d[i] = specials[static_cast<size_t>(k(rng) + 300) % 8];
        break;
      }
      default: d[i] = u(rng) * scale;
    }
  }
  return t;
}

/// Q then DQ with the reference kernels (two separate ONNX nodes).
Tensor quantizeDequantize(const Tensor& x, const Tensor& scale, const Tensor& zp, int64_t axis) {
  Graph g;
  Attributes a;
  a.set("axis", Attribute::ofInt(axis));
  Value* xv = g.addConstant("x", x);
  Value* q = g.addValue("q");
  Node* qn = g.addNode("QuantizeLinear", "q",
                       {xv, g.addConstant("s", scale), g.addConstant("z", zp)}, {q}, a);
  auto qt = runReference(*qn, {&x, &scale, &zp});
  REQUIRE(qt.isOk());
  Node* dn = g.addNode("DequantizeLinear", "dq", {q, g.findValue("s"), g.findValue("z")},
                       {g.addValue("y")}, a);
  auto y = runReference(*dn, {&(*qt)[0], &scale, &zp});
  REQUIRE(y.isOk());
  return (*y)[0];
}

bool sameBits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

size_t count(const Graph& g, const std::string& op) {
  size_t k = 0;
  for (const Node* n : g.nodes()) k += n->opType == op;
  return k;
}

int countKernel(const std::vector<std::string>& names, const std::string& name) {
  int k = 0;
  for (const auto& n : names) k += n == name;
  return k;
}

}  // namespace

TEST_CASE("fake-quant loop equals QuantizeLinear then DequantizeLinear bit for bit",
          "[quantize][fakequant]") {
  struct Case {
    float scale;
    Tensor zp;
  };
  std::vector<Case> cases = {{0.0625f, Tensor::scalar<int8_t>(0)},
                             {3.0f, Tensor::scalar<int8_t>(-7)},
                             {0.0371f, Tensor::scalar<uint8_t>(128)},
                             {1.0f, Tensor::scalar<uint8_t>(3)}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    // Odd lengths for the vector tails; > 2 blocks of 16384 for the parallel path.
    for (int64_t n : {int64_t{1}, int64_t{37}, int64_t{100003}}) {
      INFO("scale " << c.scale << ", " << dtypeName(c.zp.dtype()) << ", n " << n);
      Tensor x = trickyData(n, c.scale, seed++);
      Tensor scale = Tensor::scalar<float>(c.scale);
      Tensor want = quantizeDequantize(x, scale, c.zp, 1);
      kernels::QuantParams p;
      p.scale = c.scale;
      p.zeroPoint = static_cast<float>(c.zp.toDouble()[0]);
      REQUIRE(kernels::quantRange(c.zp.dtype(), &p.qmin, &p.qmax));
      Tensor got(DType::kFloat32, {n});
      kernels::fakeQuantizeF32(x.data<float>(), got.data<float>(), n, p);
      CHECK(sameBits(got, want));
      for (auto isa :
           {kernels::VectorIsa::kScalar, kernels::VectorIsa::kAvx2, kernels::VectorIsa::kAvx512}) {
        Tensor y = x.clone();  // in place
        if (!kernels::fakeQuantizeF32With(isa, y.data<float>(), y.data<float>(), n, p)) {
          WARN("this CPU lacks vector ISA " << static_cast<int>(isa));
          continue;
        }
        INFO("isa " << static_cast<int>(isa));
        CHECK(sameBits(y, want));
      }
      // The ties really are there: some x/scale end in exactly .5.
      if (n > 1000) {
        int ties = 0;
        for (int64_t i = 0; i < n; ++i) {
          float v = x.data<float>()[i] / c.scale;
          ties += std::isfinite(v) && v - std::floor(v) == 0.5f;
        }
        CHECK(ties > n / 10);
      }
    }
  }
}

TEST_CASE("hq.FakeQuant kernels equal Q -> DQ per axis and per tensor", "[quantize][fakequant]") {
  Shape shape = {3, 5, 7, 11};
  for (int64_t axis : {0, 1, -1}) {
    int64_t c = shape[static_cast<size_t>(axis < 0 ? axis + 4 : axis)];
    Tensor scale(DType::kFloat32, {c});
    Tensor zp(DType::kInt8, {c});
    for (int64_t i = 0; i < c; ++i) {
      scale.data<float>()[i] = 0.01f * static_cast<float>(i + 1);
      zp.data<int8_t>()[i] = static_cast<int8_t>(i * 7 - 20);
    }
    Tensor x =
        trickyData(shapeNumel(shape), 0.02f, static_cast<uint32_t>(axis + 10)).reshaped(shape);
    Tensor want = quantizeDequantize(x, scale, zp, axis);
    testing::OneNode one;
    one.add("x", x, false);
    one.add("scale", scale, true);
    one.add("zp", zp, true);
    Attributes a;
    a.set("axis", Attribute::ofInt(axis));
    one.build(passes::kFakeQuant, a);
    one.node->domain = passes::kHqDomain;
    Tensor ref(DType::kFloat32, shape), fast(DType::kFloat32, shape);
    KernelCall ref_call{*one.node, one.inputPtrs(), {&ref}};
    REQUIRE(passes::refFakeQuant(ref_call).isOk());
    CHECK(sameBits(ref, want));
    std::vector<ValueInfo> outs(1);
    outs[0].dtype = DType::kFloat32;
    outs[0].shape = shape;
    outs[0].hasShape = true;
    auto k = passes::makeFastFakeQuant(*one.node, one.inputInfos(), outs);
    REQUIRE(k);
    CHECK(k->name() == "vector:fake-quant");
    KernelCall fast_call{*one.node, one.inputPtrs(), {&fast}};
    REQUIRE(k->run(fast_call).isOk());
    CHECK(sameBits(fast, want));
  }
}

namespace {

/// A graph under construction: float input, Q/DQ helpers.
struct QdqNet {
  std::unique_ptr<Graph> g = std::make_unique<Graph>();
  int id = 0;
  Value* input(const std::string& name, Shape s) {
    Value* v = g->addValue(name, DType::kFloat32, s, true);
    g->mutableInputs().push_back(v);
    return v;
  }
  Value* node(const std::string& op, std::vector<Value*> ins, Attributes a = {}) {
    std::string name = op + "_" + std::to_string(id++);
    Value* out = g->addValue(name + "_out");
    g->addNode(op, name, ins, {out}, std::move(a));
    return out;
  }
  Value* constant(Tensor t) { return g->addConstant("c" + std::to_string(id++), std::move(t)); }
  /// Q then DQ with one scale/zero point (shared constants).
  Value* qdq(Value* x, float scale, int8_t zp = 0) {
    Value* s = constant(Tensor::scalar<float>(scale));
    Value* z = constant(Tensor::scalar<int8_t>(zp));
    return node("DequantizeLinear", {node("QuantizeLinear", {x, s, z}), s, z});
  }
  /// DQ of an int8 per-output-channel weight [cout, cin, 3, 3] with scales 2^-(5 + o % 3).
  Value* weight(int64_t cout, int64_t cin, uint32_t seed) {
    Tensor w(DType::kInt8, {cout, cin, 3, 3});
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(-127, 127);
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = static_cast<int8_t>(d(rng));
    Tensor s(DType::kFloat32, {cout});
    for (int64_t o = 0; o < cout; ++o)
      s.data<float>()[o] = std::ldexp(1.0f, -5 - static_cast<int>(o % 3));
    Attributes a;
    a.set("axis", Attribute::ofInt(0));
    return node("DequantizeLinear", {constant(w), constant(s)}, a);
  }
  /// DQ of an int32 bias with per-channel scales s_in * s_w.
  Value* bias(int64_t cout, float s_in, uint32_t seed) {
    Tensor b(DType::kInt32, {cout});
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(-3000, 3000);
    Tensor s(DType::kFloat32, {cout});
    for (int64_t o = 0; o < cout; ++o) {
      b.data<int32_t>()[o] = d(rng);
      s.data<float>()[o] = s_in * std::ldexp(1.0f, -5 - static_cast<int>(o % 3));
    }
    Attributes a;
    a.set("axis", Attribute::ofInt(0));
    return node("DequantizeLinear", {constant(b), constant(s)}, a);
  }
  Value* conv(Value* x, Value* w, Value* b) {
    Attributes a;
    a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
    return node("Conv", {x, w, b}, a);
  }
};

}  // namespace

TEST_CASE("fuse-quantize-dequantize: what it fuses and what it leaves", "[quantize][passes]") {
  QdqNet n;
  Value* x = n.input("x", {1, 2, 4, 4});
  Value* s = n.constant(Tensor::scalar<float>(0.5f));
  Value* s_same = n.constant(Tensor::fromVector<float>({1}, {0.5f}));
  Value* s_other = n.constant(Tensor::scalar<float>(0.25f));
  Value* z = n.constant(Tensor::scalar<uint8_t>(0));
  // 1: Q without zero point -> DQ with an equal scale constant and a zero uint8 zero point.
  Value* a = n.node("DequantizeLinear", {n.node("QuantizeLinear", {x, s}), s_same, z});
  // 2: different scales: not fused.
  Value* b = n.node("DequantizeLinear", {n.node("QuantizeLinear", {x, s}), s_other});
  // 3: the integers have another reader besides the DQ: not fused.
  Value* z8 = n.constant(Tensor::scalar<int8_t>(0));
  Value* q3 = n.node("QuantizeLinear", {x, s, z8});
  Value* c1 = n.node("DequantizeLinear", {q3, s, z8});
  Value* c2 = n.node("Relu", {q3});
  // 3b: two matching DQs of one Q (read by Relus): one FakeQuant serves both.
  Value* q3b = n.node("QuantizeLinear", {x, s, z});
  Value* r1 = n.node("Relu", {n.node("DequantizeLinear", {q3b, s, z})});
  Value* r2 = n.node("Relu", {n.node("DequantizeLinear", {q3b, s_same, z})});
  // 4: per axis: axes 1 and -3 are the same axis of a 4-D x (fused); 1 and 2 are not.
  Value* sc = n.constant(Tensor::fromVector<float>({2}, {0.5f, 0.25f}));
  Attributes ax1, axm3;
  ax1.set("axis", Attribute::ofInt(1));
  axm3.set("axis", Attribute::ofInt(-3));
  Value* d = n.node("DequantizeLinear", {n.node("QuantizeLinear", {x, sc}, ax1), sc}, axm3);
  Value* xs = n.input("xs", {1, 2, 2, 4});
  Attributes ax2;
  ax2.set("axis", Attribute::ofInt(2));
  Value* e = n.node("DequantizeLinear", {n.node("QuantizeLinear", {xs, sc}, ax1), sc}, ax2);
  // 5: the quantized tensor is a graph output: not fused.
  Value* q5 = n.node("QuantizeLinear", {x, s});
  Value* f = n.node("DequantizeLinear", {q5, s});
  for (Value* o : {a, b, c1, c2, r1, r2, d, e, q5, f}) n.g->mutableOutputs().push_back(o);
  REQUIRE(inferShapes(*n.g).isOk());

  passes::PassContext ctx;
  auto fused = passes::fuseQuantizeDequantize(*n.g, ctx);
  REQUIRE(fused.isOk());
  CHECK(*fused == 3);  // 1, 3b and 4
  n.g->removeDeadValues();
  REQUIRE(n.g->verify().isOk());
  CHECK(count(*n.g, "FakeQuant") == 3);
  CHECK(count(*n.g, "QuantizeLinear") == 4);
  CHECK(count(*n.g, "DequantizeLinear") == 4);
  CHECK(r1->producer->input(0) == r2->producer->input(0));
  CHECK(r1->producer->input(0)->producer->opType == "FakeQuant");
  CHECK(c1->producer->opType == "DequantizeLinear");
  CHECK(a->producer->opType == "FakeQuant");
  CHECK(a->producer->inputs.size() == 2);  // no zero point: uint8 as for QuantizeLinear
  CHECK(d->producer->opType == "FakeQuant");
  CHECK(d->producer->attrs.getInt("axis", 0) == 1);
  CHECK(b->producer->opType == "DequantizeLinear");
  CHECK(e->producer->opType == "DequantizeLinear");
}

TEST_CASE("Conv+BN+Add+Relu still fuse in front of a Q->DQ pair", "[quantize][executor]") {
  QdqNet n;
  Value* x = n.input("x", {2, 16, 8, 8});
  Value* xq = n.qdq(x, 1.0f / 32);
  Value* c = n.conv(xq, n.weight(16, 16, 1), n.bias(16, 1.0f / 32, 2));
  auto vec = [&](std::vector<float> v) { return n.constant(Tensor::fromVector<float>({16}, v)); };
  std::vector<float> g(16), be(16), m(16), v(16);
  for (int i = 0; i < 16; ++i) {
    g[static_cast<size_t>(i)] = 0.5f + 0.05f * static_cast<float>(i);
    be[static_cast<size_t>(i)] = 0.1f * static_cast<float>(i % 4) - 0.15f;
    m[static_cast<size_t>(i)] = 0.02f * static_cast<float>(i);
    v[static_cast<size_t>(i)] = 1.0f + 0.1f * static_cast<float>(i);
  }
  Value* bn = n.node("BatchNormalization", {c, vec(g), vec(be), vec(m), vec(v)});
  Value* r = n.node("Relu", {n.node("Add", {bn, xq})});
  Value* rq = n.qdq(r, 1.0f / 16);
  Value* y = n.conv(rq, n.weight(8, 16, 3), n.bias(8, 1.0f / 16, 4));
  n.g->mutableOutputs().push_back(n.qdq(y, 1.0f / 8));
  REQUIRE(inferShapes(*n.g).isOk());

  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  auto ref = Executor::create(*n.g, ref_opts);
  auto fast = Executor::create(*n.g, {});
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  Tensor xin = randomTensor({2, 16, 8, 8}, 11, -3, 3);
  auto want = (*ref)->run({xin});
  auto got = (*fast)->run({xin});
  INFO(got.status().message());
  REQUIRE(want.isOk());
  REQUIRE(got.isOk());
  // Different conv summation orders may move a value across a rounding boundary: at most
  // one step of the output grid (1/8), and rarely.
  const float* w = (*want)[0].data<float>();
  const float* o = (*got)[0].data<float>();
  int64_t differ = 0;
  for (int64_t i = 0; i < (*want)[0].numel(); ++i) {
    CHECK(std::fabs(w[i] - o[i]) <= 0.125f + 1e-6f);
    differ += w[i] != o[i];
  }
  CHECK(differ <= (*want)[0].numel() / 50);
  std::vector<std::string> names = (*fast)->kernelNames();
  for (const auto& k : names) UNSCOPED_INFO(k);
  // Input fake-quant; conv (+BN folded) + sum + Relu; fake-quant; conv; fake-quant.
  CHECK(names.size() == 5);
  CHECK(countKernel(names, "dnnl:conv+sum+Relu") == 1);
  CHECK(countKernel(names, "dnnl:conv") == 1);
  CHECK(countKernel(names, "vector:fake-quant") == 3);
}

TEST_CASE("exact QDQ model: fast executor equals the reference executor bit for bit",
          "[quantize][executor]") {
  // Power-of-two scales and small integers: every conv sum is exact in float32 in any
  // order, so oneDNN and the reference conv agree exactly and so must the fake-quant.
  QdqNet n;
  Value* x = n.input("x", {3, 8, 9, 9});
  Value* xq = n.qdq(x, 1.0f / 16, 3);
  Value* c1 = n.node("Relu", {n.conv(xq, n.weight(16, 8, 5), n.bias(16, 1.0f / 16, 6))});
  Value* q1 = n.qdq(c1, 1.0f / 4);
  Value* c2 = n.conv(q1, n.weight(16, 16, 7), n.bias(16, 1.0f / 4, 8));
  Value* q2 = n.qdq(c2, 2.0f, -5);  // no activation: a plain conv, then FQ
  Value* sum = n.node("Add", {n.conv(q2, n.weight(16, 16, 9), nullptr), q1});
  Value* q3 = n.qdq(n.node("Relu", {sum}), 8.0f);
  n.g->mutableOutputs().push_back(q3);
  REQUIRE(inferShapes(*n.g).isOk());

  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  auto ref = Executor::create(*n.g, ref_opts);
  auto fast = Executor::create(*n.g, {});
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  for (uint32_t seed : {1u, 2u}) {
    Tensor xin = randomTensor({3, 8, 9, 9}, seed, -9, 9);
    auto want = (*ref)->run({xin});
    auto got = (*fast)->run({xin});
    REQUIRE(want.isOk());
    REQUIRE(got.isOk());
    CHECK(sameBits((*got)[0], (*want)[0]));
    // Not trivially zero: the output has many distinct grid values.
    std::set<float> distinct((*want)[0].data<float>(),
                             (*want)[0].data<float>() + (*want)[0].numel());
    CHECK(distinct.size() > 10);
  }
  std::vector<std::string> names = (*fast)->kernelNames();
  CHECK(countKernel(names, "vector:fake-quant") == 4);
  CHECK(countKernel(names, "dnnl:conv+Relu") == 1);
  CHECK(countKernel(names, "dnnl:conv") == 1);
  CHECK(countKernel(names, "dnnl:conv+sum+Relu") == 1);
  CHECK(countKernel(names, "reference") == 0);
}

TEST_CASE("QDQ fmnist_cnn (tests/fixtures/qdq): fast == reference, and numpy's logits",
          "[quantize][executor]") {
  std::string dir = std::string(HQ_TEST_DATA) + "/qdq/";
  auto g = importOnnxFile(dir + "fmnist_cnn.qdq.onnx");
  INFO(g.status().message());
  REQUIRE(g.isOk());
  auto input = readNpy(std::string(HQ_TEST_DATA) + "/runtime/fmnist_cnn_pytorch_input.npy");
  auto logits = readNpy(dir + "fmnist_cnn.qdq.expected_logits.npy");
  REQUIRE(input.isOk());
  REQUIRE(logits.isOk());
  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  auto ref = Executor::create(**g, ref_opts);
  auto fast = Executor::create(**g, {});
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  auto want = (*ref)->run({*input});
  auto got = (*fast)->run({*input});
  REQUIRE(want.isOk());
  REQUIRE(got.isOk());
  // A rounding-boundary flip moves a logit by about one activation step times a weight.
  CHECK(testing::maxRelDiff((*got)[0], (*want)[0]) <= 0.05);
  CHECK(testing::maxRelDiff((*want)[0], *logits) <= 0.05);
  for (int64_t i = 0; i < 8; ++i) {
    auto argmax = [&](const Tensor& t) {
      const float* r = t.data<float>() + i * 10;
      return std::max_element(r, r + 10) - r;
    };
    CHECK(argmax((*got)[0]) == argmax(*logits));
  }
  std::vector<std::string> names = (*fast)->kernelNames();
  CHECK(countKernel(names, "dnnl:conv+Relu") == 3);
  CHECK(countKernel(names, "vector:fake-quant") == 5);
  CHECK(countKernel(names, "reference") == 0);
  // Fake-quant runs in place on the conv outputs: no more arena than the float model.
  auto float_graph = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx");
  REQUIRE(float_graph.isOk());
  auto float_exec = Executor::create(**float_graph, {});
  REQUIRE(float_exec.isOk());
  REQUIRE((*float_exec)->run({*input}).isOk());
  CHECK((*fast)->arenaBytes() == (*float_exec)->arenaBytes());
}

}  // namespace hq

namespace hq {

TEST_CASE("dequantized weights fold to float constants at any size", "[quantize][executor]") {
  // 256 x 512 x 3 x 3 = 1,179,648 elements: more than the executor folds of other ops.
  QdqNet n;
  Value* x = n.input("x", {1, 512, 3, 3});
  Value* y = n.conv(n.qdq(x, 0.5f), n.weight(256, 512, 3), n.bias(256, 0.5f, 4));
  n.g->mutableOutputs().push_back(y);
  REQUIRE(inferShapes(*n.g).isOk());
  auto fast = Executor::create(*n.g, {});
  REQUIRE(fast.isOk());
  REQUIRE((*fast)->run({randomTensor({1, 512, 3, 3}, 3, -4, 4)}).isOk());
  CHECK((*fast)->kernelNames() == std::vector<std::string>{"vector:fake-quant", "dnnl:conv"});
}

}  // namespace hq
