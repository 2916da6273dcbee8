// The acceptance test of hq-compile + the simulator: on both shared models, at -O0 and -O3 (and
// the other levels / input sources on fmnist_cnn), the simulated .hbm gives exactly the bytes of
// the integer executor on hundreds of Fashion-MNIST test images.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/npu_test_models.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "quant/qconfig.h"
#include "runtime/executor.h"
#include "sim/host_io.h"
#include "sim/simulator.h"
#include "support/fixed_point.h"

namespace {

/// `count` images of `spec` as one float tensor [count, C, H, W].
hq::Tensor images(const std::string& spec, int64_t count) {
  hq::DatasetOptions o;
  o.limit = count;
  auto data = hq::openDataset(spec, o);
  REQUIRE(data.isOk());
  hq::Shape s = (*data)->sampleShape();
  s.insert(s.begin(), count);
  hq::Tensor x(hq::DType::kFloat32, s);
  const int64_t per = x.numel() / count;
  for (int64_t i = 0; i < count; ++i) {
    int64_t label = 0;
    REQUIRE((*data)->readInto(i, 0, x.data<float>() + i * per, &label).isOk());
  }
  return x;
}

/// Frames [first, first + n) of `x` as their own tensor.
hq::Tensor frames(const hq::Tensor& x, int64_t first, int64_t n) {
  hq::Shape s = x.shape();
  s[0] = n;
  hq::Tensor out(x.dtype(), s);
  const size_t per = x.nbytes() / static_cast<size_t>(x.dim(0));
  std::memcpy(out.raw(), static_cast<const uint8_t*>(x.raw()) + first * per, per * n);
  return out;
}

/// What the integer model's input QuantizeLinear makes of `x` (int8, zero point 0).
hq::Tensor quantize(const hq::Tensor& x, float scale) {
  hq::Tensor q(hq::DType::kInt8, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i)
    q.data<int8_t>()[i] =
        static_cast<int8_t>(hq::fxp::quantizeLinear(x.data<float>()[i], scale, {-128, 127}));
  return q;
}

/// Runs `model` on all of `x` (float images) through the simulator in runs of model.batch()
/// frames and through the integer executor, and returns the number of output bytes that differ.
int64_t differingBytes(const hq::Graph& int_model, const hq::hbm::Model& model,
                       const hq::Tensor& x) {
  auto sim = hq::Simulator::create(model);
  INFO(sim.status().message());
  REQUIRE(sim.isOk());
  hq::ExecutorOptions eo;
  eo.threads = 1;
  auto exec = hq::Executor::create(int_model, eo);
  REQUIRE(exec.isOk());
  const hq::hbm::TensorDesc& in = model.inputs(0);
  const hq::hbm::TensorDesc& out = model.outputs(0);
  const int64_t batch = model.batch();
  int64_t differing = 0;
  for (int64_t first = 0; first + batch <= x.dim(0); first += batch) {
    hq::Tensor xb = frames(x, first, batch);
    hq::Tensor host;
    if (in.source() == hq::hbm::DDR) {
      host = quantize(xb, in.scales(0));
    } else {
      auto nv12 = hq::imagesToNv12(xb);
      REQUIRE(nv12.isOk());
      host = *nv12;
      // The integer model sees what the NPU makes of the NV12 frames.
      auto q = hq::nv12ToInt8(host, xb.dim(1));
      REQUIRE(q.isOk());
      for (int64_t i = 0; i < xb.numel(); ++i)
        xb.data<float>()[i] = static_cast<float>(q->data<int8_t>()[i]) / 128.0f;
    }
    auto got = (*sim)->run({host});
    INFO(got.status().message());
    REQUIRE(got.isOk());
    auto want = (*exec)->run({xb});
    INFO(want.status().message());
    REQUIRE(want.isOk());
    const hq::Tensor& y = (*want)[0];
    const hq::Tensor& q = (*got)[0];
    REQUIRE(q.numel() == y.numel());
    // Dequantize the simulator's output exactly as the model's DequantizeLinear does.
    const int64_t per_frame = q.numel() / batch;
    const int64_t channels = out.scales_size();
    const int64_t inner = channels > 1 ? per_frame / channels : per_frame;
    for (int64_t i = 0; i < q.numel(); ++i) {
      const int64_t c = channels > 1 ? (i % per_frame) / inner : 0;
      const float v = q.dtype() == hq::DType::kInt8 ? static_cast<float>(q.data<int8_t>()[i])
                                                    : static_cast<float>(q.data<int32_t>()[i]);
      const float deq = v * out.scales(static_cast<int>(c));
      if (std::memcmp(&deq, &y.data<float>()[i], sizeof(float)) != 0) ++differing;
    }
  }
  return differing;
}

hq::hbm::Model compile(const hq::Graph& g, int level, hq::InputSource source, int64_t batch) {
  const hq::CompileResult r = hq::testing::compileFor(g, level, batch, source);
  // Through the file format, as a user's .hbm would be.
  auto bytes = hq::serializeHbm(r.model);
  REQUIRE(bytes.isOk());
  auto back = hq::parseHbm(*bytes, "m.hbm");
  REQUIRE(back.isOk());
  return *back;
}

bool haveData(const char* spec) {
  hq::DatasetOptions o;
  o.limit = 1;
  return hq::openDataset(spec, o).isOk();
}

}  // namespace

