// Reference kernels: broadcasting binary ops.
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refAdd(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refSub(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refMul(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refDiv(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

}  // namespace hq::kernels
