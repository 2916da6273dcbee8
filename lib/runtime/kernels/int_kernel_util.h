// Helpers of the ai.hq reference kernels (int_elementwise.cpp, int_tensor.cpp): int8/int16
// dispatch and the call check that runs the node's shape function on the actual tensors.
#pragma once

#include <cstdint>
#include <utility>

#include "runtime/kernel.h"

namespace hq::kernels {

/// Call f(T{}) with T int8_t or int16_t for t; false for any other dtype.
template <typename F>
bool dispatchIntActivation(DType t, F&& f) {
  switch (t) {
    case DType::kInt8: f(int8_t{}); return true;
    case DType::kInt16: f(int16_t{}); return true;
    default: return false;
  }
}

/// Validate a call against the node's shape function (which reads and checks every
/// attribute and input): the inputs' dtypes and shapes must be accepted, and output 0 must
/// exist with the inferred dtype and shape. Errors name the node.
Status checkIntCall(const KernelCall& call);

}  // namespace hq::kernels
