// Backward of the binary family (STUBS: being implemented).
#include "train/backward/backward_fns.h"

namespace hq::train {

Status backwardAdd(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardSub(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardMul(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardDiv(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

}  // namespace hq::train
