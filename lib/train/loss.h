// Training losses of hq-qat: each returns the scalar loss (a mean over the batch) and its
// gradient with respect to the prediction, ready for the engine's backward
// (train/autograd.h).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "support/status.h"

namespace hq::train {

/// A loss value and dL/d(prediction), float32 with the prediction's shape.
struct LossResult {
  double loss = 0;
  Tensor grad;
};

/// Softmax cross-entropy of `logits` [N, C] (float32) against class indices `labels` (N
/// entries in [0, C)), averaged over the batch, with PyTorch's label smoothing: the target
/// is (1 - s) * one_hot + s / C for s = `label_smoothing` in [0, 1). The log-softmax uses a
/// max-shifted log-sum-exp, so large logits do not overflow. dL/dlogits = (softmax - target) / N.
Expected<LossResult> softmaxCrossEntropy(const Tensor& logits, const std::vector<int64_t>& labels,
                                         float label_smoothing = 0.0f);

/// Mean squared error over every element: mean((pred - target)^2) (PyTorch's MSELoss with
/// reduction "mean"); pred and target float32 of the same shape. dL/dpred = 2 (pred - target) /
/// numel.
Expected<LossResult> meanSquaredError(const Tensor& pred, const Tensor& target);

}  // namespace hq::train
