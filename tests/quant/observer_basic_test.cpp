// Observers that need no histogram (minmax, ema_minmax, fixed), rangeToScale edge cases,
// per-channel weight scales, NaN / Inf rejection and parameter checks. Expected values are
// hand-computed below; minmax / ema ranges and the affine minmax scale were cross-checked
// with PyTorch's MinMaxObserver / MovingAverageMinMaxObserver
// (tests/fixtures/observers/gen_observer_cases.py prints that check).
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "quant/observer.h"

using namespace hq;

namespace {

QuantSpec spec(const std::string& observer, bool symmetric = true, QDType dtype = QDType::kInt8) {
  QuantSpec s;
  s.observer = observer;
  s.symmetric = symmetric;
  s.dtype = dtype;
  return s;
}

std::unique_ptr<Observer> make(const QuantSpec& s, const std::string& name = "t") {
  auto r = makeObserver(s, name);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(r).value();
}

void feed(Observer& o, const std::vector<std::vector<float>>& batches) {
  for (const auto& b : batches) {
    Status st = o.observe(b.data(), static_cast<int64_t>(b.size()));
    INFO(st.message());
    REQUIRE(st.isOk());
  }
}

}  // namespace

TEST_CASE("minmax: running min and max over all batches", "[observer]") {
  const std::vector<std::vector<float>> batches = {{1, -2, 3}, {0.5f, 4, -1}, {-5, 2}};
  auto o = make(spec("minmax"));
  feed(*o, batches);
  CHECK(o->seenMin() == -5.0);
  CHECK(o->seenMax() == 4.0);
  CHECK(o->seenCount() == 8);

  auto sym = o->compute(spec("minmax"));
  REQUIRE(sym.isOk());
  CHECK(sym->min == -5.0);
  CHECK(sym->max == 5.0);
  CHECK(sym->scale == Approx(5.0 / 127).epsilon(1e-15));
  CHECK(sym->zeroPoint == 0);

  // Affine: scale 9/255, zero point round(-128 + 5 / (9/255)) = round(13.67) = 14 (as PyTorch).
  auto aff = o->compute(spec("minmax", false));
  REQUIRE(aff.isOk());
  CHECK(aff->min == -5.0);
  CHECK(aff->max == 4.0);
  CHECK(aff->scale == Approx(9.0 / 255).epsilon(1e-15));
  CHECK(aff->zeroPoint == 14);
}

TEST_CASE("ema_minmax: first batch initializes, then (1-c)*old + c*batch", "[observer]") {
  QuantSpec s = spec("ema_minmax");
  s.params.averagingConstant = 0.1;
  auto o = make(s);
  // batch 1: [-1, 2]; batch 2: [-3, 1] -> -1.2, 1.9; batch 3: [0, 10] -> -1.08, 2.71.
  feed(*o, {{-1, 2, 0.5f}, {-3, 1}});
  auto r2 = o->compute(s);
  REQUIRE(r2.isOk());
  CHECK(r2->max == Approx(1.9).epsilon(1e-12));  // symmetric: max(|-1.2|, 1.9)
  feed(*o, {{}, {0, 10, 4}});                    // an empty batch changes nothing
  auto aff = o->compute(spec("ema_minmax", false));
  REQUIRE(aff.isOk());
  CHECK(aff->min == Approx(-1.08).epsilon(1e-12));
  CHECK(aff->max == Approx(2.71).epsilon(1e-12));
  CHECK(aff->scale == Approx(3.79 / 255).epsilon(1e-12));
  // The exact extremes are still tracked for reports.
  CHECK(o->seenMin() == -3.0);
  CHECK(o->seenMax() == 10.0);
}

TEST_CASE("fixed: the configured scale exactly, whatever the data", "[observer]") {
  QuantSpec s = spec("fixed");
  s.fixedScale = 1.0 / 128;
  auto o = make(s, "input");
  feed(*o, {{-300, 5, 1e6f}});
  auto r = o->compute(s);
  REQUIRE(r.isOk());
  CHECK(r->scale == 0.0078125);  // exact, not approximate
  CHECK(r->zeroPoint == 0);
  CHECK(r->min == -1.0);
  CHECK(r->max == 127.0 / 128);
  CHECK(o->method() == "fixed");
  // No data is needed.
  auto fresh = make(s, "input");
  CHECK(fresh->compute(s).isOk());
}

