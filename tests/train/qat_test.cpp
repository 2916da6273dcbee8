// Quantization-aware training of QDQ models (train/qat.h): EMA scale updates against hand
// values, fixed points that never move, LSQ scales that learn, per-channel weight scales
// that follow the weights, evaluation forwards that change nothing, the QDQ export (the
// input model's very bytes when untrained; after training it evaluates like the validation
// forward and hq-convert takes it), frozen BatchNormalization (gradient check).
#include <catch2/catch.hpp>

#include <omp.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>

#include "data/dataset.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "runtime/executor.h"
#include "support/json.h"
#include "train/fake_quant.h"
#include "train/loss.h"
#include "train/qat.h"

namespace hq::train {
namespace {

struct OneThread {
  int before = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(before); }
};

Tensor floats(Shape s, std::vector<float> v) { return Tensor::fromVector<float>(std::move(s), v); }

std::vector<float> values(const Tensor* t) {
  REQUIRE(t);
  return std::vector<float>(t->data<float>(), t->data<float>() + t->numel());
}

/// x -> Q -> DQ on one point named `v` (scale `s`) -> the DQ output `out`.
Value* qdq(Graph& g, Value* v, float s, const std::string& out_name) {
  Value* scale = g.addConstant(v->name + "_scale", Tensor::scalar<float>(s));
  Value* zp = g.addConstant(v->name + "_zero_point", Tensor::scalar<int8_t>(0));
  Value* q = g.addValue(v->name + "_quantized", DType::kInt8, v->shape, v->hasShape);
  Value* d = g.addValue(out_name, DType::kFloat32, v->shape, v->hasShape);
  g.addNode("QuantizeLinear", v->name + "_QuantizeLinear", {v, scale, zp}, {q});
  g.addNode("DequantizeLinear", v->name + "_DequantizeLinear", {q, scale, zp}, {d});
  return d;
}

/// x[N,3] -> Relu = r -> Q/DQ (scale 0.05) -> y. The point's spec comes from the metadata
/// "hq.quant.points" with the given "qat" object.
std::unique_ptr<Graph> reluPoint(const std::string& qat_json) {
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 3}, true);
  g->mutableInputs().push_back(x);
  Value* r = g->addValue("r", DType::kFloat32, {-1, 3}, true);
  g->addNode("Relu", "relu", {x}, {r});
  g->mutableOutputs().push_back(qdq(*g, r, 0.05f, "y"));
  g->metadata["hq.quant.points"] =
      R"([{"tensor": "r", "kind": "output", "node": "relu", "scale": "r_scale", "spec": )"
      R"({"dtype": "qint8", "symmetric": true, "observer": "percentile", "qat": )" +
      qat_json + "}}]";
  return g;
}

/// x[N,3] -> Q/DQ (graph input) -> Gemm(W int8 [2,3] per-channel (0.01, 0.02), bias, transB)
/// -> Q/DQ (logits, 0.05) -> logits. No metadata: specs from the built-in qconfig (input
/// fixed at 1/128, the rest ema).
std::unique_ptr<Graph> gemmModel() {
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kFloat32, {-1, 3}, true);
  g->mutableInputs().push_back(x);
  Value* xd = qdq(*g, x, 1.0f / 128, "x_dequantized");
  Value* wq = g->addConstant("W_quantized",
                             Tensor::fromVector<int8_t>({2, 3}, {50, -127, 20, 127, 30, -64}));
  Value* ws = g->addConstant("W_scale", floats({2}, {0.01f, 0.02f}));
  Value* wz = g->addConstant("W_zero_point", Tensor::fromVector<int8_t>({2}, {0, 0}));
  Value* wd = g->addValue("W_dequantized", DType::kFloat32, {2, 3}, true);
  Attributes axis0;
  axis0.set("axis", Attribute::ofInt(0));
  g->addNode("DequantizeLinear", "W_DequantizeLinear", {wq, ws, wz}, {wd}, axis0);
  Value* b = g->addConstant("b", floats({2}, {0.1f, -0.2f}));
  Value* lf = g->addValue("logits_float", DType::kFloat32, {-1, 2}, true);
  Attributes tb;
  tb.set("transB", Attribute::ofInt(1));
  g->addNode("Gemm", "fc", {xd, wd, b}, {lf}, tb);
  Value* l = g->addValue("logits", DType::kFloat32, {-1, 2}, true);
  Value* ls = g->addConstant("logits_scale", Tensor::scalar<float>(0.05f));
  Value* lz = g->addConstant("logits_zero_point", Tensor::scalar<int8_t>(0));
  Value* lq = g->addValue("logits_quantized", DType::kInt8, {-1, 2}, true);
  g->addNode("QuantizeLinear", "logits_QuantizeLinear", {lf, ls, lz}, {lq});
  g->addNode("DequantizeLinear", "logits_DequantizeLinear", {lq, ls, lz}, {l});
  g->mutableOutputs().push_back(l);
  return g;
}

