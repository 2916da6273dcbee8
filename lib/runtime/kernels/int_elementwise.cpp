// Reference kernels of the ai.hq integer ops (STUBS: being implemented).
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status refQClamp(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QClamp: kernel not implemented yet");
}

Status refQAdd(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QAdd: kernel not implemented yet");
}

Status refQMul(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QMul: kernel not implemented yet");
}

Status refQRescale(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QRescale: kernel not implemented yet");
}

Status refQConcat(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QConcat: kernel not implemented yet");
}

Status refQResize(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QResize: kernel not implemented yet");
}

Status refQLookup(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QLookup: kernel not implemented yet");
}

Status refQSoftmax(const KernelCall& call) {
  return call.error(ErrorCode::kUnsupported, "ai.hq.QSoftmax: kernel not implemented yet");
}

}  // namespace hq::kernels
