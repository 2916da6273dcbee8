// Training forward of the broadcasting binary ops Add, Sub, Mul, Div for the shapes the
// training graphs use most (backward: binary.cpp): same shapes, or one operand of the output's
// shape and the other per channel ([1, C, 1, 1] scales, [C, 1, 1, 1] weight factors of the
// Conv+BN QAT units, a [C] bias, scalars). Operands are read at every run (trained weights
// change between steps, so nothing is baked at preparation).
#pragma once

#include <memory>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"

namespace hq::train {

/// The kernel for a default-domain Add/Sub/Mul/Div with float32 inputs of the shapes above
/// (`outputs`: the inferred output info); nullptr when it does not apply (the executor's
/// kernel runs instead). Each element is one float operation, as in the executor's kernels.
std::unique_ptr<PreparedKernel> makeTrainBinary(const Node& node,
                                                const std::vector<ValueInfo>& inputs,
                                                const std::vector<ValueInfo>& outputs);

}  // namespace hq::train
