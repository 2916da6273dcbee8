// hq-convert: structure and parameters of integer models made from QDQ models (the bundled
// CNN's, and small hand-made ones), rejections, and integer vs fake-quant execution.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <functional>

#include "data/dataset.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "quant/convert.h"
#include "quant/qdq.h"
#include "quant/rules.h"
#include "runtime/executor.h"
#include "support/fixed_point.h"
#include "support/json.h"

using namespace hq;

namespace {

const std::string kFixture = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

std::unique_ptr<Graph> loadQdq() {
  auto g = importOnnxFile(kFixture);
  REQUIRE(g.isOk());
  return std::move(*g);
}

std::map<std::string, int64_t> opCounts(const Graph& g) {
  std::map<std::string, int64_t> c;
  for (const Node* n : g.nodes()) ++c[n->domain.empty() ? n->opType : n->domain + "." + n->opType];
  return c;
}

std::vector<float> floats(const Value* v) {
  REQUIRE(v);
  REQUIRE(v->isConstant());
  const Tensor& t = v->constant;
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

/// Scale of a value of a QDQ model, traced back independently of the converter: through
/// same-scale ops (MaxPool, Relu, Flatten) to the DequantizeLinear that produced it.
float qdqScaleOf(const Value* v) {
  while (v && v->producer) {
    const Node* p = v->producer;
    if (p->opType == "DequantizeLinear" || p->opType == "QuantizeLinear") {
      return floats(p->input(1)).at(0);
    }
    REQUIRE((p->opType == "MaxPool" || p->opType == "Relu" || p->opType == "Flatten"));
    v = p->input(0);
  }
  FAIL("no scale for value");
  return 0;
}

/// The QuantizeLinear that quantizes the output of `n` (following Relu), or nullptr.
const Node* quantizerAfter(const Graph& g, const Node* n) {
  const Value* v = n->outputs[0];
  for (int hops = 0; hops < 3; ++hops) {
    auto users = g.consumers(v);
    if (users.size() != 1) return nullptr;
    if (users[0]->opType == "QuantizeLinear") return users[0];
    v = users[0]->outputs[0];
  }
  return nullptr;
}

const Node* intNode(const Graph& g, const std::string& name) {
  const Node* n = g.findNode(name);
  REQUIRE(n);
  return n;
}

// --- small hand-made graphs -------------------------------------------------------------

Value* act(Graph& g, const std::string& name, Shape shape) {
  return g.addValue(name, DType::kFloat32, std::move(shape), true);
}

Value* randomConst(Graph& g, const std::string& name, Shape shape, float amp, int seed) {
  Tensor t(DType::kFloat32, std::move(shape));
  uint32_t s = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    t.data<float>()[i] = amp * (static_cast<float>(s >> 8) / 16777216.0f * 2 - 1);
  }
  return g.addConstant(name, t);
}

/// hq-calib's own QDQ writer with chosen scales: activations from `scales` by value name,
/// weights max|w| / 127 per channel (or per tensor).
std::unique_ptr<Graph> toQdq(std::unique_ptr<Graph> g, const std::map<std::string, float>& scales,
                             const QConfig& qc = QConfig::defaults()) {
  REQUIRE(inferShapes(*g).isOk());
  auto plan = planQuantization(*g, qc);
  REQUIRE(plan.isOk());
  std::vector<QuantParams> params;
  for (const QuantPoint& p : plan->points) {
    QuantParams q;
    q.dtype = p.spec.dtype;
    if (p.kind == QuantPoint::Kind::kWeight) {
      const Tensor& w = p.value->constant;
      bool per = p.spec.perChannel && w.rank() >= 2;
      int64_t ch = per ? w.dim(p.channelAxis) : 1;
      int64_t inner = 1;
      for (int64_t d = p.channelAxis + 1; per && d < w.rank(); ++d) inner *= w.dim(d);
      std::vector<float> amax(static_cast<size_t>(ch), 0.0f);
      for (int64_t i = 0; i < w.numel(); ++i) {
        size_t c = per ? static_cast<size_t>((i / inner) % ch) : 0;
        amax[c] = std::max(amax[c], std::fabs(w.data<float>()[i]));
      }
      for (float a : amax) q.scales.push_back(a > 0 ? a / 127 : 1.0f);
      q.axis = per ? p.channelAxis : -1;
    } else if (q.dtype == QDType::kInt32) {
      q.scales = {1.0f};
    } else {
      auto it = scales.find(p.value->name);
      q.scales = {it == scales.end() ? 0.05f : it->second};
    }
    q.zeroPoints.assign(q.scales.size(), 0);
    params.push_back(q);
  }
  REQUIRE(insertQdq(*g, *plan, params).isOk());
  return g;
}

Attributes intsAttr(std::initializer_list<std::pair<const char*, std::vector<int64_t>>> kv) {
  Attributes a;
  for (const auto& [k, v] : kv) a.set(k, Attribute::ofInts(v));
  return a;
}

std::vector<int64_t> attrInts(const Node* n, const char* name) {
  REQUIRE(n->attrs.has(name));
  return n->attrs.getInts(name);
}

ConvertResult convertOk(const Graph& qdq) {
  auto r = convertModel(qdq);
  if (!r.isOk()) FAIL(r.status().message());
  auto bytes = exportOnnxBytes(*r->model);
  REQUIRE(bytes.isOk());
  auto checked = checkOnnxBytes(*bytes, "integer model");
  if (!checked.isOk()) FAIL(checked.message());
  return std::move(*r);
}

/// Run the QDQ and the integer model on `inputs`; every integer activation tensor that the
/// QDQ model also has ("<v>_quantized") must agree within `lsb`; returns the outputs.
std::pair<std::vector<Tensor>, std::vector<Tensor>> runBoth(const Graph& qdq, const Graph& im,
                                                            const std::vector<Tensor>& inputs,
                                                            int lsb, int* compared = nullptr) {
  std::vector<std::string> names;
  for (const Value* v : im.values()) {
    const Value* q = qdq.findValue(v->name);
    if (v->dtype == DType::kInt8 && !v->isConstant() && q && q->dtype == DType::kInt8 &&
        !q->isConstant()) {
      names.push_back(v->name);
    }
  }
  ExecutorOptions o;
  o.keep = names;
  o.threads = 1;
  auto eq = Executor::create(qdq, o);
  REQUIRE(eq.isOk());
  auto ei = Executor::create(im, o);
  if (!ei.isOk()) FAIL(ei.status().message());
  auto oq = (*eq)->run(inputs);
  if (!oq.isOk()) FAIL(oq.status().message());
  auto oi = (*ei)->run(inputs);
  if (!oi.isOk()) FAIL(oi.status().message());
  for (const std::string& name : names) {
    const Tensor& a = (*eq)->kept().at(name);
    const Tensor& b = (*ei)->kept().at(name);
    REQUIRE(a.shape() == b.shape());
    int worst = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      worst = std::max(worst, std::abs(a.data<int8_t>()[i] - b.data<int8_t>()[i]));
    }
    INFO("tensor " << name);
    CHECK(worst <= lsb);
  }
  if (compared) *compared = static_cast<int>(names.size());
  return {std::move(*oq), std::move(*oi)};
}

