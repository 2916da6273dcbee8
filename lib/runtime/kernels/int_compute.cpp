// Reference kernels of the ai.hq integer ops (STUBS: being implemented).
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refQConv(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QConv: kernel not implemented yet");
}

Status refQConvTranspose(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QConvTranspose: kernel not implemented yet");
}

Status refQGemm(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QGemm: kernel not implemented yet");
}

Status refQMaxPool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QMaxPool: kernel not implemented yet");
}

Status refQGlobalMaxPool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QGlobalMaxPool: kernel not implemented yet");
}

Status refQAveragePool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QAveragePool: kernel not implemented yet");
}

Status refQGlobalAveragePool(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QGlobalAveragePool: kernel not implemented yet");
}

}  // namespace hq::kernels
