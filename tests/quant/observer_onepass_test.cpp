// The one-pass observer path (scan + histogram per chunk, Histogram::scanAndAdd) against
// the separate passes it replaced (scanBatch, then Histogram::add with those stats), and
// layout padding (zeros of a blocked buffer) taken out exactly.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/observer.h"

using namespace hq;

namespace {

/// Batches whose magnitude grows along each batch (the range grows chunk by chunk inside
/// one scanAndAdd) and from batch to batch; both signs, runs of zeros (ReLU-like).
std::vector<std::vector<float>> growingBatches(int count, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<std::vector<float>> out;
  for (int b = 0; b < count; ++b) {
    std::vector<float> v(n + 131 * static_cast<size_t>(b));
    for (size_t i = 0; i < v.size(); ++i) {
      const float spread = std::ldexp(1.0f, static_cast<int>(12 * i / v.size()) + b - 6);
      const float x = nd(rng) * spread;
      v[i] = (i / 700) % 3 == 0 ? std::max(x, 0.f) : x;
    }
    out.push_back(std::move(v));
  }
  return out;
}

void requireSameHistogram(const Histogram& a, const Histogram& b) {
  for (bool neg : {false, true}) {
    CHECK(a.sideExponent(neg) == b.sideExponent(neg));
    CHECK(a.sideCounts(neg) == b.sideCounts(neg));
  }
  CHECK(a.total() == b.total());
  CHECK(a.zeros() == b.zeros());
  CHECK(a.observedMin() == b.observedMin());
  CHECK(a.observedMax() == b.observedMax());
  CHECK(a.counts() == b.counts());
}

QuantSpec specFor(const std::string& method, bool symmetric = true) {
  QuantSpec s;
  s.observer = method;
  s.symmetric = symmetric;
  return s;
}

/// `v` with `pad` zeros spread through it (as the padding channels of a blocked layout).
std::vector<float> withPadding(const std::vector<float>& v, int64_t pad) {
  std::vector<float> out;
  const size_t every = pad > 0 ? v.size() / static_cast<size_t>(pad) + 1 : v.size() + 1;
  int64_t added = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % every == 0 && added < pad) {
      out.push_back(0.f);
      ++added;
    }
    out.push_back(v[i]);
  }
  while (added++ < pad) out.push_back(0.f);
  return out;
}

}  // namespace

TEST_CASE("scanAndAdd equals scanBatch + add, for any bins and thread count",
          "[histogram][onepass]") {
  const int saved = omp_get_max_threads();
  for (int bins : {2048, 512, 1000}) {
    for (int threads : {1, 2}) {
      INFO("bins " << bins << ", threads " << threads);
      omp_set_num_threads(threads);
      // 300k values per batch: above the parallel threshold, so the threads split it.
      const auto batches = growingBatches(4, 300000, 21);
      Histogram separate(bins), onepass(bins);
      for (const auto& v : batches) {
        const int64_t n = static_cast<int64_t>(v.size());
        const BatchStats want = scanBatch(v.data(), n);
        separate.add(v.data(), n, want);
        const BatchStats got = onepass.scanAndAdd(v.data(), n);
        CHECK(got.n == want.n);
        CHECK(got.zeros == want.zeros);
        CHECK(got.min == want.min);
        CHECK(got.max == want.max);
        CHECK(got.nans == 0);
      }
      requireSameHistogram(onepass, separate);
      CHECK(onepass.zeros() > 0);
      CHECK(onepass.sideExponent(false) > 6);  // it grew
    }
  }
  omp_set_num_threads(saved);
  // Small batches (a single chunk, one thread) too.
  Histogram separate(64), onepass(64);
  for (const auto& v : growingBatches(5, 50, 3)) {
    const int64_t n = static_cast<int64_t>(v.size());
    separate.add(v.data(), n, scanBatch(v.data(), n));
    onepass.scanAndAdd(v.data(), n);
  }
  requireSameHistogram(onepass, separate);
}