Tensor randomInput(Shape shape, float amp, int seed) {
  Graph tmp;
  return randomConst(tmp, "x", std::move(shape), amp, seed)->constant;
}

}  // namespace

TEST_CASE("convert: the bundled CNN's QDQ model becomes QConv/QMaxPool/QGemm with its scales") {
  auto qdq = loadQdq();
  ConvertOptions opt;
  opt.inputDigests["model"] = "digest-of-input";
  auto r = convertModel(*qdq, opt);
  REQUIRE(r.isOk());
  const Graph& g = *r->model;
  std::map<std::string, int64_t> want = {
      {"QuantizeLinear", 1},  {"ai.hq.QConv", 3}, {"ai.hq.QMaxPool", 2},
      {"ai.hq.QGlobalAveragePool", 1}, {"Flatten", 1}, {"ai.hq.QGemm", 1},
      {"DequantizeLinear", 1}};
  CHECK(opCounts(g) == want);
  CHECK(r->nodesPerOp == want);
  CHECK(r->fusedUnits == 4);
  CHECK(r->warnings.empty());
  REQUIRE(g.inputs().size() == 1);
  CHECK(g.inputs()[0]->name == "input");
  CHECK(g.inputs()[0]->dtype == DType::kFloat32);
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0]->name == "logits");
  CHECK(g.outputs()[0]->dtype == DType::kFloat32);
  CHECK(g.extraOpsets.at("ai.hq") == 1);

  int units = 0;
  for (const Node* n : g.nodes()) {
    if (n->opType != "QConv" && n->opType != "QGemm") continue;
    ++units;
    const Node* src = qdq->findNode(n->name);  // the integer node keeps the source's name
    REQUIRE(src);
    CHECK(src->opType == (n->opType == "QConv" ? "Conv" : "Gemm"));
    float s_in = qdqScaleOf(src->input(0));
    const Node* wdq = src->input(1)->producer;
    REQUIRE(wdq->opType == "DequantizeLinear");
    std::vector<float> s_w = floats(wdq->input(1));
    const Node* q = quantizerAfter(*qdq, src);
    REQUIRE(q);
    float s_out = floats(q->input(1)).at(0);
    // Names: X, the QDQ model's int8 weight as is, output "<v>_quantized".
    CHECK(n->inputs[1]->name == wdq->input(0)->name);
    CHECK(n->inputs[1]->constant.equals(wdq->input(0)->constant));
    CHECK(n->outputs[0]->name == q->outputs[0]->name);
    CHECK(n->outputs[0]->dtype == DType::kInt8);
    // Multipliers from the scales read here.
    auto mult = attrInts(n, "multiplier");
    auto shift = attrInts(n, "shift");
    REQUIRE(mult.size() == s_w.size());
    std::vector<float> bias = floats(src->input(2));
    // The bias: int64 fixed-point, round_half_even(b / s_out * 2^shift[c]) (int-ops.md
    // section 1.5; nearbyint rounds half to even).
    const Tensor& bq = n->inputs[2]->constant;
    REQUIRE(bq.dtype() == DType::kInt64);
    for (size_t c = 0; c < s_w.size(); ++c) {
      double acc_scale = static_cast<double>(s_in) * s_w[c];
      auto fm = fxp::quantizeMultiplier(acc_scale / s_out);
      REQUIRE(fm.isOk());
      CHECK(mult[c] == fm->multiplier);
      CHECK(shift[c] == fm->shift);
      const double want = std::nearbyint(
          std::ldexp(static_cast<double>(bias[c]) / s_out, static_cast<int>(shift[c])));
      CHECK(bq.data<int64_t>()[c] == static_cast<int64_t>(want));
    }
    CHECK(n->attrs.getInt("out_hi", 0) == 127);
    CHECK(n->attrs.getInt("out_lo", 0) == (n->opType == "QConv" ? 0 : -128));  // fused Relu
    CHECK(n->attrs.getInt("out_type", 0) == 3);
    CHECK(n->attrs.getFloat("in_scale", 0) == s_in);
    CHECK(n->attrs.getFloat("out_scale", 0) == s_out);
  }
  CHECK(units == 4);

  // Metadata.
  CHECK(g.metadata.at("hq.stage") == "int");
  CHECK(g.metadata.at("hq.qconfig") == qdq->metadata.at("hq.qconfig"));
  auto lineage = parseJson(g.metadata.at("hq.lineage"), "lineage");
  REQUIRE(lineage.isOk());
  CHECK((*lineage)["tool"] == "hq-convert");
  CHECK((*lineage)["inputs"]["model"] == "digest-of-input");
  CHECK((*lineage)["parent"]["tool"] == "hq-calib");
  auto scales = parseJson(g.metadata.at("hq.int.scales"), "scales");
  REQUIRE(scales.isOk());
  CHECK((*scales)["input_quantized"].get<float>() == floats(qdq->findValue("input_scale"))[0]);
  CHECK((*scales)["logits_quantized"].get<float>() == floats(qdq->findValue("logits_scale"))[0]);
  // Same-scale outputs keep their float name with the producer's scale.
  const Value* pooled = g.findValue("/features/features.1/MaxPool_output_0");
  REQUIRE(pooled);
  CHECK(pooled->dtype == DType::kInt8);
  CHECK((*scales)[pooled->name].get<float>() == qdqScaleOf(qdq->findValue(pooled->name)));
}

