// The output stage of the int8 fast kernels (dnnl_int_conv.cpp): int32 accumulators from
// oneDNN, channels innermost, become the output elements of schemas/int-ops.md section 2.2
// (requantizeBiased / requantizeSumBiased with a residual: the int64 fixed-point bias added
// to the 64-bit product before the one rounding, then the clamp; or acc + the int32 bias,
// clamped, for an int32 output),
// bit for bit what hq::fxp computes. An AVX-512 loop where the CPU has it (the rounding of
// fxp::roundingShiftRight in 64-bit lanes, tested against fxp on edge cases), else the
// fxp functions themselves. Plus the small layout helpers the kernels need.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "support/fixed_point.h"

namespace hq::dnnl_rt {

/// Per-output-channel parameters of the output stage, prepared once per node.
class IntOutputStage {
 public:
  /// `bias` may be empty (zeros); else one per channel: the int64 fixed-point bias
  /// (|b| <= fxp::kMaxFixedBias) of a requantized output, or for an int32 output
  /// (`multiplier`/`shift` empty) its int32 bias: clamp(acc + bias).
  /// `residual_multiplier` non-empty iff a residual is summed.
  /// out_type: kInt8, kInt16 or kInt32; res_type (with a residual): kInt8 or kInt16.
  IntOutputStage(int64_t channels, std::vector<int64_t> bias, std::vector<int32_t> multiplier,
                 std::vector<int> shift, std::vector<int32_t> residual_multiplier,
                 fxp::IntRange clamp, DType out_type, DType res_type);

  /// Rows of `channels` accumulators acc[p * channels + o] (p < pixels) into out (same
  /// indexing, out_type elements), with residual rows res (res_type, same indexing) or
  /// nullptr. For an int32 output acc + bias must fit in int32 (the caller's accumulator
  /// bound guarantees it).
  /// `force_scalar` uses the fxp functions even where AVX-512 is available (tests).
  void run(const int32_t* acc, const void* res, void* out, int64_t pixels,
           bool force_scalar = false) const;

  int64_t channels() const { return channels_; }
  bool hasResidual() const { return !resMult_.empty(); }

 private:
  void runScalar(const int32_t* acc, const void* res, void* out, int64_t pixels) const;
  void runAvx512(const int32_t* acc, const void* res, void* out, int64_t pixels) const;

  int64_t channels_;
  std::vector<int64_t> bias_;
  std::vector<int32_t> mult_, resMult_;
  std::vector<int> shift_;
  fxp::IntRange clamp_;
  DType outType_, resType_;
  // SIMD form, padded to a multiple of 16 channels: the multipliers, the shift, the
  // remainder mask 2^s - 1, half 2^(s-1) and the odd-bit mask 1 (the last three 0 at
  // s = 0), and the bias, as int64.
  std::vector<int64_t> b64_, m64_, rm64_, s64_, mask64_, half64_, odd64_;
};

/// Whether this CPU runs IntOutputStage's AVX-512 loop (avx512f/bw/vl).
bool intOutputStageHasAvx512();

/// Per image: [C, HW] -> [HW, C] (NCHW -> NHWC) for `images` images of elem_size-byte
/// elements (1, 2 or 4).
void toChannelsLast(const void* src, void* dst, int64_t images, int64_t channels, int64_t hw,
                    size_t elem_size);
/// Per image: [HW, C] -> [C, HW] (NHWC -> NCHW).
void toChannelsFirst(const void* src, void* dst, int64_t images, int64_t channels, int64_t hw,
                     size_t elem_size);

}  // namespace hq::dnnl_rt
