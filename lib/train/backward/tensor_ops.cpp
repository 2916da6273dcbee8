// Backward of the tensor_ops family (STUBS: being implemented).
#include "train/backward/backward_fns.h"

namespace hq::train {

Status backwardConcat(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardSplit(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardSlice(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardFlatten(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardReshape(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardTranspose(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardSqueeze(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardUnsqueeze(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardIdentity(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardResize(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

}  // namespace hq::train
