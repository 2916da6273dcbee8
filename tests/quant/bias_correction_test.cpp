// Empirical bias correction: the mean conv output from the mean input image (hand-computed
// taps with stride and padding; equal to the executor's conv averaged over a random batch),
// the Gemm form, weight fake quantization, and calibrate() end to end: after correction the
// QDQ model's pre-activation mean equals the float model's on the calibration data.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "quant/bias_correction.h"
#include "quant/calibrate.h"
#include "runtime/executor.h"

using namespace hq;

namespace {

Node convNode(std::vector<int64_t> strides, std::vector<int64_t> pads, int64_t group = 1,
              std::vector<int64_t> dilations = {}) {
  Node n;
  n.opType = "Conv";
  n.name = "conv";
  n.attrs.set("strides", Attribute::ofInts(std::move(strides)));
  n.attrs.set("pads", Attribute::ofInts(std::move(pads)));
  if (group != 1) n.attrs.set("group", Attribute::ofInt(group));
  if (!dilations.empty()) n.attrs.set("dilations", Attribute::ofInts(std::move(dilations)));
  return n;
}

/// Unlabeled in-memory images of shape `sample`.
class MemoryDataset : public Dataset {
 public:
  MemoryDataset(Shape sample, std::vector<std::vector<float>> images)
      : sample_(std::move(sample)), images_(std::move(images)) {}
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
  /// All images as one batch [N, sample...].
  Tensor all() const {
    Shape shape = sample_;
    shape.insert(shape.begin(), size());
    std::vector<float> flat;
    for (const auto& im : images_) flat.insert(flat.end(), im.begin(), im.end());
    return Tensor::fromVector<float>(shape, flat);
  }

 private:
  Shape sample_;
  std::vector<std::vector<float>> images_;
};

/// x [N,1,5,5] -> Conv "conv" (2x1x3x3, pads 1, no bias) -> c -> Relu -> r -> Flatten ->
/// Gemm "fc" (50 -> 3, no C) -> y.
std::unique_ptr<Graph> tinyModel() {
  auto g = std::make_unique<Graph>();
  g->opsetVersion = 13;
  Value* x = g->addValue("x", DType::kFloat32, {-1, 1, 5, 5}, true);
  x->dimParams = {"N", "", "", ""};
  g->mutableInputs().push_back(x);
  std::vector<float> w(18);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.0371f * static_cast<float>(i % 7) - 0.0913f;
  w[4] = 0.8f;  // a large tap so that the scale of channel 0 makes the others round coarsely
  Value* wv = g->addConstant("w", Tensor::fromVector<float>({2, 1, 3, 3}, w));
  Value* c = g->addValue("c", DType::kFloat32, {-1, 2, 5, 5}, true);
  Attributes a;
  a.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  g->addNode("Conv", "conv", {x, wv}, {c}, a);
  Value* r = g->addValue("r", DType::kFloat32, {-1, 2, 5, 5}, true);
  g->addNode("Relu", "relu", {c}, {r});
  Value* f = g->addValue("f", DType::kFloat32, {-1, 50}, true);
  g->addNode("Flatten", "flatten", {r}, {f});
  std::vector<float> fw(150);
  for (size_t i = 0; i < fw.size(); ++i) fw[i] = 0.0173f * static_cast<float>(i % 11) - 0.07f;
  Value* fwv = g->addConstant("fw", Tensor::fromVector<float>({50, 3}, fw));
  Value* y = g->addValue("y", DType::kFloat32, {-1, 3}, true);
  y->dimParams = {"N", ""};
  g->addNode("Gemm", "fc", {f, fwv}, {y});
  g->mutableOutputs().push_back(y);
  return g;
}

/// Per-channel mean of value `name` ([N, C, H, W]) when `model` runs on `batch`.
std::vector<double> channelMeans(const Graph& model, const Tensor& batch, const std::string& name) {
  ExecutorOptions eo;
  eo.keep = {name};
  auto ex = Executor::create(model, eo);
  REQUIRE(ex.isOk());
  REQUIRE((*ex)->run({batch}).isOk());
  const Tensor& t = (*ex)->kept().at(name);
  int64_t n = t.dim(0), c = t.dim(1), hw = t.numel() / (n * c);
  std::vector<double> m(static_cast<size_t>(c), 0.0);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t i = 0; i < hw; ++i)
        m[static_cast<size_t>(ch)] += t.data<float>()[(b * c + ch) * hw + i];
    }
  }
  for (double& v : m) v /= static_cast<double>(n * hw);
  return m;
}

