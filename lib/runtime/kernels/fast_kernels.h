// Fast kernel factories (oneDNN), listed once. Each returns nullptr when it does not apply.
#pragma once

#include "runtime/kernel.h"

namespace hq::kernels {

struct FastKernelEntry {
  const char* opType;
  FastKernelFactory factory;
  const char* domain = "";  ///< "" (ONNX) or "ai.hq" (integer ops)
};

/// All fast kernels, tried in order for a node of the given op type.
const std::vector<FastKernelEntry>& fastKernels();

}  // namespace hq::kernels
