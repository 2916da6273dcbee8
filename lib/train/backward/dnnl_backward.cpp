// fastBackwardOf: which ops have a fast backward (train/backward/dnnl_backward.h).
#include "train/backward/dnnl_backward.h"

namespace hq::train {

namespace detail {
NodeBackward fastConvBackward();  // dnnl_conv.cpp
}  // namespace detail

NodeBackward fastBackwardOf(const Node& node) {
  if (!node.domain.empty()) return NodeBackward();
  if (node.opType == "Conv") return detail::fastConvBackward();
  return NodeBackward();
}

}  // namespace hq::train
