// Held-out generality (issue 6): small CNNs of architectures hq was not written against,
// exported by PyTorch and quantized with hq's own tools (bench/generality/make_models.sh ->
// tests/fixtures/generality/*.int.onnx): a ResNet with identity and 1x1 strided projection
// shortcuts, a SqueezeNet with Fire modules (channel concat), and a U-Net-style
// encoder-decoder with ConvTranspose, nearest and bilinear Resize and skip concats, and a
// classifier with the rest of the float op set (depthwise, grouped and dilated convs,
// LeakyReLU/HardSwish/Hardsigmoid lookups, squeeze-excite Mul, AveragePool, an unfused Add,
// Softmax), and a dense-prediction net with an x4 nearest Upsample, Sigmoid and Tanh combined by
// Sub and an elementwise Mul, and a padded stride-1 MaxPool; resnet_rgb is resnet_mini on a
// non-square 3-channel input (3x20x36, odd sizes 5x9 after the stride-2 blocks).
// For each: hq::checkModel on bayes and bernoulli2 gives exactly the expected verdicts, and the
// compiled model (-O0..-O3 with DDR input, -O1 pyramid and -O2 resizer NV12 input; batch 2)
// run on the simulator over 8 deterministic random input frames equals the integer executor
// bit for bit (the integer tensor feeding the final DequantizeLinear, and the dequantized
// floats).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "compiler/check.h"
#include "compiler/compile.h"
#include "compiler/march.h"
#include "ir/graph.h"
#include "ir/onnx_import.h"
#include "runtime/executor.h"
#include "sim/host_io.h"
#include "sim/simulator.h"
#include "support/fixed_point.h"

namespace {

const char* const kZoo[] = {"resnet_mini", "squeezenet_mini", "unet_mini",
                            "mixed_mini",  "misc_mini",       "resnet_rgb"};
constexpr int64_t kFrames = 8;
constexpr int64_t kBatch = 2;

std::string modelPath(const std::string& name) {
  return std::string(HQ_TEST_DATA) + "/generality/" + name + ".int.onnx";
}

std::unique_ptr<hq::Graph> loadModel(const std::string& name) {
  auto g = hq::importOnnxFile(modelPath(name));
  INFO(modelPath(name) << ": " << g.status().message());
  REQUIRE(g.isOk());
  return std::move(g).value();
}

hq::March loadMarch(const std::string& name) {
  auto m = hq::loadMarch(name);
  INFO(m.status().message());
  REQUIRE(m.isOk());
  return std::move(m).value();
}

std::vector<std::string> diagnosticLines(const hq::CheckReport& r) {
  std::vector<std::string> lines;
  for (const hq::Diagnostic& d : r.diagnostics) {
    lines.push_back(d.node + " (" + d.op + "): [" + d.rule + "] " + d.message);
  }
  return lines;
}

/// kFrames images [kFrames, C, H, W] on the model's input grid (scale 1/128, zero point 0):
/// x = k / 128 for k uniform in [-128, 127], from a fixed seed.
hq::Tensor randomFrames(const hq::Graph& g) {
  hq::Shape shape = g.inputs().at(0)->shape;
  REQUIRE(shape.size() == 4);
  shape[0] = kFrames;
  hq::Tensor x(hq::DType::kFloat32, shape);
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<int> dist(-128, 127);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(dist(rng)) / 128.0f;
  return x;
}

/// Frames [begin, begin + count) of `t` (any dtype), as a fresh tensor.
hq::Tensor frames(const hq::Tensor& t, int64_t begin, int64_t count) {
  hq::Shape shape = t.shape();
  const size_t frame_bytes = t.nbytes() / static_cast<size_t>(shape[0]);
  shape[0] = count;
  hq::Tensor out(t.dtype(), shape);
  std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + begin * frame_bytes,
              count * frame_bytes);
  return out;
}

/// The integer executor's outputs on `x`: the float graph output and the integer tensor that
/// feeds the final DequantizeLinear.
struct Reference {
  hq::Tensor floatOut;
  hq::Tensor intOut;
};

Reference runExecutor(const hq::Graph& g, const hq::Tensor& x) {
  const hq::Value* out = g.outputs().at(0);
  REQUIRE(out->producer != nullptr);
  REQUIRE(out->producer->opType == "DequantizeLinear");
  const std::string int_name = out->producer->inputs.at(0)->name;
  hq::ExecutorOptions opts;
  opts.keep = {int_name};
  opts.threads = 1;
  auto ex = hq::Executor::create(g, opts);
  INFO(ex.status().message());
  REQUIRE(ex.isOk());
  auto ran = (*ex)->run({x});
  INFO(ran.status().message());
  REQUIRE(ran.isOk());
  REQUIRE(ran->size() == 1);
  auto kept = (*ex)->kept().find(int_name);
  REQUIRE(kept != (*ex)->kept().end());
  return {(*ran)[0], kept->second};
}