std::unique_ptr<QatModel> makeQat(const Graph& g, QatOptions opt = {}) {
  auto m = QatModel::create(g, opt);
  INFO(m.status().message());
  REQUIRE(m.isOk());
  return std::move(m).value();
}

float fq(float x, float s) { return std::nearbyint(x / s) * s; }

TEST_CASE("qat: EMA scale of an activation, two training steps against hand values", "[qat]") {
  auto g = reluPoint(R"({"averaging_constant": 0.5})");
  auto m = makeQat(*g);
  GradGraph& gg = m->grad();
  // The running range starts at the calibrated one: [-0.05 * 127, 0.05 * 127].
  CHECK(values(gg.initializer("r_scale_qat_min"))[0] == Approx(-6.35).epsilon(1e-6));
  CHECK(values(gg.initializer("r_scale_qat_max"))[0] == Approx(6.35).epsilon(1e-6));

  // Step 1: batch range of r = [0, 3]: min = 0.5 * -6.35 + 0.5 * 0, max = 0.5 * 6.35 + 0.5 * 3.
  auto y = gg.forward({floats({2, 3}, {1, -2, 3, 0.5f, 2, -1})}, true);
  REQUIRE(y.isOk());
  CHECK(values(gg.initializer("r_scale_qat_min"))[0] == Approx(-3.175).epsilon(1e-6));
  CHECK(values(gg.initializer("r_scale_qat_max"))[0] == Approx(4.675).epsilon(1e-6));
  const float s1 = values(gg.initializer("r_scale"))[0];
  CHECK(s1 == Approx(4.675 / 127).epsilon(1e-6));
  // Fake quantized with the NEW scale (3 / 0.05 is exact; 3 / s1 = 81.5 is not).
  CHECK(y->data<float>()[2] == fq(3.0f, s1));
  CHECK(y->data<float>()[2] != Approx(3.0f).margin(1e-4));
  CHECK(y->data<float>()[4] == fq(2.0f, s1));

  // Step 2: batch range [0, 10]: min = 0.5 * -3.175, max = 0.5 * 4.675 + 0.5 * 10.
  REQUIRE(gg.forward({floats({1, 3}, {10, 0, -4})}, true).isOk());
  CHECK(values(gg.initializer("r_scale_qat_min"))[0] == Approx(-1.5875).epsilon(1e-6));
  CHECK(values(gg.initializer("r_scale_qat_max"))[0] == Approx(7.3375).epsilon(1e-6));
  CHECK(values(gg.initializer("r_scale"))[0] == Approx(7.3375 / 127).epsilon(1e-6));
  CHECK(m->describe() == "1 points: 1 activation (ema)");
}

TEST_CASE("qat: without per-point metadata the qconfig's default EMA constant 0.01 applies",
          "[qat]") {
  auto g = reluPoint("{}");
  g->metadata.erase("hq.quant.points");
  auto m = makeQat(*g);
  REQUIRE(m->grad().forward({floats({2, 3}, {1, -2, 3, 0.5f, 2, -1})}, true).isOk());
  // max = 0.99 * 6.35 + 0.01 * 3, min = 0.99 * -6.35: amax = 6.3165.
  CHECK(values(m->grad().initializer("r_scale"))[0] == Approx(6.3165 / 127).epsilon(1e-6));
}

TEST_CASE("qat: evaluation forwards change no initializer", "[qat]") {
  auto g = gemmModel();
  for (auto mode : {QatScaleMode::kEma, QatScaleMode::kLsq}) {
    QatOptions opt;
    opt.scaleMode = mode;
    auto m = makeQat(*g, opt);
    GradGraph& gg = m->grad();
    std::map<std::string, std::vector<float>> before;
    for (const Value* v : gg.graph().constants()) {
      if (v->constant.dtype() == DType::kFloat32) before[v->name] = values(&v->constant);
    }
    CHECK(before.count("W_scale_qat_max") == (mode == QatScaleMode::kEma ? 1u : 0u));
    auto y = gg.forward({floats({2, 3}, {5, -7, 9, 0.5f, 1, -1})}, false);
    REQUIRE(y.isOk());
    for (const auto& [name, v] : before) {
      INFO(name);
      CHECK(values(gg.initializer(name)) == v);
    }
  }
}

