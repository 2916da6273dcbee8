// Streaming histogram: one scan pass (min / max / zeros / NaN), then a binning pass that
// computes bin indices in a vectorized loop and scatters them into a few private count
// arrays (several copies so that runs of equal indices do not serialize on one counter).
#include "quant/histogram.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

namespace hq {
namespace {

constexpr int kMinExp = -100;  // ranges below 2^-100 are not resolved (all in bin 0)
constexpr int kMaxExp = 128;   // every finite float is < 2^128
constexpr int64_t kParallelMin = int64_t{1} << 18;  // below this, threads cost more than they save
constexpr int64_t kChunk = int64_t{1} << 30;        // keeps the int32 / uint32 counters exact
constexpr int kMaxThreads = 8;                      // memory bound beyond that

BatchStats scanSerial(const float* d, int64_t n) {
  BatchStats st;
  st.n = n;
  float mn = std::numeric_limits<float>::infinity();
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t base = 0; base < n; base += kChunk) {
    const int64_t len = std::min(kChunk, n - base);
    const float* p = d + base;
    int32_t nans = 0, infs = 0, zeros = 0;
#pragma omp simd reduction(min : mn) reduction(max : mx) reduction(+ : nans, infs, zeros)
    for (int64_t i = 0; i < len; ++i) {
      const float x = p[i];
      const bool inf = std::fabs(x) == std::numeric_limits<float>::infinity();
      nans += (x != x);
      infs += inf;
      zeros += (x == 0.0f);
      mn = (x < mn && !inf) ? x : mn;  // NaN compares false: skipped
      mx = (x > mx && !inf) ? x : mx;
    }
    st.nans += nans;
    st.infs += infs;
    st.zeros += zeros;
  }
  st.min = mn;
  st.max = mx;
  return st;
}

void combine(BatchStats& a, const BatchStats& b) {
  a.n += b.n;
  a.nans += b.nans;
  a.infs += b.infs;
  a.zeros += b.zeros;
  a.min = std::min(a.min, b.min);
  a.max = std::max(a.max, b.max);
}

/// Range exponent for a largest magnitude m > 0: the smallest e with m < 2^e.
int exponentFor(double m) {
  int e = std::ilogb(m) + 1;
  return std::clamp(e, kMinExp, kMaxExp);
}

/// The slot of x among counts[0, 2*bins]: [0, bins) positive magnitudes, [bins, 2*bins)
/// negative ones (inv_* = bins / range of that side), 2*bins for zeros and non-finite.
inline int32_t binIndex(float x, float inv_pos, float inv_neg, int bins, float fbins) {
  const float v = std::fabs(x);
  const bool neg = x < 0.0f;
  const float f = v * (neg ? inv_neg : inv_pos);
  int32_t j = f < fbins ? static_cast<int32_t>(f) : bins - 1;
  j += neg ? bins : 0;
  return (x != 0.0f && v <= FLT_MAX) ? j : 2 * bins;
}

/// Bin `n` values into counts[0, 2*bins]: [0, bins) positive, [bins, 2*bins) negative,
/// slot 2*bins for zeros and non-finite values (dropped).
void binInto(const float* d, int64_t n, int bins, float inv_pos, float inv_neg,
             uint32_t* counts /* 4 copies of 2*bins+1 */, int copies) {
  constexpr int kBlock = 1024;
  int32_t idx[kBlock];
  const int stride = 2 * bins + 1;
  const float fbins = static_cast<float>(bins);
  for (int64_t base = 0; base < n; base += kBlock) {
    const int len = static_cast<int>(std::min<int64_t>(kBlock, n - base));
    const float* p = d + base;
#pragma omp simd
    for (int i = 0; i < len; ++i) {
      idx[i] = binIndex(p[i], inv_pos, inv_neg, bins, fbins);
    }
    int i = 0;
    if (copies == 4) {
      uint32_t* c0 = counts;
      uint32_t* c1 = counts + stride;
      uint32_t* c2 = counts + 2 * stride;
      uint32_t* c3 = counts + 3 * stride;
      for (; i + 4 <= len; i += 4) {
        ++c0[idx[i]];
        ++c1[idx[i + 1]];
        ++c2[idx[i + 2]];
        ++c3[idx[i + 3]];
      }
    }
    for (; i < len; ++i) ++counts[idx[i]];
  }
}

/// One thread's batch-local binning for Histogram::scanAndAdd: integer counts at its own
/// side exponents (grown chunk by chunk; counts merge exactly, see histogram.h).
struct ChunkBinner {
  int bins, stride, copies;
  int exp[2];
  bool used[2];
  float inv[2] = {0.f, 0.f};
  std::vector<uint32_t> counts;
  BatchStats st;