TEST_CASE("convert: same input, same bytes; the model passes the ONNX checker and re-imports") {
  auto qdq = loadQdq();
  auto a = convertToInteger(*qdq);
  auto b = convertToInteger(*loadQdq());
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  auto ba = exportOnnxBytes(**a);
  auto bb = exportOnnxBytes(**b);
  REQUIRE(ba.isOk());
  REQUIRE(bb.isOk());
  CHECK(*ba == *bb);
  CHECK(checkOnnxBytes(*ba, "int model").isOk());
  auto back = importOnnxBytes(*ba, "int model");
  if (!back.isOk()) FAIL(back.status().message());
  CHECK(opCounts(**back)["ai.hq.QConv"] == 3);
}

TEST_CASE("convert: residual Add and Relu fused into QConv with a shared shift") {
  auto g = std::make_unique<Graph>();
  Value* x = act(*g, "x", {1, 4, 6, 6});
  g->mutableInputs().push_back(x);
  Value* c1 = act(*g, "c1", {1, 4, 6, 6});
  Value* r1 = act(*g, "r1", {1, 4, 6, 6});
  Value* c2 = act(*g, "c2", {1, 4, 6, 6});
  Value* sum = act(*g, "sum", {1, 4, 6, 6});
  Value* r2 = act(*g, "r2", {1, 4, 6, 6});
  Attributes pads = intsAttr({{"pads", {1, 1, 1, 1}}});
  g->addNode("Conv", "conv1", {x, randomConst(*g, "w1", {4, 4, 3, 3}, 0.5f, 1),
                               randomConst(*g, "b1", {4}, 0.2f, 2)}, {c1}, pads);
  g->addNode("Relu", "relu1", {c1}, {r1});
  g->addNode("Conv", "conv2", {r1, randomConst(*g, "w2", {4, 4, 3, 3}, 0.5f, 3),
                               randomConst(*g, "b2", {4}, 0.2f, 4)}, {c2}, pads);
  g->addNode("Add", "add", {c2, r1}, {sum});
  g->addNode("Relu", "relu2", {sum}, {r2});
  g->mutableOutputs().push_back(r2);
  auto qdq = toQdq(std::move(g), {{"x", 0.02f}, {"r1", 0.04f}, {"r2", 0.05f}});
  ConvertResult r = convertOk(*qdq);
  CHECK(opCounts(*r.model)["ai.hq.QConv"] == 2);
  const Node* n = intNode(*r.model, "conv2");
  REQUIRE(n->inputs.size() == 4);
  CHECK(n->inputs[0]->name == "r1_quantized");
  CHECK(n->inputs[3]->name == "r1_quantized");
  CHECK(n->outputs[0]->name == "r2_quantized");
  std::vector<float> s_w = floats(qdq->findValue("w2_scale"));
  auto mult = attrInts(n, "multiplier"), res = attrInts(n, "residual_multiplier"),
       shift = attrInts(n, "shift");
  for (size_t c = 0; c < 4; ++c) {
    auto ms = fxp::quantizeMultipliersSharedShift(
        {static_cast<double>(0.04f) * s_w[c] / static_cast<double>(0.05f),
         static_cast<double>(0.04f) / static_cast<double>(0.05f)});
    REQUIRE(ms.isOk());
    CHECK(mult[c] == (*ms)[0].multiplier);
    CHECK(res[c] == (*ms)[1].multiplier);
    CHECK(shift[c] == (*ms)[0].shift);
  }
  CHECK(n->attrs.getInt("out_lo", -1) == 0);
  CHECK(n->attrs.getFloat("residual_scale", 0) == 0.04f);
  // Bit for bit (or 1 LSB) against the fake-quant model.
  int compared = 0;
  runBoth(*qdq, *r.model, {randomInput({1, 4, 6, 6}, 2.0f, 7)}, 1, &compared);
  CHECK(compared == 3);  // x, r1, r2
}

