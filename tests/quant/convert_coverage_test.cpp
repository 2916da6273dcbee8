// hq-convert coverage of the paths convert_test.cpp leaves out: qint16 activations (QConv
// with int16 input and residual, QAdd/QConcat/QMul mixing int8 and int16, QRescale int16 ->
// int8, 65536-entry QLookup tables), ConvTranspose, Resize/Upsample (nearest and linear,
// scales and sizes, coordinate modes, dynamic batch), AveragePool (pads, ceil_mode,
// count_include_pad), HardSwish/HardSigmoid/LeakyRelu/PRelu tables and Div by a constant.
//
// Every case is a small float graph calibrated with the library (calibrate() on an
// in-memory dataset, with a qconfig asking for what the case needs), converted, and run
// next to its QDQ model: every integer activation of the integer model must be within the
// bound of schemas/int-ops.md section 7 of the QDQ model's tensor (bit-exact for tables,
// max pools, clamps, nearest resize, data movement and equal-scale Concat; 1 LSB where a
// requantization rounds), the outputs must agree, and the reference-only and default
// kernels of the integer model must give the same bytes.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "ir/onnx_export.h"
#include "ir/op_registry.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "runtime/executor.h"
#include "support/fixed_point.h"
#include "support/json.h"

using namespace hq;

namespace {

/// Unlabeled in-memory images, uniform in [-amp, amp].
class MemoryDataset : public Dataset {
 public:
  MemoryDataset(Shape sample, int count, float amp, uint32_t seed) : sample_(std::move(sample)) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-amp, amp);
    int64_t n = 1;
    for (int64_t d : sample_) n *= d;
    for (int i = 0; i < count; ++i) {
      std::vector<float> im(static_cast<size_t>(n));
      for (float& v : im) v = u(rng);
      images_.push_back(std::move(im));
    }
  }
  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  Shape sampleShape() const override { return sample_; }
  bool hasLabels() const override { return false; }
  int64_t numClasses() const override { return 0; }
  Expected<Sample> get(int64_t index, int64_t) override {
    Sample s;
    s.image = Tensor::fromVector<float>(sample_, images_[static_cast<size_t>(index)]);
    return s;
  }
  std::string describe() const override { return "memory"; }

 private:
  Shape sample_;
  std::vector<std::vector<float>> images_;
};

Tensor randomTensor(Shape shape, float amp, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-amp, amp);
  Tensor t(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

/// A small float graph under construction: each op's output is a value named
/// "<node>_y" (node and value names stay distinct).
struct Builder {
  std::unique_ptr<Graph> g = std::make_unique<Graph>();
  uint32_t seed = 1;

  explicit Builder(int64_t opset = 13) { g->opsetVersion = opset; }
  Value* input(const std::string& name, Shape shape) {
    Value* v = g->addValue(name, DType::kFloat32, std::move(shape), true);
    v->dimParams.assign(v->shape.size(), "");
    if (!v->shape.empty() && v->shape[0] < 0) v->dimParams[0] = "N";
    g->mutableInputs().push_back(v);
    return v;
  }
  Value* weight(const std::string& name, Shape shape, float amp) {
    return g->addConstant(name, randomTensor(std::move(shape), amp, seed++));
  }
  Value* floats(const std::string& name, Shape shape, std::vector<float> v) {
    return g->addConstant(name, Tensor::fromVector<float>(std::move(shape), std::move(v)));
  }
  Value* op(const std::string& type, const std::string& name, std::vector<Value*> ins,
            Attributes a = {}) {
    Value* y = g->addValue(name + "_y", DType::kFloat32);
    g->addNode(type, name, std::move(ins), {y}, std::move(a));
    return y;
  }
  std::unique_ptr<Graph> finish(std::vector<Value*> outputs) {
    g->mutableOutputs() = std::move(outputs);
    Status s = inferShapes(*g);
    if (!s.isOk()) FAIL(s.message());
    return std::move(g);
  }
};

Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> kv) {
  Attributes a;
  for (const auto& [k, v] : kv) a.set(k, v);
  return a;
}
Attribute ints(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }
Attribute i64(int64_t v) { return Attribute::ofInt(v); }
Attribute f32(float v) { return Attribute::ofFloat(v); }
Attribute str(const char* v) { return Attribute::ofString(v); }