TEST_CASE("qat: weight scales follow the per-channel max |W| (c = 1); the input stays fixed",
          "[qat]") {
  auto g = gemmModel();
  auto m = makeQat(*g);
  CHECK(m->describe() ==
        "3 points: 1 activation (ema), 1 weight (ema, per-channel), 1 fixed input");
  GradGraph& gg = m->grad();
  Tensor* w = gg.parameter("W");
  REQUIRE(w);
  // Dequantized int8 weights: row 0 = (50, -127, 20) * 0.01.
  CHECK(values(w)[1] == Approx(-1.27f));
  const std::vector<float> neww = {0.5f, -1.0f, 0.2f, 0.1f, 0.3f, -0.05f};
  std::copy(neww.begin(), neww.end(), w->data<float>());
  auto y = gg.forward({floats({1, 3}, {0.25f, -0.5f, 0.75f})}, true);
  REQUIRE(y.isOk());
  const auto s = values(gg.initializer("W_scale"));
  CHECK(s[0] == static_cast<float>(1.0 / 127));
  CHECK(s[1] == static_cast<float>(0.3 / 127));
  CHECK(values(gg.initializer("x_scale"))[0] == 1.0f / 128);
  // The forward used the new weight scale: logit 0 = sum fq(w, s0) * x + b (x on the 1/128 grid).
  const float want =
      fq(0.5f, s[0]) * 0.25f + fq(-1.0f, s[0]) * -0.5f + fq(0.2f, s[0]) * 0.75f + 0.1f;
  const float ls = values(gg.initializer("logits_scale"))[0];
  CHECK(y->data<float>()[0] == Approx(fq(want, ls)).margin(1e-6));
}

TEST_CASE("qat: LSQ scales are parameters with the LSQ gradient and move; fixed ones do not",
          "[qat]") {
  OneThread one;
  auto g = gemmModel();
  QatOptions opt;
  opt.scaleMode = QatScaleMode::kLsq;
  auto m = makeQat(*g, opt);
  CHECK(m->describe() ==
        "3 points: 1 activation (lsq), 1 weight (lsq, per-channel), 1 fixed input");
  GradGraph& gg = m->grad();
  const auto& params = gg.parameterNames();
  auto has = [&](const std::string& n) {
    return std::find(params.begin(), params.end(), n) != params.end();
  };
  CHECK(has("logits_scale"));
  CHECK(has("W_scale"));
  CHECK(has("W"));
  CHECK(!has("x_scale"));

  const Tensor x =
      floats({2, 3}, {0.25f, -0.5f, 0.75f, 0.5f, 0.375f, -0.75f});  // on the 1/128 grid
  REQUIRE(gg.forward({x}, true).isOk());
  const Tensor dy = floats({2, 2}, {0.3f, -1.0f, 0.7f, 0.2f});
  auto grads = gg.backward(dy);
  INFO(grads.status().message());
  REQUIRE(grads.isOk());
  // Independent oracle: logits_float by hand (the dequantized weights fake-quantize to
  // themselves), then the LSQ scale gradient of the logits point with g = 1 / sqrt(4 * 127).
  const float w[6] = {0.5f, -1.27f, 0.2f, 2.54f, 0.6f, -1.28f};
  const float b[2] = {0.1f, -0.2f};
  Tensor lf(DType::kFloat32, {2, 2});
  for (int n = 0; n < 2; ++n) {
    for (int o = 0; o < 2; ++o) {
      float acc = b[o];
      for (int k = 0; k < 3; ++k) acc += x.data<float>()[n * 3 + k] * w[o * 3 + k];
      lf.data<float>()[n * 2 + o] = acc;
    }
  }
  FakeQuantConfig cfg;
  cfg.lsqGradScale = true;
  Tensor want(DType::kFloat32, {});
  REQUIRE(fakeQuantBackward(lf, Tensor::scalar<float>(0.05f), cfg, dy, nullptr, &want).isOk());
  const float got = grads->at("logits_scale").data<float>()[0];
  CHECK(got != 0);
  CHECK(got == Approx(want.data<float>()[0]).epsilon(1e-4));
  CHECK(grads->at("W_scale").numel() == 2);

  // One SGD step moves the scale; the next forward uses it; the input scale never moves.
  gg.parameter("logits_scale")->data<float>()[0] -= 0.01f * got;
  const float moved = values(gg.initializer("logits_scale"))[0];
  CHECK(moved != 0.05f);
  auto y = gg.forward({x}, true);
  REQUIRE(y.isOk());
  CHECK(values(gg.initializer("logits_scale"))[0] == moved);
  CHECK(y->data<float>()[0] == Approx(fq(lf.data<float>()[0], moved)).margin(1e-6));
  CHECK(values(gg.initializer("x_scale"))[0] == 1.0f / 128);
}