TEST_CASE("convert: Clip bounds become clamp bounds; a standalone Clip becomes QClamp") {
  auto g = std::make_unique<Graph>();
  g->opsetVersion = 13;
  Value* x = act(*g, "x", {1, 2, 4, 4});
  g->mutableInputs().push_back(x);
  Value* c = act(*g, "c", {1, 2, 4, 4});
  Value* y = act(*g, "y", {1, 2, 4, 4});
  Value* z = act(*g, "z", {1, 2, 4, 4});
  g->addNode("Conv", "conv", {x, randomConst(*g, "w", {2, 2, 1, 1}, 1.0f, 5)}, {c});
  Value* zero = g->addConstant("zero", Tensor::scalar<float>(0.0f));
  Value* six = g->addConstant("six", Tensor::scalar<float>(6.0f));
  g->addNode("Clip", "relu6", {c, zero, six}, {y});
  Value* lo = g->addConstant("lo", Tensor::scalar<float>(-1.0f));
  Value* hi = g->addConstant("hi", Tensor::scalar<float>(1.0f));
  g->addNode("Clip", "clip", {y, lo, hi}, {z});
  g->mutableOutputs().push_back(z);
  auto qdq = toQdq(std::move(g), {{"x", 0.03f}, {"y", 0.1f}});
  ConvertResult r = convertOk(*qdq);
  const Node* conv = intNode(*r.model, "conv");
  CHECK(conv->attrs.getInt("out_lo", -1) == 0);
  CHECK(conv->attrs.getInt("out_hi", -1) == 60);  // 6 / 0.1
  const Node* clamp = intNode(*r.model, "clip");
  CHECK(clamp->opType == "QClamp");
  CHECK(clamp->attrs.getInt("lo", 0) == -10);  // -1 / 0.1 on y's grid
  CHECK(clamp->attrs.getInt("hi", 0) == 10);
  CHECK(clamp->outputs[0]->name == "z_quantized");  // a graph output: dequantized from here
  runBoth(*qdq, *r.model, {randomInput({1, 2, 4, 4}, 3.0f, 8)}, 1);
}

