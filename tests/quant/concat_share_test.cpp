// qconfig share_concat_scale: a Concat's activation inputs and its output share one scale
// (one observer fed with all of them), so hq-convert's QConcat has identity rescales; off,
// every input keeps its own scale.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "quant/calibrate.h"
#include "quant/convert.h"
#include "quant/rules.h"
#include "support/json.h"

using namespace hq;

namespace {

/// Unlabeled images, uniform in [-1, 1].
class RandomImages : public Dataset {
 public:
  RandomImages(Shape sample, int count, uint32_t seed) : sample_(std::move(sample)) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    int64_t n = 1;
    for (int64_t d : sample_) n *= d;
    images_.resize(static_cast<size_t>(count));
    for (auto& im : images_) {
      im.resize(static_cast<size_t>(n));
      for (float& v : im) v = u(rng);
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
  std::string describe() const override { return "random images"; }

 private:
  Shape sample_;
  std::vector<std::vector<float>> images_;
};

Value* convWeight(Graph& g, const std::string& name, int64_t out, int64_t in, float amp,
                  uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-amp, amp);
  Tensor w(DType::kFloat32, {out, in, 3, 3});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = u(rng);
  return g.addConstant(name, w);
}

Attributes convAttrs() {
  Attributes a;
  a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  return a;
}

/// x[1,2,6,6] -> conv_a+relu -> a ; x -> conv_b -> b (a wider range: weights x4);
/// a -> maxpool(3x3, stride 1, pad 1) -> ap; cat = Concat(ap, b) on channels; a also feeds
/// conv_c (a second consumer); out = conv_d(cat) + conv_c(a) as two graph outputs.
/// With `input_in_concat`, x itself is a third Concat input.
std::unique_ptr<Graph> concatModel(bool input_in_concat) {
  auto g = std::make_unique<Graph>();
  g->opsetVersion = 13;
  Value* x = g->addValue("x", DType::kFloat32, {1, 2, 6, 6}, true);
  g->mutableInputs().push_back(x);
  auto value = [&](const std::string& name, int64_t c) {
    return g->addValue(name, DType::kFloat32, {1, c, 6, 6}, true);
  };
  Value* ca = value("ca", 3);
  Value* a = value("a", 3);
  g->addNode("Conv", "conv_a", {x, convWeight(*g, "wa", 3, 2, 0.3f, 1)}, {ca}, convAttrs());
  g->addNode("Relu", "relu_a", {ca}, {a});
  Value* b = value("b", 2);
  g->addNode("Conv", "conv_b", {x, convWeight(*g, "wb", 2, 2, 1.2f, 2)}, {b}, convAttrs());
  Value* ap = value("ap", 3);
  Attributes pool;
  pool.set("kernel_shape", Attribute::ofInts({3, 3}));
  pool.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  g->addNode("MaxPool", "pool", {a}, {ap}, pool);
  std::vector<Value*> parts = {ap, b};
  if (input_in_concat) parts.push_back(x);
  int64_t channels = input_in_concat ? 7 : 5;
  Value* cat = value("cat", channels);
  Attributes axis;
  axis.set("axis", Attribute::ofInt(1));
  g->addNode("Concat", "concat", parts, {cat}, axis);
  Value* d = value("d", 2);
  g->addNode("Conv", "conv_d", {cat, convWeight(*g, "wd", 2, channels, 0.2f, 3)}, {d}, convAttrs());
  Value* c = value("c", 2);
  g->addNode("Conv", "conv_c", {a, convWeight(*g, "wc", 2, 3, 0.2f, 4)}, {c}, convAttrs());
  g->mutableOutputs() = {d, c};
  return g;
}

QConfig qconfig(bool share) {
  std::string text = std::string(R"({"format_version": 1,
      "default": {"activation": {"observer": "minmax"}},
      "inputs": {"*": {"dtype": "qint8", "symmetric": true, "fixed_scale": 0.0078125}},
      "share_concat_scale": )") + (share ? "true" : "false") + "}";
  auto doc = parseJson(text, "qconfig");
  REQUIRE(doc.isOk());
  auto qc = QConfig::fromJson(*doc, "qconfig");
  if (!qc.isOk()) FAIL(qc.status().message());
  return *qc;
}

