// Backward of the conv family (STUBS: being implemented).
#include "train/backward/backward_fns.h"

namespace hq::train {

Status backwardConv(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardConvTranspose(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardGemm(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardMatMul(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

}  // namespace hq::train