  ChunkBinner(int b, int c, const int e[2], const bool u[2])
      : bins(b), stride(2 * b + 1), copies(c), exp{e[0], e[1]}, used{u[0], u[1]} {
    counts.assign(static_cast<size_t>(stride) * static_cast<size_t>(copies), 0u);
    st.min = std::numeric_limits<float>::infinity();
    st.max = -std::numeric_limits<float>::infinity();
    setInv();
  }
  void setInv() {
    for (int s = 0; s < 2; ++s) inv[s] = used[s] ? std::ldexp(static_cast<float>(bins), -exp[s]) : 0.f;
  }
  /// Range of side s to [0, 2^e): merges bins j -> j >> k in place.
  bool grow(int s, int e) {
    if (!used[s]) {
      used[s] = true;
      exp[s] = e;
      return true;
    }
    if (e <= exp[s]) return false;
    const int k = e - exp[s];
    for (int c = 0; c < copies; ++c) {
      uint32_t* side = counts.data() + static_cast<size_t>(c) * stride + static_cast<size_t>(s) * bins;
      for (int j = 1; j < bins; ++j) {
        const int dst = k >= 31 ? 0 : (j >> k);
        side[dst] += side[j];
        side[j] = 0;
      }
    }
    exp[s] = e;
    return true;
  }
  /// Indices of p[0, len) at the current ranges: as binInto.
  void index(const float* p, int len, int32_t* idx) const {
    const float fbins = static_cast<float>(bins);
    const float ip = inv[0], in = inv[1];
    const int b = bins;
#pragma omp simd
    for (int i = 0; i < len; ++i) {
      idx[i] = binIndex(p[i], ip, in, b, fbins);
    }
  }
  void run(const float* d, int64_t n) {
    constexpr int kBlock = 2048;
    int32_t idx[kBlock];
    bool bad = false;
    const float fbins = static_cast<float>(bins);
    for (int64_t base = 0; base < n; base += kBlock) {
      const int len = static_cast<int>(std::min<int64_t>(kBlock, n - base));
      const float* p = d + base;
      float mn = std::numeric_limits<float>::infinity();
      float mx = -std::numeric_limits<float>::infinity();
      int32_t nans = 0, infs = 0, zeros = 0;
      const float ip = inv[0], in = inv[1];
      const int b = bins;
      // Scan and index at the current ranges in one loop; re-index when a range grows.
#pragma omp simd reduction(min : mn) reduction(max : mx) reduction(+ : nans, infs, zeros)
      for (int i = 0; i < len; ++i) {
        const float x = p[i];
        const float v = std::fabs(x);
        const bool inf = v == std::numeric_limits<float>::infinity();
        nans += (x != x);
        infs += inf;
        zeros += (x == 0.0f);
        mn = (x < mn && !inf) ? x : mn;
        mx = (x > mx && !inf) ? x : mx;
        const bool neg = x < 0.0f;
        const float f = v * (neg ? in : ip);
        int32_t j = f < fbins ? static_cast<int32_t>(f) : b - 1;
        j += neg ? b : 0;
        idx[i] = (x != 0.0f && v <= FLT_MAX) ? j : 2 * b;
      }
      st.n += len;
      st.nans += nans;
      st.infs += infs;
      st.zeros += zeros;
      st.min = std::min(st.min, mn);
      st.max = std::max(st.max, mx);
      if (nans + infs > 0) bad = true;
      if (bad) continue;  // the batch is rejected: scan on for the counts, bin nothing
      bool regrow = false;
      if (mx > 0) regrow |= grow(0, exponentFor(mx));
      if (mn < 0) regrow |= grow(1, exponentFor(-static_cast<double>(mn)));
      if (regrow) {
        setInv();
        index(p, len, idx);
      }
      int i = 0;
      if (copies == 4) {
        uint32_t* c0 = counts.data();
        uint32_t* c1 = c0 + stride;
        uint32_t* c2 = c1 + stride;
        uint32_t* c3 = c2 + stride;
        for (; i + 4 <= len; i += 4) {
          ++c0[idx[i]];
          ++c1[idx[i + 1]];
          ++c2[idx[i + 2]];
          ++c3[idx[i + 3]];
        }
      }
      uint32_t* c = counts.data();
      for (; i < len; ++i) ++c[idx[i]];
    }
  }
};

/// min / max of the nonzero values (for buffers whose only zeros are padding).
void nonzeroMinMax(const float* d, int64_t n, float* min, float* max) {
  float mn = std::numeric_limits<float>::infinity();
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : mn) reduction(max : mx)
  for (int64_t i = 0; i < n; ++i) {
    const float x = d[i];
    const bool skip = x == 0.0f || std::fabs(x) == std::numeric_limits<float>::infinity();
    mn = (x < mn && !skip) ? x : mn;
    mx = (x > mx && !skip) ? x : mx;
  }
  *min = mn;
  *max = mx;
}