CalibResult calibrated(const Graph& f, const QConfig& qc) {
  RandomImages data({2, 6, 6}, 16, 5);
  CalibOptions opt;
  opt.progress = false;
  opt.threads = 1;
  opt.batchSize = 1;
  auto r = calibrate(f, data, qc, opt);
  if (!r.isOk()) FAIL(r.status().message());
  return std::move(*r);
}

/// Scale and range seen of the report's activation point on `tensor`.
const OrderedJson& reportPoint(const CalibResult& r, const std::string& tensor) {
  for (const auto& p : r.report.at("points")) {
    if (p.at("tensor") == tensor && p.at("kind") != "weight") return p;
  }
  FAIL("no point on " << tensor);
  throw 0;
}
float scaleOf(const CalibResult& r, const std::string& tensor) {
  return reportPoint(r, tensor).at("scale").get<float>();
}

/// The scale initializer of the QuantizeLinear that reads value `name` in a QDQ graph.
float qdqScale(const Graph& g, const std::string& name) {
  const Value* v = g.findValue(name);
  REQUIRE(v);
  for (const Node* n : g.consumers(v)) {
    if (n->opType == "QuantizeLinear") return n->input(1)->constant.data<float>()[0];
  }
  FAIL("no QuantizeLinear reads " << name);
  throw 0;
}

const Node* nodeNamed(const Graph& g, const std::string& name) {
  for (const Node* n : g.nodes()) {
    if (n->name == name) return n;
  }
  FAIL("no node " << name);
  throw 0;
}

bool identity(int64_t multiplier, int64_t shift) {
  return shift >= 0 && shift < 62 && multiplier == (int64_t{1} << shift);
}

}  // namespace

TEST_CASE("share_concat_scale: the plan groups a Concat's input points with its output") {
  auto f = concatModel(false);
  for (bool share : {true, false}) {
    auto plan = planQuantization(*f, qconfig(share));
    REQUIRE(plan.isOk());
    size_t a = 0, b = 0, cat = 0, x = 0;
    for (size_t i = 0; i < plan->points.size(); ++i) {
      const std::string& n = plan->points[i].value->name;
      if (n == "a") a = i;
      if (n == "b") b = i;
      if (n == "cat") cat = i;
      if (n == "x") x = i;
    }
    REQUIRE(plan->points[cat].value->name == "cat");
    if (share) {
      CHECK(plan->sharedConcats == 1);
      CHECK(plan->groupOf(a) == cat);  // "a" through the MaxPool, which keeps its scale
      CHECK(plan->groupOf(b) == cat);
      CHECK(plan->groupOf(cat) == cat);
    } else {
      CHECK(plan->sharedConcats == 0);
      CHECK(plan->groupOf(a) == a);
      CHECK(plan->groupOf(b) == b);
    }
    CHECK(plan->groupOf(x) == x);
  }
}

