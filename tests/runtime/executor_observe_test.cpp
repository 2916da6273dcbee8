// ExecutorOptions::observe: values handed to a callback right after their step, in the
// layout the kernels chose (blocked layouts with their zero padding), without changing
// what the kernels compute.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "dnnl_test_util.h"
#include "runtime/executor.h"

namespace hq {
namespace {

using testing::maxRelDiff;
using testing::randomTensor;

Attributes convAttrs(int64_t pad, int64_t stride = 1) {
  Attributes a;
  a.set("pads", Attribute::ofInts({pad, pad, pad, pad}));
  a.set("strides", Attribute::ofInts({stride, stride}));
  return a;
}

// x[N,3,9,9] -> Conv(20) -> Relu (r1) -> Conv(20) -> Add(r1) -> Relu (r2) -> Conv(24, /2)
// -> Clip(0,6) (c3) -> GlobalAveragePool -> Flatten (flat) -> Gemm -> logits[N,10].
// 20 and 24 channels: blocked layouts (8c / 16c) need padding channels.
std::unique_ptr<Graph> paddedNet() {
  auto g = std::make_unique<Graph>();
  uint32_t seed = 300;
  Value* x = g->addValue("x", DType::kFloat32, {-1, 3, 9, 9}, true);
  g->mutableInputs().push_back(x);
  auto c = [&](const std::string& n, Shape s, float lo = -0.5f, float hi = 0.5f) {
    return g->addConstant(n, randomTensor(s, seed++, lo, hi));
  };
  auto v = [&](const std::string& n) { return g->addValue(n); };
  Value *c1 = v("c1"), *r1 = v("r1"), *c2 = v("c2"), *sum = v("sum"), *r2 = v("r2");
  Value *c3 = v("c3pre"), *clip = v("c3"), *gap = v("gap"), *flat = v("flat");
  Value* logits = v("logits");
  g->addNode("Conv", "conv1", {x, c("w1", {20, 3, 3, 3}), c("b1", {20})}, {c1}, convAttrs(1));
  g->addNode("Relu", "relu1", {c1}, {r1});
  g->addNode("Conv", "conv2", {r1, c("w2", {20, 20, 3, 3}, -0.2f, 0.2f), c("b2", {20})}, {c2},
             convAttrs(1));
  g->addNode("Add", "add", {r1, c2}, {sum});
  g->addNode("Relu", "relu2", {sum}, {r2});
  g->addNode("Conv", "conv3", {r2, c("w3", {24, 20, 3, 3}, -0.2f, 0.2f), c("b3", {24})}, {c3},
             convAttrs(1, 2));
  g->addNode("Clip", "clip", {c3, g->addConstant("lo", Tensor::scalar<float>(0.0f)),
                               g->addConstant("hi", Tensor::scalar<float>(6.0f))},
             {clip});
  g->addNode("GlobalAveragePool", "gap", {clip}, {gap});
  g->addNode("Flatten", "flatten", {gap}, {flat});
  Attributes ga;
  ga.set("transB", Attribute::ofInt(1));
  g->addNode("Gemm", "fc", {flat, c("wf", {10, 24}), c("bf", {10})}, {logits}, ga);
  g->mutableOutputs().push_back(logits);
  return g;
}

/// What the callback saw of one value.
struct Seen {
  std::vector<float> raw;  ///< the physical buffer
  int64_t padding = 0;
  bool plain = true;
  Shape shape;
  Tensor plainCopy;  ///< toPlain(), copied
  int order = 0;     ///< call number
};

const std::vector<std::string> kObserved = {"x", "r1", "r2", "c3", "flat", "logits"};

}  // namespace

TEST_CASE("observed values equal kept ones; blocked buffers account for their padding",
          "[executor][observe][dnnl]") {
  auto g = paddedNet();
  std::map<std::string, Seen> seen;
  int calls = 0;
  ExecutorOptions obs_opts;
  obs_opts.observe = kObserved;
  obs_opts.onObserve = [&](const std::string& name, const ObservedTensor& t) -> Status {
    Seen& s = seen[name];
    s.raw.assign(t.data, t.data + t.n);
    s.padding = t.paddingZeros;
    s.plain = t.plain;
    s.shape = *t.shape;
    s.plainCopy = t.toPlain().clone();
    s.order = calls++;
    return Status::ok();
  };
  ExecutorOptions keep_opts;
  keep_opts.keep = kObserved;
  auto observing = Executor::create(*g, obs_opts);
  auto keeping = Executor::create(*g, keep_opts);
  REQUIRE(observing.isOk());
  REQUIRE(keeping.isOk());
  Tensor x = randomTensor({4, 3, 9, 9}, 11, -2, 2);
  auto got = (*observing)->run({x});
  auto want = (*keeping)->run({x});
  INFO(got.status().message());
  REQUIRE(got.isOk());
  REQUIRE(want.isOk());
  REQUIRE(seen.size() == kObserved.size());
  CHECK(calls == static_cast<int>(kObserved.size()));
  // Step order: the input first, then each value after its producer.
  for (size_t i = 0; i < kObserved.size(); ++i) CHECK(seen[kObserved[i]].order == static_cast<int>(i));

  int blocked_padded = 0;
  for (const std::string& name : kObserved) {
    INFO(name);
    const Seen& s = seen[name];
    const Tensor& kept = (*keeping)->kept().at(name);
    CHECK(s.shape == kept.shape());
    // Same values as keep (which runs plain kernels: equal up to summation order).
    CHECK(maxRelDiff(s.plainCopy, kept) <= 1e-5);
    // The raw buffer is exactly the plain values plus `padding` zeros.
    const int64_t numel = shapeNumel(s.shape);
    REQUIRE(static_cast<int64_t>(s.raw.size()) == numel + s.padding);
    std::vector<float> raw = s.raw, plain(s.plainCopy.data<float>(),
                                          s.plainCopy.data<float>() + numel);
    for (int64_t p = 0; p < s.padding; ++p) plain.push_back(0.0f);
    std::sort(raw.begin(), raw.end());
    std::sort(plain.begin(), plain.end());
    CHECK(raw == plain);
    if (s.plain) {
      CHECK(s.padding == 0);
      CHECK(std::equal(s.raw.begin(), s.raw.end(), s.plainCopy.data<float>()));
    }
    if (!s.plain && s.padding > 0) ++blocked_padded;
  }
  // x and flat are plain; r1 (20 channels) is blocked with padding channels.
  CHECK(seen["x"].plain);
  CHECK(seen["flat"].plain);
  CHECK(!seen["r1"].plain);
  // r1 is [4, 20, 9, 9]: 20 channels padded to 24 (8c blocks) or 32 (16c): whole pixels.
  const int64_t pad_channels = seen["r1"].padding / (4 * 81);
  CHECK(seen["r1"].padding % (4 * 81) == 0);
  CHECK((pad_channels == 4 || pad_channels == 12));
  CHECK(blocked_padded >= 2);
  // The raw input is the caller's tensor itself.
  CHECK(seen["x"].raw == std::vector<float>(x.data<float>(), x.data<float>() + x.numel()));
}

TEST_CASE("observing changes neither the outputs nor the kernels", "[executor][observe][dnnl]") {
  auto g = paddedNet();
  ExecutorOptions plain_opts, obs_opts;
  obs_opts.observe = kObserved;
  int calls = 0;
  obs_opts.onObserve = [&](const std::string&, const ObservedTensor&) -> Status {
    ++calls;
    return Status::ok();
  };
  auto base = Executor::create(*g, plain_opts);
  auto observing = Executor::create(*g, obs_opts);
  REQUIRE(base.isOk());
  REQUIRE(observing.isOk());
  for (int64_t batch : {2, 5, 2}) {
    Tensor x = randomTensor({batch, 3, 9, 9}, static_cast<uint32_t>(batch), -2, 2);
    auto want = (*base)->run({x});
    auto got = (*observing)->run({x});
    REQUIRE(want.isOk());
    REQUIRE(got.isOk());
    CHECK((*got)[0].equals((*want)[0]));  // bit for bit
  }
  CHECK(calls == 3 * static_cast<int>(kObserved.size()));
  CHECK((*observing)->kernelNames() == (*base)->kernelNames());
  CHECK((*observing)->arenaBytes() == (*base)->arenaBytes());
  // Unlike keep, the residual sum stays fused in place.
  const auto names = (*observing)->kernelNames();
  CHECK(std::count(names.begin(), names.end(), "view") == 1);
}

TEST_CASE("observe errors: unknown tensor, no callback, callback failure", "[executor][observe]") {
  auto g = paddedNet();
  ExecutorOptions o;
  o.observe = {"nope"};
  o.onObserve = [](const std::string&, const ObservedTensor&) { return Status::ok(); };
  auto bad = Executor::create(*g, o);
  REQUIRE(!bad.isOk());
  CHECK(bad.status().message().find("'nope'") != std::string::npos);

  ExecutorOptions no_cb;
  no_cb.observe = {"r1"};
  auto missing = Executor::create(*g, no_cb);
  REQUIRE(!missing.isOk());
  CHECK(missing.status().message().find("onObserve") != std::string::npos);

  ExecutorOptions failing;
  failing.observe = {"r2"};
  failing.onObserve = [](const std::string& name, const ObservedTensor&) -> Status {
    return HQ_ERROR(kData, "stop at '{}'", name);
  };
  auto ex = Executor::create(*g, failing);
  REQUIRE(ex.isOk());
  auto r = (*ex)->run({randomTensor({1, 3, 9, 9}, 5)});
  REQUIRE(!r.isOk());
  CHECK(r.status().message().find("stop at 'r2'") != std::string::npos);
}

}  // namespace hq
