// Reference kernels: QuantizeLinear and DequantizeLinear (ONNX opsets 10-19; per tensor or
// per axis; int8/uint8, and int32 input for DequantizeLinear), and the vectorized
// fake-quant loop the executor's hq.FakeQuant uses. The arithmetic is in quantize.h.
#include "runtime/kernels/quantize.h"

#include <immintrin.h>

#include <limits>

#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

bool quantRange(DType qtype, float* qmin, float* qmax) {
  switch (qtype) {
    case DType::kInt8:
      *qmin = -128.0f;
      *qmax = 127.0f;
      return true;
    case DType::kUInt8:
      *qmin = 0.0f;
      *qmax = 255.0f;
      return true;
    case DType::kInt32:
      *qmin = static_cast<float>(std::numeric_limits<int32_t>::min());
      *qmax = static_cast<float>(std::numeric_limits<int32_t>::max());
      return true;
    default: return false;
  }
}

Expected<QuantSpec> quantSpecOf(const Node& node, const Shape& x, const Tensor& scale,
                                const Tensor* zero_point, DType qtype) {
  if (scale.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "node {}: scale dtype {} is not supported (expected float32)",
                    node.describe(), dtypeName(scale.dtype()));
  }
  QuantSpec spec;
  float qmin = 0, qmax = 0;
  if (!quantRange(qtype, &qmin, &qmax)) {
    return HQ_ERROR(kUnsupported, "node {}: quantized dtype {} is not supported", node.describe(),
                    dtypeName(qtype));
  }
  const Shape* zp_shape = zero_point ? &zero_point->shape() : nullptr;
  HQ_ASSIGN_OR_RETURN(spec.layout, resolveQuantLayout(node, x, scale.shape(), zp_shape));
  HQ_RETURN_IF_ERROR(checkQuantScales(node, scale));
  std::vector<double> zps = zero_point ? zero_point->toDouble() : std::vector<double>();
  const float* s = scale.data<float>();
  spec.channels.resize(spec.layout.perAxis ? static_cast<size_t>(scale.numel()) : 1);
  for (size_t c = 0; c < spec.channels.size(); ++c) {
    QuantParams& p = spec.channels[c];
    p.scale = s[c];
    p.zeroPoint = c < zps.size() ? static_cast<float>(zps[c]) : 0.0f;
    p.qmin = qmin;
    p.qmax = qmax;
  }
  return spec;
}

namespace {

template <typename Q, typename X>
void quantizeLoop(const X* x, Q* y, const Shape& shape, const QuantSpec& spec) {
  forEachQuantRun(shape, spec, [&](const QuantParams& p, int64_t first, int64_t count) {
    for (int64_t i = first; i < first + count; ++i) {
      y[i] = static_cast<Q>(quantizeValue(static_cast<float>(x[i]), p));
    }
  });
}

template <typename Q>
void dequantizeLoop(const Q* x, float* y, const Shape& shape, const QuantSpec& spec) {
  forEachQuantRun(shape, spec, [&](const QuantParams& p, int64_t first, int64_t count) {
    for (int64_t i = first; i < first + count; ++i) {
      y[i] = dequantizeValue(static_cast<float>(x[i]), p);
    }
  });
}

}  // namespace

Status refQuantizeLinear(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  const Tensor* zp = call.has(2) ? &call.in(2) : nullptr;
  HQ_ASSIGN_OR_RETURN(QuantSpec spec, quantSpecOf(call.node, x.shape(), call.in(1), zp, y.dtype()));
  if (zp && zp->dtype() != y.dtype()) {
    return call.error(ErrorCode::kShape, "zero point dtype {} differs from the output dtype {}",
                      dtypeName(zp->dtype()), dtypeName(y.dtype()));
  }
  auto run = [&](auto* out) {
    if (x.dtype() == DType::kFloat32) {
      quantizeLoop(x.data<float>(), out, x.shape(), spec);
    } else {
      quantizeLoop(x.data<int32_t>(), out, x.shape(), spec);
    }
  };
  if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kInt32) {
    return call.error(ErrorCode::kUnsupported, "input dtype {} is not supported",
                      dtypeName(x.dtype()));
  }
  if (y.dtype() == DType::kInt8) {
    run(y.data<int8_t>());
  } else if (y.dtype() == DType::kUInt8) {
    run(y.data<uint8_t>());
  } else {
    return call.error(ErrorCode::kUnsupported, "output dtype {} is not supported",
                      dtypeName(y.dtype()));
  }
  return Status::ok();
}

