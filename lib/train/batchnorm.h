// BatchNormalization for training (hq-qat): the forward with batch statistics and the
// running-statistic update, and the backward in training and in inference mode.
//
// Layout: x is [N, C, D1, ...] (row-major, rank >= 2); scale, bias, running mean and
// running variance are [C]. Statistics are over N and the spatial dims (M = numel / C).
//
//   training forward: mean_c = sum(x) / M, var_c = sum((x - mean_c)^2) / M (biased),
//     y = (x - mean_c) / sqrt(var_c + eps) * scale_c + bias_c
//     running_mean = running_mean * momentum + mean_c * (1 - momentum)          (ONNX momentum;
//     running_var  = running_var * momentum + v_c * (1 - momentum)    PyTorch's is 1 - this)
//     where v_c is the UNBIASED batch variance sum(...) / (M - 1) by default, as PyTorch's
//     BatchNorm updates it (a training-mode export keeps those semantics), or the biased one
//     (the ONNX spec's ReduceVar) with RunningVariance::kBiased.
//   training backward (xhat = (x - mean) * inv_std, g = dL/dy):
//     dbias_c = sum(g), dscale_c = sum(g * xhat),
//     dx = scale_c * inv_std / M * (M * g - dbias_c - xhat * dscale_c)
//   inference backward (fixed mean/var: a per-channel affine):
//     dx = g * scale_c * inv_std, dscale_c = sum(g * xhat), dbias_c = sum(g)
// Sums are accumulated in double. Gradients OVERWRITE their tensors (train/backward.h).
#pragma once

#include <vector>

#include "ir/tensor.h"
#include "support/status.h"
#include "train/backward.h"

namespace hq::train {

/// Which batch variance updates the running variance.
enum class RunningVariance {
  kUnbiased,  ///< sum / (M - 1), as PyTorch (M == 1: the biased one)
  kBiased,    ///< sum / M, the ONNX spec's ReduceVar
};

/// Attributes of a training-mode BatchNormalization.
struct BatchNormOptions {
  float epsilon = 1e-5f;
  float momentum = 0.9f;  ///< ONNX semantics: the weight of the OLD running value
  RunningVariance runningVariance = RunningVariance::kUnbiased;
};

/// What the training forward keeps for the backward: per channel, the batch mean,
/// the biased batch variance and 1 / sqrt(variance + eps).
struct BatchNormSaved {
  std::vector<float> mean;
  std::vector<float> var;
  std::vector<float> invStd;
};

/// The training forward: writes y (float32, x's shape, preallocated), updates
/// running_mean and running_var ([C]) in place when given, and fills *saved when given.
/// Errors (kShape / kUnsupported): non-float32 tensors, rank < 2, parameter sizes != C, y
/// of another shape.
Status batchNormTrainForward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                             Tensor* running_mean, Tensor* running_var,
                             const BatchNormOptions& options, Tensor& y,
                             BatchNormSaved* saved = nullptr);

/// The batch statistics of x (the same numbers batchNormTrainForward saves).
Expected<BatchNormSaved> batchNormStatistics(const Tensor& x, float epsilon);

/// The training-mode backward: dx, dscale, dbias (each optional, preallocated with the
/// shape of x / [C] / [C], overwritten) from dy, x, scale and the forward's statistics.
Status batchNormTrainBackward(const Tensor& x, const Tensor& scale, const BatchNormSaved& saved,
                              const Tensor& dy, Tensor* dx, Tensor* dscale, Tensor* dbias);

/// The inference-mode backward (mean and var are the fixed running statistics).
Status batchNormEvalBackward(const Tensor& x, const Tensor& scale, const Tensor& mean,
                             const Tensor& var, float epsilon, const Tensor& dy, Tensor* dx,
                             Tensor* dscale, Tensor* dbias);

/// The backward of a BatchNormalization node (BackwardCall convention, train/backward.h):
/// with training_mode = 1 the batch statistics are recomputed from X (outputs 1 and 2, the
/// running statistics, carry no gradient); else the inference backward with inputs 3 and 4.
/// Writes dX, dscale, dB where asked; the gradients of input_mean / input_var, if asked,
/// are zero. The signature of an HQ_BACKWARD(BatchNormalization) entry of backward.def.
Status backwardBatchNormalization(const BackwardCall& call);

}  // namespace hq::train