TEST_CASE("observe rejects NaN and Inf, naming the tensor", "[observer]") {
  for (const char* method : {"minmax", "ema_minmax", "kl", "fixed"}) {
    QuantSpec s = spec(method);
    s.fixedScale = 0.5;
    auto o = make(s, "conv1_out");
    std::vector<float> good = {1, 2, 3};
    REQUIRE(o->observe(good.data(), 3).isOk());
    std::vector<float> bad = {0.5f, 1, 2, std::numeric_limits<float>::quiet_NaN(), 7};
    Status st = o->observe(bad.data(), 5);
    REQUIRE_FALSE(st.isOk());
    CHECK(st.code() == ErrorCode::kData);
    INFO(st.message());
    CHECK(st.message().find("NaN in tensor 'conv1_out' during calibration") == 0);
    CHECK(st.message().find("element 3") != std::string::npos);
    // The bad batch was not folded in.
    CHECK(o->seenMax() == 3.0);
    CHECK(o->seenCount() == 3);

    std::vector<float> inf = {-std::numeric_limits<float>::infinity(), 1};
    st = o->observe(inf.data(), 2);
    REQUIRE_FALSE(st.isOk());
    CHECK(st.message().find("Inf in tensor 'conv1_out' during calibration") == 0);
  }
}

