// Streaming histogram (growth, merge, determinism) and the histogram methods (percentile,
// kl, mse) on known distributions. Expected values: tests/fixtures/observers/
// gen_observer_cases.py (numpy, written from the definitions in lib/quant/histogram.h),
// whose output is quoted next to each literal.
#include <catch2/catch.hpp>

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "quant/observer.h"

using namespace hq;

namespace {

// Deterministic quantile grids x_k = F^-1((k + 0.5) / n), built exactly as the script does.
std::vector<float> uniformGrid(int n, double a, double b) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k)
    x[static_cast<size_t>(k)] = static_cast<float>(a + (b - a) * (k + 0.5) / n);
  return x;
}

std::vector<float> laplaceGrid(int n, double scale) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    const double u = (k + 0.5) / n - 0.5;
    const double s = u < 0 ? -1.0 : 1.0;
    x[static_cast<size_t>(k)] = static_cast<float>(-scale * s * std::log(1.0 - 2.0 * std::fabs(u)));
  }
  return x;
}

double normalInvCdf(double u) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 64; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < u) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

std::vector<float> gaussianGrid(int n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k)
    x[static_cast<size_t>(k)] = static_cast<float>(normalInvCdf((k + 0.5) / n));
  return x;
}

double sumAbs(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += std::fabs(static_cast<double>(v));
  return s;
}

QuantSpec spec(const std::string& observer, bool symmetric = true) {
  QuantSpec s;
  s.observer = observer;
  s.symmetric = symmetric;
  return s;
}

Histogram histOf(const std::vector<float>& x, int bins = 2048) {
  Histogram h(bins);
  h.add(x.data(), static_cast<int64_t>(x.size()));
  return h;
}

QuantRange computeOn(const std::vector<float>& x, const QuantSpec& s) {
  auto o = makeObserver(s, "t");
  REQUIRE(o.isOk());
  REQUIRE((*o)->observe(x.data(), static_cast<int64_t>(x.size())).isOk());
  auto r = (*o)->compute(s);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return *r;
}

/// Real mean squared error of symmetric int8 fake quantization with threshold t.
double realMse(const std::vector<float>& x, double t) {
  const double s = t / 127;
  double e = 0;
  for (float v : x) {
    const double q = std::min(127.0, std::max(-128.0, std::nearbyint(v / s))) * s;
    e += (v - q) * (v - q);
  }
  return e / static_cast<double>(x.size());
}

}  // namespace

TEST_CASE("histogram: hand-computed binning and growth by merging bin pairs", "[histogram]") {
  Histogram h(4);
  const std::vector<float> a = {0.5f, 1.5f, 0.0f, -0.25f};
  h.add(a.data(), 4);
  // Positive side: max 1.5 -> range [0, 2), width 0.5: 0.5 -> bin 1, 1.5 -> bin 3.
  CHECK(h.sideExponent(false) == 1);
  CHECK(h.sideCounts(false) == std::vector<double>{0, 1, 0, 1});
  // Negative side: 0.25 -> range [0, 0.5), width 0.125: bin 2.
  CHECK(h.sideExponent(true) == -1);
  CHECK(h.sideCounts(true) == std::vector<double>{0, 0, 1, 0});
  CHECK(h.zeros() == 1);
  CHECK(h.total() == 4);
  // 3.0 doubles the positive range to [0, 4), width 1: old bins (0,1) -> 0, (2,3) -> 1.
  const std::vector<float> b = {3.0f};
  h.add(b.data(), 1);
  CHECK(h.sideExponent(false) == 2);
  CHECK(h.sideCounts(false) == std::vector<double>{1, 1, 0, 1});
  CHECK(h.observedMin() == -0.25);
  CHECK(h.observedMax() == 3.0);
  // |x| at the common range [0, 4): 0.25 joins bin 0; zeros are kept apart.
  MagnitudeHistogram m = h.magnitudes(Histogram::Part::kAbs);
  CHECK(m.counts == std::vector<double>{2, 1, 0, 1});
  CHECK(m.binWidth == 1.0);
  CHECK(m.zeros == 1);
  CHECK(m.maxValue == 3.0);
  // Signed view: [-4, 4) in 4 bins of width 2: {-0.25} | {0, 0.5, 1.5} | {3}.
  CHECK(h.lo() == -4.0);
  CHECK(h.binWidth() == 2.0);
  CHECK(h.counts() == std::vector<double>{0, 1, 3, 1});
}

