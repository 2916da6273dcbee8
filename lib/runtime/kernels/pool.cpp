// Reference kernels: pooling.
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refMaxPool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refAveragePool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refGlobalAveragePool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refGlobalMaxPool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

}  // namespace hq::kernels