TEST_CASE("convert: Add, Sub, Concat, AveragePool, Sigmoid and Softmax get their parameters") {
  auto g = std::make_unique<Graph>();
  g->opsetVersion = 13;
  Value* x = act(*g, "x", {1, 2, 4, 4});
  Value* y = act(*g, "y", {1, 2, 4, 4});
  g->mutableInputs() = {x, y};
  Value* add = act(*g, "add", {1, 2, 4, 4});
  Value* sub = act(*g, "sub", {1, 2, 4, 4});
  Value* cat = act(*g, "cat", {1, 4, 4, 4});
  Value* pool = act(*g, "pool", {1, 4, 2, 2});
  Value* sig = act(*g, "sig", {1, 4, 2, 2});
  Value* flat = act(*g, "flat", {1, 16});
  Value* sm = act(*g, "sm", {1, 16});
  g->addNode("Add", "add", {x, y}, {add});
  g->addNode("Sub", "sub", {x, y}, {sub});
  Attributes ax;
  ax.set("axis", Attribute::ofInt(1));
  g->addNode("Concat", "cat", {add, x}, {cat}, ax);
  g->addNode("AveragePool", "pool", {cat}, {pool},
             intsAttr({{"kernel_shape", {2, 2}}, {"strides", {2, 2}}}));
  g->addNode("Sigmoid", "sig", {pool}, {sig});
  g->addNode("Flatten", "flatten", {sig}, {flat}, ax);
  g->addNode("Softmax", "softmax", {flat}, {sm});
  g->mutableOutputs() = {sm, sub};
  const float sx = 0.02f, sy = 0.03f, sadd = 0.04f, ssub = 0.05f, spool = 0.03f;
  const float ssig = 1.0f / 128, ssm = 1.0f / 128;
  auto qdq = toQdq(std::move(g), {{"x", sx}, {"y", sy}, {"add", sadd}, {"sub", ssub},
                                  {"cat", sadd}, {"pool", spool}, {"sig", ssig}, {"sm", ssm}});
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;

  auto shared = [](float a, float b, float out) {
    auto ms = fxp::quantizeMultipliersSharedShift(
        {static_cast<double>(a) / out, static_cast<double>(b) / out});
    REQUIRE(ms.isOk());
    return *ms;
  };
  const Node* n = intNode(im, "add");
  CHECK(n->opType == "QAdd");
  auto ms = shared(sx, sy, sadd);
  CHECK(n->attrs.getInt("multiplier_a", 0) == ms[0].multiplier);
  CHECK(n->attrs.getInt("multiplier_b", 0) == ms[1].multiplier);
  CHECK(n->attrs.getInt("shift", 0) == ms[0].shift);
  n = intNode(im, "sub");
  ms = shared(sx, sy, ssub);
  CHECK(n->attrs.getInt("multiplier_b", 0) == -int64_t{ms[1].multiplier});

  n = intNode(im, "cat");
  CHECK(n->opType == "QConcat");
  auto cm = attrInts(n, "multiplier"), cs = attrInts(n, "shift");
  CHECK(cm[0] == (int64_t{1} << 30));  // equal scales: exactly 1, a copy
  CHECK(cs[0] == 30);
  auto fm = fxp::quantizeMultiplier(static_cast<double>(sx) / sadd);
  CHECK(cm[1] == fm->multiplier);
  CHECK(cs[1] == fm->shift);
  CHECK(n->outputs[0]->name == "cat_quantized");

  n = intNode(im, "pool");
  CHECK(n->opType == "QAveragePool");
  auto am = fxp::averageMultipliers(sadd, spool, 4);
  REQUIRE(am.isOk());
  auto pm = attrInts(n, "multiplier"), ps = attrInts(n, "shift");
  REQUIRE(pm.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(pm[i] == (*am)[i].multiplier);
    CHECK(ps[i] == (*am)[i].shift);
  }
  CHECK(attrInts(n, "pads") == std::vector<int64_t>{0, 0, 0, 0});

  n = intNode(im, "sig");
  CHECK(n->opType == "QLookup");
  CHECK(n->attrs.getInt("in_lo", 0) == -128);
  const Tensor& table = n->inputs[1]->constant;
  REQUIRE(table.dtype() == DType::kInt8);
  REQUIRE(table.numel() == 256);
  for (int q = -128; q <= 127; ++q) {  // within one rounding of the exact sigmoid
    double exact = 1.0 / (1.0 + std::exp(-static_cast<double>(q) * spool)) / ssig;
    int got = table.data<int8_t>()[q + 128];
    CHECK(std::abs(got - std::min(127.0, exact)) <= 0.5 + 1e-3);
  }
  CHECK(table.data<int8_t>()[128] == 64);  // sigmoid(0) = 0.5 = 64 / 128

  n = intNode(im, "softmax");
  CHECK(n->opType == "QSoftmax");
  CHECK(n->attrs.getInt("axis", -1) == 1);
  auto e = fxp::softmaxExpTable(ssig);
  REQUIRE(e.isOk());
  const Tensor& et = n->inputs[1]->constant;
  REQUIRE(et.numel() == 256);
  CHECK(std::vector<int32_t>(et.data<int32_t>(), et.data<int32_t>() + 256) == *e);
  auto sm_m = fxp::quantizeMultiplier(1.0 / ssm);
  CHECK(n->attrs.getInt("multiplier", 0) == sm_m->multiplier);
  CHECK(n->attrs.getInt("shift", 0) == sm_m->shift);
  CHECK(n->outputs[0]->name == "sm_quantized");

  // Against the fake-quant model: elementwise ops bit-exact or 1 LSB; Softmax's own bound.
  auto [oq, oi] = runBoth(*qdq, im, {randomInput({1, 2, 4, 4}, 2.0f, 11),
                                     randomInput({1, 2, 4, 4}, 3.0f, 12)}, 1);
  for (int64_t i = 0; i < oq[0].numel(); ++i) {
    CHECK(std::fabs(oq[0].data<float>()[i] - oi[0].data<float>()[i]) <= ssm * 1.01f);
  }
}

