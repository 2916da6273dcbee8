// The requantization attributes of the ai.hq compute and average ops (schemas/int-ops.md
// sections 2 and 4.1), read and checked in one place: the shape functions
// (ir/ops/int_compute.cpp) and the reference kernels (runtime/kernels/int_conv.cpp,
// int_pool.cpp) both call readIntRequant, so they cannot disagree on what is valid.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "support/fixed_point.h"
#include "support/status.h"

namespace hq::ops {

/// The output stage of one integer node: how an int32 accumulator (or pooling sum)
/// becomes an output element.
struct IntRequant {
  DType outType = DType::kUndefined;  ///< kInt8, kInt16 or (compute ops only) kInt32
  fxp::IntRange clamp;                ///< [out_lo, out_hi], inside outType's range
  /// One entry per output channel (compute ops) or per divisor n = index + 1 (average
  /// pools); all three empty for an int32 output. multiplier in [0, 2^31 - 1], shift in
  /// [0, 63]; residualMultiplier is empty unless the node has a residual input R.
  std::vector<int32_t> multiplier;
  std::vector<int> shift;
  std::vector<int32_t> residualMultiplier;

  bool requantizes() const { return !multiplier.empty(); }
  fxp::FixedMultiplier at(size_t i) const { return {multiplier[i], shift[i]}; }
};

/// Options of readIntRequant.
struct IntRequantOptions {
  int64_t count = -1;        ///< entries expected in multiplier / shift (-1: unchecked)
  bool residual = false;     ///< the node has a residual input R (residual_multiplier required)
  bool allowInt32 = false;   ///< out_type 6 (INT32: no multiplier, shift or residual) allowed
  const char* countMeaning = "one per output channel";  ///< for messages
};

/// Reads out_type (required: 3 INT8, 5 INT16, or 6 INT32 when allowed), out_lo and out_hi
/// (required, out_lo <= out_hi, both inside out_type's range), and for int8/int16 outputs
/// multiplier and shift (required, `count` entries each) and residual_multiplier (present
/// iff options.residual). Errors name the node and the attribute.
Expected<IntRequant> readIntRequant(const Node& node, const IntRequantOptions& options);

/// The dtype a compute op's bias B must have for its output dtype (schemas/int-ops.md
/// section 1.5): kInt64, the fixed-point bias round_half_even(b / s_out * 2^shift[o]), for
/// a requantized (int8 / int16) output; kInt32, at the accumulator scale s_in * s_w[o], for
/// an int32 output.
DType computeBiasType(DType out_type);

/// Checks the bias B of a compute op (QConv, QConvTranspose, QGemm) whose output dtype is
/// out_type: dtype computeBiasType(out_type), shape [channels] (channels < 0: unchecked),
/// and for an int64 bias |B[o]| <= fxp::kMaxFixedBias. Errors name the node.
Status checkComputeBias(const Node& node, DType out_type, const Tensor& b, int64_t channels);

/// The DType of an ONNX elem type that out_type may hold (3, 5, or 6 with allow_int32), or
/// kUndefined.
DType intOutType(int64_t onnx_type, bool allow_int32);

}  // namespace hq::ops
