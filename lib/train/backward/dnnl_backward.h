// Fast backwards (oneDNN primitives and vectorized loops) and the fast training forwards
// they pair with, for hq-qat's training engine. Each fast backward gives the same gradients
// as the reference of train/backward.def up to float summation order (tests/train/
// fast_backward_test.cpp checks them against it) and falls back to the reference for
// geometries it does not cover. GradGraph uses them unless KernelOptions::referenceOnly.
#pragma once

#include <memory>
#include <vector>

#include "runtime/kernel.h"
#include "train/autograd.h"

namespace hq::train {

/// The fast backward of `node` (stateful: primitives are cached per input shape), or an
/// empty function when there is none (the reference of backward.def applies).
NodeBackward fastBackwardOf(const Node& node);

/// A training forward for a default-domain Conv whose 4-D weights may change between runs
/// (trained parameters, fake-quantized weights): oneDNN on plain NCHW tensors, weights read
/// at every run (never copied at preparation). nullptr when oneDNN does not apply.
std::unique_ptr<PreparedKernel> makeTrainConv(const Node& node,
                                              const std::vector<ValueInfo>& inputs,
                                              const std::vector<ValueInfo>& outputs);

}  // namespace hq::train