TEST_CASE("qat: the per-point spec's qat.scale picks the mode; --scale-mode overrides it",
          "[qat]") {
  auto g = reluPoint(R"({"scale": "lsq"})");
  auto m = makeQat(*g);
  CHECK(m->describe() == "1 points: 1 activation (lsq)");
  CHECK(m->grad().parameterNames() == std::vector<std::string>{"r_scale"});
  QatOptions opt;
  opt.scaleMode = QatScaleMode::kEma;
  auto e = makeQat(*g, opt);
  CHECK(e->describe() == "1 points: 1 activation (ema)");
  CHECK(e->grad().parameterNames().empty());
}

TEST_CASE("qat: the qconfig's fixed input never moves, whatever the scale mode", "[qat]") {
  auto g = reluPoint(R"({"scale": "lsq"})");
  // Make the point a fixed one in its spec: the metadata says observer fixed.
  g->metadata["hq.quant.points"] =
      R"([{"tensor": "r", "kind": "output", "node": "relu", "scale": "r_scale", "spec": )"
      R"({"observer": "fixed", "fixed_scale": 0.05}}])";
  for (auto mode : {QatScaleMode::kEma, QatScaleMode::kLsq}) {
    QatOptions opt;
    opt.scaleMode = mode;
    auto m = makeQat(*g, opt);
    CHECK(m->describe() == "1 points: 1 fixed activation");
    REQUIRE(m->grad().forward({floats({1, 3}, {100, 2, 3})}, true).isOk());
    CHECK(values(m->grad().initializer("r_scale"))[0] == 0.05f);
    CHECK(!m->grad().initializer("r_scale_qat_max"));
  }
}

TEST_CASE("qat: bad input is an error: unknown mode, affine point", "[qat]") {
  CHECK(parseQatScaleMode("lsq").isOk());
  auto bad = parseQatScaleMode("learned");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("fixed, ema or lsq"));
  CHECK(std::string(qatScaleModeName(QatScaleMode::kEma)) == "ema");
  auto g = reluPoint("{}");
  g->findValue("r_zero_point")->constant = Tensor::scalar<int8_t>(3);
  auto m = QatModel::create(*g, {});
  REQUIRE_FALSE(m.isOk());
  CHECK_THAT(m.status().message(), Catch::Contains("zero point 3"));
  CHECK_THAT(m.status().message(), Catch::Contains("r_QuantizeLinear"));
}

TEST_CASE("qat: the export of an untrained model is the input model, byte for byte", "[qat]") {
  auto g = gemmModel();
  auto m = makeQat(*g);
  auto e = m->exportQdq();
  INFO(e.status().message());
  REQUIRE(e.isOk());
  CHECK((*e)->metadata.at("hq.stage") == "qat");
  (*e)->metadata.erase("hq.stage");
  auto a = exportOnnxBytes(*g);
  auto b = exportOnnxBytes(**e);
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  CHECK(*a == *b);
}

// ---- On the calibrated fmnist_cnn (hq-calib's output for 32 calibration images).

const Graph& calibratedFmnist() {
  static std::unique_ptr<Graph> model = [] {
    auto flt = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx");
    REQUIRE(flt.isOk());
    DatasetOptions dopt;
    dopt.limit = 32;
    auto data = openDataset("fashion-mnist-calib", dopt);
    REQUIRE(data.isOk());
    CalibOptions copt;
    copt.progress = false;
    copt.threads = 1;
    copt.batchSize = 32;
    auto qc = QConfig::load("default");
    REQUIRE(qc.isOk());
    auto r = calibrate(**flt, **data, *qc, copt);
    REQUIRE(r.isOk());
    return std::move(r->model);
  }();
  return *model;
}

void loadImages(int64_t n, Tensor& images, std::vector<int64_t>& labels) {
  DatasetOptions opt;
  opt.limit = n;
  auto data = openDataset("fashion-mnist-train", opt);
  REQUIRE(data.isOk());
  const Shape s = (*data)->sampleShape();
  images = Tensor(DType::kFloat32, {n, s[0], s[1], s[2]});
  labels.assign(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE((*data)->readInto(i, 0, images.data<float>() + i * shapeNumel(s), &labels[i]).isOk());
  }
}