/// Take `padding` padding zeros out of stats of a whole buffer `d[0, n)`.
void removePadding(BatchStats& st, const float* d, int64_t n, int64_t padding) {
  if (padding <= 0) return;
  st.n -= padding;
  st.zeros -= padding;
  const int64_t finite = st.n - st.nans - st.infs;
  if (finite <= 0) {
    st.min = st.max = 0;
  } else if (st.zeros == 0 && (st.min == 0.0f || st.max == 0.0f)) {
    nonzeroMinMax(d, n, &st.min, &st.max);  // the zero extreme was padding only
  }
}

}  // namespace

BatchStats scanBatch(const float* data, int64_t n, int64_t padding_zeros) {
  BatchStats st = scanBatch(data, n);
  removePadding(st, data, n, std::clamp<int64_t>(padding_zeros, 0, std::max<int64_t>(n, 0)));
  return st;
}

BatchStats scanBatch(const float* data, int64_t n) {
  if (n <= 0) return BatchStats{};
  BatchStats st;
  if (n < kParallelMin || omp_get_max_threads() == 1 || omp_in_parallel()) {
    st = scanSerial(data, n);
  } else {
    const int threads =
        static_cast<int>(std::min<int64_t>(omp_get_max_threads(), n / kParallelMin * 2 + 1));
    std::vector<BatchStats> part(static_cast<size_t>(threads));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
      part[static_cast<size_t>(t)] = scanSerial(data + lo, hi - lo);
    }
    st = part[0];
    for (int t = 1; t < threads; ++t) combine(st, part[static_cast<size_t>(t)]);
  }
  if (st.nans + st.infs == n) st.min = st.max = 0;  // no finite value
  return st;
}

double MagnitudeHistogram::nonzeroTotal() const {
  double t = 0;
  for (double c : counts) t += c;
  return t;
}

Histogram::Histogram(int bins) : bins_((std::clamp(bins, 2, 1 << 20) + 1) / 2 * 2) {
  for (Side& s : side_) s.counts.assign(static_cast<size_t>(bins_), 0.0);
}

const std::vector<double>& Histogram::counts() const {
  updateView();
  return view_;
}
double Histogram::lo() const {
  updateView();
  return viewLo_;
}
double Histogram::hi() const {
  updateView();
  return viewLo_ + viewWidth_ * bins_;
}
double Histogram::binWidth() const {
  updateView();
  return viewWidth_;
}

