// Fake quantization for quantization-aware training (hq-qat): QuantizeLinear then
// DequantizeLinear in the forward (fxp::quantizeLinear / fxp::dequantize, symmetric: zero
// point 0), the straight-through estimator and the LSQ scale gradient in the backward.
//
//   forward:  q = quantizeLinear(x, s, [qmin, qmax]) = clamp(nearbyint(x / s)),
//             y = dequantize(q, s) = q * s                                  (float32)
//   backward (t = nearbyint(x / s), float32 division, as in the forward):
//     STE:    dx = dy where qmin <= t <= qmax (not clipped), 0 elsewhere (and for NaN x)
//     LSQ (Esser et al. 2020, "Learned Step Size Quantization"), per scale:
//             ds = g * sum(dy * d), d = t - x / s in range (x / s in double here), qmin
//             below, qmax above (sums in double);
//             g = 1 / sqrt(N * qmax) with the gradient scale on (N: elements sharing the
//             scale), 1 without. Matches torch._fake_quantize_learnable_per_tensor_affine
//             (grad_factor = g) up to float rounding.
// Scales: one element (per tensor) or x.dim(axis) elements (per channel along axis).
#pragma once

#include <cstdint>

#include "ir/tensor.h"
#include "support/fixed_point.h"
#include "support/status.h"
#include "train/backward.h"

namespace hq::train {

/// How a tensor is fake-quantized.
struct FakeQuantConfig {
  int64_t axis = 1;                       ///< channel axis (per-channel scales only)
  fxp::IntRange range = fxp::kInt8Range;  ///< [qmin, qmax]: int8 or int16
  bool lsqGradScale = false;              ///< multiply ds by 1 / sqrt(N * qmax)
};

/// y = fake-quantized x (float32, x's shape, preallocated; may be x). Errors: non-float32
/// tensors, a scale count that is neither 1 nor x.dim(axis), an axis outside x's rank
/// (kShape), scales not > 0 and finite, a range with qmax <= 0 or qmin > 0 (kInvalidArgument).
Status fakeQuantForward(const Tensor& x, const Tensor& scale, const FakeQuantConfig& config,
                        Tensor& y);

/// The backward from dy: dx (x's shape) and dscale (scale's shape), each optional and
/// overwritten.
Status fakeQuantBackward(const Tensor& x, const Tensor& scale, const FakeQuantConfig& config,
                         const Tensor& dy, Tensor* dx, Tensor* dscale);

/// The backward of an hq.FakeQuant node (runtime/passes/fake_quant.h; BackwardCall
/// convention): inputs X, scale, optional zero point (int8: the int8 range; uint8 or
/// absent: [0, 255]; its values must be 0, else kUnsupported), attribute axis (default 1),
/// optional int attribute lsq_grad_scale (default 0). Writes dX (STE) and dscale (LSQ)
/// where asked; a zero point's gradient, if asked, is zero.
Status backwardFakeQuant(const BackwardCall& call);

}  // namespace hq::train