TEST_CASE("qat: fmnist_cnn: points, untrained export == the calibrated bytes", "[qat]") {
  const Graph& qdq = calibratedFmnist();
  REQUIRE(qdq.metadata.count("hq.quant.points"));
  // hq-calib's per-point metadata: one entry per point, naming its scale initializer.
  auto points = parseJson(qdq.metadata.at("hq.quant.points"), "points");
  REQUIRE(points.isOk());
  REQUIRE(points->size() == 10);
  std::map<std::string, int> kinds;
  for (const auto& p : *points) {
    kinds[p.at("kind").get<std::string>()]++;
    const Value* sv = qdq.findValue(p.at("scale").get<std::string>());
    REQUIRE(sv);
    CHECK(sv->isConstant());
    CHECK(p.at("spec").contains("qat"));
  }
  CHECK(kinds == std::map<std::string, int>{{"input", 1}, {"output", 5}, {"weight", 4}});
  CHECK((*points)[0].at("spec").at("fixed_scale") == 0.0078125);
  auto m = makeQat(qdq);
  CHECK(m->describe() ==
        "10 points: 5 activations (ema), 4 weights (ema, per-channel), 1 fixed input");
  auto e = m->exportQdq();
  REQUIRE(e.isOk());
  (*e)->metadata["hq.stage"] = qdq.metadata.at("hq.stage");
  CHECK(*exportOnnxBytes(qdq) == *exportOnnxBytes(**e));
}

/// A few SGD steps on 16 training images with scale mode `mode`; the export, read back
/// from its ONNX bytes as hq-eval reads it, evaluates like the validation forward, its
/// weights were re-quantized, and hq-convert takes it.
void trainExportConvert(QatScaleMode mode, const Graph* bn_model = nullptr) {
  OneThread one;
  const Graph& qdq = calibratedFmnist();
  {
    INFO(qatScaleModeName(mode));
    QatOptions opt;
    opt.scaleMode = mode;
    opt.bnModel = bn_model;
    auto m = makeQat(qdq, opt);
    if (bn_model) CHECK_THAT(m->describe(), Catch::EndsWith("; 3 Conv+BN units"));
    GradGraph& gg = m->grad();
    Tensor x;
    std::vector<int64_t> labels;
    loadImages(16, x, labels);
    auto loss = [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); };
    const float before = values(gg.initializer("logits_scale"))[0];
    for (int step = 0; step < 3; ++step) {
      auto s = gg.step({x}, loss);
      INFO(s.status().message());
      REQUIRE(s.isOk());
      for (const auto& [name, grad] : s->grads) {
        float* p = gg.parameter(name)->data<float>();
        const float lr =
            name.size() > 6 && name.substr(name.size() - 6) == "_scale" ? 1e-4f : 0.05f;
        for (int64_t i = 0; i < grad.numel(); ++i) p[i] -= lr * grad.data<float>()[i];
      }
    }
    CHECK(values(gg.initializer("logits_scale"))[0] != before);
    CHECK(values(gg.initializer("input_scale"))[0] == 1.0f / 128);
    auto want = gg.forward({x}, false);
    REQUIRE(want.isOk());
    auto e = m->exportQdq();
    REQUIRE(e.isOk());
    // Through the ONNX bytes, as hq-eval reads it.
    auto bytes = exportOnnxBytes(**e);
    REQUIRE(bytes.isOk());
    auto back = importOnnxBytes(*bytes, "export");
    INFO(back.status().message());
    REQUIRE(back.isOk());
    auto exec = Executor::create(**back);
    REQUIRE(exec.isOk());
    auto got = (*exec)->run({x});
    REQUIRE(got.isOk());
    REQUIRE((*got)[0].shape() == want->shape());
    double worst = 0;
    for (int64_t i = 0; i < want->numel(); ++i) {
      worst =
          std::max(worst, std::fabs(double((*got)[0].data<float>()[i]) - want->data<float>()[i]));
    }
    CHECK(worst <= 1e-5);
    // Weights really changed (re-quantized from the trained floats).
    const Value* wq = (*back)->findValue("fc.weight_quantized");
    REQUIRE(wq);
    CHECK(std::memcmp(wq->constant.raw(), qdq.findValue("fc.weight_quantized")->constant.raw(),
                      wq->constant.nbytes()) != 0);
    auto conv = convertModel(**back);
    INFO(conv.status().message());
    CHECK(conv.isOk());
  }
}