void Histogram::updateView() const {
  if (!viewDirty_) return;
  viewDirty_ = false;
  view_.assign(static_cast<size_t>(bins_), 0.0);
  const Side& pos = side_[0];
  const Side& neg = side_[1];
  const double zeros = static_cast<double>(zeros_);
  const size_t nb = static_cast<size_t>(bins_);
  if (!pos.used && !neg.used) {
    viewLo_ = viewWidth_ = 0;
    view_[0] = zeros;
  } else if (!neg.used) {
    viewLo_ = 0;
    viewWidth_ = std::ldexp(1.0, pos.exp) / bins_;
    view_ = pos.counts;
    view_[0] += zeros;
  } else if (!pos.used) {
    viewWidth_ = std::ldexp(1.0, neg.exp) / bins_;
    viewLo_ = -viewWidth_ * bins_;
    for (size_t j = 0; j < nb; ++j) view_[nb - 1 - j] = neg.counts[j];
    view_[nb - 1] += zeros;
  } else {
    const int exp = std::max(pos.exp, neg.exp);
    const MagnitudeHistogram p = sideMagnitudes(pos, exp, bins_);
    const MagnitudeHistogram n = sideMagnitudes(neg, exp, bins_);
    viewWidth_ = 2 * std::ldexp(1.0, exp) / bins_;
    viewLo_ = -std::ldexp(1.0, exp);
    const size_t half = nb / 2;
    for (size_t j = 0; j < nb; ++j) {
      view_[half + j / 2] += p.counts[j];
      view_[half - 1 - j / 2] += n.counts[j];
    }
    view_[half] += zeros;
  }
}

void Histogram::growSide(Side& s, int exp) {
  if (!s.used) {
    s.exp = exp;
    s.used = true;
    return;
  }
  if (exp <= s.exp) return;
  const int k = exp - s.exp;
  std::vector<double> merged(s.counts.size(), 0.0);
  for (size_t j = 0; j < s.counts.size(); ++j) {
    const size_t dst = k >= 31 ? 0 : (j >> k);
    merged[dst] += s.counts[j];
  }
  s.counts.swap(merged);
  s.exp = exp;
}

void Histogram::add(const float* data, int64_t n) {
  if (n <= 0) return;
  const BatchStats st = scanAndAdd(data, n, 0);
  if (!st.finite()) add(data, n, st);  // folds the finite values, skipping the others
}

BatchStats Histogram::scanAndAdd(const float* data, int64_t n, int64_t padding_zeros) {
  if (n <= 0) return BatchStats{};
  padding_zeros = std::clamp<int64_t>(padding_zeros, 0, n);
  const int stride = 2 * bins_ + 1;
  const int copies = n >= 4 * stride ? 4 : 1;
  const int exp0[2] = {side_[0].exp, side_[1].exp};
  const bool used0[2] = {side_[0].used, side_[1].used};
  int threads = omp_in_parallel() ? 1 : std::min(omp_get_max_threads(), kMaxThreads);
  if (n < kParallelMin) threads = 1;
  // Each binner counts < 2^32 values: enough parts for the uint32 counters.
  const int64_t parts_needed = (n + kChunk - 1) / kChunk;
  const int64_t parts = std::max<int64_t>(threads, parts_needed);
  std::vector<ChunkBinner> binners;
  binners.reserve(static_cast<size_t>(parts));
  for (int64_t t = 0; t < parts; ++t) binners.emplace_back(bins_, copies, exp0, used0);
  if (parts == 1) {
    binners[0].run(data, n);
  } else {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t t = 0; t < parts; ++t) {
      const int64_t lo = n * t / parts, hi = n * (t + 1) / parts;
      binners[static_cast<size_t>(t)].run(data + lo, hi - lo);
    }
  }
  BatchStats st = binners[0].st;
  for (size_t t = 1; t < binners.size(); ++t) combine(st, binners[t].st);
  if (st.nans + st.infs == st.n) st.min = st.max = 0;  // no finite value
  removePadding(st, data, n, padding_zeros);
  if (!st.finite() || st.n - st.nans - st.infs <= 0) return st;
  // Every binner to the common ranges, then the integer counts in a fixed order.
  int exp[2] = {exp0[0], exp0[1]};
  bool used[2] = {used0[0], used0[1]};
  for (int s = 0; s < 2; ++s) {
    for (const ChunkBinner& b : binners) {
      if (!b.used[s]) continue;
      exp[s] = used[s] ? std::max(exp[s], b.exp[s]) : b.exp[s];
      used[s] = true;
    }
  }
  for (ChunkBinner& b : binners) {
    for (int s = 0; s < 2; ++s) {
      if (used[s]) b.grow(s, exp[s]);
    }
    addCounts(b.counts.data(), copies, exp, used);
  }
  if (count_ == 0) {
    min_ = st.min;
    max_ = st.max;
  } else {
    min_ = std::min<double>(min_, st.min);
    max_ = std::max<double>(max_, st.max);
  }
  count_ += st.n;
  zeros_ += st.zeros;
  viewDirty_ = true;
  return st;
}

