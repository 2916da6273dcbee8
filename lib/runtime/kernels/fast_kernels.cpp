#include "runtime/kernels/fast_kernels.h"

namespace hq::kernels {

const std::vector<FastKernelEntry>& fastKernels() {
  static const std::vector<FastKernelEntry> entries = {};
  return entries;
}

}  // namespace hq::kernels
