// Backward of the pool family (STUBS: being implemented).
#include "train/backward/backward_fns.h"

namespace hq::train {

Status backwardMaxPool(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardAveragePool(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

Status backwardGlobalAveragePool(const BackwardCall& call) {
  return call.error(ErrorCode::kUnsupported, "not implemented yet");
}

}  // namespace hq::train