TEST_CASE("compile+sim: fmnist_cnn is bit-exact at every level", "[sim][compile]") {
  if (!haveData("fashion-mnist-test")) {
    WARN("fashion-mnist-test unavailable; skipped");
    return;
  }
  auto g = hq::testing::fmnistIntModel();
  const hq::Tensor x = images("fashion-mnist-test", 300);
  for (int level = 0; level <= 3; ++level) {
    INFO("-O" << level);
    CHECK(differingBytes(*g, compile(*g, level, hq::InputSource::kDdr, 4), x) == 0);
  }
}

TEST_CASE("compile+sim: mobilenetv2_32 is bit-exact at -O0 and -O3", "[sim][compile]") {
  if (!haveData("fashion-mnist-test-32")) {
    WARN("fashion-mnist-test-32 unavailable; skipped");
    return;
  }
  auto g = hq::testing::mobilenetIntModel(8);
  if (!g) return;
  const hq::Tensor x = images("fashion-mnist-test-32", 200);
  for (int level : {0, 3}) {
    INFO("-O" << level);
    CHECK(differingBytes(*g, compile(*g, level, hq::InputSource::kDdr, 8), x) == 0);
  }
}

namespace {

/// float x[1,3,40,40] -> Q (1/64) -> QConv a (3x3, 5 ch) and QConv b (3x3, 6 ch) -> QConcat
/// (identity rescales unless `rescale_b`) -> QMaxPool 2x2 -> Flatten -> QGemm 7 -> DQ.
std::unique_ptr<hq::Graph> concatModel(bool rescale_b) {
  using hq::Attribute;
  using hq::DType;
  auto g = std::make_unique<hq::Graph>();
  hq::Value* xf = g->addValue("x", DType::kFloat32, {-1, 3, 40, 40}, true);
  g->mutableInputs().push_back(xf);
  hq::Value* x = g->addValue("x_q", DType::kInt8, {-1, 3, 40, 40}, true);
  g->addNode("QuantizeLinear", "quant",
             {xf, g->addConstant("s_in", hq::Tensor::scalar(1.0f / 64)),
              g->addConstant("z_in", hq::Tensor::scalar<int8_t>(0))},
             {x});
  uint32_t seed = 7;
  auto rnd = [&]() {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<int8_t>((seed >> 24) - 128);
  };
  auto conv = [&](const std::string& name, int64_t cout) {
    hq::Tensor w(DType::kInt8, {cout, 3, 3, 3});
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = rnd();
    hq::Tensor b(DType::kInt64, {cout});
    for (int64_t i = 0; i < cout; ++i) b.data<int64_t>()[i] = rnd() * 3;
    hq::Value* y = g->addValue(name + ".y", DType::kInt8, {-1, cout, 40, 40}, true);
    hq::Attributes a;
    a.set("kernel_shape", Attribute::ofInts({3, 3}));
    a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
    a.set("multiplier", Attribute::ofInts(std::vector<int64_t>(cout, 1518500250)));
    a.set("shift", Attribute::ofInts(std::vector<int64_t>(cout, 40)));
    a.set("out_lo", Attribute::ofInt(0));
    a.set("out_hi", Attribute::ofInt(127));
    a.set("out_type", Attribute::ofInt(3));
    g->addNode("QConv", name, {x, g->addConstant(name + ".w", w), g->addConstant(name + ".b", b)},
               {y}, a, hq::kIntDomain);
    return y;
  };
  hq::Value* a = conv("a", 5);
  hq::Value* b = conv("b", 6);
  hq::Value* cat = g->addValue("cat", DType::kInt8, {-1, 11, 40, 40}, true);
  hq::Attributes ca;
  ca.set("axis", Attribute::ofInt(1));
  ca.set("multiplier", Attribute::ofInts({1 << 30, 1 << 30}));
  ca.set("shift", Attribute::ofInts({30, rescale_b ? 31 : 30}));
  ca.set("out_lo", Attribute::ofInt(-128));
  ca.set("out_hi", Attribute::ofInt(127));
  ca.set("out_type", Attribute::ofInt(3));
  g->addNode("QConcat", "cat", {a, b}, {cat}, ca, hq::kIntDomain);
  hq::Value* pooled = g->addValue("pooled", DType::kInt8, {-1, 11, 20, 20}, true);
  hq::Attributes pa;
  pa.set("kernel_shape", Attribute::ofInts({2, 2}));
  pa.set("strides", Attribute::ofInts({2, 2}));
  pa.set("pads", Attribute::ofInts({0, 0, 0, 0}));
  g->addNode("QMaxPool", "pool", {cat}, {pooled}, pa, hq::kIntDomain);
  hq::Value* flat = g->addValue("flat", DType::kInt8, {-1, 4400}, true);
  g->addNode("Flatten", "flatten", {pooled}, {flat});
  hq::Tensor gw(DType::kInt8, {7, 4400});
  for (int64_t i = 0; i < gw.numel(); ++i) gw.data<int8_t>()[i] = rnd();
  hq::Value* out = g->addValue("out", DType::kInt8, {-1, 7}, true);
  hq::Attributes fa;
  fa.set("transB", Attribute::ofInt(1));
  fa.set("multiplier", Attribute::ofInts(std::vector<int64_t>(7, 1518500250)));
  fa.set("shift", Attribute::ofInts(std::vector<int64_t>(7, 46)));
  fa.set("out_lo", Attribute::ofInt(-128));
  fa.set("out_hi", Attribute::ofInt(127));
  fa.set("out_type", Attribute::ofInt(3));
  g->addNode("QGemm", "fc", {flat, g->addConstant("fc.w", gw)}, {out}, fa, hq::kIntDomain);
  hq::Value* y = g->addValue("y", DType::kFloat32, {-1, 7}, true);
  g->addNode("DequantizeLinear", "dequant",
             {out, g->addConstant("s_out", hq::Tensor::scalar(0.05f)),
              g->addConstant("z_out", hq::Tensor::scalar<int8_t>(0))},
             {y});
  g->mutableOutputs().push_back(y);
  return g;
}

}  // namespace

