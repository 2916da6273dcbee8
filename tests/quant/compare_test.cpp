// compareModels (hq-convert --compare) on real data. The integer model here is a stand-in
// whose "integer" tensors are the QDQ model's own QuantizeLinear outputs (the names hq-convert
// gives its tensors), so against the fake-quant model every tensor must match exactly, and
// against the float model the numbers are the real quantization error of fmnist_cnn.
#include <catch2/catch.hpp>

#include <cmath>

#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/compare.h"
#include "quant/convert.h"

using namespace hq;

namespace {

const std::string kModel = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx";

struct Models {
  std::unique_ptr<Graph> flt, qdq;
};

Models makeModels(const std::string& qconfig = "default") {
  Models m;
  auto f = importOnnxFile(kModel);
  REQUIRE(f.isOk());
  m.flt = std::move(*f);
  DatasetOptions dopt;
  dopt.limit = 64;
  auto data = openDataset("fashion-mnist-calib", dopt);
  REQUIRE(data.isOk());
  CalibOptions opt;
  opt.progress = false;
  opt.threads = 1;
  opt.batchSize = 64;
  auto qc = QConfig::load(qconfig);
  REQUIRE(qc.isOk());
  auto r = calibrate(*m.flt, **data, *qc, opt);
  REQUIRE(r.isOk());
  m.qdq = std::move(r->model);
  return m;
}

/// The QDQ model with "hq.int.scales" for each QuantizeLinear output, from its scale input;
/// `input_scale_factor` changes the input's quantization scale (a wrong model).
std::unique_ptr<Graph> standIn(const Graph& qdq, float input_scale_factor = 1.0f) {
  auto g = qdq.clone();
  if (input_scale_factor != 1.0f) {
    Value* s = g->findValue("input_scale");
    REQUIRE(s);
    REQUIRE(s->isConstant());
    // A new buffer: clones share constant data with their source.
    const float v = s->constant.data<float>()[0] * input_scale_factor;
    s->constant = Tensor::fromVector<float>(s->constant.shape(), {v});
  }
  std::string scales = "{";
  for (const Node* n : g->nodes()) {
    if (n->opType != "QuantizeLinear") continue;
    float s = static_cast<float>(n->input(1)->constant.toDouble()[0]);
    if (scales.size() > 1) scales += ",";
    scales += "\"" + n->outputs[0]->name + "\":" + std::to_string(s);
  }
  g->metadata["hq.int.scales"] = scales + "}";
  return g;
}

CompareOptions options() {
  CompareOptions o;
  o.data = "fashion-mnist-test";
  o.limit = 40;
  o.batch = 16;
  o.threads = 1;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("compare: identical integer tensors match the fake-quant model exactly") {
  Models m = makeModels();
  auto fake_int = standIn(*m.qdq);
  auto r = compareModels(m.flt.get(), *m.qdq, *fake_int, options());
  REQUIRE(r.isOk());
  CHECK(r->images == 40);
  CHECK(r->top1Disagreement == 0);
  CHECK(r->top1Int == r->top1FakeQuant);
  // Input, 3 conv units, the average pool and the logits: 6 quantization points.
  REQUIRE(r->layers.size() == 6);
  for (const auto& l : r->layers) {
    INFO(l.tensor);
    CHECK(l.cosineFakeQuant == 1.0);
    CHECK(std::isinf(l.sqnrFakeQuantDb));
    CHECK(l.maxErrLsb == 0);
    CHECK(l.mismatchFraction == 0);
    // Against float: close but not exact (int8 quantization error); the input is exact
    // but for the clamp of +1.0 (pixel 255 -> 127/128), checked below.
    CHECK(l.cosineFloat > 0.98);
    if (l.tensor != "input_quantized") {
      CHECK(l.cosineFloat < 1.0);
      CHECK(l.sqnrFloatDb > 10);
      CHECK(l.sqnrFloatDb < 60);
    }
  }
  // Sorted worst first.
  for (size_t i = 1; i < r->layers.size(); ++i) {
    CHECK(r->layers[i - 1].cosineFloat <= r->layers[i].cosineFloat);
  }
  // The input point is quantized with scale 1/128 from pixels k/128 - 1: exact but for the
  // clamp of +1.0 to 127/128, a tiny error (SQNR ~84 dB here).
  auto in = std::find_if(r->layers.begin(), r->layers.end(),
                         [](const LayerComparison& l) { return l.tensor == "input_quantized"; });
  REQUIRE(in != r->layers.end());
  CHECK(in->cosineFloat > 0.9999);
  CHECK(in->sqnrFloatDb > 60);
  CHECK(in == r->layers.end() - 1);  // the best layer is last
  // The gate: nothing is below 0.5; all but the input are below 0.99999.
  CHECK(r->below(0.5).empty());
  CHECK(r->below(0.99999).size() == 5);
  // JSON and text are deterministic and complete.
  auto j = r->toJson();
  CHECK(j["layers"].size() == 6);
  CHECK(j["layers"][0]["sqnr_fake_quant_db"] == "inf");
  CHECK(r->toText().find("input_quantized") != std::string::npos);
}

TEST_CASE("compare: a wrong input scale shows up as a large LSB error and a low SQNR") {
  Models m = makeModels();
  auto bad = standIn(*m.qdq, 2.0f);  // input quantized at twice its scale
  auto r = compareModels(nullptr, *m.qdq, *bad, options());
  REQUIRE(r.isOk());
  CHECK(std::isnan(r->top1Float));
  auto in = std::find_if(r->layers.begin(), r->layers.end(),
                         [](const LayerComparison& l) { return l.tensor == "input_quantized"; });
  REQUIRE(in != r->layers.end());
  CHECK(std::isnan(in->cosineFloat));
  // The input's integers are about half the fake-quant's (-128 -> -64): about -6 dB of
  // error power against signal, up to 64 LSB off, nearly every element differs.
  CHECK(in->sqnrFakeQuantDb == Approx(10 * std::log10(4.0)).margin(0.5));
  CHECK(in->maxErrLsb == 64);
  CHECK(in->mismatchFraction > 0.9);
  CHECK(in->cosineFakeQuant > 0.999);
  // Later layers see the coarser input: they differ too, but stay correlated.
  for (const auto& l : r->layers) {
    INFO(l.tensor);
    CHECK(l.cosineFakeQuant > 0.9);
    CHECK(l.mismatchFraction > 0);
  }
  // Without a float model the gate uses the fake-quant cosine.
  CHECK(r->below(0.5).empty());
}

TEST_CASE("compare: errors name what is missing") {
  Models m = makeModels();
  SECTION("no scales metadata") {
    auto r = compareModels(nullptr, *m.qdq, *m.qdq, options());
    REQUIRE_FALSE(r.isOk());
    CHECK_THAT(r.status().message(), Catch::Contains("hq.int.scales"));
  }
  SECTION("bad scales metadata") {
    auto g = m.qdq->clone();
    g->metadata["hq.int.scales"] = "{\"input_quantized\": -1}";
    auto r = compareModels(nullptr, *m.qdq, *g, options());
    REQUIRE_FALSE(r.isOk());
    CHECK_THAT(r.status().message(), Catch::Contains("input_quantized"));
  }
  SECTION("data that does not fit") {
    auto g = standIn(*m.qdq);
    CompareOptions o = options();
    o.data = "fashion-mnist-test-32";
    auto r = compareModels(nullptr, *m.qdq, *g, o);
    REQUIRE_FALSE(r.isOk());
    CHECK_THAT(r.status().message(), Catch::Contains("integer model"));
  }
}

TEST_CASE("compare: a qint32 output is compared with the QDQ model's float output") {
  Models m = makeModels("default-32bit-out");
  auto converted = convertToInteger(*m.qdq);
  REQUIRE(converted.isOk());
  auto r = compareModels(m.flt.get(), *m.qdq, **converted, options());
  REQUIRE(r.isOk());
  auto logits = std::find_if(r->layers.begin(), r->layers.end(),
                             [](const LayerComparison& l) { return l.tensor == "logits_quantized"; });
  REQUIRE(logits != r->layers.end());
  CHECK(logits->op == "QGemm");
  // Against the QDQ model's float logits, in accumulator LSBs (not on a grid): close, and
  // almost every element within 1/2 LSB (the integer inputs match the fake-quant ones).
  CHECK_FALSE(std::isnan(logits->cosineFakeQuant));
  CHECK(logits->cosineFakeQuant > 0.9999);
  CHECK(logits->mismatchFraction < 0.05);
  CHECK(logits->sqnrFakeQuantDb > 40);
}
