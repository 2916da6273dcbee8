// Clipping thresholds chosen from a magnitude histogram: percentile, KL divergence
// (TensorRT's entropy calibration) and expected quantization MSE. See histogram.h for the
// exact definitions; tests/fixtures/observers/gen_observer_cases.py has independent numpy
// versions that produce the test expectations.
#include <algorithm>
#include <cmath>
#include <limits>

#include <omp.h>

#include "quant/histogram.h"

namespace hq {
namespace {

/// One past the highest nonzero bin (0 when all bins are empty).
size_t usedBins(const std::vector<double>& counts) {
  size_t last = counts.size();
  while (last > 0 && counts[last - 1] == 0) --last;
  return last;
}

constexpr double kKlEps = 1e-4;

/// KL(P || Q) for candidate i (see klThreshold in histogram.h); +inf when the smoothing is
/// impossible. Smoothing gives zero entries eps and takes it evenly from the nonzero ones.
/// Inside a group, Q takes only two values (the group mean on P's nonzero bins, eps on the
/// others), so log Q is computed once per group: KL = sum P log P - sum P log Q with
/// P = p~ / Sp, Q = q~ / Sq.
double klDivergence(const std::vector<double>& counts, const std::vector<double>& suffix, size_t i,
                    size_t levels, std::vector<double>& p) {
  // Reference: the first i bins, with everything beyond folded into the last one.
  std::copy(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(i), p.begin());
  p[i - 1] += suffix[i];
  size_t p_nonzero = 0;
  double p_min = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < i; ++k) {
    if (p[k] != 0) {
      ++p_nonzero;
      p_min = std::min(p_min, p[k]);
    }
  }
  if (p_nonzero == 0) return std::numeric_limits<double>::infinity();
  const double take_p =
      kKlEps * static_cast<double>(i - p_nonzero) / static_cast<double>(p_nonzero);
  if (p_min - take_p <= 0) return std::numeric_limits<double>::infinity();

  // Candidate: the unclipped first i bins merged into `levels` groups, spread evenly over
  // the bins where P is nonzero. First pass: group means and how many bins get one.
  const size_t per = i / levels;
  size_t q_nonzero = 0;
  double q_min = std::numeric_limits<double>::infinity();
  for (size_t g = 0; g < levels; ++g) {
    const size_t begin = g * per, end = g + 1 == levels ? i : begin + per;
    double sum = 0;
    size_t nz = 0;
    for (size_t k = begin; k < end; ++k) {
      sum += counts[k];
      nz += p[k] != 0;
    }
    if (nz > 0 && sum != 0) {
      q_nonzero += nz;
      q_min = std::min(q_min, sum / static_cast<double>(nz));
    }
  }
  if (q_nonzero == 0) return std::numeric_limits<double>::infinity();
  const double take_q =
      kKlEps * static_cast<double>(i - q_nonzero) / static_cast<double>(q_nonzero);
  if (q_min - take_q <= 0) return std::numeric_limits<double>::infinity();

  // Second pass: sums of p~ log p~ and p~ log q~, and the totals Sp, Sq.
  const double log_eps = std::log(kKlEps);
  double sp = 0, sq = 0, plogp = 0, plogq = 0;
  for (size_t g = 0; g < levels; ++g) {
    const size_t begin = g * per, end = g + 1 == levels ? i : begin + per;
    double sum = 0;
    size_t nz = 0;
    double on_nonzero = 0, on_zero = 0;  // p~ summed over P's nonzero / zero bins
    for (size_t k = begin; k < end; ++k) {
      sum += counts[k];
      if (p[k] != 0) {
        const double v = p[k] - take_p;
        ++nz;
        on_nonzero += v;
        plogp += v * std::log(v);
      } else {
        on_zero += kKlEps;
        plogp += kKlEps * log_eps;
      }
    }
    sp += on_nonzero + on_zero;
    const size_t n = end - begin;
    if (nz > 0 && sum != 0) {
      const double a = sum / static_cast<double>(nz) - take_q;
      sq += a * static_cast<double>(nz) + kKlEps * static_cast<double>(n - nz);
      plogq += on_nonzero * std::log(a) + on_zero * log_eps;
    } else {
      sq += kKlEps * static_cast<double>(n);
      plogq += (on_nonzero + on_zero) * log_eps;
    }
  }
  // sum P log(P / Q) = (plogp - plogq) / Sp + log(Sq / Sp)
  return (plogp - plogq) / sp + std::log(sq / sp);
}

}  // namespace