/// Calibrate `f` on random images of `sample` (minmax observers, graph inputs at the fixed
/// scale 1/128) with the qconfig `overrides` (a JSON array).
std::unique_ptr<Graph> calibrated(const Graph& f, Shape sample, const std::string& overrides,
                                  uint32_t seed = 7) {
  std::string text = R"({"format_version": 1,
      "default": {"activation": {"observer": "minmax"}},
      "inputs": {"*": {"dtype": "qint8", "symmetric": true, "fixed_scale": 0.0078125}},
      "overrides": )" + overrides + "}";
  auto doc = parseJson(text, "qconfig");
  REQUIRE(doc.isOk());
  auto qc = QConfig::fromJson(*doc, "qconfig");
  if (!qc.isOk()) FAIL(qc.status().message());
  MemoryDataset data(std::move(sample), 24, 1.0f, seed);
  CalibOptions opt;
  opt.progress = false;
  opt.threads = 1;
  // A model with a fixed batch size is calibrated in batches of that size.
  const Shape& in = f.inputs().at(0)->shape;
  opt.batchSize = !in.empty() && in[0] > 0 ? in[0] : 8;
  auto r = calibrate(f, data, *qc, opt);
  if (!r.isOk()) FAIL(r.status().message());
  return std::move(r->model);
}

ConvertResult convertOk(const Graph& qdq) {
  auto r = convertModel(qdq);
  if (!r.isOk()) FAIL(r.status().message());
  auto bytes = exportOnnxBytes(*r->model);
  REQUIRE(bytes.isOk());
  Status checked = checkOnnxBytes(*bytes, "integer model");
  if (!checked.isOk()) FAIL(checked.message());
  return std::move(*r);
}

std::string convertError(const Graph& qdq) {
  auto r = convertModel(qdq);
  REQUIRE_FALSE(r.isOk());
  return r.status().message();
}

int64_t count(const Graph& g, const std::string& op) {
  int64_t c = 0;
  for (const Node* n : g.nodes()) {
    c += (n->domain.empty() ? n->opType : n->domain + "." + n->opType) == op;
  }
  return c;
}

const Node* intNode(const Graph& g, const std::string& name) {
  const Node* n = g.findNode(name);
  if (!n) FAIL("no node '" << name << "' in the integer model");
  return n;
}

/// The bound of int-ops.md section 7 for the output of integer node `p`, in LSB: 0 where
/// the integer op is bit-exact against the fake-quant model, else 1 (one requantization
/// whose rounding may flip near a tie).
int boundOf(const Node* p) {
  if (!p || p->domain.empty()) return 0;  // QuantizeLinear, data movement
  const std::string& op = p->opType;
  if (op == "QLookup" || op == "QMaxPool" || op == "QGlobalMaxPool" || op == "QClamp") return 0;
  if (op == "QResize") return p->attrs.getString("mode", "") == "nearest" ? 0 : 1;
  if (op == "QConcat") {
    auto m = p->attrs.getInts("multiplier"), s = p->attrs.getInts("shift");
    for (size_t i = 0; i < m.size(); ++i) {
      if (m[i] != (int64_t{1} << 30) || s[i] != 30 || p->inputs[i]->dtype != p->outputs[0]->dtype) {
        return 1;
      }
    }
    return 0;
  }
  return 1;
}

int64_t intAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kInt8: return t.data<int8_t>()[i];
    case DType::kInt16: return t.data<int16_t>()[i];
    case DType::kInt32: return t.data<int32_t>()[i];
    default: FAIL("not an integer tensor");
  }
  return 0;
}

struct Agreement {
  /// Integer tensor -> largest |integer - fake-quant| in LSB, and its bound.
  std::map<std::string, std::pair<int64_t, int>> tensors;
  int64_t exact() const {
    int64_t n = 0;
    for (const auto& [name, e] : tensors) n += e.second == 0;
    return n;
  }
};

/// The QDQ model's counterpart of integer tensor `v`: the int8 QuantizeLinear output of
/// the same name, the int16 quantizer's Clip output "<v>_q16_clipped" (a float holding the
/// integer), or the float value of a same-scale output (to divide by the scale).
const Value* counterpart(const Graph& qdq, const std::string& name, bool* on_grid) {
  *on_grid = true;
  if (const Value* q = qdq.findValue(name); q && q->dtype == DType::kInt8) return q;
  std::string base = name;
  const std::string suffix = "_quantized";
  if (base.size() > suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base.resize(base.size() - suffix.size());
  }
  if (const Value* q = qdq.findValue(base + "_q16_clipped")) return q;
  *on_grid = false;
  if (const Value* q = qdq.findValue(base); q && q->dtype == DType::kFloat32) return q;
  return nullptr;
}

