// Streaming histograms for calibration, and the histogram-based clipping choices
// (percentile, KL / entropy, MSE).
//
// Layout. A Histogram keeps two magnitude histograms of `bins` bins each: one of the
// positive values, one of |x| for the negative values; exact zeros are only counted. Each
// side covers [0, R) with R a power of two (the smallest 2^e above the largest magnitude
// seen on that side), so bin j holds magnitudes in [j*R/bins, (j+1)*R/bins).
//
// Growth. When a batch brings a larger magnitude, the side's range doubles (repeatedly)
// and pairs of adjacent bins merge: new[j/2] += old[j]. Because R is a power of two, the
// bin of a value at range 2R is exactly floor(bin at R / 2), so the counts after any
// sequence of batches equal the counts of binning all values at once at the final range:
// the result does not depend on how the data is split into batches, on their order, or on
// how per-thread histograms are merged. The price is resolution: the data's largest
// magnitude uses between half and all of the bins.
//
// Symmetric methods work on |x| (both sides brought to a common range, see magnitudes()).
// A signed single-grid view (counts() over [lo(), hi()]) is kept for reports.
#pragma once

#include <cstdint>
#include <vector>

#include "support/status.h"

namespace hq {

/// What one pass over a batch of floats found.
struct BatchStats {
  int64_t n = 0;           ///< values in the batch
  int64_t nans = 0;        ///< NaN values
  int64_t infs = 0;        ///< +Inf / -Inf values
  int64_t zeros = 0;       ///< exact zeros (+0 and -0)
  float min = 0, max = 0;  ///< smallest / largest finite value (0 when n == 0)
  bool finite() const { return nans == 0 && infs == 0; }
};

/// One pass over `data[0, n)`: min, max, zeros, and NaN / Inf counts. Vectorized; uses
/// OpenMP threads for large batches (the result does not depend on the thread count).
BatchStats scanBatch(const float* data, int64_t n);
/// The same for a buffer whose `padding_zeros` elements are layout padding holding +0.0
/// (a oneDNN blocked layout, see ObservedTensor): n, zeros, min and max are those of the
/// other n - padding_zeros values (min / max of the nonzero values when none of them is 0).
BatchStats scanBatch(const float* data, int64_t n, int64_t padding_zeros);

/// Counts of magnitudes on a uniform grid starting at 0, for the threshold searches.
struct MagnitudeHistogram {
  std::vector<double> counts;  ///< counts[j]: nonzero magnitudes in [j*binWidth, (j+1)*binWidth)
  double binWidth = 0;         ///< 0 when no nonzero value was seen
  double zeros = 0;            ///< exact zeros (not in `counts`)
  double maxValue = 0;         ///< largest magnitude seen (exact, not binned)
  double nonzeroTotal() const;
  double total() const { return nonzeroTotal() + zeros; }
};

class Histogram {
 public:
  /// `bins` per side: clamped to [2, 1 << 20] and rounded up to even.
  explicit Histogram(int bins = 2048);

  /// Fold a batch in. Values must be finite (Observer::observe rejects NaN / Inf before
  /// calling this); non-finite values are skipped. The second form reuses a scan.
  void add(const float* data, int64_t n);
  void add(const float* data, int64_t n, const BatchStats& stats);
  /// Scan and bin in one pass over the data (chunks binned while in cache, the range grown
  /// chunk by chunk: the counts equal add(data, n, scanBatch(data, n))). `padding_zeros`
  /// of the n elements are layout padding (+0.0), not values. Returns the batch's stats
  /// (as scanBatch(data, n, padding_zeros)); folds the batch in only when it is finite,
  /// otherwise the histogram is left as it was.
  BatchStats scanAndAdd(const float* data, int64_t n, int64_t padding_zeros = 0);
  /// Merge another histogram with the same number of bins (e.g. from another thread or
  /// another calibration shard). The result equals adding both inputs' data to one.
  Status merge(const Histogram& other);

  /// Bins per side (and of the signed view).
  int bins() const { return bins_; }
  bool empty() const { return count_ == 0; }
  double total() const { return static_cast<double>(count_); }
  double zeros() const { return static_cast<double>(zeros_); }
  double observedMin() const { return min_; }
  double observedMax() const { return max_; }

  enum class Part { kAbs, kPositive, kNegative };
  /// The magnitudes of one part: kAbs = |x| of all values (both sides at the larger of the
  /// two ranges), kPositive = values > 0 (zeros included as zeros), kNegative = |x| of the
  /// values < 0 (zeros included as zeros).
  MagnitudeHistogram magnitudes(Part part) const;