TEST_CASE("a non-finite batch leaves the histogram untouched", "[histogram][onepass]") {
  auto batches = growingBatches(2, 20000, 5);
  Histogram h(256);
  h.scanAndAdd(batches[0].data(), static_cast<int64_t>(batches[0].size()));
  const Histogram before = h;
  std::vector<float>& v = batches[1];
  v[v.size() - 10] = std::nanf("");  // after the range has grown inside this batch
  v[v.size() - 5] = -std::numeric_limits<float>::infinity();
  const BatchStats st = h.scanAndAdd(v.data(), static_cast<int64_t>(v.size()));
  CHECK(st.nans == 1);
  CHECK(st.infs == 1);
  requireSameHistogram(h, before);
}

TEST_CASE("observe with layout padding equals observing the values alone",
          "[observer][onepass]") {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.5f, 1.f);
  std::vector<float> mixed(5000), positive(5000), negative(5000);
  for (size_t i = 0; i < mixed.size(); ++i) {
    mixed[i] = i % 4 == 0 ? 0.f : nd(rng);        // real zeros, both signs
    positive[i] = 0.25f + std::fabs(nd(rng));      // no zero: padding must not become min
    negative[i] = -0.25f - std::fabs(nd(rng));     // no zero: padding must not become max
  }
  for (const auto* data : {&mixed, &positive, &negative}) {
    for (const char* method : {"minmax", "ema_minmax", "percentile", "kl", "mse"}) {
      for (bool symmetric : {true, false}) {
        INFO(method << (symmetric ? " symmetric" : " affine") << " min " << (*data)[1]);
        const QuantSpec spec = specFor(method, symmetric);
        auto plain = makeObserver(spec, "t");
        auto padded = makeObserver(spec, "t");
        REQUIRE(plain.isOk());
        REQUIRE(padded.isOk());
        // Two batches, the second with its own padding.
        for (int64_t pad : {96, 40}) {
          const std::vector<float> p = withPadding(*data, pad);
          REQUIRE(static_cast<int64_t>(p.size()) == static_cast<int64_t>(data->size()) + pad);
          REQUIRE((*plain)->observe(data->data(), static_cast<int64_t>(data->size())).isOk());
          REQUIRE((*padded)->observe(p.data(), static_cast<int64_t>(p.size()), pad).isOk());
        }
        CHECK((*padded)->seenCount() == 10000);
        CHECK((*padded)->seenMin() == (*plain)->seenMin());
        CHECK((*padded)->seenMax() == (*plain)->seenMax());
        auto a = (*plain)->compute(spec);
        auto b = (*padded)->compute(spec);
        REQUIRE(a.isOk());
        REQUIRE(b.isOk());
        CHECK(b->scale == a->scale);
        CHECK(b->zeroPoint == a->zeroPoint);
        CHECK(b->min == a->min);
        CHECK(b->max == a->max);
      }
    }
  }
  // The smallest value of the all-positive data, not a padding zero.
  auto o = makeObserver(specFor("minmax"), "t");
  const std::vector<float> p = withPadding(positive, 8);
  REQUIRE((*o)->observe(p.data(), static_cast<int64_t>(p.size()), 8).isOk());
  CHECK((*o)->seenMin() == *std::min_element(positive.begin(), positive.end()));
  CHECK((*o)->seenMin() >= 0.25);
  // Padding outside [0, n] is an error; all padding observes nothing.
  CHECK((*o)->observe(p.data(), 4, 5).code() == ErrorCode::kInvalidArgument);
  CHECK((*o)->observe(p.data(), 4, -1).code() == ErrorCode::kInvalidArgument);
  const std::vector<float> zeros(16, 0.f);
  auto e = makeObserver(specFor("kl"), "t");
  REQUIRE((*e)->observe(zeros.data(), 16, 16).isOk());
  CHECK((*e)->seenCount() == 0);
}