/// Run the QDQ model (reference kernels: the tables are built with them) and the integer
/// model (reference-only and default kernels) on `inputs`. Requires identical bytes from
/// both kernel sets, every integer activation within its section-7 bound of the QDQ
/// model's, and the outputs within that bound times their scale.
Agreement runBoth(const Graph& qdq, const Graph& im, const std::vector<Tensor>& inputs) {
  auto scales = parseJson(im.metadata.at("hq.int.scales"), "hq.int.scales");
  REQUIRE(scales.isOk());
  std::vector<std::string> int_names, qdq_names;
  std::map<std::string, const Value*> partner;
  std::map<std::string, bool> grid;
  for (const Value* v : im.values()) {
    if (v->isConstant() || (v->dtype != DType::kInt8 && v->dtype != DType::kInt16)) continue;
    bool on_grid = false;
    const Value* q = counterpart(qdq, v->name, &on_grid);
    INFO("integer tensor " << v->name);
    REQUIRE(q);
    REQUIRE(!q->isConstant());
    int_names.push_back(v->name);
    qdq_names.push_back(q->name);
    partner[v->name] = q;
    grid[v->name] = on_grid;
  }
  ExecutorOptions qo;
  qo.keep = qdq_names;
  qo.threads = 1;
  qo.kernels.referenceOnly = true;
  auto eq = Executor::create(qdq, qo);
  if (!eq.isOk()) FAIL(eq.status().message());
  auto oq = (*eq)->run(inputs);
  if (!oq.isOk()) FAIL(oq.status().message());

  std::vector<Tensor> outs[2];
  std::map<std::string, Tensor> kept[2];
  for (int ref = 0; ref < 2; ++ref) {
    ExecutorOptions io;
    io.keep = int_names;
    io.threads = 1;
    io.kernels.referenceOnly = ref == 1;
    auto ei = Executor::create(im, io);
    if (!ei.isOk()) FAIL(ei.status().message());
    auto oi = (*ei)->run(inputs);
    if (!oi.isOk()) FAIL(oi.status().message());
    outs[ref] = std::move(*oi);
    kept[ref] = (*ei)->kept();
  }
  // Reference-only and default kernels: the same bytes.
  REQUIRE(outs[0].size() == outs[1].size());
  for (size_t i = 0; i < outs[0].size(); ++i) {
    INFO("output " << i);
    CHECK(outs[0][i].equals(outs[1][i]));
  }
  for (const std::string& name : int_names) {
    INFO("kept " << name);
    CHECK(kept[0].at(name).equals(kept[1].at(name)));
  }

  Agreement agreement;
  for (const std::string& name : int_names) {
    const Tensor& a = kept[1].at(name);
    const Tensor& b = (*eq)->kept().at(partner[name]->name);
    INFO("tensor " << name << " vs the QDQ model's " << partner[name]->name);
    REQUIRE(a.shape() == b.shape());
    double scale = grid[name] ? 1.0 : (*scales)[name].get<double>();
    int64_t worst = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      double want = b.dtype() == DType::kInt8 ? static_cast<double>(b.data<int8_t>()[i])
                                             : static_cast<double>(b.data<float>()[i]) / scale;
      double r = std::nearbyint(want);
      // On the grid: float32(q) * s / s is q within float32's relative precision.
      REQUIRE(std::fabs(want - r) < 1e-3 + std::fabs(want) * 1e-6);
      worst = std::max<int64_t>(worst, std::llabs(intAt(a, i) - static_cast<int64_t>(r)));
    }
    const Value* iv = im.findValue(name);
    int bound = boundOf(iv->producer);
    CHECK(worst <= bound);
    agreement.tensors[name] = {worst, bound};
  }
  // Graph outputs: dequantized from the tensors just compared.
  REQUIRE(oq->size() == outs[0].size());
  for (size_t i = 0; i < oq->size(); ++i) {
    const Node* dq = im.outputs()[i]->producer;
    REQUIRE(dq);
    REQUIRE(dq->opType == "DequantizeLinear");
    const Tensor& s = dq->input(1)->constant;
    REQUIRE(s.numel() == 1);
    float tol = static_cast<float>(agreement.tensors.at(dq->input(0)->name).second) *
                    s.data<float>()[0] * 1.0001f + 1e-6f;
    const Tensor& a = (*oq)[i];
    const Tensor& b = outs[0][i];
    REQUIRE(a.shape() == b.shape());
    float worst = 0;
    for (int64_t k = 0; k < a.numel(); ++k) {
      worst = std::max(worst, std::fabs(a.data<float>()[k] - b.data<float>()[k]));
    }
    INFO("output " << im.outputs()[i]->name);
    CHECK(worst <= tol);
  }
  return agreement;
}

}  // namespace

// --- qint16 activations ------------------------------------------------------------------

