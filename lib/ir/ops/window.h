// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: reads and
// checks kernel_shape / strides / dilations / pads / auto_pad / output_padding /
// output_shape and computes effective pads and output sizes as the ONNX operator spec
// defines them. Shape functions (ir/ops/conv.cpp, pool.cpp) and reference kernels
// (runtime/kernels/conv.cpp, pool.cpp) both use it, so they cannot disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq::ops {

// Checked attribute access. Errors name the node, the attribute, the kind or value found.

/// An int attribute, or `def` when absent; error if it has another kind.
Expected<int64_t> intAttr(const Node& node, const char* name, int64_t def);
/// A float attribute (an int is accepted and converted), or `def` when absent.
Expected<float> floatAttr(const Node& node, const char* name, float def);
/// An ints attribute, or `def` when absent. `expected_len` > 0: the list must have that
/// many entries; `min_value`: every entry must be >= it.
Expected<std::vector<int64_t>> intsAttr(const Node& node, const char* name,
                                        std::vector<int64_t> def, size_t expected_len,
                                        int64_t min_value);

/// ONNX auto_pad.
enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };
/// The auto_pad attribute (absent: NOTSET); error for other strings.
Expected<AutoPad> autoPadAttr(const Node& node);

/// A resolved window over the spatial dims (one entry per spatial dim in every vector).
struct Window {
  std::vector<int64_t> input;      ///< spatial input sizes, elements (-1 unknown)
  std::vector<int64_t> kernel;     ///< kernel size, elements (without dilation)
  std::vector<int64_t> strides;    ///< >= 1
  std::vector<int64_t> dilations;  ///< >= 1
  std::vector<int64_t> padBegin;   ///< elements added before each dim (ConvTranspose: may be < 0)
  std::vector<int64_t> padEnd;     ///< elements added after each dim
  std::vector<int64_t> output;     ///< spatial output sizes, elements (-1 unknown)

  size_t rank() const { return kernel.size(); }
};

/// Options of forwardWindow.
struct ForwardWindowOptions {
  bool readDilations = true;  ///< false for AveragePool (no dilations attribute)
  bool ceilMode = false;      ///< ceil instead of floor for the output size
};

/// Window of Conv / MaxPool / AveragePool for `spatial_in` (dims may be -1) and the kernel
/// size per spatial dim. Reads strides, dilations, pads and auto_pad from the node.
/// Output size: floor or ceil((in + pads - ((k - 1) * d + 1)) / s) + 1; with ceil_mode a
/// last window that would start in the end padding is dropped (as PyTorch and ONNX
/// Runtime do). SAME_UPPER / SAME_LOWER: output ceil(in / s), the odd pad element goes at
/// the end / the beginning. VALID: no pads.
Expected<Window> forwardWindow(const Node& node, const std::vector<int64_t>& spatial_in,
                               const std::vector<int64_t>& kernel,
                               const ForwardWindowOptions& options);

/// The window of MaxPool / AveragePool (kernel_shape, ceil_mode; dilations for MaxPool only)
/// for an input of shape `x`, as forward kernels and backwards resolve it. Errors (kShape)
/// name the node: x of rank outside 3..5, a kernel_shape that does not fit x.
Expected<Window> poolWindow(const Node& node, const Shape& x, bool is_max);

/// The window of Conv (forwardWindow) / ConvTranspose (transposeWindow) for X and W, after
/// checking them (same rank, 3 to 5; channels fitting the "group" attribute, returned in
/// `group`), as forward kernels and backwards resolve it. Errors (kShape) name the node.
Expected<Window> convWindow(const Node& node, const Shape& x, const Shape& w, bool transpose,
                            int64_t* group);

/// Window of ConvTranspose: reads strides, dilations, pads, auto_pad, output_padding and
/// output_shape. Output size s * (in - 1) + output_padding + (k - 1) * d + 1 - pads; when
/// output_shape is given (or auto_pad is SAME_*, output in * s) the pads are derived from
/// it as the ONNX spec says.
Expected<Window> transposeWindow(const Node& node, const std::vector<int64_t>& spatial_in,
                                 const std::vector<int64_t>& kernel);

/// The spatial dims of an N, C, spatial... shape (empty for rank < 2).
std::vector<int64_t> spatialDims(const Shape& shape);

}  // namespace hq::ops
