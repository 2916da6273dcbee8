// Parameters of data-movement ops resolved against a data shape, shared by the shape
// functions (ir/ops/tensor_ops.cpp) and the reference kernels (runtime/kernels/).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq::ops {

/// The raw parameters of one Slice node (inputs from opset 10, attributes before).
struct SliceSpec {
  std::vector<int64_t> starts, ends;
  std::vector<int64_t> axes;   ///< empty: the first starts.size() axes
  std::vector<int64_t> steps;  ///< empty: all 1
};

/// A slice resolved per data axis: output element k along axis a reads input index
/// start[a] + k * step[a], for k < count[a]. Unsliced axes get (0, 1, dim).
/// count is -1 where the data dim is unknown.
struct SliceParams {
  std::vector<int64_t> start, step, count;
};

/// Resolve a Slice against `data` following the ONNX rules (negative indices count from
/// the end; starts/ends clamp to [0, dim] for positive steps and [-1, dim-1] for negative
/// ones). Errors (naming the node) for bad axes, duplicate axes, zero steps, length mismatch.
Expected<SliceParams> resolveSlice(const Node& node, const Shape& data, const SliceSpec& spec);

/// The Slice parameters from the node's attributes (opset < 10) or from its constant
/// inputs 1-4 (`inputs[i]` nullptr when absent). Errors when starts/ends are missing.
Expected<SliceSpec> sliceSpecOf(const Node& node, const std::vector<const Tensor*>& inputs);

}  // namespace hq::ops