namespace {

/// x -> conv1 (+Relu, qint16) -> r1; r1 feeds conv2 with r1 as residual (QConv with int16
/// input and int16 residual, int8 output), Sigmoid (int16 -> int8, 65536 entries), Tanh
/// (int16 -> int16), MaxPool -> GlobalAveragePool (int16 input), Concat (int8 + int8 +
/// int16 -> int8), Add (int8 + int16 -> int16), Div by 2.5 (QRescale int16 -> int8), Mul
/// (int16 x int8 -> int8).
std::unique_ptr<Graph> int16Model() {
  Builder b;
  Value* x = b.input("x", {2, 3, 6, 6});
  Attributes pads = attrs({{"pads", ints({1, 1, 1, 1})}});
  Value* c1 = b.op("Conv", "conv1", {x, b.weight("w1", {4, 3, 3, 3}, 0.6f),
                                     b.weight("b1", {4}, 0.3f)}, pads);
  Value* r1 = b.op("Relu", "relu1", {c1});
  Value* c2 = b.op("Conv", "conv2", {r1, b.weight("w2", {4, 4, 3, 3}, 0.4f),
                                     b.weight("b2", {4}, 0.2f)}, pads);
  Value* s2 = b.op("Add", "res2", {c2, r1});
  Value* g = b.op("Sigmoid", "sig16", {r1});
  Value* t = b.op("Tanh", "tanh16", {r1});
  Value* m = b.op("MaxPool", "mp16", {r1}, attrs({{"kernel_shape", ints({2, 2})},
                                                  {"strides", ints({2, 2})}}));
  Value* gap = b.op("GlobalAveragePool", "gap16", {m});
  Value* cat = b.op("Concat", "cat", {s2, g, t}, attrs({{"axis", i64(1)}}));
  Value* am = b.op("Add", "addmix", {s2, t});
  Value* dv = b.op("Div", "div16", {am, b.floats("two_and_a_half", {}, {2.5f})});
  Value* mu = b.op("Mul", "mul16", {t, g});
  return b.finish({cat, dv, mu, gap});
}

const char* kInt16Overrides = R"([
    {"name": "conv1", "output": {"dtype": "qint16"}},
    {"name": "tanh16", "output": {"dtype": "qint16"}},
    {"name": "addmix", "output": {"dtype": "qint16"}}])";

}  // namespace

TEST_CASE("convert coverage: qint16 activations through QConv, QLookup, QAdd, QConcat, "
          "QRescale, QMul and pools") {
  auto f = int16Model();
  auto qdq = calibrated(*f, {3, 6, 6}, kInt16Overrides);
  REQUIRE(qdq->metadata.at("hq.quant.int16_activations") == "relu1_y,tanh16_y,addmix_y");
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;

  const Node* conv1 = intNode(im, "conv1");
  CHECK(conv1->attrs.getInt("out_type", 0) == 5);
  CHECK(conv1->attrs.getInt("out_lo", -1) == 0);  // fused Relu
  CHECK(conv1->attrs.getInt("out_hi", 0) == 32767);
  CHECK(conv1->outputs[0]->dtype == DType::kInt16);
  CHECK(conv1->outputs[0]->name == "relu1_y_quantized");
  const Node* conv2 = intNode(im, "conv2");
  REQUIRE(conv2->inputs.size() == 4);
  CHECK(conv2->inputs[0]->dtype == DType::kInt16);
  CHECK(conv2->inputs[3]->dtype == DType::kInt16);  // residual
  CHECK(conv2->attrs.getInt("out_type", 0) == 3);
  const Node* sig = intNode(im, "sig16");
  CHECK(sig->opType == "QLookup");
  CHECK(sig->attrs.getInt("in_lo", 0) == -32768);
  CHECK(sig->inputs[1]->constant.shape() == Shape{65536});
  CHECK(sig->inputs[1]->constant.dtype() == DType::kInt8);
  const Node* tanh = intNode(im, "tanh16");
  CHECK(tanh->inputs[1]->constant.shape() == Shape{65536});
  CHECK(tanh->inputs[1]->constant.dtype() == DType::kInt16);
  CHECK(intNode(im, "mp16")->outputs[0]->dtype == DType::kInt16);
  CHECK(intNode(im, "gap16")->opType == "QGlobalAveragePool");
  const Node* add = intNode(im, "addmix");
  CHECK(add->opType == "QAdd");
  CHECK(add->inputs[0]->dtype == DType::kInt8);
  CHECK(add->inputs[1]->dtype == DType::kInt16);
  CHECK(add->attrs.getInt("out_type", 0) == 5);
  const Node* cat = intNode(im, "cat");
  CHECK(cat->inputs[2]->dtype == DType::kInt16);
  const Node* div = intNode(im, "div16");
  CHECK(div->opType == "QRescale");
  CHECK(div->inputs[0]->dtype == DType::kInt16);
  CHECK(div->attrs.getInt("out_type", 0) == 3);
  // M = s_in / (dequantized divisor * s_out).
  const Value* dq_div = qdq->findValue("two_and_a_half_quantized");
  REQUIRE(dq_div);
  float s_c = qdq->findValue("two_and_a_half_scale")->constant.data<float>()[0];
  float divisor = static_cast<float>(dq_div->constant.data<int8_t>()[0]) * s_c;
  double s_am = add->attrs.getFloat("out_scale", 0);
  double s_dv = div->attrs.getFloat("out_scale", 0);
  auto fm = fxp::quantizeMultiplier(s_am / (static_cast<double>(divisor) * s_dv));
  REQUIRE(fm.isOk());
  CHECK(div->attrs.getInt("multiplier", 0) == fm->multiplier);
  CHECK(div->attrs.getInt("shift", 0) == fm->shift);
  CHECK(intNode(im, "mul16")->opType == "QMul");

  for (uint32_t seed : {11u, 12u}) {
    Agreement a = runBoth(*qdq, im, {randomTensor({2, 3, 6, 6}, 1.2f, seed)});
    CHECK(a.tensors.size() == 11);  // x, relu1, res2, sig, tanh, mp, gap, cat, add, div, mul
    CHECK(a.tensors.at("sig16_y_quantized").second == 0);
    CHECK(a.tensors.at("tanh16_y_quantized").second == 0);
    CHECK(a.tensors.at("mp16_y").second == 0);
  }
}

