// Observers watch a tensor during calibration and choose its quantization range.
// Streaming: each batch is folded into a fixed-size state (min/max, or a histogram that
// grows its range by merging bins, see histogram.h), so memory does not grow with the
// number of images, and the result is deterministic for given data.
// Methods: minmax, ema_minmax, percentile, kl (TensorRT-style entropy), mse, fixed.
//
// How each method picks the range [min, max] (then rangeToScale gives scale / zero point):
//  - minmax: smallest / largest value over all batches.
//  - ema_minmax: per batch min / max, then min = (1-c)*min + c*batch_min (same for max),
//    c = params.averagingConstant; the first nonempty batch initializes.
//  - percentile (p = params.percentile): symmetric specs clip |x| at its p-th percentile:
//    [-T, T]; affine specs clip (100-p)/2 percent from each tail of the signed values.
//  - kl: symmetric specs: klThreshold on |x| with qmax + 1 levels (128 for qint8): [-T, T].
//    Affine specs: data all >= 0 (or all <= 0): klThreshold on that side with qmax - qmin + 1
//    levels: [0, T] (or [-T, 0]); mixed signs: the |x| threshold with (qmax - qmin + 1) / 2
//    levels, intersected with [min, max].
//  - mse: like kl, with mseThreshold and qmax steps (symmetric), qmax - qmin steps (affine,
//    one-sided) or (qmax - qmin) / 2 steps (affine, mixed signs).
//  - fixed: scale = spec.fixedScale exactly, zero point 0, range [qmin, qmax] * scale;
//    the data is still checked for NaN / Inf and its min / max recorded.
// Observers are not thread-safe: one observer per quantization point per thread
// (Histogram::merge combines per-thread histograms).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "quant/histogram.h"
#include "quant/qconfig.h"
#include "support/status.h"

namespace hq {

/// The range an observer chose, and the scale / zero point for it.
struct QuantRange {
  double min = 0;  ///< chosen clipping range, min <= 0 <= max (symmetric: min = -max,
  double max = 0;  ///< except fixed scales: [qmin, qmax] * scale)
  double scale = 1;
  int64_t zeroPoint = 0;
};

/// One observer per quantization point (per tensor), fed batch by batch.
class Observer {
 public:
  virtual ~Observer() = default;
  /// Fold a batch of `n` float values in. NaN or Inf is a kData error naming the tensor
  /// ("NaN in tensor 'conv1_out' during calibration ..."); the batch is then not folded in.
  /// `padding_zeros` of the n elements are layout padding holding +0.0 (a blocked buffer
  /// handed over by the executor, see ObservedTensor), not values: the result equals
  /// observing the other n - padding_zeros values (the methods do not depend on order).
  /// One pass over the data (scan and histogram together).
  Status observe(const float* data, int64_t n, int64_t padding_zeros = 0);
  /// The chosen range and the scale / zero point for `spec` (the spec's dtype, symmetry and
  /// parameters; the method is this observer's). kData error when no value was observed
  /// (except "fixed").
  virtual Expected<QuantRange> compute(const QuantSpec& spec) const = 0;
  /// "minmax", "ema_minmax", "percentile", "kl", "mse", "fixed" (or "all", see below).
  virtual std::string method() const = 0;
  /// Smallest / largest value seen (0 before any value).
  double seenMin() const { return min_; }
  double seenMax() const { return max_; }
  /// Number of values seen (exact zeros included).
  int64_t seenCount() const { return count_; }
  const std::string& tensor() const { return tensor_; }

 protected:
  explicit Observer(std::string tensor) : tensor_(std::move(tensor)) {}
  /// The batch's stats (scanBatch(data, n, padding_zeros)); an observer that bins the data
  /// may do it in the same pass, folding the batch in only when it is finite.
  virtual BatchStats scan(const float* data, int64_t n, int64_t padding_zeros);
  /// Fold a checked (finite, nonempty) batch in: `stats` from scan().
  virtual void fold(const float* data, int64_t n, const BatchStats& stats) = 0;
  /// kData error "no calibration values reached tensor 'x'" when nothing was observed.
  Status requireData() const;

 private:
  std::string tensor_;
  double min_ = 0, max_ = 0;
  int64_t count_ = 0;
};

/// Keeps one histogram (and the exact min / max); computes any histogram method from it.
/// makeObserver returns one for "percentile", "kl", "mse" and "all". For "all" the
/// calibration driver calls computeWith() for each candidate method and picks one;
/// compute() on an "all" observer is an error.
class HistogramObserver : public Observer {
 public:
  HistogramObserver(std::string tensor, std::string method, int bins);
  Expected<QuantRange> compute(const QuantSpec& spec) const override;
  std::string method() const override { return method_; }
  /// The range by `method` ("minmax", "percentile", "kl" or "mse") for `spec`.
  Expected<QuantRange> computeWith(const std::string& method, const QuantSpec& spec) const;
  const Histogram& histogram() const { return hist_; }

 protected:
  BatchStats scan(const float* data, int64_t n, int64_t padding_zeros) override;
  void fold(const float*, int64_t, const BatchStats&) override {}  // done by scan()

 private:
  std::string method_;
  Histogram hist_;
};

/// The observer for `spec` (spec.observer names the method) watching tensor `tensor`
/// (used in error messages). Parameters are checked here: kInvalidArgument for an unknown
/// method (the message lists the valid ones), percentile outside (0, 100], averaging
/// constant outside (0, 1], bins outside [2, 1 << 20], or "fixed" without a positive
/// finite fixedScale.
Expected<std::unique_ptr<Observer>> makeObserver(const QuantSpec& spec, const std::string& tensor);

/// The method names makeObserver accepts, in a stable order.
const std::vector<std::string>& observerMethods();

/// Scale and zero point for the range [min, max] under `spec`:
///  - symmetric: amax = max(|min|, |max|), scale = amax / qmax, zero point 0, range
///    [-amax, amax];
///  - affine: the range is widened to include 0 (min <= 0 <= max), scale = (max - min) /
///    (qmax - qmin), zero point = round(qmin - min / scale) (half to even), clamped to
///    [qmin, qmax].
/// A zero range (or one whose scale would be below FLT_MIN) gives scale 1 and zero point 0:
/// no information, documented, not an error. Inputs must be finite.
QuantRange rangeToScale(double min, double max, const QuantSpec& spec);

/// Per-channel symmetric weight scales: one scale per slice along `axis` (output channels;
/// negative counts from the end), scale = max |w| of the slice / spec.qmax(), from the
/// exact min / max of each slice (minmax, whatever spec.observer says; zero points are 0).
/// A slice of all zeros gets scale 1. Errors: weight not float32, axis out of range, NaN /
/// Inf in the weight (kData naming `tensor`).
Expected<std::vector<double>> perChannelScalesChecked(const Tensor& weight, int64_t axis,
                                                      const QuantSpec& spec,
                                                      const std::string& tensor);
/// The same without error reporting, for callers that validated the weight: an invalid
/// weight or axis gives an empty vector, non-finite values are skipped.
std::vector<double> perChannelScales(const Tensor& weight, int64_t axis, const QuantSpec& spec);

}  // namespace hq