double percentileThreshold(const MagnitudeHistogram& h, double percentile) {
  const double total = h.total();
  if (total <= 0) return 0;
  const double target = std::clamp(percentile / 100.0, 0.0, 1.0) * total;
  if (target <= h.zeros) return 0;
  double cum = h.zeros;
  for (size_t j = 0; j < h.counts.size(); ++j) {
    const double c = h.counts[j];
    if (c > 0 && cum + c >= target) {
      const double t = (static_cast<double>(j) + (target - cum) / c) * h.binWidth;
      return std::min(t, h.maxValue);
    }
    cum += c;
  }
  return h.maxValue;
}

double klThreshold(const MagnitudeHistogram& h, int quant_levels) {
  const size_t last = usedBins(h.counts);
  if (last == 0) return 0;
  const size_t levels = static_cast<size_t>(std::max(quant_levels, 1));
  if (levels >= last) return h.maxValue;

  // suffix[i] = sum of counts[i, last)
  std::vector<double> suffix(last + 1, 0.0);
  for (size_t j = last; j-- > 0;) suffix[j] = suffix[j + 1] + h.counts[j];

  // Candidates are independent: evaluated in parallel, the first minimum picked in order.
  std::vector<double> div(last + 1, std::numeric_limits<double>::infinity());
  const int64_t first = static_cast<int64_t>(levels), stop = static_cast<int64_t>(last);
#pragma omp parallel if (stop - first >= 256 && !omp_in_parallel())
  {
    std::vector<double> p(last);
#pragma omp for schedule(dynamic, 32)
    for (int64_t i = first; i <= stop; ++i) {
      div[static_cast<size_t>(i)] =
          klDivergence(h.counts, suffix, static_cast<size_t>(i), levels, p);
    }
  }
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = last;
  for (size_t i = levels; i <= last; ++i) {
    if (div[i] < best) {
      best = div[i];
      best_i = i;
    }
  }
  return std::min(static_cast<double>(best_i) * h.binWidth, h.maxValue);
}

double mseModelError(const MagnitudeHistogram& h, int64_t steps, double threshold) {
  const double s = threshold / static_cast<double>(std::max<int64_t>(steps, 1));
  const double rounding = s * s / 12.0;
  const double w = h.binWidth;
  double err = 0;
  for (size_t j = 0; j < h.counts.size(); ++j) {
    const double c = h.counts[j];
    if (c == 0) continue;
    const double a = static_cast<double>(j) * w;
    // Values are modeled uniform in [a, b]; the top bin ends at the largest magnitude.
    const double b = std::max(a, std::min(a + w, h.maxValue));
    if (b <= threshold) {
      err += c * rounding;
    } else if (a >= threshold) {
      const double mid = 0.5 * (a + b) - threshold;
      err += c * (mid * mid + (b - a) * (b - a) / 12.0);
    } else {
      const double inside = (threshold - a) / (b - a);
      const double d = b - threshold;
      err += c * (inside * rounding + (1 - inside) * d * d / 3.0);
    }
  }
  return err;
}

double mseThreshold(const MagnitudeHistogram& h, int64_t steps) {
  const size_t last = usedBins(h.counts);
  if (last == 0 || h.maxValue <= 0) return 0;
  double best_t = h.maxValue;
  double best = std::numeric_limits<double>::infinity();
  for (size_t k = 1; k < last; ++k) {
    const double t = static_cast<double>(k) * h.binWidth;
    if (t >= h.maxValue) break;
    const double e = mseModelError(h, steps, t);
    if (e < best) {
      best = e;
      best_t = t;
    }
  }
  if (mseModelError(h, steps, h.maxValue) < best) best_t = h.maxValue;
  return best_t;
}

double percentileThreshold(const Histogram& h, double percentile) {
  return percentileThreshold(h.magnitudes(Histogram::Part::kAbs), percentile);
}

double klThreshold(const Histogram& h, int quant_levels) {
  return klThreshold(h.magnitudes(Histogram::Part::kAbs), quant_levels);
}

double mseThreshold(const Histogram& h, int quant_levels) {
  return mseThreshold(h.magnitudes(Histogram::Part::kAbs), std::max(quant_levels - 1, 1));
}

}  // namespace hq