void Histogram::addCounts(const uint32_t* counts, int copies, const int exp[2],
                          const bool used[2]) {
  const size_t stride = 2 * static_cast<size_t>(bins_) + 1;
  for (int s = 0; s < 2; ++s) {
    if (!used[s]) continue;
    growSide(side_[s], exp[s]);
    double* dst = side_[s].counts.data();
    double t = 0;
    for (int c = 0; c < copies; ++c) {
      const uint32_t* src = counts + static_cast<size_t>(c) * stride + static_cast<size_t>(s) * bins_;
      for (int b = 0; b < bins_; ++b) {
        dst[b] += static_cast<double>(src[b]);
        t += static_cast<double>(src[b]);
      }
    }
    side_[s].total += t;
  }
}

void Histogram::add(const float* data, int64_t n, const BatchStats& stats) {
  const int64_t finite = stats.n - stats.nans - stats.infs;
  if (n <= 0 || finite <= 0) return;
  // Ranges: grow each side to hold this batch's largest magnitude.
  if (stats.max > 0) growSide(side_[0], exponentFor(stats.max));
  if (stats.min < 0) growSide(side_[1], exponentFor(-static_cast<double>(stats.min)));
  const float inv_pos = side_[0].used ? std::ldexp(static_cast<float>(bins_), -side_[0].exp) : 0.f;
  const float inv_neg = side_[1].used ? std::ldexp(static_cast<float>(bins_), -side_[1].exp) : 0.f;

  const int stride = 2 * bins_ + 1;
  // Several private copies keep runs of one index (ReLU zeros, a narrow peak) from
  // serializing on one counter; they only pay off when the batch dwarfs the copies.
  const int copies = n >= 4 * stride ? 4 : 1;
  const size_t local_size = static_cast<size_t>(stride) * static_cast<size_t>(copies);
  auto accumulate = [&](const uint32_t* local) {
    for (int c = 0; c < copies; ++c) {
      const uint32_t* l = local + static_cast<size_t>(c) * static_cast<size_t>(stride);
      for (int s = 0; s < 2; ++s) {
        double* dst = side_[s].counts.data();
        const uint32_t* src = l + static_cast<size_t>(s) * static_cast<size_t>(bins_);
        double t = 0;
        for (int b = 0; b < bins_; ++b) {
          dst[b] += static_cast<double>(src[b]);
          t += static_cast<double>(src[b]);
        }
        side_[s].total += t;
      }
    }
  };
  const int threads = omp_in_parallel() ? 1 : std::min(omp_get_max_threads(), kMaxThreads);
  if (n < kParallelMin || threads == 1 || n / threads >= kChunk) {
    scratch_.resize(local_size);
    for (int64_t base = 0; base < n; base += kChunk) {
      std::fill(scratch_.begin(), scratch_.end(), 0u);
      binInto(data + base, std::min(kChunk, n - base), bins_, inv_pos, inv_neg, scratch_.data(),
              copies);
      accumulate(scratch_.data());
    }
  } else {
    // Private counts per thread, summed in a fixed order: integer counts, so the result is
    // the same for any thread count.
    scratch_.assign(local_size * static_cast<size_t>(threads), 0u);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
      binInto(data + lo, hi - lo, bins_, inv_pos, inv_neg,
              scratch_.data() + local_size * static_cast<size_t>(t), copies);
    }
    for (int t = 0; t < threads; ++t)
      accumulate(scratch_.data() + local_size * static_cast<size_t>(t));
  }
  if (count_ == 0) {
    min_ = stats.min;
    max_ = stats.max;
  } else {
    min_ = std::min<double>(min_, stats.min);
    max_ = std::max<double>(max_, stats.max);
  }
  count_ += finite;
  zeros_ += stats.zeros;
  viewDirty_ = true;
}

