// Clipping thresholds chosen from a magnitude histogram: percentile, KL divergence
// (TensorRT's entropy calibration) and expected quantization MSE. See histogram.h for the
// exact definitions; tests/fixtures/observers/gen_observer_cases.py has independent numpy
// versions that produce the test expectations.
#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/histogram.h"

namespace hq {
namespace {

/// One past the highest nonzero bin (0 when all bins are empty).
size_t usedBins(const std::vector<double>& counts) {
  size_t last = counts.size();
  while (last > 0 && counts[last - 1] == 0) --last;
  return last;
}

/// Give zero entries eps and take it evenly from the nonzero ones (the total is kept).
/// False when the distribution is all zeros or a nonzero entry would drop to <= 0.
bool smooth(std::vector<double>& d, size_t n, double eps) {
  size_t nonzero = 0;
  for (size_t k = 0; k < n; ++k) nonzero += d[k] != 0;
  if (nonzero == 0) return false;
  const double take = eps * static_cast<double>(n - nonzero) / static_cast<double>(nonzero);
  for (size_t k = 0; k < n; ++k) {
    d[k] = d[k] != 0 ? d[k] - take : eps;
    if (d[k] <= 0) return false;
  }
  return true;
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

  constexpr double kEps = 1e-4;
  std::vector<double> p(last), q(last);
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = last;
  for (size_t i = levels; i <= last; ++i) {
    // Reference: the first i bins, with everything beyond folded into the last one.
    std::copy(h.counts.begin(), h.counts.begin() + static_cast<std::ptrdiff_t>(i), p.begin());
    p[i - 1] += suffix[i];
    // Candidate: the unclipped first i bins merged into `levels` groups, expanded back.
    const size_t per = i / levels;
    for (size_t g = 0; g < levels; ++g) {
      const size_t begin = g * per;
      const size_t end = g + 1 == levels ? i : begin + per;
      double sum = 0;
      size_t nonzero = 0;
      for (size_t k = begin; k < end; ++k) {
        sum += h.counts[k];
        nonzero += p[k] != 0;
      }
      const double each = nonzero ? sum / static_cast<double>(nonzero) : 0.0;
      for (size_t k = begin; k < end; ++k) q[k] = p[k] != 0 ? each : 0.0;
    }
    if (!smooth(p, i, kEps) || !smooth(q, i, kEps)) continue;
    double sp = 0, sq = 0;
    for (size_t k = 0; k < i; ++k) {
      sp += p[k];
      sq += q[k];
    }
    double kl = 0;
    for (size_t k = 0; k < i; ++k) {
      const double pk = p[k] / sp;
      kl += pk * std::log(pk / (q[k] / sq));
    }
    if (kl < best) {
      best = kl;
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
