// The integer parameters of the ai.hq elementwise and tensor ops (schemas/int-ops.md
// sections 3, 4.2-4.8: QClamp, QAdd, QMul, QRescale, QConcat, QResize, QLookup, QSoftmax),
// read and checked in one place: the shape functions (ir/ops/int_elementwise.cpp) and the
// reference kernels (runtime/kernels/int_elementwise.cpp, int_tensor.cpp) both call these
// readers, so they cannot disagree on what a valid node is. Every error names the node
// and the attribute.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "ir/ops/resize.h"
#include "support/fixed_point.h"
#include "support/status.h"

namespace hq::ops {

/// Range of an int8 / int16 / int32 dtype; nullopt-like {0, 0} for others.
fxp::IntRange intDTypeRange(DType t);
/// Whether t is an activation dtype of the integer ops (int8 or int16).
inline bool isIntActivation(DType t) { return t == DType::kInt8 || t == DType::kInt16; }

/// The output stage shared by the requant ops: out_type (required, 3 INT8 or 5 INT16) and
/// the clamp [out_lo, out_hi] (required, out_lo <= out_hi, inside out_type's range).
struct IntOutputStage {
  DType type = DType::kUndefined;
  fxp::IntRange clamp;
};
Expected<IntOutputStage> readIntOutputStage(const Node& node);

/// A scalar (INT) multiplier/shift pair: multiplier in [0, 2^31 - 1], shift in [0, 63].
Expected<fxp::FixedMultiplier> readIntMultiplier(const Node& node, const char* multiplier_attr,
                                                 const char* shift_attr);

/// QClamp: lo, hi (required INT) inside the range of the input dtype `x`, lo <= hi.
Expected<fxp::IntRange> readQClamp(const Node& node, DType x);

/// QAdd: Y = requantizeSum(A, multiplierA, B, multiplierB, shift, out.clamp). multiplier_a in
/// [0, 2^31 - 1]; multiplier_b any int32 but INT32_MIN (negative for Sub).
struct QAddParams {
  int32_t multiplierA = 0;
  int32_t multiplierB = 0;
  int shift = 0;
  IntOutputStage out;
};
Expected<QAddParams> readQAdd(const Node& node);

/// QMul and QRescale: one multiplier (INT multiplier, INT shift) and the output stage.
struct QRequantParams {
  fxp::FixedMultiplier multiplier;
  IntOutputStage out;
};
Expected<QRequantParams> readQRequant(const Node& node);

/// QConcat: axis (required, normalized against `rank`), one multiplier/shift per input
/// (INTS of `num_inputs` entries each), the output stage.
struct QConcatParams {
  int64_t axis = 0;
  std::vector<fxp::FixedMultiplier> parts;
  IntOutputStage out;
};
Expected<QConcatParams> readQConcat(const Node& node, size_t num_inputs, int64_t rank);

/// QResize resolved against an input (dtype `x`, shape `in`): the float Resize's
/// coordinate parameters (mode nearest or linear; sizes as the output shape; scales, when
/// given, for the coordinate transform exactly as the float kernel uses them), and for
/// linear mode frac_bits (= fxp::interpolationFracBits of the input's bits), the
/// multiplier and the output stage. Only the last two axes may change length. Nearest mode
/// is a gather: the output has the input's dtype (out_type, if given, must equal it) and
/// the arithmetic attributes are not read.
struct QResizeParams {
  ResizeParams resize;
  int fracBits = 0;
  fxp::FixedMultiplier multiplier;
  IntOutputStage out;  ///< nearest: the input dtype and its full range
};
Expected<QResizeParams> resolveQResize(const Node& node, DType x, const Shape& in);

/// QLookup: Y = T[X - in_lo] (per tensor) or T[c, X - in_lo] (per channel along axis).
/// X int8/int16 with in_lo its type minimum; T of out_type's dtype with shape [2^bits] or
/// [C, 2^bits] (C the dim of X along axis; axis required exactly for per-channel tables).
/// Dims of `x_shape` may be unknown (-1) at shape-inference time.
struct QLookupParams {
  int32_t inLo = 0;
  int64_t tableSize = 0;  ///< 2^bits of X's dtype
  int64_t axis = -1;      ///< normalized; -1 for one table
  DType outType = DType::kUndefined;
};
Expected<QLookupParams> readQLookup(const Node& node, DType x, const Shape& x_shape, DType t,
                                    const Shape& t_shape);

/// QSoftmax: X int8, E int32 [256]; axis (default -1, normalized against `rank`); multiplier
/// and shift of 1 / s_out (shift < 63); the output stage.
struct QSoftmaxParams {
  int64_t axis = 0;
  fxp::FixedMultiplier invOut;
  IntOutputStage out;
};
Expected<QSoftmaxParams> readQSoftmax(const Node& node, int64_t rank);
/// Whether an axis of `length` elements keeps softmaxOutput's divisor in int64:
/// length * 2^16 * 2^shift < 2^63.
bool softmaxAxisFits(int64_t length, int shift);

}  // namespace hq::ops
