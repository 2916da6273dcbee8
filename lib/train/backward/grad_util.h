// Helpers shared by the elementwise and data-movement backwards (activation.cpp,
// binary.cpp, tensor_ops.cpp): checks of the gradient tensors a BackwardCall carries, and
// the reverse of numpy broadcasting (summing a gradient over the broadcast axes).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/kernels/elementwise_util.h"
#include "train/backward.h"

namespace hq::train::detail {

/// Error unless input i is a float32 tensor.
inline Status checkFloatInput(const BackwardCall& call, size_t i) {
  if (!call.hasIn(i)) return call.error(ErrorCode::kShape, "input {} is missing", i);
  if (call.in(i).dtype() != DType::kFloat32) {
    return call.error(ErrorCode::kUnsupported, "input {} has dtype {}; only float32 trains", i,
                      dtypeName(call.in(i).dtype()));
  }
  return Status::ok();
}

/// Error unless the gradient of input i (when asked for) is float32 with the input's shape.
inline Status checkGradIn(const BackwardCall& call, size_t i) {
  if (!call.wantsGrad(i)) return Status::ok();
  const Tensor& g = call.gradIn(i);
  if (!call.hasIn(i)) return call.error(ErrorCode::kShape, "gradient asked for absent input {}", i);
  if (g.dtype() != DType::kFloat32 || g.shape() != call.in(i).shape()) {
    return call.error(ErrorCode::kShape, "gradient of input {} must be float32 {}, got {} {}", i,
                      shapeString(call.in(i).shape()), dtypeName(g.dtype()),
                      shapeString(g.shape()));
  }
  return Status::ok();
}

/// The gradient of output k as float data of `shape` (nullptr: no gradient flows, i.e.
/// zero), or an error when its dtype or shape is wrong.
inline Expected<const float*> gradOutData(const BackwardCall& call, size_t k, const Shape& shape) {
  if (!call.hasGradOut(k)) return static_cast<const float*>(nullptr);
  const Tensor& g = call.gradOut(k);
  if (g.dtype() != DType::kFloat32 || g.shape() != shape) {
    return call.error(ErrorCode::kShape, "gradient of output {} must be float32 {}, got {} {}", k,
                      shapeString(shape), dtypeName(g.dtype()), shapeString(g.shape()));
  }
  return g.data<float>();
}

/// Set every element of the gradient of input i (when asked for) to zero.
inline void zeroGradIn(const BackwardCall& call, size_t i) {
  if (!call.wantsGrad(i)) return;
  Tensor& g = call.gradIn(i);
  std::fill(g.data<float>(), g.data<float>() + g.numel(), 0.0f);
}

/// Call f(o, ia, ib) for every element o of the broadcast of `loops` (row-major output
/// order), with ia and ib the element offsets of the two operands.
template <typename F>
void forEachBroadcast(const kernels::BroadcastLoops& loops, F f) {
  const int64_t rank = static_cast<int64_t>(loops.dims.size());
  std::vector<int64_t> coord(static_cast<size_t>(rank), 0);
  int64_t ia = 0, ib = 0;
  for (int64_t o = 0; o < loops.numel; ++o) {
    f(o, ia, ib);
    // Increment the coordinate (last dim fastest), keeping the operand offsets in step.
    for (int64_t d = rank - 1; d >= 0; --d) {
      const size_t u = static_cast<size_t>(d);
      ++coord[u];
      ia += loops.strideA[u];
      ib += loops.strideB[u];
      if (coord[u] < loops.dims[u]) break;
      ia -= loops.strideA[u] * loops.dims[u];
      ib -= loops.strideB[u] * loops.dims[u];
      coord[u] = 0;
    }
  }
}

}  // namespace hq::train::detail