MemoryDataset images(int count, bool on_input_grid, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(0, 100);
  std::vector<std::vector<float>> ims;
  for (int i = 0; i < count; ++i) {
    std::vector<float> im(25);
    // On the grid: k/128 (the default qconfig's fixed input scale), so Q(x) == x; off it
    // by 0.3/128, which rounds down every time (a mean shift to correct).
    for (float& v : im)
      v = (static_cast<float>(level(rng)) + (on_input_grid ? 0.0f : 0.3f)) / 128.0f;
    ims.push_back(im);
  }
  return MemoryDataset({1, 5, 5}, ims);
}

}  // namespace

TEST_CASE("convOutputMean: kernel taps with stride 2 and padding read the right pixels") {
  // Mean image 1..9 (1x3x3); 2x2 kernel, stride 2, pads 1: output 2x2, and tap (i, j) reads
  // pixel (2*oh + i - 1, 2*ow + j - 1). Tap (0,0) reads only (1,1) = 5; tap (0,1) reads
  // (1,0) + (1,2) = 10; tap (1,0) reads (0,1) + (2,1) = 10; tap (1,1) the corners = 20.
  std::vector<double> m = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  Node conv = convNode({2, 2}, {1, 1, 1, 1});
  Tensor w = Tensor::fromVector<float>({2, 1, 2, 2}, {1, 2, 3, 4, 0, 0, 0, 1});
  auto mean = convOutputMean(conv, w, m, {1, 3, 3});
  REQUIRE(mean.isOk());
  REQUIRE(mean->size() == 2);
  CHECK((*mean)[0] == Approx((1 * 5 + 2 * 10 + 3 * 10 + 4 * 20) / 4.0));  // 33.75
  CHECK((*mean)[1] == Approx(20 / 4.0));
  // The per-channel-mean shortcut would say (1+2+3+4) * 5 = 50: padding matters here.
}

TEST_CASE("convOutputMean equals the executor's conv output averaged over a batch") {
  // Groups, stride, dilation and asymmetric pads at once.
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.5f, 1.0f);
  const int64_t N = 3, C = 4, H = 7, W = 6, O = 6;
  Tensor x(DType::kFloat32, {N, C, H, W});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = nd(rng);
  Tensor w(DType::kFloat32, {O, C / 2, 3, 2});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = nd(rng);

  Graph g;
  g.opsetVersion = 13;
  Value* xv = g.addValue("x", DType::kFloat32, {N, C, H, W}, true);
  g.mutableInputs().push_back(xv);
  Value* y = g.addValue("y", DType::kFloat32);
  Node conv = convNode({2, 1}, {1, 0, 2, 1}, 2, {1, 2});
  g.addNode("Conv", "conv", {xv, g.addConstant("w", w)}, {y}, conv.attrs);
  g.mutableOutputs().push_back(y);
  auto ex = Executor::create(g);
  REQUIRE(ex.isOk());
  auto out = (*ex)->run({x});
  REQUIRE(out.isOk());
  const Tensor& t = (*out)[0];
  REQUIRE(t.dim(1) == O);
  int64_t hw = t.dim(2) * t.dim(3);

  std::vector<double> mean_x(static_cast<size_t>(C * H * W), 0.0);
  for (int64_t b = 0; b < N; ++b) {
    for (size_t i = 0; i < mean_x.size(); ++i)
      mean_x[i] += x.data<float>()[b * C * H * W + static_cast<int64_t>(i)] / double(N);
  }
  auto mean = convOutputMean(conv, w, mean_x, {C, H, W});
  REQUIRE(mean.isOk());
  for (int64_t o = 0; o < O; ++o) {
    double expect = 0;
    for (int64_t b = 0; b < N; ++b) {
      for (int64_t i = 0; i < hw; ++i) expect += t.data<float>()[(b * O + o) * hw + i];
    }
    expect /= static_cast<double>(N * hw);
    CHECK((*mean)[static_cast<size_t>(o)] == Approx(expect).margin(1e-5));
  }
}

TEST_CASE("gemmOutputMean: alpha * mean row * B, both weight layouts") {
  Node gemm;
  gemm.opType = "Gemm";
  gemm.name = "fc";
  gemm.attrs.set("alpha", Attribute::ofFloat(2.0f));
  // mean row [1, 2]; B = [[1, 2, 3], [4, 5, 6]] -> 2 * [9, 12, 15].
  auto m = gemmOutputMean(gemm, Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), {1, 2});
  REQUIRE(m.isOk());
  CHECK(*m == std::vector<double>{18, 24, 30});
  gemm.attrs.set("transB", Attribute::ofInt(1));
  auto t = gemmOutputMean(gemm, Tensor::fromVector<float>({3, 2}, {1, 4, 2, 5, 3, 6}), {1, 2});
  REQUIRE(t.isOk());
  CHECK(*t == std::vector<double>{18, 24, 30});
  CHECK_FALSE(gemmOutputMean(gemm, Tensor::fromVector<float>({3, 2}, {1, 4, 2, 5, 3, 6}), {1, 2, 3})
                  .isOk());
}

