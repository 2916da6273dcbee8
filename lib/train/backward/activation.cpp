// Backward of the activation family (STUBS: being implemented).
#include "train/backward/backward_fns.h"

namespace hq::train {

Status backwardRelu(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardClip(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardLeakyRelu(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardPRelu(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardSigmoid(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardHardSigmoid(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardHardSwish(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardTanh(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardSoftmax(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

}  // namespace hq::train
