#include "train/loss.h"

#include <algorithm>
#include <cmath>

namespace hq::train {

Expected<LossResult> softmaxCrossEntropy(const Tensor& logits, const std::vector<int64_t>& labels,
                                         float label_smoothing) {
  if (logits.dtype() != DType::kFloat32 || logits.rank() != 2) {
    return HQ_ERROR(kShape, "softmax cross-entropy: expected float32 logits [N, C], found {} {}",
                    dtypeName(logits.dtype()), shapeString(logits.shape()));
  }
  const int64_t n = logits.dim(0), c = logits.dim(1);
  if (static_cast<int64_t>(labels.size()) != n) {
    return HQ_ERROR(kShape,
                    "softmax cross-entropy: expected {} labels (batch of logits {}), found {}", n,
                    shapeString(logits.shape()), labels.size());
  }
  if (n == 0 || c == 0) {
    return HQ_ERROR(kShape, "softmax cross-entropy: empty logits {}", shapeString(logits.shape()));
  }
  if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f)) {
    return HQ_ERROR(kInvalidArgument,
                    "softmax cross-entropy: label smoothing must be in [0, 1), found {}",
                    label_smoothing);
  }
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= c) {
      return HQ_ERROR(kData, "softmax cross-entropy: label {} of sample {} is outside [0, {})",
                      labels[i], i, c);
    }
  }
  LossResult r;
  r.grad = Tensor(DType::kFloat32, logits.shape());
  const float* x = logits.data<float>();
  float* g = r.grad.data<float>();
  const double off = static_cast<double>(label_smoothing) / c;
  const double on = 1.0 - label_smoothing + off;
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * c;
    float* grow = g + i * c;
    const double mx = *std::max_element(row, row + c);
    double sum = 0;
    for (int64_t k = 0; k < c; ++k) sum += std::exp(static_cast<double>(row[k]) - mx);
    const double lse = mx + std::log(sum);
    double li = 0;
    for (int64_t k = 0; k < c; ++k) {
      const double logp = row[k] - lse;
      const double q = k == labels[i] ? on : off;
      li -= q * logp;
      grow[k] = static_cast<float>((std::exp(logp) - q) / n);
    }
    total += li;
  }
  r.loss = total / n;
  if (!std::isfinite(r.loss)) {
    return HQ_ERROR(kData,
                    "softmax cross-entropy: the loss is not finite ({}); logits hold NaN or Inf",
                    r.loss);
  }
  return r;
}

Expected<LossResult> meanSquaredError(const Tensor& pred, const Tensor& target) {
  if (pred.dtype() != DType::kFloat32 || target.dtype() != DType::kFloat32 ||
      pred.shape() != target.shape()) {
    return HQ_ERROR(kShape,
                    "mean squared error: expected float32 prediction and target of one "
                    "shape, found {} {} and {} {}",
                    dtypeName(pred.dtype()), shapeString(pred.shape()), dtypeName(target.dtype()),
                    shapeString(target.shape()));
  }
  const int64_t n = pred.numel();
  if (n == 0) return HQ_ERROR(kShape, "mean squared error: empty prediction");
  LossResult r;
  r.grad = Tensor(DType::kFloat32, pred.shape());
  const float* p = pred.data<float>();
  const float* t = target.data<float>();
  float* g = r.grad.data<float>();
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(p[i]) - t[i];
    total += d * d;
    g[i] = static_cast<float>(2.0 * d / n);
  }
  r.loss = total / n;
  return r;
}

}  // namespace hq::train