TEST_CASE(
    "qat: fmnist_cnn, EMA: after SGD steps the export evaluates like the validation "
    "forward and converts",
    "[qat]") {
  trainExportConvert(QatScaleMode::kEma);
}

TEST_CASE(
    "qat: fmnist_cnn, LSQ: after SGD steps the export evaluates like the validation "
    "forward and converts",
    "[qat]") {
  trainExportConvert(QatScaleMode::kLsq);
}

TEST_CASE(
    "qat: fmnist_cnn with its BatchNormalization (ConvBn QAT units): the folded export "
    "evaluates like the validation forward and converts",
    "[qat]") {
  auto bn = importOnnxFile(std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float-bn.onnx");
  REQUIRE(bn.isOk());
  trainExportConvert(QatScaleMode::kEma, bn->get());
}

// ---- Frozen BatchNormalization (GradGraph::setBatchNormFrozen).

TEST_CASE("qat: frozen BatchNormalization: running statistics, no updates, affine gradient",
          "[qat]") {
  OneThread one;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  auto rnd = [&](Shape s, float lo, float hi) {
    Tensor t(DType::kFloat32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = lo + (hi - lo) * (u(rng) + 1) / 2;
    return t;
  };
  Graph g;
  Value* x = g.addConstant("x", rnd({2, 3, 2, 2}, -2, 2));
  Value* sc = g.addConstant("gamma", rnd({3}, 0.5f, 1.5f));
  Value* bi = g.addConstant("beta", rnd({3}, -0.5f, 0.5f));
  Value* mean = g.addConstant("mean", rnd({3}, -0.3f, 0.3f));
  Value* var = g.addConstant("var", rnd({3}, 0.5f, 2));
  Value* y = g.addValue("y", DType::kFloat32, {2, 3, 2, 2}, true);
  g.addNode("BatchNormalization", "bn", {x, sc, bi, mean, var}, {y});
  g.mutableOutputs().push_back(y);
  AutogradOptions ao;
  ao.parameters = {"x", "gamma", "beta"};
  auto gg = GradGraph::create(g, ao);
  REQUIRE(gg.isOk());
  GradGraph& G = **gg;
  G.setBatchNormFrozen(true);
  CHECK(G.batchNormFrozen());
  const auto mean0 = values(G.initializer("mean")), var0 = values(G.initializer("var"));
  auto eval = G.forward({}, false);
  REQUIRE(eval.isOk());
  const Tensor evalOut = eval->clone();
  auto train = G.forward({}, true);
  REQUIRE(train.isOk());
  for (int64_t i = 0; i < evalOut.numel(); ++i) {
    CHECK(train->data<float>()[i] == evalOut.data<float>()[i]);
  }
  const Tensor r = rnd({2, 3, 2, 2}, -1, 1);
  auto grads = G.backward(r);
  INFO(grads.status().message());
  REQUIRE(grads.isOk());
  CHECK(values(G.initializer("mean")) == mean0);
  CHECK(values(G.initializer("var")) == var0);
  // Central differences of L = sum(y * r) through frozen training forwards.
  auto lossAt = [&]() {
    auto o = G.forward({}, true);
    REQUIRE(o.isOk());
    double l = 0;
    for (int64_t i = 0; i < o->numel(); ++i) l += double(o->data<float>()[i]) * r.data<float>()[i];
    return l;
  };
  for (const std::string name : {"x", "gamma", "beta"}) {
    float* p = G.parameter(name)->data<float>();
    const Tensor& an = grads->at(name);
    for (int64_t i = 0; i < an.numel(); ++i) {
      const float keep = p[i];
      p[i] = keep + 1e-2f;
      const double up = lossAt();
      p[i] = keep - 1e-2f;
      const double down = lossAt();
      p[i] = keep;
      const double num = (up - down) / 2e-2;
      INFO(name << "[" << i << "] analytic " << an.data<float>()[i] << " numeric " << num);
      CHECK(std::fabs(an.data<float>()[i] - num) <= 2e-3 + 2e-2 * std::fabs(num));
    }
  }
  // Unfrozen: batch statistics (the output differs from eval) and the running stats move.
  G.setBatchNormFrozen(false);
  auto t2 = G.forward({}, true);
  REQUIRE(t2.isOk());
  CHECK(values(G.initializer("mean")) != mean0);
}

}  // namespace
}  // namespace hq::train