int64_t differingBytes(const hq::Tensor& a, const hq::Tensor& b) {
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.shape() == b.shape());
  const auto* pa = static_cast<const unsigned char*>(a.raw());
  const auto* pb = static_cast<const unsigned char*>(b.raw());
  int64_t n = 0;
  for (size_t i = 0; i < a.nbytes(); ++i) n += pa[i] != pb[i];
  return n;
}

/// The float images the integer model sees when `x` arrives through the pyramid: the NV12
/// frames of imagesToNv12(x), turned back into the int8 input (nv12ToInt8) at scale 1/128.
hq::Tensor throughPyramid(const hq::Tensor& x) {
  auto nv12 = hq::imagesToNv12(x);
  INFO(nv12.status().message());
  REQUIRE(nv12.isOk());
  auto q = hq::nv12ToInt8(*nv12, x.shape()[1]);
  INFO(q.status().message());
  REQUIRE(q.isOk());
  REQUIRE(q->shape() == x.shape());
  hq::Tensor out(hq::DType::kFloat32, x.shape());
  for (int64_t i = 0; i < out.numel(); ++i) {
    out.data<float>()[i] = static_cast<float>(q->data<int8_t>()[i]) / 128.0f;
  }
  return out;
}

/// What the integer model's input QuantizeLinear makes of `x`: int8 at the descriptor's
/// per-tensor scale, zero point 0 (the zoo's models are quantized so).
hq::Tensor quantizeInput(const hq::hbm::TensorDesc& desc, const hq::Tensor& x) {
  REQUIRE(desc.scales_size() == 1);
  REQUIRE((desc.zero_points_size() == 0 || desc.zero_points(0) == 0));
  hq::Tensor q(hq::DType::kInt8, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    q.data<int8_t>()[i] = static_cast<int8_t>(
        hq::fxp::quantizeLinear(x.data<float>()[i], desc.scales(0), {-128, 127}));
  }
  return q;
}

/// The simulator's integer output dequantized as the model's DequantizeLinear does (per-tensor
/// scale, zero point 0).
hq::Tensor dequantizeOutput(const hq::hbm::TensorDesc& desc, const hq::Tensor& q) {
  REQUIRE(desc.scales_size() == 1);
  REQUIRE((desc.zero_points_size() == 0 || desc.zero_points(0) == 0));
  hq::Tensor y(hq::DType::kFloat32, q.shape());
  for (int64_t i = 0; i < q.numel(); ++i) {
    int32_t v = 0;
    switch (q.dtype()) {
      case hq::DType::kInt8: v = q.data<int8_t>()[i]; break;
      case hq::DType::kInt16: v = q.data<int16_t>()[i]; break;
      case hq::DType::kInt32: v = q.data<int32_t>()[i]; break;
      default: FAIL("unexpected output dtype");
    }
    y.data<float>()[i] = hq::fxp::dequantize(v, desc.scales(0));
  }
  return y;
}

