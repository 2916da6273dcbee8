// Dropout for training (hq-qat): a seeded, portable mask in training, the identity in eval.
//
//   training: keep_i = u_i >= ratio, y_i = keep_i ? x_i * 1 / (1 - ratio) : 0
//             (ratio == 1: every element dropped, y = 0)
//   eval:     y = x, mask all true
//   backward: dx_i = keep_i ? dy_i * 1 / (1 - ratio) : 0 (eval: dx = dy)
// u_i is SplitMix64(seed + i * 0x9E3779B97F4A7C15).uniform01(), i.e. the i-th draw of the
// sequential stream SplitMix64(seed) (data/random.h), computed per element so that the mask
// depends only on (seed, i): the same on every platform and thread count.
#pragma once

#include <cstdint>

#include "ir/tensor.h"
#include "support/status.h"
#include "train/backward.h"

namespace hq::train {

/// u_i of the mask (uniform in [0, 1), 24 bits) for element i of seed `seed`.
float dropoutUniform(uint64_t seed, int64_t i);

/// The forward: y (float32, x's shape, preallocated; may be x itself) and, when given,
/// mask (bool, x's shape). Errors: non-float32 x, ratio outside [0, 1] or NaN (kInvalidArgument),
/// y or mask of another shape or dtype (kShape).
Status dropoutForward(const Tensor& x, float ratio, bool training, uint64_t seed, Tensor& y,
                      Tensor* mask = nullptr);

/// The backward: dx (float32, dy's shape, overwritten) from dy and the forward's mask (bool,
/// dy's shape; ignored in eval, where dx = dy).
Status dropoutBackward(const Tensor& dy, const Tensor* mask, float ratio, bool training,
                       Tensor& dx);

/// The backward of a Dropout node (BackwardCall convention): ratio is input 1 (default
/// 0.5), training_mode input 2 (default false). In training the forward's mask (output 1)
/// is required unless ratio is 0; in eval dX = dY. The signature of an
/// HQ_BACKWARD(Dropout) entry of backward.def.
Status backwardDropout(const BackwardCall& call);

}  // namespace hq::train
