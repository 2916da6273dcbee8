// Observers (minmax, ema_minmax, histogram methods, fixed), rangeToScale and per-channel
// weight scales. The histogram and the threshold searches live in histogram*.cpp.
#include "quant/observer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace hq {
namespace {

/// Index of the first NaN (or Inf when `want_nan` is false) in data, for the message.
int64_t firstBad(const float* data, int64_t n, bool want_nan) {
  for (int64_t i = 0; i < n; ++i) {
    if (want_nan ? std::isnan(data[i]) : std::isinf(data[i])) return i;
  }
  return -1;
}

class MinMaxObserver : public Observer {
 public:
  explicit MinMaxObserver(std::string tensor) : Observer(std::move(tensor)) {}
  Expected<QuantRange> compute(const QuantSpec& spec) const override {
    HQ_RETURN_IF_ERROR(requireData());
    return rangeToScale(seenMin(), seenMax(), spec);
  }
  std::string method() const override { return "minmax"; }

 protected:
  void fold(const float*, int64_t, const BatchStats&) override {}  // the base keeps min / max
};

class EmaMinMaxObserver : public Observer {
 public:
  EmaMinMaxObserver(std::string tensor, double c) : Observer(std::move(tensor)), c_(c) {}
  Expected<QuantRange> compute(const QuantSpec& spec) const override {
    HQ_RETURN_IF_ERROR(requireData());
    return rangeToScale(min_, max_, spec);
  }
  std::string method() const override { return "ema_minmax"; }

 protected:
  void fold(const float*, int64_t, const BatchStats& st) override {
    if (!started_) {
      min_ = st.min;
      max_ = st.max;
      started_ = true;
      return;
    }
    min_ = (1 - c_) * min_ + c_ * st.min;
    max_ = (1 - c_) * max_ + c_ * st.max;
  }

 private:
  double c_;
  double min_ = 0, max_ = 0;
  bool started_ = false;
};

class FixedObserver : public Observer {
 public:
  FixedObserver(std::string tensor, double scale) : Observer(std::move(tensor)), scale_(scale) {}
  Expected<QuantRange> compute(const QuantSpec& spec) const override {
    const double scale = spec.fixedScale.value_or(scale_);
    QuantRange r;
    r.scale = scale;
    r.zeroPoint = 0;
    r.min = static_cast<double>(spec.qmin()) * scale;
    r.max = static_cast<double>(spec.qmax()) * scale;
    return r;
  }
  std::string method() const override { return "fixed"; }

 protected:
  void fold(const float*, int64_t, const BatchStats&) override {}

 private:
  double scale_;
};

Expected<std::vector<double>> perChannelScalesImpl(const Tensor& weight, int64_t axis,
                                                   const QuantSpec& spec, const std::string& tensor,
                                                   bool skip_non_finite);

/// The symmetric threshold `t` as a range for `spec`, for the histogram methods.
QuantRange symmetricRange(double t, const QuantSpec& spec) { return rangeToScale(-t, t, spec); }

}  // namespace

// ---- Observer ----------------------------------------------------------------------------

BatchStats Observer::scan(const float* data, int64_t n, int64_t padding_zeros) {
  return scanBatch(data, n, padding_zeros);
}

Status Observer::observe(const float* data, int64_t n, int64_t padding_zeros) {
  if (n < 0) {
    return HQ_ERROR(kInvalidArgument, "observer for tensor '{}': batch size must be >= 0, got {}",
                    tensor_, n);
  }
  if (padding_zeros < 0 || padding_zeros > n) {
    return HQ_ERROR(kInvalidArgument,
                    "observer for tensor '{}': padding must be in [0, {}] elements, got {}",
                    tensor_, n, padding_zeros);
  }
  if (n == padding_zeros) return Status::ok();
  if (data == nullptr) {
    return HQ_ERROR(kInvalidArgument, "observer for tensor '{}': null data for {} values", tensor_,
                    n);
  }
  const BatchStats st = scan(data, n, padding_zeros);
  if (!st.finite()) {
    const bool nan = st.nans > 0;
    return HQ_ERROR(kData,
                    "{} in tensor '{}' during calibration: {} NaN and {} Inf among {} values, "
                    "first at element {} of the batch; expected finite values",
                    nan ? "NaN" : "Inf", tensor_, st.nans, st.infs, st.n, firstBad(data, n, nan));
  }
  if (count_ == 0) {
    min_ = st.min;
    max_ = st.max;
  } else {
    min_ = std::min<double>(min_, st.min);
    max_ = std::max<double>(max_, st.max);
  }
  count_ += st.n;
  fold(data, n, st);
  return Status::ok();
}