TEST_CASE("compute without data is an error; bad sizes are errors", "[observer]") {
  auto o = make(spec("minmax"), "head");
  auto r = o->compute(spec("minmax"));
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().code() == ErrorCode::kData);
  CHECK(r.status().message().find("'head'") != std::string::npos);
  CHECK(o->observe(nullptr, 0).isOk());
  CHECK(o->observe(nullptr, 4).code() == ErrorCode::kInvalidArgument);
  float x = 1;
  CHECK(o->observe(&x, -1).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("makeObserver checks the method and its parameters", "[observer]") {
  auto bad = makeObserver(spec("minmaxx"), "t");
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
  CHECK(bad.status().message().find("unknown observer 'minmaxx'") != std::string::npos);
  CHECK(bad.status().message().find("percentile") != std::string::npos);  // lists valid names

  QuantSpec p = spec("percentile");
  p.params.percentile = 0;
  CHECK(makeObserver(p, "t").status().code() == ErrorCode::kInvalidArgument);
  p.params.percentile = 100.5;
  CHECK_FALSE(makeObserver(p, "t").isOk());
  p.params.percentile = 100;
  CHECK(makeObserver(p, "t").isOk());

  QuantSpec e = spec("ema_minmax");
  e.params.averagingConstant = 0;
  CHECK_FALSE(makeObserver(e, "t").isOk());
  e.params.averagingConstant = 1.5;
  CHECK_FALSE(makeObserver(e, "t").isOk());

  QuantSpec k = spec("kl");
  k.params.bins = 1;
  CHECK_FALSE(makeObserver(k, "t").isOk());

  QuantSpec f = spec("fixed");
  CHECK_FALSE(makeObserver(f, "t").isOk());  // no fixed scale
  f.fixedScale = -1;
  CHECK_FALSE(makeObserver(f, "t").isOk());
  f.fixedScale = std::numeric_limits<double>::infinity();
  CHECK_FALSE(makeObserver(f, "t").isOk());

  for (const auto& m : observerMethods()) {
    QuantSpec s = spec(m);
    s.fixedScale = 0.25;
    auto o = makeObserver(s, "t");
    INFO(m);
    REQUIRE(o.isOk());
    CHECK((*o)->method() == m);
  }
  // "all" is resolved by the calibration driver through computeWith().
  auto all = make(spec("all"));
  std::vector<float> d = {-1, 2};
  REQUIRE(all->observe(d.data(), 2).isOk());
  CHECK_FALSE(all->compute(spec("all")).isOk());
  auto* h = dynamic_cast<HistogramObserver*>(all.get());
  REQUIRE(h != nullptr);
  auto mm = h->computeWith("minmax", spec("minmax"));
  REQUIRE(mm.isOk());
  CHECK(mm->scale == Approx(2.0 / 127).epsilon(1e-15));
  CHECK_FALSE(h->computeWith("ema_minmax", spec("minmax")).isOk());
}

TEST_CASE("rangeToScale: symmetric, affine and edge cases", "[observer]") {
  const QuantSpec sym = spec("minmax", true);
  const QuantSpec aff = spec("minmax", false);

  // Zero range: scale 1, zero point 0 (documented), both kinds.
  for (const QuantSpec& s : {sym, aff}) {
    QuantRange z = rangeToScale(0, 0, s);
    CHECK(z.scale == 1.0);
    CHECK(z.zeroPoint == 0);
    // A range too small for a float scale counts as zero.
    CHECK(rangeToScale(-1e-45, 1e-45, s).scale == 1.0);
  }

  // All negative, symmetric: amax = 4.
  QuantRange n = rangeToScale(-4, -1, sym);
  CHECK(n.scale == Approx(4.0 / 127).epsilon(1e-15));
  CHECK(n.min == -4.0);
  CHECK(n.max == 4.0);
  CHECK(n.zeroPoint == 0);

  // All negative, affine: widened to [-4, 0]; zero point lands on qmax.
  QuantRange na = rangeToScale(-4, -1, aff);
  CHECK(na.min == -4.0);
  CHECK(na.max == 0.0);
  CHECK(na.scale == Approx(4.0 / 255).epsilon(1e-15));
  CHECK(na.zeroPoint == 127);

  // All positive, affine: widened to [0, 5]; zero point on qmin.
  QuantRange pa = rangeToScale(1, 5, aff);
  CHECK(pa.min == 0.0);
  CHECK(pa.scale == Approx(5.0 / 255).epsilon(1e-15));
  CHECK(pa.zeroPoint == -128);

  // [-1, 3]: zp = round(-128 + 1 / (4/255)) = round(-64.25) = -64.
  CHECK(rangeToScale(-1, 3, aff).zeroPoint == -64);
  // Half-way zero point rounds to even: [-63.5, 191.5] has scale 1, -128 + 63.5 = -64.5 -> -64.
  QuantRange h = rangeToScale(-63.5, 191.5, aff);
  CHECK(h.scale == 1.0);
  CHECK(h.zeroPoint == -64);

  // Wider dtypes.
  CHECK(rangeToScale(-1, 2, spec("minmax", true, QDType::kInt16)).scale ==
        Approx(2.0 / 32767).epsilon(1e-15));
  CHECK(rangeToScale(-1, 2, spec("minmax", true, QDType::kInt32)).scale ==
        Approx(2.0 / 2147483647.0).epsilon(1e-15));
  QuantRange a16 = rangeToScale(-1, 3, spec("minmax", false, QDType::kInt16));
  CHECK(a16.scale == Approx(4.0 / 65535).epsilon(1e-15));
  CHECK(a16.zeroPoint == -16384);  // round(-32768 + 65535 / 4) = round(-16384.25)
}

TEST_CASE("perChannelScales: one symmetric scale per output channel", "[observer]") {
  // Shape [3, 2, 2]; channel 1 is all zeros -> scale 1.
  Tensor w = Tensor::fromVector<float>({3, 2, 2}, {1, -2, 0.5f, 0.25f,  //
                                                   0, 0, 0, 0,          //
                                                   -3, 1, 2, -0.5f});
  const QuantSpec s = spec("minmax");
  auto r = perChannelScalesChecked(w, 0, s, "conv1.weight");
  REQUIRE(r.isOk());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0] == Approx(2.0 / 127).epsilon(1e-15));
  CHECK((*r)[1] == 1.0);
  CHECK((*r)[2] == Approx(3.0 / 127).epsilon(1e-15));
  CHECK(perChannelScales(w, 0, s) == *r);
  CHECK(perChannelScalesChecked(w, -3, s, "w").value() == *r);

  // Axis 1 of the same tensor: slices {1,-2,0,0,-3,1} and {0.5,0.25,0,0,2,-0.5}.
  auto a1 = perChannelScalesChecked(w.reshaped({3, 2, 2}), 1, s, "w");
  REQUIRE(a1.isOk());
  REQUIRE(a1->size() == 2);
  CHECK((*a1)[0] == Approx(3.0 / 127).epsilon(1e-15));
  CHECK((*a1)[1] == Approx(2.0 / 127).epsilon(1e-15));
  // Last axis: {1,0.5,0,0,-3,2} -> 3 ; {-2,0.25,0,0,1,-0.5} -> 2
  auto a2 = perChannelScalesChecked(w, -1, s, "w");
  REQUIRE(a2.isOk());
  CHECK((*a2)[0] == Approx(3.0 / 127).epsilon(1e-15));
  CHECK((*a2)[1] == Approx(2.0 / 127).epsilon(1e-15));

  // int16 weights.
  auto r16 = perChannelScalesChecked(w, 0, spec("minmax", true, QDType::kInt16), "w");
  CHECK((*r16)[2] == Approx(3.0 / 32767).epsilon(1e-15));

  // Errors.
  CHECK(perChannelScalesChecked(w, 3, s, "w").status().code() == ErrorCode::kInvalidArgument);
  CHECK(perChannelScales(w, 3, s).empty());
  Tensor wi = Tensor::fromVector<int32_t>({2}, {1, 2});
  CHECK_FALSE(perChannelScalesChecked(wi, 0, s, "w").isOk());
  Tensor wn = Tensor::fromVector<float>({2, 2}, {1, std::nanf(""), 2, 3});
  auto bad = perChannelScalesChecked(wn, 0, s, "fc.weight");
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().code() == ErrorCode::kData);
  CHECK(bad.status().message().find("NaN in weight 'fc.weight' at channel 0") == 0);
  // The unchecked form skips non-finite values.
  CHECK(perChannelScales(wn, 0, s)[0] == Approx(1.0 / 127).epsilon(1e-15));
}
