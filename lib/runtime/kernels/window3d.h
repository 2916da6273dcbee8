// A resolved window (ir/ops/window.h) widened to exactly 3 spatial dims (D, H, W) by
// prepending size-1 dims, so the reference conv and pool kernels need one loop nest for
// 1-D, 2-D and 3-D.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ir/ops/window.h"

namespace hq::kernels {

/// Index 0 = D, 1 = H, 2 = W; sizes in elements.
struct Window3d {
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t k[3] = {1, 1, 1};
  int64_t s[3] = {1, 1, 1};
  int64_t d[3] = {1, 1, 1};
  int64_t padBegin[3] = {0, 0, 0};
  int64_t padEnd[3] = {0, 0, 0};

  int64_t inPlane() const { return in[0] * in[1] * in[2]; }
  int64_t outPlane() const { return out[0] * out[1] * out[2]; }
  int64_t kernelVolume() const { return k[0] * k[1] * k[2]; }
};

/// Widen `w` (rank 1 to 3, all sizes known) to 3 dims.
inline Window3d toWindow3d(const ops::Window& w) {
  Window3d g;
  const size_t shift = 3 - w.rank();
  for (size_t i = 0; i < w.rank(); ++i) {
    g.in[shift + i] = w.input[i];
    g.out[shift + i] = w.output[i];
    g.k[shift + i] = w.kernel[i];
    g.s[shift + i] = w.strides[i];
    g.d[shift + i] = w.dilations[i];
    g.padBegin[shift + i] = w.padBegin[i];
    g.padEnd[shift + i] = w.padEnd[i];
  }
  return g;
}

/// Positions i in [0, count) with 0 <= i * stride + offset < limit: returns [lo, hi).
inline void validRange(int64_t count, int64_t stride, int64_t offset, int64_t limit, int64_t* lo,
                       int64_t* hi) {
  *lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  *hi = limit - 1 - offset < 0 ? 0 : (limit - 1 - offset) / stride + 1;
  if (*hi > count) *hi = count;
  if (*lo > *hi) *lo = *hi;
}

/// One axis of an AveragePool window: output position o reads the input positions
/// [lo, hi); `padded` counts its positions inside the padded input [-pad_begin,
/// in + pad_end) (a ceil_mode window reaching past the end padding is cut there).
struct AverageSpan {
  int64_t lo = 0, hi = 0, padded = 0;
  int64_t real() const { return std::max<int64_t>(0, hi - lo); }
};

/// The window of output position `o` on `axis` (0 = D, 1 = H, 2 = W).
inline AverageSpan averageSpan(const Window3d& g, int axis, int64_t o) {
  const int64_t start = o * g.s[axis] - g.padBegin[axis];
  const int64_t end = std::min(start + g.k[axis], g.in[axis] + g.padEnd[axis]);
  return {std::max<int64_t>(start, 0), std::min(end, g.in[axis]), end - start};
}

/// AveragePool's divisor for a window: its positions inside the padded input with
/// count_include_pad, else its real input positions (0 for a window entirely in padding).
inline int64_t averageCount(const AverageSpan& d, const AverageSpan& h, const AverageSpan& w,
                            bool include_pad) {
  return include_pad ? d.padded * h.padded * w.padded : d.real() * h.real() * w.real();
}

}  // namespace hq::kernels
