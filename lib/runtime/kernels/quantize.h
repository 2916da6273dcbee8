// Integer quantization arithmetic, defined once: QuantizeLinear, DequantizeLinear and the
// executor's fused hq.FakeQuant all use these functions, so that a fake-quant step gives
// the same bits as a QuantizeLinear followed by a DequantizeLinear.
//
//   quantize:   q = clamp(nearbyint(x / scale) + zero_point, qmin, qmax)
//               (IEEE float32 division, round half to even, saturate; NaN -> zero_point)
//   dequantize: y = (float(q) - float(zero_point)) * scale        (float32 arithmetic)
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "ir/ops/quantize.h"
#include "runtime/kernel.h"

namespace hq::kernels {

/// One channel's quantization parameters, as float32 (integers are exact in float).
struct QuantParams {
  float scale = 1.0f;
  float zeroPoint = 0.0f;
  float qmin = 0.0f;  ///< smallest integer of the quantized type (e.g. -128)
  float qmax = 0.0f;  ///< largest integer of the quantized type (e.g. 127)
};

/// The quantized integer of x, as a float holding an integer in [qmin, qmax].
inline float quantizeValue(float x, const QuantParams& p) {
  float t = std::nearbyint(x / p.scale) + p.zeroPoint;
  if (t != t) return p.zeroPoint;  // NaN
  t = t > p.qmin ? t : p.qmin;
  return t < p.qmax ? t : p.qmax;
}

/// The real value of the quantized integer q.
inline float dequantizeValue(float q, const QuantParams& p) { return (q - p.zeroPoint) * p.scale; }

/// Parameters of a whole node: the layout and one QuantParams per channel.
struct QuantSpec {
  QuantLayout layout;
  std::vector<QuantParams> channels;
};

/// [qmin, qmax] of int8, uint8 or int32 (false for other dtypes).
bool quantRange(DType qtype, float* qmin, float* qmax);

/// Reads scale (float32) and zero point (qtype; zeros when nullptr) for an input of shape
/// x. Errors name the node: shapes that do not fit (kShape), scales <= 0, NaN or
/// infinite (kData).
Expected<QuantSpec> quantSpecOf(const Node& node, const Shape& x, const Tensor& scale,
                                const Tensor* zero_point, DType qtype);

/// Calls f(params, first, count) for every contiguous run of a dense row-major tensor of
/// shape x that shares one channel's parameters.
template <typename F>
void forEachQuantRun(const Shape& x, const QuantSpec& spec, F&& f) {
  int64_t n = shapeNumel(x);
  if (!spec.layout.perAxis) {
    f(spec.channels[0], int64_t{0}, n);
    return;
  }
  int64_t c = spec.layout.channels, inner = 1;
  for (size_t d = static_cast<size_t>(spec.layout.axis) + 1; d < x.size(); ++d) inner *= x[d];
  int64_t outer = c * inner == 0 ? 0 : n / (c * inner);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t ch = 0; ch < c; ++ch)
      f(spec.channels[static_cast<size_t>(ch)], (o * c + ch) * inner, inner);
  }
}

/// y[i] = dequantizeValue(quantizeValue(x[i], p), p) for n contiguous floats; AVX-512 or
/// AVX2 when the CPU has them, bit-identical to the scalar functions. y may equal x.
/// Parallel (OpenMP) for large n.
void fakeQuantizeF32(const float* x, float* y, int64_t n, const QuantParams& p);

/// Instruction sets of the fake-quant loop (for tests of each path).
enum class VectorIsa { kScalar, kAvx2, kAvx512 };
/// The best one this CPU has (what fakeQuantizeF32 uses).
VectorIsa bestVectorIsa();
/// fakeQuantizeF32 on one thread with the given instruction set; false (nothing written)
/// when the CPU lacks it.
bool fakeQuantizeF32With(VectorIsa isa, const float* x, float* y, int64_t n, const QuantParams& p);

}  // namespace hq::kernels