Status Observer::requireData() const {
  if (count_ > 0) return Status::ok();
  return HQ_ERROR(kData,
                  "no calibration values reached tensor '{}' (observer {}): expected at least "
                  "one observed batch before computing its scale",
                  tensor_, method());
}

// ---- HistogramObserver --------------------------------------------------------------------

HistogramObserver::HistogramObserver(std::string tensor, std::string method, int bins)
    : Observer(std::move(tensor)), method_(std::move(method)), hist_(bins) {}

BatchStats HistogramObserver::scan(const float* data, int64_t n, int64_t padding_zeros) {
  return hist_.scanAndAdd(data, n, padding_zeros);
}

Expected<QuantRange> HistogramObserver::compute(const QuantSpec& spec) const {
  if (method_ == "all") {
    return HQ_ERROR(kInvalidArgument,
                    "observer 'all' for tensor '{}' has no single method: the calibration "
                    "driver must call computeWith() for each candidate",
                    tensor());
  }
  return computeWith(method_, spec);
}

Expected<QuantRange> HistogramObserver::computeWith(const std::string& method,
                                                    const QuantSpec& spec) const {
  HQ_RETURN_IF_ERROR(requireData());
  const double lo = seenMin(), hi = seenMax();
  const int64_t qmin = spec.qmin(), qmax = spec.qmax();
  if (method == "minmax") return rangeToScale(lo, hi, spec);
  if (method == "percentile") {
    const double p = spec.params.percentile;
    if (spec.symmetric) {
      return symmetricRange(percentileThreshold(hist_.magnitudes(Histogram::Part::kAbs), p), spec);
    }
    const double tail = (1.0 - std::clamp(p, 0.0, 100.0) / 100.0) / 2.0;
    return rangeToScale(hist_.quantile(tail), hist_.quantile(1.0 - tail), spec);
  }
  if (method == "kl" || method == "mse") {
    const bool kl = method == "kl";
    // Levels (kl) or steps (mse) between 0 and the threshold.
    auto levels = [&](int64_t span) -> int64_t { return kl ? span + 1 : span; };
    auto threshold = [&](Histogram::Part part, int64_t span) {
      const MagnitudeHistogram m = hist_.magnitudes(part);
      if (kl) {
        const int64_t l = std::min<int64_t>(levels(span), std::numeric_limits<int>::max());
        return klThreshold(m, static_cast<int>(l));
      }
      return mseThreshold(m, levels(span));
    };
    if (spec.symmetric) return symmetricRange(threshold(Histogram::Part::kAbs, qmax), spec);
    const int64_t span = qmax - qmin;
    if (lo >= 0) return rangeToScale(0.0, threshold(Histogram::Part::kPositive, span), spec);
    if (hi <= 0) return rangeToScale(-threshold(Histogram::Part::kNegative, span), 0.0, spec);
    const double t = threshold(Histogram::Part::kAbs, kl ? (span + 1) / 2 - 1 : span / 2);
    return rangeToScale(std::max(lo, -t), std::min(hi, t), spec);
  }
  return HQ_ERROR(kInvalidArgument,
                  "tensor '{}': histogram observer cannot compute method '{}'; expected one of "
                  "minmax, percentile, kl, mse",
                  tensor(), method);
}

// ---- factory -------------------------------------------------------------------------------

const std::vector<std::string>& observerMethods() {
  static const std::vector<std::string> kMethods = {"minmax", "ema_minmax", "percentile", "kl",
                                                    "mse",    "fixed",      "all"};
  return kMethods;
}

Expected<std::unique_ptr<Observer>> makeObserver(const QuantSpec& spec, const std::string& tensor) {
  const std::string& m = spec.observer;
  const ObserverParams& p = spec.params;
  auto histogramCheck = [&]() -> Status {
    if (p.bins < 2 || p.bins > (1 << 20)) {
      return HQ_ERROR(kInvalidArgument,
                      "tensor '{}': observer {} needs bins in [2, 1048576], got {}", tensor, m,
                      p.bins);
    }
    return Status::ok();
  };
  if (m == "minmax") return std::unique_ptr<Observer>(new MinMaxObserver(tensor));
  if (m == "ema_minmax") {
    if (!(p.averagingConstant > 0 && p.averagingConstant <= 1)) {
      return HQ_ERROR(kInvalidArgument,
                      "tensor '{}': ema_minmax needs an averaging constant in (0, 1], got {}",
                      tensor, p.averagingConstant);
    }
    return std::unique_ptr<Observer>(new EmaMinMaxObserver(tensor, p.averagingConstant));
  }
  if (m == "percentile" || m == "kl" || m == "mse" || m == "all") {
    HQ_RETURN_IF_ERROR(histogramCheck());
    if (m == "percentile" && !(p.percentile > 0 && p.percentile <= 100)) {
      return HQ_ERROR(kInvalidArgument,
                      "tensor '{}': percentile observer needs a percentile in (0, 100], got {}",
                      tensor, p.percentile);
    }
    return std::unique_ptr<Observer>(new HistogramObserver(tensor, m, p.bins));
  }
  if (m == "fixed") {
    if (!spec.fixedScale || !std::isfinite(*spec.fixedScale) || !(*spec.fixedScale > 0)) {
      return HQ_ERROR(kInvalidArgument,
                      "tensor '{}': observer 'fixed' needs a positive finite fixed scale, got {}",
                      tensor, spec.fixedScale ? fmt::format("{}", *spec.fixedScale) : "none");
    }
    return std::unique_ptr<Observer>(new FixedObserver(tensor, *spec.fixedScale));
  }
  return HQ_ERROR(kInvalidArgument, "tensor '{}': unknown observer '{}'; expected one of {}",
                  tensor, m, fmt::join(observerMethods(), ", "));
}