TEST_CASE("fakeQuantizeWeight: per-channel rounding half to even and saturation") {
  QuantParams p;
  p.scales = {0.1f, 0.25f};
  p.zeroPoints = {0, 0};
  p.axis = 0;
  // Row 0 at 0.1: 0.1 -> 1, -0.26 -> -2.6 -> -3; row 1 at 0.25: 0.375 -> 1.5 -> 2 (even),
  // 100 -> saturates at 127.
  Tensor w = Tensor::fromVector<float>({2, 2}, {0.1f, -0.26f, 0.375f, 100.0f});
  Tensor q = fakeQuantizeWeight(w, p, -128, 127);
  CHECK(q.data<float>()[0] == Approx(0.1f));
  CHECK(q.data<float>()[1] == Approx(-0.3f));
  CHECK(q.data<float>()[2] == Approx(0.5f));
  CHECK(q.data<float>()[3] == Approx(127 * 0.25f));
}

TEST_CASE("parseBiasCorrectionMode names the accepted values") {
  CHECK(*parseBiasCorrectionMode("local") == BiasCorrectionMode::kLocal);
  auto bad = parseBiasCorrectionMode("exact");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("off, weights, local"));
}

TEST_CASE("calibrate: bias correction makes the QDQ conv's mean output equal the float one") {
  auto model = tinyModel();
  CalibOptions opt;
  opt.progress = false;
  opt.batchSize = 16;
  opt.threads = 1;

  SECTION("weights: inputs on the input grid, so only the weights' error is left") {
    MemoryDataset data = images(40, /*on_input_grid=*/true, 1);
    std::vector<double> ref = channelMeans(*model, data.all(), "c");
    opt.biasCorrection = BiasCorrectionMode::kOff;
    auto off = calibrate(*model, data, QConfig::defaults(), opt);
    REQUIRE(off.isOk());
    opt.biasCorrection = BiasCorrectionMode::kWeights;
    auto on = calibrate(*model, data, QConfig::defaults(), opt);
    REQUIRE(on.isOk());
    std::vector<double> got_off = channelMeans(*off->model, data.all(), "c");
    std::vector<double> got_on = channelMeans(*on->model, data.all(), "c");
    double worst_off = 0;
    for (size_t c = 0; c < ref.size(); ++c) {
      worst_off = std::max(worst_off, std::abs(got_off[c] - ref[c]));
      CHECK(got_on[c] == Approx(ref[c]).margin(2e-6));
    }
    CHECK(worst_off > 1e-4);  // there was something to correct
    // The conv and the Gemm (which had no bias) got one; the Gemm's beta is 1.
    const Node* conv = on->model->findNode("conv");
    const Node* fc = on->model->findNode("fc");
    REQUIRE(conv->input(2));
    REQUIRE(fc->input(2));
    CHECK(fc->input(2)->constant.numel() == 3);
    CHECK(fc->attrs.getFloat("beta", 0.0f) == 1.0f);
    CHECK(on->report["summary"]["bias_correction"] == "weights");
    CHECK(on->report["summary"]["bias_corrections"].size() == 2);
    // The float model is untouched (clones share weight buffers).
    CHECK(model->findNode("conv")->input(2) == nullptr);
  }

  SECTION("local: inputs off the grid, their rounding shift is corrected too") {
    MemoryDataset data = images(40, /*on_input_grid=*/false, 2);
    std::vector<double> ref = channelMeans(*model, data.all(), "c");
    opt.biasCorrection = BiasCorrectionMode::kWeights;
    auto weights = calibrate(*model, data, QConfig::defaults(), opt);
    REQUIRE(weights.isOk());
    opt.biasCorrection = BiasCorrectionMode::kLocal;
    opt.biasCorrectionImages = 1000;  // all of them
    auto local = calibrate(*model, data, QConfig::defaults(), opt);
    REQUIRE(local.isOk());
    std::vector<double> got_w = channelMeans(*weights->model, data.all(), "c");
    std::vector<double> got_l = channelMeans(*local->model, data.all(), "c");
    double worst_w = 0;
    for (size_t c = 0; c < ref.size(); ++c) {
      worst_w = std::max(worst_w, std::abs(got_w[c] - ref[c]));
      CHECK(got_l[c] == Approx(ref[c]).margin(2e-6));
    }
    CHECK(worst_w > 1e-4);
  }
}