  /// The value below which a fraction `q` in [0, 1] of all values lie (signed, linear
  /// interpolation inside a bin, clamped to [observedMin, observedMax]).
  double quantile(double q) const;

  /// Signed view: `bins()` bins of width binWidth() covering [lo(), hi()], for reports.
  /// Only positive values (and zeros): [0, R+); only negative: [-R-, 0] (zeros in the top
  /// bin); both: [-R, R) with R the larger range, at half resolution (pairs merged). Exact
  /// zeros are in the bin that touches 0 from above (from below when there is no positive
  /// value). All zeros (or empty): lo = hi = 0, binWidth 0, counts[0] = zeros.
  /// Built on first use after a change (so even these const calls are not thread-safe).
  const std::vector<double>& counts() const;
  double lo() const;
  double hi() const;
  double binWidth() const;

  /// Raw state of one side (for tests and reports): counts and range exponent e
  /// (range [0, 2^e)); the exponent is meaningless while the side is empty.
  const std::vector<double>& sideCounts(bool negative) const { return side_[negative].counts; }
  int sideExponent(bool negative) const { return side_[negative].exp; }

 private:
  struct Side {
    std::vector<double> counts;
    int exp = 0;        ///< range [0, 2^exp)
    bool used = false;  ///< any nonzero value seen on this side
    double total = 0;
  };
  void growSide(Side& s, int exp);
  /// Fold in counts binned at side exponents `exp` (per side, >= the sides' own).
  void addCounts(const uint32_t* counts, int copies, const int exp[2], const bool used[2]);
  static MagnitudeHistogram sideMagnitudes(const Side& s, int exp, int bins);
  void updateView() const;

  int bins_;
  Side side_[2];  // [0] = positive values, [1] = |x| of negative values
  int64_t count_ = 0, zeros_ = 0;
  double min_ = 0, max_ = 0;
  std::vector<uint32_t> scratch_;  ///< per-batch integer counts, reused
  mutable std::vector<double> view_;
  mutable double viewLo_ = 0, viewWidth_ = 0;
  mutable bool viewDirty_ = true;
};

/// Symmetric clipping threshold T >= 0 such that a fraction `percentile`/100 of the values
/// have |x| <= T (linear interpolation inside a bin; exact zeros count as <= T; never above
/// the largest magnitude seen). 0 for an empty histogram.
double percentileThreshold(const MagnitudeHistogram& h, double percentile);

/// TensorRT-style entropy calibration. For each candidate i in [quant_levels, last] (last =
/// one past the highest nonempty bin): the reference P = bins [0, i) with the counts beyond
/// added to bin i-1; the candidate Q = bins [0, i) merged into quant_levels groups of
/// i / quant_levels bins (the last group takes the remainder) and spread back evenly over
/// the bins where P is nonzero; both smoothed (zero bins get eps = 1e-4, taken evenly from
/// the nonzero bins, on counts, as MXNet / ONNX Runtime do); KL(P || Q) after normalizing.
/// Returns T = i * binWidth for the smallest-divergence i (first on ties), clamped to the
/// largest magnitude seen. Exact zeros are left out: every threshold represents them
/// exactly, and ReLU outputs would otherwise pull T down. When quant_levels >= last the
/// histogram is no finer than the quantization grid, and the largest magnitude is returned.
/// quant_levels: 128 for symmetric qint8 (qmax + 1).
double klThreshold(const MagnitudeHistogram& h, int quant_levels);

/// The threshold T minimizing the expected squared error of quantizing the magnitudes
/// with `steps` steps of size T / steps in [0, T] (steps = qmax = 127 for symmetric qint8),
/// modeled from the histogram: values <= T contribute the rounding error s^2/12
/// (s = T / steps), values > T the clipping error (x - T)^2 with x uniform inside its bin;
/// exact zeros contribute nothing. Candidates: every bin edge k*binWidth below the largest
/// magnitude, and the largest magnitude itself (no clipping). First minimum on ties.
double mseThreshold(const MagnitudeHistogram& h, int64_t steps);

/// The same choices on the |x| of a whole histogram (magnitudes(Part::kAbs)).
/// quant_levels counts the codes in [0, T]: qmax + 1 (128 for qint8); mse uses
/// quant_levels - 1 steps.
double percentileThreshold(const Histogram& h, double percentile);
double klThreshold(const Histogram& h, int quant_levels);
double mseThreshold(const Histogram& h, int quant_levels);

/// The modeled error above (sum over values, not mean) for threshold T; for tests and reports.
double mseModelError(const MagnitudeHistogram& h, int64_t steps, double threshold);

}  // namespace hq
