// Helpers for the elementwise reference kernels (activation.cpp, binary.cpp): dtype
// dispatch, OpenMP thresholds and numpy broadcasting as strided loops.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel.h"

namespace hq::kernels {

/// Loops with at least this many elements run in parallel (OpenMP).
constexpr int64_t kParallelMin = 1 << 15;

/// Call f(T{}) with T the C++ type of `t` among float, double and the integer types
/// (not bool); returns false when `t` is none of them.
template <typename F>
bool dispatchNumeric(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: f(float{}); return true;
    case DType::kFloat64: f(double{}); return true;
    case DType::kInt8: f(int8_t{}); return true;
    case DType::kUInt8: f(uint8_t{}); return true;
    case DType::kInt16: f(int16_t{}); return true;
    case DType::kUInt16: f(uint16_t{}); return true;
    case DType::kInt32: f(int32_t{}); return true;
    case DType::kInt64: f(int64_t{}); return true;
    default: return false;
  }
}

/// Two shapes broadcast numpy-style, with adjacent dims of the same broadcast pattern
/// merged: out[i] elements, stepping a by strideA[i] and b by strideB[i] (0 = repeat).
struct BroadcastLoops {
  std::vector<int64_t> dims;
  std::vector<int64_t> strideA, strideB;
  int64_t numel = 1;
};

/// Build the loops; the shapes must broadcast (checked by shape inference).
BroadcastLoops planBroadcast(const Shape& a, const Shape& b);

/// out[i] = f(a[ia], b[ib]) over the broadcast of a and b (out is dense, row-major).
template <typename TA, typename TB, typename TO, typename F>
void broadcastApply(const BroadcastLoops& loops, const TA* a, const TB* b, TO* out, F f) {
  const int64_t rank = static_cast<int64_t>(loops.dims.size());
  if (rank == 0) {
    if (loops.numel) out[0] = f(a[0], b[0]);
    return;
  }
  const int64_t inner = loops.dims[rank - 1];
  const int64_t sa = loops.strideA[rank - 1], sb = loops.strideB[rank - 1];
  const int64_t rows = inner ? loops.numel / inner : 0;
#pragma omp parallel for schedule(static) if (loops.numel >= kParallelMin)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t oa = 0, ob = 0, rest = row;
    for (int64_t d = rank - 2; d >= 0; --d) {
      const int64_t i = rest % loops.dims[d];
      rest /= loops.dims[d];
      oa += i * loops.strideA[d];
      ob += i * loops.strideB[d];
    }
    const TA* pa = a + oa;
    const TB* pb = b + ob;
    TO* po = out + row * inner;
    if (sa == 1 && sb == 1) {
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], pb[j]);
    } else if (sa == 1 && sb == 0) {
      const TB vb = pb[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], vb);
    } else if (sa == 0 && sb == 1) {
      const TA va = pa[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = f(va, pb[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j * sa], pb[j * sb]);
    }
  }
}

}  // namespace hq::kernels