/// Compile `name` for bayes at `level` (batch 2, input from `source`), run the simulator over
/// kFrames frames and compare with the integer executor.
void compileAndSimulate(const std::string& name, int level,
                        hq::InputSource source = hq::InputSource::kDdr) {
  auto g = loadModel(name);
  const hq::March march = loadMarch("bayes");
  hq::CompileOptions options;
  options.optLevel = level;
  options.batch = kBatch;
  options.inputSource = source;
  auto compiled = hq::compileModel(*g, march, options);
  INFO(name << " -O" << level << " " << hq::inputSourceName(source)
            << ": compileModel: " << compiled.status().message());
  REQUIRE(compiled.isOk());
  const hq::hbm::Model& model = compiled->model;
  REQUIRE(model.batch() == kBatch);
  REQUIRE(model.inputs_size() == 1);
  REQUIRE(model.outputs_size() == 1);

  auto sim = hq::Simulator::create(model);
  INFO("Simulator::create: " << sim.status().message());
  REQUIRE(sim.isOk());

  const hq::Tensor x = randomFrames(*g);
  // A DDR input is quantized exactly as the model's QuantizeLinear does; an NV12 input is what
  // the pyramid makes of the images (for one channel: the same grid values, checked here; for
  // RGB the chroma subsampling changes them).
  hq::Tensor x_model = x;
  if (source != hq::InputSource::kDdr) {
    x_model = throughPyramid(x);
    if (x.shape()[1] == 1) CHECK(differingBytes(x_model, x) == 0);
  }
  const Reference ref = runExecutor(*g, x_model);
  REQUIRE(ref.intOut.shape()[0] == kFrames);

  hq::Tensor sim_int(ref.intOut.dtype(), ref.intOut.shape());
  hq::Tensor sim_float(hq::DType::kFloat32, ref.floatOut.shape());
  const size_t int_frame = sim_int.nbytes() / kFrames;
  const size_t float_frame = sim_float.nbytes() / kFrames;
  for (int64_t f = 0; f < kFrames; f += kBatch) {
    hq::Tensor input;
    if (source == hq::InputSource::kDdr) {
      input = quantizeInput(model.inputs(0), frames(x, f, kBatch));
    } else {
      auto nv12 = hq::imagesToNv12(frames(x, f, kBatch));
      REQUIRE(nv12.isOk());
      input = *nv12;
    }
    auto out = (*sim)->run({input});
    INFO(name << " -O" << level << " frames " << f << ".." << f + kBatch - 1
              << ": Simulator::run: " << out.status().message());
    REQUIRE(out.isOk());
    REQUIRE(out->size() == 1);
    const hq::Tensor& q = (*out)[0];
    REQUIRE(q.dtype() == sim_int.dtype());
    REQUIRE(q.nbytes() == int_frame * kBatch);
    std::memcpy(static_cast<char*>(sim_int.raw()) + f * int_frame, q.raw(), q.nbytes());
    const hq::Tensor deq = dequantizeOutput(model.outputs(0), q);
    REQUIRE(deq.nbytes() == float_frame * kBatch);
    std::memcpy(static_cast<char*>(sim_float.raw()) + f * float_frame, deq.raw(), deq.nbytes());
  }
  INFO(name << " -O" << level << " " << hq::inputSourceName(source));
  CHECK(differingBytes(sim_int, ref.intOut) == 0);
  CHECK(differingBytes(sim_float, ref.floatOut) == 0);
  // The outputs are not trivially constant (a broken pipeline could agree on zeros).
  const auto* p = static_cast<const unsigned char*>(ref.intOut.raw());
  bool varies = false;
  for (size_t i = 1; i < ref.intOut.nbytes() && !varies; ++i) varies = p[i] != p[0];
  CHECK(varies);
}

}  // namespace

TEST_CASE("generality zoo: every model passes hq-check on bayes", "[sim][generality]") {
  const hq::March march = loadMarch("bayes");
  for (const char* name : kZoo) {
    auto g = loadModel(name);
    REQUIRE(hq::isIntegerModel(*g));
    auto r = hq::checkModel(*g, march);
    INFO(name << ": " << r.status().message());
    REQUIRE(r.isOk());
    INFO(name);
    CHECK(r->supported);
    CHECK(diagnosticLines(*r).empty());
    CHECK(r->summary.macsPerFrame > 0);
  }
}