TEST_CASE("convert coverage: a qint16 graph output is refused, naming it") {
  Builder b;
  Value* x = b.input("x", {1, 2, 4, 4});
  Value* c = b.op("Conv", "conv", {x, b.weight("w", {2, 2, 1, 1}, 0.5f)});
  auto f = b.finish({c});
  auto qdq = calibrated(*f, {2, 4, 4}, R"([{"name": "conv", "output": {"dtype": "qint16"}}])");
  std::string msg = convertError(*qdq);
  // The reader finds the quantizer of the renamed output; the converter then refuses it
  // (DequantizeLinear takes int16 only from opset 21).
  CHECK_THAT(msg, Catch::Contains("graph output 'conv_y'") && Catch::Contains("int16") &&
                      Catch::Contains("DequantizeLinear"));
}

// --- ConvTranspose -----------------------------------------------------------------------

TEST_CASE("convert coverage: ConvTranspose with groups, output_padding, pads and output_shape") {
  Builder b;
  Value* x = b.input("x", {1, 4, 5, 5});
  Value* y1 = b.op("ConvTranspose", "ct1", {x, b.weight("w1", {4, 3, 3, 3}, 0.5f),
                                           b.weight("b1", {3}, 0.2f)},
                   attrs({{"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})},
                          {"output_padding", ints({1, 1})}}));
  Value* r1 = b.op("Relu", "relu1", {y1});
  Value* y2 = b.op("ConvTranspose", "ct2", {x, b.weight("w2", {4, 2, 2, 2}, 0.5f)},
                   attrs({{"strides", ints({2, 2})}, {"group", i64(2)}}));
  Value* y3 = b.op("ConvTranspose", "ct3", {x, b.weight("w3", {4, 2, 2, 2}, 0.5f),
                                           b.weight("b3", {2}, 0.2f)},
                   attrs({{"strides", ints({2, 1})}, {"dilations", ints({2, 2})},
                          {"output_shape", ints({9, 5})}}));
  auto f = b.finish({r1, y2, y3});
  REQUIRE(r1->shape == Shape{1, 3, 10, 10});
  REQUIRE(y2->shape == Shape{1, 4, 10, 10});
  REQUIRE(y3->shape == Shape{1, 2, 9, 5});
  auto qdq = calibrated(*f, {4, 5, 5}, "[]");
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;
  CHECK(count(im, "ai.hq.QConvTranspose") == 3);

  const Node* ct1 = intNode(im, "ct1");
  CHECK(ct1->attrs.getInts("output_padding") == std::vector<int64_t>{1, 1});
  CHECK(ct1->attrs.getInts("pads") == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(ct1->attrs.getInt("out_lo", -1) == 0);
  CHECK(ct1->attrs.getInts("multiplier").size() == 3);
  // Weight scales per output channel from axis 1 of the QDQ model's weight.
  const Value* w2q = qdq->findValue("w2_quantized");
  REQUIRE(w2q);
  const Node* wdq = qdq->consumers(w2q).at(0);
  REQUIRE(wdq->opType == "DequantizeLinear");
  CHECK(wdq->attrs.getInt("axis", 0) == 1);
  const Tensor& s_w = wdq->input(1)->constant;
  REQUIRE(s_w.numel() == 2);  // O / group
  const Node* ct2 = intNode(im, "ct2");
  CHECK(ct2->attrs.getInt("group", 0) == 2);
  std::vector<float> ws = ct2->attrs.getFloats("w_scale");
  REQUIRE(ws.size() == 4);
  for (size_t o = 0; o < 4; ++o) CHECK(ws[o] == s_w.data<float>()[o % 2]);
  const Node* ct3 = intNode(im, "ct3");
  CHECK_FALSE(ct3->attrs.has("output_shape"));
  // output_shape 9 = 2 * 4 + 3 - pads (pads 1 + 1); width 5 = 1 * 4 + 3 - 2.
  CHECK(ct3->attrs.getInts("pads") == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(ct3->outputs[0]->shape == Shape{1, 2, 9, 5});

  for (uint32_t seed : {21u, 22u}) runBoth(*qdq, im, {randomTensor({1, 4, 5, 5}, 1.2f, seed)});
}

// --- Resize / Upsample -------------------------------------------------------------------

TEST_CASE("convert coverage: Resize nearest and linear from scales, dynamic batch") {
  Builder b;
  Value* x = b.input("x", {-1, 2, 4, 5});
  auto scales = [&](const std::string& name, float h, float w) {
    return b.floats(name, {4}, {1.0f, 1.0f, h, w});
  };
  Value* n1 = b.op("Resize", "rn1", {x, nullptr, scales("s_rn1", 2, 2)},
                   attrs({{"mode", str("nearest")},
                          {"coordinate_transformation_mode", str("asymmetric")},
                          {"nearest_mode", str("floor")}}));
  Value* n2 = b.op("Resize", "rn2", {x, nullptr, scales("s_rn2", 1.5f, 1.5f)},
                   attrs({{"mode", str("nearest")},
                          {"coordinate_transformation_mode", str("half_pixel")},
                          {"nearest_mode", str("round_prefer_ceil")}}));
  Value* l1 = b.op("Resize", "rl1", {x, nullptr, scales("s_rl1", 1.5f, 2)},
                   attrs({{"mode", str("linear")},
                          {"coordinate_transformation_mode", str("half_pixel")}}));
  Value* l2 = b.op("Resize", "rl2", {x, nullptr, scales("s_rl2", 1.75f, 1.6f)},
                   attrs({{"mode", str("linear")},
                          {"coordinate_transformation_mode", str("align_corners")}}));
  Value* l3 = b.op("Resize", "rl3", {x, nullptr, scales("s_rl3", 0.5f, 0.8f)},
                   attrs({{"mode", str("linear")},
                          {"coordinate_transformation_mode", str("asymmetric")}}));
  auto f = b.finish({n1, n2, l1, l2, l3});
  auto qdq = calibrated(*f, {2, 4, 5}, "[]");
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;
  CHECK(count(im, "ai.hq.QResize") == 5);
  const Node* rn1 = intNode(im, "rn1");
  CHECK(rn1->attrs.getString("mode", "") == "nearest");
  CHECK(rn1->outputs[0]->name == "rn1_y_quantized");  // a same-scale graph output
  const Node* rl2 = intNode(im, "rl2");
  CHECK(rl2->attrs.getString("coordinate_transformation_mode", "") == "align_corners");
  CHECK(rl2->attrs.getInt("frac_bits", 0) == 12);
  std::vector<int64_t> sizes = rl2->attrs.getInts("sizes");
  REQUIRE(sizes.size() == 4);
  CHECK(sizes[0] == -1);  // the dynamic batch: the input's at run time
  CHECK(sizes[1] == 2);
  CHECK(sizes[2] == 7);
  CHECK(sizes[3] == 8);
  CHECK(rl2->attrs.getFloats("scales") == std::vector<float>{1.0f, 1.0f, 1.75f, 1.6f});

  for (int64_t batch : {1, 3}) {
    INFO("batch " << batch);
    Agreement a = runBoth(*qdq, im, {randomTensor({batch, 2, 4, 5}, 1.2f, 30 + batch)});
    CHECK(a.tensors.at("rn1_y_quantized").second == 0);
    CHECK(a.tensors.at("rn2_y_quantized").second == 0);
    CHECK(a.tensors.size() == 6);
  }
}

TEST_CASE("convert coverage: Resize from sizes (pytorch_half_pixel, downsampling) and Upsample") {
  Builder b;
  Value* x = b.input("x", {2, 2, 4, 5});
  Value* l = b.op("Resize", "rl", {x, nullptr, nullptr,
                                   b.g->addConstant("sz_rl", Tensor::fromVector<int64_t>(
                                                                 {4}, {2, 2, 7, 9}))},
                  attrs({{"mode", str("linear")},
                         {"coordinate_transformation_mode", str("pytorch_half_pixel")}}));
  Value* n = b.op("Resize", "rn", {x, nullptr, nullptr,
                                   b.g->addConstant("sz_rn", Tensor::fromVector<int64_t>(
                                                                 {4}, {2, 2, 3, 3}))},
                  attrs({{"mode", str("nearest")},
                         {"coordinate_transformation_mode", str("half_pixel")},
                         {"nearest_mode", str("round_prefer_floor")}}));
  // A nearest resize feeding a requant op: its output keeps the input's scale.
  Value* s = b.op("Sigmoid", "sig", {n});
  auto f = b.finish({l, s});
  auto qdq = calibrated(*f, {2, 4, 5}, "[]");
  ConvertResult r = convertOk(*qdq);
  const Node* rl = intNode(*r.model, "rl");
  CHECK(rl->attrs.getInts("sizes") == std::vector<int64_t>{2, 2, 7, 9});
  CHECK_FALSE(rl->attrs.has("scales"));
  CHECK(intNode(*r.model, "rn")->outputs[0]->name == "rn_y");
  for (uint32_t seed : {41u, 42u}) runBoth(*qdq, *r.model, {randomTensor({2, 2, 4, 5}, 1.2f, seed)});

  SECTION("Upsample (opset 9), nearest and linear") {
    Builder u(9);
    Value* ux = u.input("x", {1, 2, 3, 4});
    Value* un = u.op("Upsample", "up_n", {ux, u.floats("s_n", {4}, {1, 1, 2, 3})},
                     attrs({{"mode", str("nearest")}}));
    Value* ul = u.op("Upsample", "up_l", {ux, u.floats("s_l", {4}, {1, 1, 2, 2})},
                     attrs({{"mode", str("linear")}}));
    auto uf = u.finish({un, ul});
    auto uq = calibrated(*uf, {2, 3, 4}, "[]");
    ConvertResult ur = convertOk(*uq);
    CHECK(count(*ur.model, "ai.hq.QResize") == 2);
    CHECK(intNode(*ur.model, "up_l")->attrs.getString("coordinate_transformation_mode", "") ==
          "asymmetric");
    runBoth(*uq, *ur.model, {randomTensor({1, 2, 3, 4}, 1.2f, 43)});
  }
}

// --- AveragePool -------------------------------------------------------------------------

TEST_CASE("convert coverage: AveragePool with pads, ceil_mode and count_include_pad 0/1") {
  Builder b;
  Value* x = b.input("x", {1, 2, 7, 7});
  auto pool = [&](const std::string& name, std::vector<int64_t> k, std::vector<int64_t> s,
                  std::vector<int64_t> pads, int64_t ceil, int64_t include) {
    return b.op("AveragePool", name, {x},
                attrs({{"kernel_shape", ints(k)}, {"strides", ints(s)}, {"pads", ints(pads)},
                       {"ceil_mode", i64(ceil)}, {"count_include_pad", i64(include)}}));
  };
  Value* a1 = pool("ap1", {3, 3}, {2, 2}, {1, 1, 1, 1}, 1, 0);
  Value* a2 = pool("ap2", {3, 3}, {2, 2}, {1, 1, 1, 1}, 1, 1);
  Value* a3 = pool("ap3", {2, 2}, {2, 2}, {0, 0, 0, 0}, 1, 1);
  Value* a4 = pool("ap4", {3, 3}, {1, 1}, {1, 1, 1, 1}, 0, 1);
  Value* a5 = pool("ap5", {3, 2}, {2, 3}, {0, 1, 2, 0}, 0, 0);
  auto f = b.finish({a1, a2, a3, a4, a5});
  REQUIRE(a1->shape == Shape{1, 2, 4, 4});
  REQUIRE(a3->shape == Shape{1, 2, 4, 4});
  auto qdq = calibrated(*f, {2, 7, 7}, "[]");
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;
  CHECK(count(im, "ai.hq.QAveragePool") == 5);
  const Node* ap2 = intNode(im, "ap2");
  CHECK(ap2->attrs.getInt("count_include_pad", 0) == 1);
  CHECK(ap2->attrs.getInt("ceil_mode", 0) == 1);
  CHECK(ap2->attrs.getInts("multiplier").size() == 9);
  CHECK(intNode(im, "ap1")->attrs.getInt("count_include_pad", 1) == 0);
  for (uint32_t seed : {51u, 52u, 53u}) {
    Agreement a = runBoth(*qdq, im, {randomTensor({1, 2, 7, 7}, 1.2f, seed)});
    CHECK(a.tensors.size() == 6);
  }
}

// --- tables --------------------------------------------------------------------------------

TEST_CASE("convert coverage: HardSwish, HardSigmoid, LeakyRelu and PRelu tables are bit-exact") {
  Builder b(14);
  Value* x = b.input("x", {2, 3, 4, 4});
  Value* hs = b.op("HardSwish", "hswish", {x});
  Value* hg = b.op("HardSigmoid", "hsig", {x}, attrs({{"alpha", f32(0.3f)}, {"beta", f32(0.4f)}}));
  Value* lr = b.op("LeakyRelu", "leaky", {x}, attrs({{"alpha", f32(0.15f)}}));
  Value* pc = b.op("PRelu", "prelu_c", {x, b.floats("slope_c", {3, 1, 1}, {0.25f, -0.5f, 1.5f})});
  Value* p1 = b.op("PRelu", "prelu_1", {x, b.floats("slope_1", {1}, {0.1f})});
  // Into a second table, from a non-input scale (the input's is 1/128).
  Value* c = b.op("Conv", "conv", {x, b.weight("w", {3, 3, 1, 1}, 1.0f)});
  Value* hs2 = b.op("HardSwish", "hswish2", {c});
  Value* pc2 = b.op("PRelu", "prelu_c2", {c, b.floats("slope_c2", {3, 1, 1}, {-0.2f, 0.7f, 0.05f})});
  auto f = b.finish({hs, hg, lr, pc, p1, hs2, pc2});
  auto qdq = calibrated(*f, {3, 4, 4}, "[]");
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;
  CHECK(count(im, "ai.hq.QLookup") == 7);
  const Node* pcn = intNode(im, "prelu_c");
  CHECK(pcn->attrs.getInt("axis", -1) == 1);
  CHECK(pcn->inputs[1]->constant.shape() == Shape{3, 256});
  CHECK_FALSE(intNode(im, "prelu_1")->attrs.has("axis"));
  CHECK(intNode(im, "prelu_1")->inputs[1]->constant.shape() == Shape{256});
  CHECK(intNode(im, "hsig")->attrs.getString("function", "") == "HardSigmoid(alpha=0.3,beta=0.4)");
  // Channel 1 of the per-channel table uses the slope -0.5 (as quantized): the most
  // negative input -128 * s_in goes to +64 * s_in, on the output grid.
  const Tensor& table = pcn->inputs[1]->constant;
  float s_in = pcn->attrs.getFloat("in_scale", 0), s_out = pcn->attrs.getFloat("out_scale", 0);
  const Value* sq = qdq->findValue("slope_c_quantized");
  REQUIRE(sq);
  float s_slope = qdq->findValue("slope_c_scale")->constant.data<float>()[0];
  float slope1 = static_cast<float>(sq->constant.data<int8_t>()[1]) * s_slope;
  CHECK(table.data<int8_t>()[256 + 0] ==
        fxp::quantizeLinear(-128 * s_in * slope1, s_out, fxp::kInt8Range));
  CHECK(table.data<int8_t>()[256 + 128] == 0);
  for (uint32_t seed : {61u, 62u}) {
    Agreement a = runBoth(*qdq, im, {randomTensor({2, 3, 4, 4}, 1.2f, seed)});
    CHECK(a.tensors.size() == 9);  // x, 7 tables, conv
    for (const char* t : {"hswish_y_quantized", "hsig_y_quantized", "leaky_y_quantized",
                          "prelu_c_y_quantized", "prelu_1_y_quantized", "hswish2_y_quantized",
                          "prelu_c2_y_quantized"}) {
      INFO(t);
      CHECK(a.tensors.at(t).second == 0);
    }
  }
}

// --- Div by a constant -------------------------------------------------------------------

TEST_CASE("convert coverage: Div by a positive constant becomes QRescale; others are refused") {
  Builder b;
  Value* x = b.input("x", {1, 2, 4, 4});
  Value* d1 = b.op("Div", "div3", {x, b.floats("three", {}, {3.0f})});
  Value* d2 = b.op("Div", "div_quarter", {x, b.floats("quarter", {1}, {0.25f})});
  auto f = b.finish({d1, d2});
  auto qdq = calibrated(*f, {2, 4, 4}, "[]");
  ConvertResult r = convertOk(*qdq);
  const Graph& im = *r.model;
  CHECK(count(im, "ai.hq.QRescale") == 2);
  const Node* n = intNode(im, "div_quarter");
  // M = s_x / (0.25 * s_out) with the divisor as the QDQ model dequantizes it.
  float sc = qdq->findValue("quarter_scale")->constant.data<float>()[0];
  float c = static_cast<float>(qdq->findValue("quarter_quantized")->constant.data<int8_t>()[0]) * sc;
  auto fm = fxp::quantizeMultiplier(static_cast<double>(1.0f / 128) /
                                    (static_cast<double>(c) * n->attrs.getFloat("out_scale", 0)));
  REQUIRE(fm.isOk());
  CHECK(n->attrs.getInt("multiplier", 0) == fm->multiplier);
  CHECK(n->attrs.getInt("shift", 0) == fm->shift);
  for (uint32_t seed : {71u, 72u}) runBoth(*qdq, im, {randomTensor({1, 2, 4, 4}, 1.2f, seed)});

  SECTION("a negative divisor is refused, naming the node") {
    Builder nb;
    Value* nx = nb.input("x", {1, 2, 4, 4});
    Value* nd = nb.op("Div", "div_neg", {nx, nb.floats("minus_two", {}, {-2.0f})});
    auto nf = nb.finish({nd});
    auto nq = calibrated(*nf, {2, 4, 4}, "[]");
    std::string msg = convertError(*nq);
    CHECK_THAT(msg, Catch::Contains("div_neg") && Catch::Contains("not positive"));
  }
  SECTION("a per-element divisor is refused, naming the node") {
    Builder nb;
    Value* nx = nb.input("x", {1, 2, 4, 4});
    Value* nd = nb.op("Div", "div_vec", {nx, nb.floats("two_vals", {2, 1, 1}, {2.0f, 4.0f})});
    auto nf = nb.finish({nd});
    auto nq = calibrated(*nf, {2, 4, 4}, "[]");
    std::string msg = convertError(*nq);
    CHECK_THAT(msg, Catch::Contains("div_vec") && Catch::Contains("scalar"));
  }
}