TEST_CASE("histogram: counts do not depend on batch split, order or merging", "[histogram]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> all;
  std::vector<std::vector<float>> batches;
  for (int b = 0; b < 12; ++b) {
    // Growing spread so that the range doubles several times along the way.
    std::vector<float> v(1000 + 37 * b);
    for (float& x : v) x = nd(rng) * std::ldexp(1.0f, b / 2) + (b % 3 == 0 ? 0.f : 0.3f);
    if (b == 5) v[3] = 0.f;
    all.insert(all.end(), v.begin(), v.end());
    batches.push_back(v);
  }
  const Histogram one = histOf(all, 512);
  Histogram many(512), reversed(512), left(512), right(512);
  for (const auto& v : batches) many.add(v.data(), static_cast<int64_t>(v.size()));
  for (auto it = batches.rbegin(); it != batches.rend(); ++it)
    reversed.add(it->data(), static_cast<int64_t>(it->size()));
  for (size_t b = 0; b < batches.size(); ++b) {
    (b % 2 ? left : right).add(batches[b].data(), static_cast<int64_t>(batches[b].size()));
  }
  REQUIRE(left.merge(right).isOk());
  for (const Histogram* h : {&many, &reversed, &left}) {
    for (bool neg : {false, true}) {
      CHECK(h->sideExponent(neg) == one.sideExponent(neg));
      CHECK(h->sideCounts(neg) == one.sideCounts(neg));
    }
    CHECK(h->counts() == one.counts());
    CHECK(h->zeros() == one.zeros());
    CHECK(h->observedMin() == one.observedMin());
    CHECK(h->observedMax() == one.observedMax());
  }
  // The counts are those of binning every value directly at the final range.
  const int e = one.sideExponent(false);
  std::vector<double> direct(512, 0.0);
  for (float x : all) {
    if (x > 0)
      direct[std::min<size_t>(511, static_cast<size_t>(std::floor(std::ldexp(x, -e) * 512)))] += 1;
  }
  CHECK(one.sideCounts(false) == direct);
  Histogram other(256);
  CHECK(left.merge(other).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("histogram: thread count does not change the result", "[histogram]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 2.f);
  std::vector<float> big(600000);
  for (float& x : big) x = nd(rng);
  big[12345] = 0.f;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Histogram h1 = histOf(big);
  const BatchStats s1 = scanBatch(big.data(), static_cast<int64_t>(big.size()));
  omp_set_num_threads(std::max(2, saved));
  const Histogram h2 = histOf(big);
  const BatchStats s2 = scanBatch(big.data(), static_cast<int64_t>(big.size()));
  omp_set_num_threads(saved);
  CHECK(h1.sideCounts(false) == h2.sideCounts(false));
  CHECK(h1.sideCounts(true) == h2.sideCounts(true));
  CHECK(s1.min == s2.min);
  CHECK(s1.max == s2.max);
  CHECK(s1.zeros == 1);
  CHECK(s2.zeros == 1);
  CHECK(h1.total() == 600000);
  // Same data, separately fed observers: bit-identical results for every method.
  for (const char* m : {"minmax", "percentile", "kl", "mse"}) {
    const QuantRange a = computeOn(big, spec(m)), b = computeOn(big, spec(m));
    CHECK(a.scale == b.scale);
    CHECK(a.max == b.max);
  }
}

TEST_CASE("scanBatch counts NaN, Inf and zeros and ignores them for min / max", "[histogram]") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> v = {1, -0.f, std::nanf(""), inf, -2, 0, -inf, 3};
  const BatchStats s = scanBatch(v.data(), 8);
  CHECK(s.nans == 1);
  CHECK(s.infs == 2);
  CHECK(s.zeros == 2);
  CHECK(s.min == -2.f);
  CHECK(s.max == 3.f);
  CHECK_FALSE(s.finite());
  // Non-finite values never reach a bin.
  Histogram h(8);
  h.add(v.data(), 8);
  CHECK(h.total() == 5);
  CHECK(std::accumulate(h.counts().begin(), h.counts().end(), 0.0) == 5);
}

TEST_CASE("percentile on uniform and Laplace grids", "[histogram][percentile]") {
  // Script: uniform[-1,1] N=20000, |x| p=99: exact 0.99; bin width 2^-11.
  const auto u = uniformGrid(20000, -1, 1);
  CHECK(sumAbs(u) == Approx(10000.0).epsilon(1e-9));
  const double w = 1.0 / 2048;
  const double tu = percentileThreshold(histOf(u).magnitudes(Histogram::Part::kAbs), 99);
  CHECK(tu == Approx(0.99).margin(w));
  CHECK(tu == Approx(0.9900390625).margin(1e-12));  // the script's histogram version
  // The signed 99th percentile would be 0.98: the method must use |x|.
  const QuantRange r = computeOn(u, [] {
    auto s = spec("percentile");
    s.params.percentile = 99;
    return s;
  }());
  CHECK(r.max == Approx(0.99).margin(w));
  CHECK(r.scale == Approx(r.max / 127).epsilon(1e-15));
  // p = 100 is minmax.
  CHECK(percentileThreshold(histOf(u).magnitudes(Histogram::Part::kAbs), 100) == u.back());

  // Script: Laplace b=1 N=20000, |x| p=99: exact ln(100) = 4.60517; bin width 16/2048 and
  // grid spacing ~1/(N * 0.01) = 0.005 at that depth.
  const auto lap = laplaceGrid(20000, 1.0);
  CHECK(sumAbs(lap) == Approx(19999.30685733092).epsilon(1e-12));
  const double t = percentileThreshold(histOf(lap).magnitudes(Histogram::Part::kAbs), 99);
  CHECK(t == Approx(4.605170185988091).margin(16.0 / 2048));
  CHECK(t == Approx(4.6015625).margin(1e-12));  // the script's histogram version
}

TEST_CASE("percentile, affine: clips half the rest from each tail", "[histogram][percentile]") {
  // Script: uniform[-1,3] N=40000, p=99: lo = -0.98, hi = 2.98 (numpy quantiles agree).
  const auto u = uniformGrid(40000, -1, 3);
  const Histogram h = histOf(u);
  CHECK(h.quantile(0.005) == Approx(-0.98).margin(1.0 / 2048));
  CHECK(h.quantile(0.995) == Approx(2.98).margin(4.0 / 2048));
  CHECK(h.quantile(0.0) == u.front());  // clamped to the smallest value
  CHECK(h.quantile(1.0) == u.back());
  QuantSpec s = spec("percentile", false);
  s.params.percentile = 99;
  const QuantRange r = computeOn(u, s);
  CHECK(r.min == Approx(-0.98).margin(1.0 / 2048));
  CHECK(r.max == Approx(2.98).margin(4.0 / 2048));
  CHECK(r.scale == Approx((r.max - r.min) / 255).epsilon(1e-12));
  // Symmetric on the same data would clip |x| at its 99th percentile: 2.96.
  s.symmetric = true;
  CHECK(computeOn(u, s).max == Approx(2.96).margin(4.0 / 2048));
}

TEST_CASE("kl: TensorRT entropy calibration on a Gaussian with an outlier", "[histogram][kl]") {
  std::vector<float> g = gaussianGrid(32768);
  // Script checksums: sum|x| = 26144.933659197013, max = 4.169569492340088.
  REQUIRE(sumAbs(g) == Approx(26144.933659197013).epsilon(1e-12));
  REQUIRE(g.back() == 4.169569492340088f);
  std::vector<float> x = g;
  x.push_back(20.0f);
  // Script (numpy TensorRT-style search, 128 levels): T = 4.171875 = bin 267 of width 1/64;
  // the next best divergence is 4.7% higher. minmax would give 20.
  const double t = klThreshold(histOf(x).magnitudes(Histogram::Part::kAbs), 128);
  CHECK(t == 4.171875);
  const QuantRange r = computeOn(x, spec("kl"));
  CHECK(r.max == 4.171875);
  CHECK(r.scale == Approx(4.171875 / 127).epsilon(1e-15));
  // The Histogram overload (as the calibration driver calls it) agrees.
  CHECK(klThreshold(histOf(x), 128) == 4.171875);
}

TEST_CASE("kl: exact zeros (ReLU outputs) are left out of the search", "[histogram][kl]") {
  const std::vector<float> g = gaussianGrid(32768);
  std::vector<float> relu;
  for (float v : g) {
    if (v > 0) relu.push_back(v);
  }
  relu.resize(relu.size() * 2, 0.0f);  // as many exact zeros
  // Script: T = 4.169569492340088 (the largest value: no clipping). Had the zeros been
  // binned, the search would have chosen 1.49609375.
  const MagnitudeHistogram m = histOf(relu).magnitudes(Histogram::Part::kAbs);
  CHECK(m.zeros == 16384);
  CHECK(klThreshold(m, 128) == 4.169569492340088);
  MagnitudeHistogram binned = m;
  binned.counts[0] += binned.zeros;
  binned.zeros = 0;
  CHECK(klThreshold(binned, 128) == 1.49609375);
  // Affine kl on non-negative data searches the positive side with 256 levels.
  const QuantRange r = computeOn(relu, spec("kl", false));
  CHECK(r.min == 0.0);
  CHECK(r.zeroPoint == -128);
  CHECK(r.max == klThreshold(histOf(relu).magnitudes(Histogram::Part::kPositive), 256));
}

TEST_CASE("kl and mse edge cases", "[histogram][kl][mse]") {
  MagnitudeHistogram empty;
  empty.counts.assign(16, 0.0);
  CHECK(klThreshold(empty, 128) == 0);
  CHECK(mseThreshold(empty, 127) == 0);
  CHECK(percentileThreshold(empty, 99) == 0);
  // Histogram no finer than the quantization grid: no clipping.
  const std::vector<float> x = {0.1f, 0.2f, 0.7f, -1.5f};
  CHECK(klThreshold(histOf(x, 64).magnitudes(Histogram::Part::kAbs), 128) == 1.5f);
  // qint16 kl: 32768 levels > 2048 bins: the largest magnitude.
  QuantSpec s16 = spec("kl");
  s16.dtype = QDType::kInt16;
  CHECK(computeOn(x, s16).max == 1.5f);
  // Only zeros: zero range -> scale 1.
  const std::vector<float> z(10, 0.0f);
  for (const char* m : {"percentile", "kl", "mse"}) CHECK(computeOn(z, spec(m)).scale == 1.0);
}

TEST_CASE("mse: threshold minimizing the expected quantization error", "[histogram][mse]") {
  const auto lap = laplaceGrid(20000, 1.0);
  const MagnitudeHistogram m = histOf(lap).magnitudes(Histogram::Part::kAbs);
  // Script: the numpy version of the model picks T = 9.4140625 (bin 1205 of width 1/128).
  const double t = mseThreshold(m, 127);
  CHECK(t == 9.4140625);
  // Brute force over the real fake-quant error of the sample (numpy, T on a 0.001 grid):
  // min real MSE 0.0004779597864490295 at T = 9.337; at the largest value (minmax) it is
  // 0.0005062174850095795, 5.9% worse. The model's choice is within 0.1% of the optimum.
  const double e = realMse(lap, t);
  CHECK(e == Approx(0.0004782028848411544).epsilon(1e-6));
  CHECK(e <= 1.001 * 0.0004779597864490295);
  CHECK(realMse(lap, m.maxValue) > 1.05 * 0.0004779597864490295);
  CHECK(t == Approx(9.337).epsilon(0.01));
  // PyTorch's HistogramObserver (its L2 search, symmetric qint8) picks scale 0.0760056...,
  // whose real error on this sample is 0.0004858476923959392: the model does better.
  CHECK(e < 0.0004858476923959392);
  // The model's error is minimal among the candidates.
  const double best = mseModelError(m, 127, t);
  for (double c : {t - m.binWidth, t + m.binWidth, m.maxValue, 5.0}) {
    CHECK(mseModelError(m, 127, c) >= best);
  }
  const QuantRange r = computeOn(lap, spec("mse"));
  CHECK(r.max == t);
  // Histogram overload: quant_levels = 128 codes -> 127 steps.
  CHECK(mseThreshold(histOf(lap), 128) == t);
}

TEST_CASE("observe throughput (1e7 floats)", "[.][bench]") {
  // Not run by default: `test_quant "[bench]"` prints M values/s per method, data and batch.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> gauss(10000000);
  for (float& v : gauss) v = nd(rng);
  std::vector<float> relu(gauss.size());
  for (size_t i = 0; i < gauss.size(); ++i) relu[i] = std::max(gauss[i], 0.f);
  for (const auto* data : {&gauss, &relu}) {
    for (const char* m : {"minmax", "kl"}) {
      auto o = makeObserver(spec(m), "t");
      REQUIRE(o.isOk());
      const float* x = data->data();
      REQUIRE((*o)->observe(x, 1000).isOk());  // warm up
      for (int64_t batch : {int64_t{10000000}, int64_t{8192}}) {
        const auto t0 = std::chrono::steady_clock::now();
        const int reps = 5;
        for (int r = 0; r < reps; ++r) {
          for (int64_t b = 0; b < 10000000; b += batch) {
            REQUIRE((*o)->observe(x + b, std::min<int64_t>(batch, 10000000 - b)).isOk());
          }
        }
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("observe %-7s %-5s batch %8lld threads %d: %.0f M values/s\n", m,
                    data == &gauss ? "gauss" : "relu", static_cast<long long>(batch),
                    omp_get_max_threads(), reps * 10.0 / s);
      }
    }
  }
}