TEST_CASE("generality zoo: bernoulli2 refuses exactly what it lacks, hq-compile likewise",
          "[sim][generality]") {
  const hq::March march = loadMarch("bernoulli2");
  for (const char* name : {"resnet_mini", "squeezenet_mini", "resnet_rgb"}) {
    auto g = loadModel(name);
    auto r = hq::checkModel(*g, march);
    REQUIRE(r.isOk());
    INFO(name);
    CHECK(r->supported);
    CHECK(diagnosticLines(*r).empty());
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> refused = {
      {"unet_mini",
       {"/up3/ConvTranspose (QConvTranspose): [op.unsupported] expected an op that march "
        "'bernoulli2' runs, found QConvTranspose",
        "/up_bilinear/Resize (QResize): [resize.mode] expected mode nearest, found linear"}},
      {"mixed_mini",
       {"/stem/stem.1/LeakyRelu (QLookup): [op.unsupported] expected an op that march "
        "'bernoulli2' runs, found QLookup",
        "/pw/pw.1/HardSigmoid (QLookup): [op.unsupported] expected an op that march "
        "'bernoulli2' runs, found QLookup",
        "/pw/pw.1/Mul (QMul): [op.unsupported] expected an op that march 'bernoulli2' runs, "
        "found QMul",
        "/group/group.0/Conv (QConv): [conv.group] expected group 1 or depthwise (group = 32 "
        "input channels), found group 4",
        "/dilated/dilated.0/Conv (QConv): [conv.dilation] dilations 2x2: expected at most 1, "
        "found 2",
        "/se/gate/HardSigmoid (QLookup): [op.unsupported] expected an op that march "
        "'bernoulli2' runs, found QLookup",
        "/se/Mul (QMul): [op.unsupported] expected an op that march 'bernoulli2' runs, found "
        "QMul",
        "/Softmax (QSoftmax): [op.unsupported] expected an op that march 'bernoulli2' runs, "
        "found QSoftmax"}},
      {"misc_mini",
       {"/up/Resize (QResize): [resize.factor] axis 2 (7 -> 28): expected an up-scaling factor "
        "of 2, found 4",
        "/Sigmoid (QLookup): [op.unsupported] expected an op that march 'bernoulli2' runs, "
        "found QLookup",
        "/Tanh (QLookup): [op.unsupported] expected an op that march 'bernoulli2' runs, found "
        "QLookup",
        "/Mul (QMul): [op.unsupported] expected an op that march 'bernoulli2' runs, found QMul"}},
  };
  for (const auto& [name, expected] : refused) {
    INFO(name);
    auto g = loadModel(name);
    auto r = hq::checkModel(*g, march);
    REQUIRE(r.isOk());
    CHECK_FALSE(r->supported);
    CHECK(diagnosticLines(*r) == expected);
    // hq-compile refuses it with the checker's messages, every one of them.
    hq::CompileOptions options;
    options.optLevel = 0;
    auto compiled = hq::compileModel(*g, march, options);
    REQUIRE_FALSE(compiled.isOk());
    CHECK(compiled.status().code() == hq::ErrorCode::kUnsupported);
    for (const hq::Diagnostic& d : r->diagnostics) {
      CHECK(compiled.status().message().find(hq::formatDiagnostic(d)) != std::string::npos);
    }
  }
}

TEST_CASE("generality zoo: resnet_mini compiled -O0..-O3 equals the integer executor",
          "[sim][generality]") {
  for (int level = 0; level <= 3; ++level) compileAndSimulate("resnet_mini", level);
}

TEST_CASE(
    "generality zoo: resnet_mini with pyramid (-O1) and resizer (-O2) NV12 input equals the "
    "integer executor",
    "[sim][generality]") {
  compileAndSimulate("resnet_mini", 1, hq::InputSource::kPyramid);
  compileAndSimulate("resnet_mini", 2, hq::InputSource::kResizer);
}

TEST_CASE("generality zoo: squeezenet_mini compiled -O0..-O3 equals the integer executor",
          "[sim][generality]") {
  for (int level = 0; level <= 3; ++level) compileAndSimulate("squeezenet_mini", level);
}

TEST_CASE(
    "generality zoo: squeezenet_mini with pyramid (-O1) and resizer (-O2) NV12 input equals the "
    "integer executor",
    "[sim][generality]") {
  compileAndSimulate("squeezenet_mini", 1, hq::InputSource::kPyramid);
  compileAndSimulate("squeezenet_mini", 2, hq::InputSource::kResizer);
}

TEST_CASE("generality zoo: unet_mini compiled -O0..-O3 equals the integer executor",
          "[sim][generality]") {
  for (int level = 0; level <= 3; ++level) compileAndSimulate("unet_mini", level);
}

TEST_CASE(
    "generality zoo: unet_mini with pyramid (-O1) and resizer (-O2) NV12 input equals the "
    "integer executor",
    "[sim][generality]") {
  compileAndSimulate("unet_mini", 1, hq::InputSource::kPyramid);
  compileAndSimulate("unet_mini", 2, hq::InputSource::kResizer);
}

TEST_CASE("generality zoo: mixed_mini compiled -O0..-O3 equals the integer executor",
          "[sim][generality]") {
  for (int level = 0; level <= 3; ++level) compileAndSimulate("mixed_mini", level);
}

TEST_CASE(
    "generality zoo: mixed_mini with pyramid (-O1) and resizer (-O2) NV12 input equals "
    "the integer executor",
    "[sim][generality]") {
  compileAndSimulate("mixed_mini", 1, hq::InputSource::kPyramid);
  compileAndSimulate("mixed_mini", 2, hq::InputSource::kResizer);
}

TEST_CASE("generality zoo: misc_mini compiled -O0..-O3 equals the integer executor",
          "[sim][generality]") {
  for (int level = 0; level <= 3; ++level) compileAndSimulate("misc_mini", level);
}

TEST_CASE(
    "generality zoo: misc_mini with pyramid (-O1) and resizer (-O2) NV12 input equals "
    "the integer executor",
    "[sim][generality]") {
  compileAndSimulate("misc_mini", 1, hq::InputSource::kPyramid);
  compileAndSimulate("misc_mini", 2, hq::InputSource::kResizer);
}

TEST_CASE("generality zoo: resnet_rgb (3x20x36) compiled -O0..-O3 equals the integer executor",
          "[sim][generality]") {
  for (int level = 0; level <= 3; ++level) compileAndSimulate("resnet_rgb", level);
}

TEST_CASE(
    "generality zoo: resnet_rgb (3x20x36) with pyramid (-O1) and resizer (-O2) NV12 input "
    "equals the integer executor",
    "[sim][generality]") {
  compileAndSimulate("resnet_rgb", 1, hq::InputSource::kPyramid);
  compileAndSimulate("resnet_rgb", 2, hq::InputSource::kResizer);
}