TEST_CASE("compile+sim: a channel concat in place from -O2 (producers write its slices)",
          "[sim][compile]") {
  hq::Tensor x(hq::DType::kFloat32, {6, 3, 40, 40});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = static_cast<float>((i * 7919) % 255 - 127) / 64.0f;
  for (bool rescale : {false, true}) {
    INFO((rescale ? "rescaled input" : "identity rescales"));
    auto g = concatModel(rescale);
    for (int level = 0; level <= 3; ++level) {
      INFO("-O" << level);
      hq::hbm::Model m = compile(*g, level, hq::InputSource::kDdr, 2);
      // a, b, (concat copy), pool, fc.
      const int expected_layers = level >= 2 && !rescale ? 4 : 5;
      CHECK(m.layers_size() == expected_layers);
      CHECK(differingBytes(*g, m, x) == 0);
    }
  }
}

TEST_CASE("compile+sim: a 1x1 conv with padding (border tiles all padding are avoided)",
          "[sim][compile]") {
  using hq::Attribute;
  using hq::DType;
  hq::Graph g;
  hq::Value* xf = g.addValue("x", DType::kFloat32, {-1, 8, 40, 40}, true);
  g.mutableInputs().push_back(xf);
  hq::Value* x = g.addValue("x_q", DType::kInt8, {-1, 8, 40, 40}, true);
  g.addNode("QuantizeLinear", "quant",
            {xf, g.addConstant("s_in", hq::Tensor::scalar(1.0f / 64)),
             g.addConstant("z_in", hq::Tensor::scalar<int8_t>(0))},
            {x});
  hq::Tensor w(DType::kInt8, {16, 8, 1, 1});
  for (int64_t i = 0; i < w.numel(); ++i)
    w.data<int8_t>()[i] = static_cast<int8_t>((i * 37) % 255 - 127);
  hq::Value* y = g.addValue("y", DType::kInt8, {-1, 16, 42, 42}, true);
  hq::Attributes a;
  a.set("kernel_shape", Attribute::ofInts({1, 1}));
  a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  a.set("multiplier", Attribute::ofInts(std::vector<int64_t>(16, 1518500250)));
  a.set("shift", Attribute::ofInts(std::vector<int64_t>(16, 38)));
  a.set("out_lo", Attribute::ofInt(-128));
  a.set("out_hi", Attribute::ofInt(127));
  a.set("out_type", Attribute::ofInt(3));
  g.addNode("QConv", "conv", {x, g.addConstant("w", w)}, {y}, a, hq::kIntDomain);
  hq::Value* yf = g.addValue("yf", DType::kFloat32, {-1, 16, 42, 42}, true);
  g.addNode("DequantizeLinear", "dequant",
            {y, g.addConstant("s_out", hq::Tensor::scalar(0.05f)),
             g.addConstant("z_out", hq::Tensor::scalar<int8_t>(0))},
            {yf});
  g.mutableOutputs().push_back(yf);
  hq::Tensor xs(DType::kFloat32, {2, 8, 40, 40});
  for (int64_t i = 0; i < xs.numel(); ++i)
    xs.data<float>()[i] = static_cast<float>((i * 7919) % 255 - 127) / 64.0f;
  for (int level = 0; level <= 3; ++level) {
    INFO("-O" << level);
    const hq::hbm::Model m = compile(g, level, hq::InputSource::kDdr, 1);
    int computes = 0;
    for (const auto& in : m.instructions()) computes += in.has_compute();
    if (level <= 1) CHECK(computes > 1);  // several row tiles, the first all but padding
    CHECK(differingBytes(g, m, xs) == 0);
  }
}