Status Histogram::merge(const Histogram& other) {
  if (other.bins_ != bins_) {
    return HQ_ERROR(kInvalidArgument, "cannot merge a histogram of {} bins into one of {} bins",
                    other.bins_, bins_);
  }
  if (other.empty()) return Status::ok();
  for (int s = 0; s < 2; ++s) {
    const Side& o = other.side_[s];
    if (!o.used) continue;
    Side& mine = side_[s];
    growSide(mine, std::max(o.exp, mine.used ? mine.exp : o.exp));
    const int k = mine.exp - o.exp;
    for (size_t j = 0; j < o.counts.size(); ++j) {
      const size_t dst = k >= 31 ? 0 : (j >> k);
      mine.counts[dst] += o.counts[j];
    }
    mine.total += o.total;
  }
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  zeros_ += other.zeros_;
  viewDirty_ = true;
  return Status::ok();
}

MagnitudeHistogram Histogram::sideMagnitudes(const Side& s, int exp, int bins) {
  MagnitudeHistogram m;
  m.counts.assign(static_cast<size_t>(bins), 0.0);
  if (!s.used) return m;
  m.binWidth = std::ldexp(1.0, exp) / bins;
  const int k = exp - s.exp;
  for (size_t j = 0; j < s.counts.size(); ++j) {
    const size_t dst = k >= 31 ? 0 : (j >> k);
    m.counts[dst] += s.counts[j];
  }
  return m;
}

MagnitudeHistogram Histogram::magnitudes(Part part) const {
  MagnitudeHistogram m;
  const Side& pos = side_[0];
  const Side& neg = side_[1];
  switch (part) {
    case Part::kPositive:
      m = sideMagnitudes(pos, pos.exp, bins_);
      m.maxValue = std::max(max_, 0.0);
      break;
    case Part::kNegative:
      m = sideMagnitudes(neg, neg.exp, bins_);
      m.maxValue = std::max(-min_, 0.0);
      break;
    case Part::kAbs: {
      if (!pos.used && !neg.used) {
        m.counts.assign(static_cast<size_t>(bins_), 0.0);
        break;
      }
      const int exp = !pos.used ? neg.exp : !neg.used ? pos.exp : std::max(pos.exp, neg.exp);
      m = sideMagnitudes(pos, exp, bins_);
      MagnitudeHistogram n = sideMagnitudes(neg, exp, bins_);
      for (size_t j = 0; j < m.counts.size(); ++j) m.counts[j] += n.counts[j];
      m.binWidth = std::ldexp(1.0, exp) / bins_;
      m.maxValue = std::max({max_, -min_, 0.0});
      break;
    }
  }
  m.zeros = static_cast<double>(zeros_);
  return m;
}

double Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  double target = q * static_cast<double>(count_);
  const Side& neg = side_[1];
  const Side& pos = side_[0];
  auto clampv = [&](double v) { return std::clamp(v, min_, max_); };
  if (neg.used && target < neg.total) {
    // Walk the negative side from its largest magnitude down: count(x < -m) = target.
    const double w = std::ldexp(1.0, neg.exp) / bins_;
    double cum = 0;
    for (int j = bins_ - 1; j >= 0; --j) {
      const double c = neg.counts[static_cast<size_t>(j)];
      if (c > 0 && cum + c >= target) {
        const double m = (j + 1 - (target - cum) / c) * w;
        return clampv(-m);
      }
      cum += c;
    }
    return clampv(0);
  }
  if (neg.used) target -= neg.total;
  if (target <= static_cast<double>(zeros_) || !pos.used) return clampv(0);
  target -= static_cast<double>(zeros_);
  const double w = std::ldexp(1.0, pos.exp) / bins_;
  double cum = 0;
  for (int j = 0; j < bins_; ++j) {
    const double c = pos.counts[static_cast<size_t>(j)];
    if (c > 0 && cum + c >= target) return clampv((j + (target - cum) / c) * w);
    cum += c;
  }
  return clampv(max_);
}

}  // namespace hq
