#include "runtime/kernels/dnnl_int_requant.h"

// GCC 12 warns falsely about _mm512_undefined_* inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstring>

namespace hq::dnnl_rt {

namespace {

constexpr int64_t kLanes = 8;  // 64-bit lanes of one AVX-512 vector

int64_t padded(int64_t c) { return (c + kLanes - 1) / kLanes * kLanes; }

template <typename TOut, typename TRes>
void scalarRows(const int32_t* acc, const int32_t* bias, const int32_t* mult, const int* shift,
                const int32_t* res_mult, fxp::IntRange clamp, int64_t channels,
                const TRes* res, TOut* out, int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* a = acc + p * channels;
    TOut* y = out + p * channels;
    const TRes* r = res ? res + p * channels : nullptr;
    for (int64_t o = 0; o < channels; ++o) {
      const int32_t v = a[o] + bias[o];
      if (!mult) {
        y[o] = static_cast<TOut>(fxp::saturate(v, clamp));
      } else if (r) {
        y[o] = static_cast<TOut>(
            fxp::requantizeSum(v, mult[o], r[o], res_mult[o], shift[o], clamp));
      } else {
        y[o] = static_cast<TOut>(fxp::requantize(v, {mult[o], shift[o]}, clamp));
      }
    }
  }
}

template <typename TOut, typename Fn>
void dispatchOut(DType t, Fn&& fn) {
  if (t == DType::kInt8) fn(TOut{}, int8_t{});
  else if (t == DType::kInt16) fn(TOut{}, int16_t{});
  else fn(TOut{}, int32_t{});
}

}  // namespace

IntOutputStage::IntOutputStage(int64_t channels, std::vector<int32_t> bias,
                               std::vector<int32_t> multiplier, std::vector<int> shift,
                               std::vector<int32_t> residual_multiplier, fxp::IntRange clamp,
                               DType out_type, DType res_type)
    : channels_(channels),
      bias_(std::move(bias)),
      mult_(std::move(multiplier)),
      resMult_(std::move(residual_multiplier)),
      shift_(std::move(shift)),
      clamp_(clamp),
      outType_(out_type),
      resType_(res_type) {
  const size_t c = static_cast<size_t>(channels_);
  if (bias_.empty()) bias_.assign(c, 0);
  const size_t pc = static_cast<size_t>(padded(channels_));
  biasPad_.assign(pc, 0);
  m64_.assign(pc, 0);
  rm64_.assign(pc, 0);
  s64_.assign(pc, 0);
  mask64_.assign(pc, 0);
  half64_.assign(pc, 0);
  odd64_.assign(pc, 0);
  for (size_t o = 0; o < c; ++o) {
    biasPad_[o] = bias_[o];
    if (mult_.empty()) continue;
    const int s = shift_[o];
    m64_[o] = mult_[o];
    rm64_[o] = resMult_.empty() ? 0 : resMult_[o];
    s64_[o] = s;
    mask64_[o] = s == 0 ? 0 : static_cast<int64_t>((uint64_t{1} << s) - 1);
    half64_[o] = s == 0 ? 0 : static_cast<int64_t>(uint64_t{1} << (s - 1));
    odd64_[o] = s == 0 ? 0 : 1;
  }
}

void IntOutputStage::run(const int32_t* acc, const void* res, void* out, int64_t pixels,
                         bool force_scalar) const {
  // int32 outputs (classifier heads, small) always take the scalar loop.
  if (!force_scalar && !mult_.empty() && intOutputStageHasAvx512()) {
    runAvx512(acc, res, out, pixels);
  } else {
    runScalar(acc, res, out, pixels);
  }
}

void IntOutputStage::runScalar(const int32_t* acc, const void* res, void* out,
                               int64_t pixels) const {
  const int32_t* mult = mult_.empty() ? nullptr : mult_.data();
  const int32_t* rm = resMult_.empty() ? nullptr : resMult_.data();
  auto go = [&](auto tout, auto tres) {
    using TOut = decltype(tout);
    using TRes = decltype(tres);
    scalarRows<TOut, TRes>(acc, bias_.data(), mult, shift_.data(), rm, clamp_, channels_,
                           rm ? static_cast<const TRes*>(res) : nullptr,
                           static_cast<TOut*>(out), pixels);
  };
  auto with_res = [&](auto tout) {
    if (resType_ == DType::kInt16) go(tout, int16_t{});
    else go(tout, int8_t{});
  };
  if (outType_ == DType::kInt8) with_res(int8_t{});
  else if (outType_ == DType::kInt16) with_res(int16_t{});
  else with_res(int32_t{});
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")

namespace {

// One group of up to 8 channels: the exact p = acc * m (+ r * rm), round half to even by
// 2^s as fxp::roundingShiftRight does (q = p >> s; round up when (p & (2^s - 1)) + (q & 1)
// > 2^(s-1), an unsigned compare; at s = 0 mask, half and odd are 0 so q = p), clamp, and
// a truncating store of the clamped value.
template <typename TOut, typename TRes, bool kRes>
inline void requantGroup(const int32_t* acc, const TRes* res, TOut* out, __mmask8 k,
                         const int32_t* bias, const int64_t* m, const int64_t* rm,
                         const int64_t* s, const int64_t* mask, const int64_t* half,
                         const int64_t* odd, __m512i lo, __m512i hi) {
  __m256i a = _mm256_maskz_loadu_epi32(k, acc);
  a = _mm256_add_epi32(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias)));
  __m512i p = _mm512_mul_epi32(_mm512_cvtepi32_epi64(a), _mm512_loadu_si512(m));
  if constexpr (kRes) {
    __m512i r;
    if constexpr (sizeof(TRes) == 1) {
      r = _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8(k, res));
    } else {
      r = _mm512_cvtepi16_epi64(_mm_maskz_loadu_epi16(k, res));
    }
    p = _mm512_add_epi64(p, _mm512_mul_epi32(r, _mm512_loadu_si512(rm)));
  }
  __m512i q = _mm512_srav_epi64(p, _mm512_loadu_si512(s));
  __m512i rem = _mm512_and_si512(p, _mm512_loadu_si512(mask));
  __m512i t = _mm512_add_epi64(rem, _mm512_and_si512(q, _mm512_loadu_si512(odd)));
  __mmask8 up = _mm512_cmpgt_epu64_mask(t, _mm512_loadu_si512(half));
  q = _mm512_mask_add_epi64(q, up, q, _mm512_set1_epi64(1));
  q = _mm512_min_epi64(_mm512_max_epi64(q, lo), hi);
  if constexpr (sizeof(TOut) == 1) {
    _mm512_mask_cvtepi64_storeu_epi8(out, k, q);
  } else if constexpr (sizeof(TOut) == 2) {
    _mm512_mask_cvtepi64_storeu_epi16(out, k, q);
  } else {
    _mm512_mask_cvtepi64_storeu_epi32(out, k, q);
  }
}