TEST_CASE("convert: a qint32 Gemm output is dequantized per channel; alpha and beta fold") {
  auto g = std::make_unique<Graph>();
  Value* x = act(*g, "x", {2, 8});
  g->mutableInputs().push_back(x);
  Value* y = act(*g, "logits", {2, 4});
  Attributes a;
  a.set("transB", Attribute::ofInt(1));
  a.set("alpha", Attribute::ofFloat(0.5f));
  a.set("beta", Attribute::ofFloat(2.0f));
  g->addNode("Gemm", "fc", {x, randomConst(*g, "w", {4, 8}, 1.0f, 21),
                            randomConst(*g, "b", {4}, 0.5f, 22)}, {y}, a);
  g->mutableOutputs().push_back(y);
  auto doc = parseJson(R"({"format_version": 1, "overrides": [{"op_type": "Gemm",
                          "output": {"dtype": "qint32"}}]})", "qconfig");
  REQUIRE(doc.isOk());
  auto qc = QConfig::fromJson(*doc, "qconfig");
  REQUIRE(qc.isOk());
  auto qdq = toQdq(std::move(g), {{"x", 0.02f}}, *qc);
  REQUIRE(qdq->metadata.at("hq.quant.int32_outputs") == "logits");
  ConvertResult r = convertOk(*qdq);
  const Node* n = intNode(*r.model, "fc");
  CHECK(n->opType == "QGemm");
  CHECK(n->attrs.getInt("out_type", 0) == 6);
  CHECK_FALSE(n->attrs.has("multiplier"));
  CHECK(n->attrs.getInt("transB", 0) == 1);
  std::vector<float> s_w = floats(qdq->findValue("w_scale"));
  std::vector<float> b = floats(qdq->findValue("b"));
  std::vector<float> ws = n->attrs.getFloats("w_scale");
  const Tensor& bq = n->inputs[2]->constant;
  const Node* dq = r.model->outputs()[0]->producer;
  REQUIRE(dq->opType == "DequantizeLinear");
  CHECK(dq->attrs.getInt("axis", 0) == 1);
  std::vector<float> ds = floats(dq->input(1));
  for (size_t c = 0; c < 4; ++c) {
    CHECK(ws[c] == s_w[c] * 0.5f);
    double acc = static_cast<double>(0.02f) * (s_w[c] * 0.5f);
    CHECK(bq.data<int32_t>()[c] == static_cast<int32_t>(std::nearbyint(2.0 * b[c] / acc)));
    CHECK(ds[c] == static_cast<float>(acc));
  }
  // The int32 output dequantized is the fake-quant model's float output up to the bias
  // rounding (1/2 accumulator LSB) and float32 arithmetic.
  auto [oq, oi] = runBoth(*qdq, *r.model, {randomInput({2, 8}, 2.0f, 23)}, 0);
  for (int64_t i = 0; i < oq[0].numel(); ++i) {
    CHECK(std::fabs(oq[0].data<float>()[i] - oi[0].data<float>()[i]) <= ds[i % 4] * 0.51f + 1e-5f);
  }
}

TEST_CASE("convert: MatMul with a constant weight becomes QGemm (transB 0)") {
  auto g = std::make_unique<Graph>();
  Value* x = act(*g, "x", {3, 8});
  g->mutableInputs().push_back(x);
  Value* y = act(*g, "y", {3, 5});
  g->addNode("MatMul", "mm", {x, randomConst(*g, "w", {8, 5}, 1.0f, 31)}, {y});
  g->mutableOutputs().push_back(y);
  auto qdq = toQdq(std::move(g), {{"x", 0.02f}, {"y", 0.1f}});
  ConvertResult r = convertOk(*qdq);
  const Node* n = intNode(*r.model, "mm");
  CHECK(n->opType == "QGemm");
  CHECK(n->attrs.getInt("transB", 1) == 0);
  CHECK(attrInts(n, "multiplier").size() == 5);
  runBoth(*qdq, *r.model, {randomInput({3, 8}, 2.0f, 32)}, 1);
}

// --- rejections --------------------------------------------------------------------------

namespace {

std::unique_ptr<Graph> convQdq() {
  auto g = std::make_unique<Graph>();
  Value* x = act(*g, "x", {1, 2, 4, 4});
  g->mutableInputs().push_back(x);
  Value* c = act(*g, "c", {1, 2, 4, 4});
  Value* y = act(*g, "y", {1, 2, 4, 4});
  Value* z = act(*g, "z", {1, 2, 4, 4});
  g->addNode("Conv", "conv1", {x, randomConst(*g, "w1", {2, 2, 1, 1}, 1.0f, 41)}, {c});
  g->addNode("Relu", "relu1", {c}, {y});
  g->addNode("Sigmoid", "sig", {y}, {z});
  g->mutableOutputs().push_back(z);
  return toQdq(std::move(g), {{"x", 0.02f}, {"y", 0.05f}, {"z", 1.0f / 128}});
}

std::string convertError(const Graph& qdq) {
  auto r = convertModel(qdq);
  REQUIRE_FALSE(r.isOk());
  return r.status().message();
}

/// Take the QuantizeLinear/DequantizeLinear pair of value `v` out of a QDQ graph.
void dropQdq(Graph& g, const std::string& v) {
  Value* val = g.findValue(v);
  REQUIRE(val);
  Node* q = g.consumers(val).at(0);
  REQUIRE(q->opType == "QuantizeLinear");
  Node* dq = g.consumers(q->outputs[0]).at(0);
  g.replaceAllUses(dq->outputs[0], val);
  g.removeNode(dq);
  g.removeNode(q);
  g.removeDeadValues();
}

}  // namespace

TEST_CASE("convert: the reference graph converts (the rejections below each break one thing)") {
  auto qdq = convQdq();
  ConvertResult r = convertOk(*qdq);
  CHECK(opCounts(*r.model)["ai.hq.QLookup"] == 1);
}

TEST_CASE("convert rejects a missing scale, naming the node") {
  auto qdq = convQdq();
  dropQdq(*qdq, "y");
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("'y'") && Catch::Contains("missing scale") &&
                      Catch::Contains("relu1"));
}

