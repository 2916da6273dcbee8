// Reference kernels: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization.
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refConv(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refConvTranspose(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refGemm(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refMatMul(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

Status refBatchNormalization(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "kernel not written yet");
}

}  // namespace hq::kernels