template <typename TOut, typename TRes, bool kRes>
void avx512Rows(const int32_t* acc, const TRes* res, TOut* out, int64_t pixels, int64_t channels,
                const int32_t* bias, const int64_t* m, const int64_t* rm, const int64_t* s,
                const int64_t* mask, const int64_t* half, const int64_t* odd,
                fxp::IntRange clamp) {
  const __m512i lo = _mm512_set1_epi64(clamp.lo), hi = _mm512_set1_epi64(clamp.hi);
  const int64_t full = channels / kLanes * kLanes;
  const __mmask8 tail = static_cast<__mmask8>((1u << (channels - full)) - 1u);
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* a = acc + p * channels;
    const TRes* r = kRes ? res + p * channels : nullptr;
    TOut* y = out + p * channels;
    for (int64_t o = 0; o < full; o += kLanes) {
      requantGroup<TOut, TRes, kRes>(a + o, kRes ? r + o : nullptr, y + o, 0xff, bias + o, m + o,
                                     rm + o, s + o, mask + o, half + o, odd + o, lo, hi);
    }
    if (tail) {
      const int64_t o = full;
      requantGroup<TOut, TRes, kRes>(a + o, kRes ? r + o : nullptr, y + o, tail, bias + o, m + o,
                                     rm + o, s + o, mask + o, half + o, odd + o, lo, hi);
    }
  }
}

}  // namespace

void IntOutputStage::runAvx512(const int32_t* acc, const void* res, void* out,
                               int64_t pixels) const {
  auto go = [&](auto tout, auto tres) {
    using TOut = decltype(tout);
    using TRes = decltype(tres);
    if (!resMult_.empty()) {
      avx512Rows<TOut, TRes, true>(acc, static_cast<const TRes*>(res), static_cast<TOut*>(out),
                                   pixels, channels_, biasPad_.data(), m64_.data(), rm64_.data(),
                                   s64_.data(), mask64_.data(), half64_.data(), odd64_.data(),
                                   clamp_);
    } else {
      avx512Rows<TOut, TRes, false>(acc, nullptr, static_cast<TOut*>(out), pixels, channels_,
                                    biasPad_.data(), m64_.data(), rm64_.data(), s64_.data(),
                                    mask64_.data(), half64_.data(), odd64_.data(), clamp_);
    }
  };
  auto with_res = [&](auto tout) {
    if (resType_ == DType::kInt16) go(tout, int16_t{});
    else go(tout, int8_t{});
  };
  if (outType_ == DType::kInt8) with_res(int8_t{});
  else if (outType_ == DType::kInt16) with_res(int16_t{});
  else with_res(int32_t{});
}

#pragma GCC pop_options

bool intOutputStageHasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return has;
}

namespace {

template <typename T>
void transposeImages(const T* src, T* dst, int64_t images, int64_t rows, int64_t cols) {
  for (int64_t n = 0; n < images; ++n) {
    const T* s = src + n * rows * cols;
    T* d = dst + n * rows * cols;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) d[c * rows + r] = s[r * cols + c];
    }
  }
}

void transposeAny(const void* src, void* dst, int64_t images, int64_t rows, int64_t cols,
                  size_t elem_size) {
  if (elem_size == 1) {
    transposeImages(static_cast<const int8_t*>(src), static_cast<int8_t*>(dst), images, rows, cols);
  } else if (elem_size == 2) {
    transposeImages(static_cast<const int16_t*>(src), static_cast<int16_t*>(dst), images, rows,
                    cols);
  } else {
    transposeImages(static_cast<const int32_t*>(src), static_cast<int32_t*>(dst), images, rows,
                    cols);
  }
}

}  // namespace

void toChannelsLast(const void* src, void* dst, int64_t images, int64_t channels, int64_t hw,
                    size_t elem_size) {
  if (channels == 1 || hw == 1) {
    std::memcpy(dst, src, static_cast<size_t>(images * channels * hw) * elem_size);
    return;
  }
  transposeAny(src, dst, images, channels, hw, elem_size);
}

void toChannelsFirst(const void* src, void* dst, int64_t images, int64_t channels, int64_t hw,
                     size_t elem_size) {
  if (channels == 1 || hw == 1) {
    std::memcpy(dst, src, static_cast<size_t>(images * channels * hw) * elem_size);
    return;
  }
  transposeAny(src, dst, images, hw, channels, elem_size);
}

}  // namespace hq::dnnl_rt