Status refDequantizeLinear(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  const Tensor* zp = call.has(2) ? &call.in(2) : nullptr;
  if (zp && zp->dtype() != x.dtype()) {
    return call.error(ErrorCode::kShape, "zero point dtype {} differs from the input dtype {}",
                      dtypeName(zp->dtype()), dtypeName(x.dtype()));
  }
  HQ_ASSIGN_OR_RETURN(QuantSpec spec, quantSpecOf(call.node, x.shape(), call.in(1), zp, x.dtype()));
  float* out = y.data<float>();
  switch (x.dtype()) {
    case DType::kInt8: dequantizeLoop(x.data<int8_t>(), out, x.shape(), spec); break;
    case DType::kUInt8: dequantizeLoop(x.data<uint8_t>(), out, x.shape(), spec); break;
    case DType::kInt32: dequantizeLoop(x.data<int32_t>(), out, x.shape(), spec); break;
    default:
      return call.error(ErrorCode::kUnsupported, "input dtype {} is not supported",
                        dtypeName(x.dtype()));
  }
  return Status::ok();
}

// --- the vectorized fake-quant loop ---------------------------------------------------
// Same operations as quantizeValue + dequantizeValue, each correctly rounded in IEEE
// float32: division (never a reciprocal multiply), round to nearest even, add, NaN ->
// zero point, clamp, subtract, multiply. So every lane equals the scalar result.

namespace {

void fakeQuantizeScalar(const float* x, float* y, int64_t n, const QuantParams& p) {
  for (int64_t i = 0; i < n; ++i) y[i] = dequantizeValue(quantizeValue(x[i], p), p);
}

// GCC 12 warns about the intrinsics' internal _mm512_undefined_ps(); nothing is read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) int64_t fakeQuantizeAvx512(const float* x, float* y, int64_t n,
                                                              const QuantParams& p) {
  const __m512 s = _mm512_set1_ps(p.scale), zp = _mm512_set1_ps(p.zeroPoint);
  const __m512 lo = _mm512_set1_ps(p.qmin), hi = _mm512_set1_ps(p.qmax);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), s);
    __m512 t =
        _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
    __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    t = _mm512_mask_blend_ps(ordered, zp, t);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_sub_ps(t, zp), s));
  }
  return i;
}
#pragma GCC diagnostic pop

__attribute__((target("avx2"))) int64_t fakeQuantizeAvx2(const float* x, float* y, int64_t n,
                                                         const QuantParams& p) {
  const __m256 s = _mm256_set1_ps(p.scale), zp = _mm256_set1_ps(p.zeroPoint);
  const __m256 lo = _mm256_set1_ps(p.qmin), hi = _mm256_set1_ps(p.qmax);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    __m256 t = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
    __m256 ordered = _mm256_cmp_ps(t, t, _CMP_ORD_Q);
    t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
    t = _mm256_blendv_ps(zp, t, ordered);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_sub_ps(t, zp), s));
  }
  return i;
}

void fakeQuantizeBlock(VectorIsa isa, const float* x, float* y, int64_t n, const QuantParams& p) {
  int64_t done = 0;
  switch (isa) {
    case VectorIsa::kAvx512: done = fakeQuantizeAvx512(x, y, n, p); break;
    case VectorIsa::kAvx2: done = fakeQuantizeAvx2(x, y, n, p); break;
    case VectorIsa::kScalar: break;
  }
  fakeQuantizeScalar(x + done, y + done, n - done, p);
}

constexpr int64_t kBlock = 1 << 14;  // elements per parallel work item

}  // namespace

VectorIsa bestVectorIsa() {
  static const VectorIsa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return VectorIsa::kAvx512;
    if (__builtin_cpu_supports("avx2")) return VectorIsa::kAvx2;
    return VectorIsa::kScalar;
  }();
  return isa;
}

bool fakeQuantizeF32With(VectorIsa isa, const float* x, float* y, int64_t n, const QuantParams& p) {
  if (static_cast<int>(isa) > static_cast<int>(bestVectorIsa())) return false;
  fakeQuantizeBlock(isa, x, y, n, p);
  return true;
}

void fakeQuantizeF32(const float* x, float* y, int64_t n, const QuantParams& p) {
  const VectorIsa isa = bestVectorIsa();
  if (n < 2 * kBlock) {
    fakeQuantizeBlock(isa, x, y, n, p);
    return;
  }
  int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t first = b * kBlock;
    fakeQuantizeBlock(isa, x + first, y + first, std::min(kBlock, n - first), p);
  }
}

}  // namespace hq::kernels