TEST_CASE("share_concat_scale: one scale on every Concat input and output (the union of "
          "their ranges); QConcat is a copy; off restores separate scales") {
  auto f = concatModel(false);
  CalibResult off = calibrated(*f, qconfig(false));
  CalibResult on = calibrated(*f, qconfig(true));
  float sa = scaleOf(off, "a"), sb = scaleOf(off, "b"), sc = scaleOf(off, "cat");
  // Off: conv_b's range is several times wider than relu(conv_a)'s.
  CHECK(sb > 1.5f * sa);
  CHECK(sc == sb);  // max(maxpool(a), b) ranges: b's is the widest, so cat's amax is b's
  // On: minmax over the union of the members' data: exactly the widest member's scale.
  float shared = std::max({sa, sb, sc});
  CHECK(scaleOf(on, "a") == shared);
  CHECK(scaleOf(on, "b") == shared);
  CHECK(scaleOf(on, "cat") == shared);
  CHECK(reportPoint(on, "a").at("shares_scale_with") == "cat");
  CHECK(on.report.at("summary").at("shared_scale_concats") == 1);
  CHECK(off.report.at("summary").at("shared_scale_concats") == 0);
  // The QDQ models: the Q nodes of a (read by MaxPool and conv_c), b and cat.
  CHECK(qdqScale(*on.model, "a") == shared);
  CHECK(qdqScale(*on.model, "b") == shared);
  CHECK(qdqScale(*on.model, "cat") == shared);
  CHECK(qdqScale(*off.model, "a") == sa);
  CHECK(qdqScale(*off.model, "b") == sb);
  // The graph input is not a Concat member here: still 1/128.
  CHECK(scaleOf(on, "x") == 0.0078125f);

  for (bool share : {true, false}) {
    auto conv = convertModel(share ? *on.model : *off.model);
    if (!conv.isOk()) FAIL(conv.status().message());
    const Node* q = nodeNamed(*conv->model, "concat");
    REQUIRE(q->opType == "QConcat");
    auto mult = q->attrs.getInts("multiplier");
    auto shift = q->attrs.getInts("shift");
    REQUIRE(mult.size() == 2);
    REQUIRE(shift.size() == 2);
    if (share) {
      CHECK(identity(mult[0], shift[0]));
      CHECK(identity(mult[1], shift[1]));
    } else {
      CHECK_FALSE(identity(mult[0], shift[0]));  // a -> cat rescales
      CHECK(identity(mult[1], shift[1]));        // b already has cat's scale
    }
  }
}

TEST_CASE("share_concat_scale: a graph input in the Concat brings its fixed scale to the group") {
  auto f = concatModel(true);
  CalibResult on = calibrated(*f, qconfig(true));
  CHECK(scaleOf(on, "a") == 0.0078125f);
  CHECK(scaleOf(on, "b") == 0.0078125f);
  CHECK(scaleOf(on, "cat") == 0.0078125f);
  CHECK(scaleOf(on, "x") == 0.0078125f);
  CHECK(reportPoint(on, "cat").at("shares_scale_with") == "x");
  auto conv = convertModel(*on.model);
  if (!conv.isOk()) FAIL(conv.status().message());
  const Node* q = nodeNamed(*conv->model, "concat");
  auto mult = q->attrs.getInts("multiplier");
  auto shift = q->attrs.getInts("shift");
  REQUIRE(mult.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(identity(mult[i], shift[i]));
}

TEST_CASE("share_concat_scale: members of another dtype keep their own scales") {
  auto f = concatModel(false);
  auto doc = parseJson(R"({"format_version": 1,
      "default": {"activation": {"observer": "minmax"}},
      "overrides": [{"name": "conv_b", "output": {"dtype": "qint16"}}]})",
                       "qconfig");
  REQUIRE(doc.isOk());
  auto qc = QConfig::fromJson(*doc, "qconfig");
  REQUIRE(qc.isOk());
  CHECK(qc->shareConcatScale());
  auto plan = planQuantization(*f, *qc);
  REQUIRE(plan.isOk());
  CHECK(plan->sharedConcats == 0);
  for (size_t i = 0; i < plan->points.size(); ++i) CHECK(plan->groupOf(i) == i);
}

TEST_CASE("share_concat_scale must be a boolean") {
  auto doc = parseJson(R"({"format_version": 1, "share_concat_scale": "yes"})", "qconfig");
  REQUIRE(doc.isOk());
  auto qc = QConfig::fromJson(*doc, "qconfig");
  REQUIRE_FALSE(qc.isOk());
  CHECK(qc.status().message().find("share_concat_scale") != std::string::npos);
}