TEST_CASE("convert rejects a float op between quantization points, naming it") {
  auto qdq = convQdq();
  Node* conv = qdq->findNode("conv1");
  Value* in = conv->inputs[0];
  Value* e = qdq->addValue("e", DType::kFloat32, in->shape, true);
  auto exp = std::make_unique<Node>();
  exp->opType = "Exp";
  exp->name = "exp";
  exp->inputs = {in};
  exp->outputs = {e};
  qdq->insertNodeBefore(conv, std::move(exp));
  conv->inputs[0] = e;
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("Exp 'exp'") && Catch::Contains("no integer form"));
}

TEST_CASE("convert rejects a non-constant weight, naming the node") {
  auto qdq = convQdq();
  Node* conv = qdq->findNode("conv1");
  Value* w = qdq->addValue("w_in", DType::kFloat32, {2, 2, 1, 1}, true);
  qdq->mutableInputs().push_back(w);
  conv->inputs[1] = w;
  qdq->removeDeadNodes();
  qdq->removeDeadValues();
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("conv1") && Catch::Contains("not a constant"));
}

TEST_CASE("convert rejects a bias too large for the fixed-point form, naming node and channel") {
  // b / s_out * 2^shift must stay within 2^61: 1e12 / 0.1 * 2^shift (shift ~ 40) does not.
  auto g = std::make_unique<Graph>();
  Value* x = act(*g, "x", {2, 8});
  g->mutableInputs().push_back(x);
  Value* y = act(*g, "y", {2, 4});
  Attributes a;
  a.set("transB", Attribute::ofInt(1));
  g->addNode("Gemm", "fc", {x, randomConst(*g, "w", {4, 8}, 1.0f, 81),
                            g->addConstant("b", Tensor::fromVector<float>({4}, {0, 1e12f, 0, 0}))},
             {y}, a);
  g->mutableOutputs().push_back(y);
  auto qdq = toQdq(std::move(g), {{"x", 0.02f}, {"y", 0.1f}});
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("fc") && Catch::Contains("bias of channel 1") &&
                      Catch::Contains("fixed-point bias"));
}

TEST_CASE("convert rejects a non-zero zero point, naming the node") {
  auto qdq = convQdq();
  Value* z = qdq->findValue("x_zero_point");
  REQUIRE(z);
  z->constant = Tensor::scalar<int8_t>(3);
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("x_QuantizeLinear") && Catch::Contains("zero point 3"));
}

TEST_CASE("convert rejects Gemm transA = 1, naming the node") {
  auto g = std::make_unique<Graph>();
  Value* x = act(*g, "x", {8, 2});
  g->mutableInputs().push_back(x);
  Value* y = act(*g, "y", {2, 4});
  Attributes a;
  a.set("transA", Attribute::ofInt(1));
  g->addNode("Gemm", "fc", {x, randomConst(*g, "w", {8, 4}, 1.0f, 51)}, {y}, a);
  g->mutableOutputs().push_back(y);
  auto qdq = toQdq(std::move(g), {{"x", 0.02f}, {"y", 0.1f}});
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("Gemm 'fc'") && Catch::Contains("transA"));
}

TEST_CASE("convert rejects a point inside a fused unit (not hq's rule table)") {
  auto qdq = convQdq();
  // Quantize the Conv output before its Relu as well: the rule table fuses Conv + Relu.
  Value* c = qdq->findValue("c");
  Node* relu = qdq->findNode("relu1");
  Value* s = qdq->addConstant("c_scale", Tensor::scalar<float>(0.05f));
  Value* zp = qdq->addConstant("c_zero_point", Tensor::scalar<int8_t>(0));
  Value* q = qdq->addValue("c_quantized", DType::kInt8, c->shape, true);
  Value* dq = qdq->addValue("c_dequantized", DType::kFloat32, c->shape, true);
  auto qn = std::make_unique<Node>();
  qn->opType = "QuantizeLinear";
  qn->name = "c_QuantizeLinear";
  qn->inputs = {c, s, zp};
  qn->outputs = {q};
  auto dqn = std::make_unique<Node>();
  dqn->opType = "DequantizeLinear";
  dqn->name = "c_DequantizeLinear";
  dqn->inputs = {q, s, zp};
  dqn->outputs = {dq};
  qdq->insertNodeBefore(relu, std::move(qn));
  qdq->insertNodeBefore(relu, std::move(dqn));
  relu->inputs[0] = dq;
  std::string msg = convertError(*qdq);
  CHECK_THAT(msg, Catch::Contains("'c'") && Catch::Contains("no quantization point"));
}

// --- end to end on the bundled CNN ---------------------------------------------------------

