// The interpolation taps of one Resize axis, shared by the float Resize kernel
// (runtime/kernels/resize.cpp) and the integer QResize kernel (int_tensor.cpp), so that
// both take the same source indices and real weights (schemas/int-ops.md 3 and 4.6).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/ops/resize.h"

namespace hq::kernels {

/// Taps of one axis: for output index o, taps*o .. taps*o+taps-1 in idx/weight.
struct AxisTaps {
  int64_t taps = 1;
  std::vector<int64_t> idx;      ///< input indices, edge-clamped to [0, in_len - 1]
  std::vector<double> weight;    ///< real weights (double), summing to 1 per output index
  std::vector<uint8_t> outside;  ///< 1: the output takes the extrapolation value
};

/// The taps of axis `d` of `p` for an input of `in_len` and an output of `out_len`
/// elements (ONNX coordinate transforms; nearest: 1 tap, linear: 2, cubic: 4; an axis where
/// every output reads exactly one input collapses to 1 tap of weight 1).
AxisTaps axisTaps(const ops::ResizeParams& p, size_t d, int64_t in_len, int64_t out_len);

}  // namespace hq::kernels
