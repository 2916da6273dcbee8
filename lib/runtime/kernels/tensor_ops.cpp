// Reference kernels: data movement and shape arithmetic.
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refConcat(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refSplit(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refSlice(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refFlatten(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refReshape(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refTranspose(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refSqueeze(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refUnsqueeze(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refResize(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refUpsample(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refShape(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refGather(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refCast(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refIdentity(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refDropout(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refConstant(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

}  // namespace hq::kernels
