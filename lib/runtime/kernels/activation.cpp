// Reference kernels: activations and Softmax.
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refRelu(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refClip(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refLeakyRelu(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refPRelu(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refSigmoid(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refHardSigmoid(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refHardSwish(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refTanh(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refSoftmax(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

}  // namespace hq::kernels