// ---- scales ----------------------------------------------------------------------------------

QuantRange rangeToScale(double min, double max, const QuantSpec& spec) {
  QuantRange r;
  const int64_t qmin = spec.qmin(), qmax = spec.qmax();
  if (spec.symmetric) {
    const double amax = std::max(std::fabs(min), std::fabs(max));
    const double scale = amax / static_cast<double>(qmax);
    if (!(scale >= FLT_MIN)) return r;  // zero range: scale 1, zero point 0, range [0, 0]
    r.min = -amax;
    r.max = amax;
    r.scale = scale;
    return r;
  }
  const double lo = std::min(min, 0.0), hi = std::max(max, 0.0);
  const double scale = (hi - lo) / static_cast<double>(qmax - qmin);
  if (!(scale >= FLT_MIN)) return r;
  r.min = lo;
  r.max = hi;
  r.scale = scale;
  const double zp = std::nearbyint(static_cast<double>(qmin) - lo / scale);  // half to even
  r.zeroPoint =
      static_cast<int64_t>(std::clamp(zp, static_cast<double>(qmin), static_cast<double>(qmax)));
  return r;
}

Expected<std::vector<double>> perChannelScalesChecked(const Tensor& weight, int64_t axis,
                                                      const QuantSpec& spec,
                                                      const std::string& tensor) {
  return perChannelScalesImpl(weight, axis, spec, tensor, /*skip_non_finite=*/false);
}

std::vector<double> perChannelScales(const Tensor& weight, int64_t axis, const QuantSpec& spec) {
  auto r = perChannelScalesImpl(weight, axis, spec, "weight", /*skip_non_finite=*/true);
  return r.isOk() ? std::move(r).value() : std::vector<double>{};
}

namespace {
Expected<std::vector<double>> perChannelScalesImpl(const Tensor& weight, int64_t axis,
                                                   const QuantSpec& spec, const std::string& tensor,
                                                   bool skip_non_finite) {
  if (weight.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "weight '{}': per-channel scales need float32, got {}", tensor,
                    dtypeName(weight.dtype()));
  }
  const int64_t rank = weight.rank();
  if (rank == 0 || axis < -rank || axis >= rank) {
    return HQ_ERROR(kInvalidArgument,
                    "weight '{}' of shape {}: channel axis {} is out of range for rank {}", tensor,
                    shapeString(weight.shape()), axis, rank);
  }
  if (axis < 0) axis += rank;
  const int64_t channels = weight.dim(axis);
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= weight.dim(d);
  const int64_t outer = channels > 0 && inner > 0 ? weight.numel() / (channels * inner) : 0;
  const float* w = weight.data<float>();
  const double qmax = static_cast<double>(spec.qmax());
  std::vector<double> scales(static_cast<size_t>(std::max<int64_t>(channels, 0)), 1.0);
  for (int64_t c = 0; c < channels; ++c) {
    double amax = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const float* row = w + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const float x = row[i];
        if (!std::isfinite(x)) {
          if (skip_non_finite) continue;
          return HQ_ERROR(kData,
                          "{} in weight '{}' at channel {} (element {} of the slice); expected "
                          "finite values",
                          std::isnan(x) ? "NaN" : "Inf", tensor, c, o * inner + i);
        }
        amax = std::max(amax, static_cast<double>(std::fabs(x)));
      }
    }
    const double s = amax / qmax;
    scales[static_cast<size_t>(c)] = s >= FLT_MIN ? s : 1.0;
  }
  return scales;
}

}  // namespace

}  // namespace hq