TEST_CASE("convert: the integer CNN matches the fake-quant model on test images") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  DatasetOptions dopt;
  dopt.limit = 16;
  auto data = openDataset("fashion-mnist-test", dopt);
  REQUIRE(data.isOk());
  LoaderOptions lo;
  lo.batchSize = 16;
  BatchLoader loader(**data, lo);
  auto batch = loader.next();
  REQUIRE(batch.isOk());
  REQUIRE(batch->has_value());
  auto qdq = loadQdq();
  ConvertResult r = convertOk(*qdq);
  int compared = 0;
  auto [oq, oi] = runBoth(*qdq, *r.model, {(*batch)->images}, 1, &compared);
  CHECK(compared >= 5);  // input, three conv outputs, pool, logits
  int64_t rows = oq[0].dim(0), cols = oq[0].dim(1), agree = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const float* a = oq[0].data<float>() + i * cols;
    const float* b = oi[0].data<float>() + i * cols;
    agree += std::max_element(a, a + cols) - a == std::max_element(b, b + cols) - b;
  }
  CHECK(agree == rows);
}

TEST_CASE("convert: BatchNormalization left in a QDQ model folds into the int8 weights") {
  auto qdq = convQdq();
  // Conv -> BN -> Relu, with a negative factor on channel 1 (the weight's sign flips).
  Node* conv = qdq->findNode("conv1");
  Value* c = conv->outputs[0];
  Value* bn_out = qdq->addValue("bn", DType::kFloat32, c->shape, true);
  auto vec = [&](const std::string& name, std::vector<float> v) {
    return qdq->addConstant(name, Tensor::fromVector<float>({2}, v));
  };
  auto bn = std::make_unique<Node>();
  bn->opType = "BatchNormalization";
  bn->name = "bn";
  bn->inputs = {c, vec("gamma", {2.0f, -0.5f}), vec("beta", {0.1f, -0.2f}),
                vec("mean", {0.3f, 0.05f}), vec("var", {4.0f, 0.25f})};
  bn->outputs = {bn_out};
  bn->attrs.set("epsilon", Attribute::ofFloat(0.0f));
  Node* relu = qdq->findNode("relu1");
  qdq->insertNodeBefore(relu, std::move(bn));
  relu->inputs[0] = bn_out;
  ConvertResult r = convertOk(*qdq);
  CHECK(r.warnings.size() == 1);
  const Node* n = intNode(*r.model, "conv1");
  const Node* wdq = conv->inputs[1]->producer;
  const Tensor& wq = wdq->input(0)->constant;
  std::vector<float> s_w = floats(wdq->input(1));
  const Tensor& folded = n->inputs[1]->constant;
  const double f[2] = {2.0 / 2.0, -0.5 / 0.5};  // gamma / sqrt(var)
  std::vector<float> ws = n->attrs.getFloats("w_scale");
  for (int64_t i = 0; i < wq.numel(); ++i) {
    int o = static_cast<int>(i / 2);
    int want = f[o] < 0 ? std::min(127, -wq.data<int8_t>()[i]) : wq.data<int8_t>()[i];
    CHECK(folded.data<int8_t>()[i] == want);
  }
  for (int o = 0; o < 2; ++o) CHECK(ws[o] == static_cast<float>(s_w[o] * std::fabs(f[o])));
  // Bias (0 - mean) * f + beta (stored as float32 by the fold), as the int64 fixed-point
  // bias round_half_even(b / s_out * 2^shift[o]).
  const Tensor& bq = n->inputs[2]->constant;
  REQUIRE(bq.dtype() == DType::kInt64);
  const float s_out = n->attrs.getFloat("out_scale", 0);
  const std::vector<int64_t> shift = n->attrs.getInts("shift");
  REQUIRE(shift.size() == 2);
  const float b0 = static_cast<float>((0.0 - 0.3f) * 1.0 + 0.1f);
  const float b1 = static_cast<float>((0.0 - 0.05f) * -1.0 + -0.2f);
  CHECK(bq.data<int64_t>()[0] ==
        std::nearbyint(std::ldexp(static_cast<double>(b0) / s_out, static_cast<int>(shift[0]))));
  CHECK(bq.data<int64_t>()[1] ==
        std::nearbyint(std::ldexp(static_cast<double>(b1) / s_out, static_cast<int>(shift[1]))));
  runBoth(*qdq, *r.model, {randomInput({1, 2, 4, 4}, 2.0f, 61)}, 1);
}

TEST_CASE("convert: the float model is found from the QDQ model's lineage when unchanged") {
  auto qdq = loadQdq();
  std::string want = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx";
  std::string found = floatModelFromLineage(*qdq, HQ_SOURCE_DIR);
  REQUIRE_FALSE(found.empty());
  CHECK(std::filesystem::equivalent(found, want));
  auto lineage = parseJson(qdq->metadata.at("hq.lineage"), "lineage");
  REQUIRE(lineage.isOk());
  std::string digest = (*lineage)["inputs"]["model"];
  qdq->metadata["hq.lineage"] = R"({"command": "hq-calib no/such/model.onnx", "inputs": {"model": ")" +
                                digest + "\"}}";
  CHECK(floatModelFromLineage(*qdq, HQ_SOURCE_DIR).empty());  // no such file
  qdq->metadata["hq.lineage"] = R"({"command": "hq-calib models/fmnist_cnn.float-bn.onnx",
                                    "inputs": {"model": "0000"}})";
  CHECK(floatModelFromLineage(*qdq, HQ_SOURCE_DIR).empty());  // digest differs
}
