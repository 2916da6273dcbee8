#include "runtime/kernels/dnnl_int_requant.h"

// GCC 12 warns falsely about _mm512_undefined_* inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace hq::dnnl_rt {

namespace {

constexpr int64_t kLanes = 16;  // int32 lanes of one AVX-512 vector

int64_t padded(int64_t c) { return (c + kLanes - 1) / kLanes * kLanes; }

template <typename TOut, typename TRes>
void scalarRows(const int32_t* acc, const int64_t* bias, const int32_t* mult, const int* shift,
                const int32_t* res_mult, fxp::IntRange clamp, int64_t channels,
                const TRes* res, TOut* out, int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t* a = acc + p * channels;
    TOut* y = out + p * channels;
    const TRes* r = res ? res + p * channels : nullptr;
    for (int64_t o = 0; o < channels; ++o) {
      if (!mult) {
        y[o] = static_cast<TOut>(fxp::saturate(a[o] + static_cast<int32_t>(bias[o]), clamp));
      } else if (r) {
        y[o] = static_cast<TOut>(fxp::requantizeSumBiased(a[o], mult[o], r[o], res_mult[o],
                                                          shift[o], bias[o], clamp));
      } else {
        y[o] = static_cast<TOut>(fxp::requantizeBiased(a[o], {mult[o], shift[o]}, bias[o], clamp));
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

IntOutputStage::IntOutputStage(int64_t channels, std::vector<int64_t> bias,
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
  b64_.assign(pc, 0);
  m64_.assign(pc, 0);
  rm64_.assign(pc, 0);
  s64_.assign(pc, 0);
  mask64_.assign(pc, 0);
  half64_.assign(pc, 0);
  odd64_.assign(pc, 0);
  for (size_t o = 0; o < c; ++o) {
    b64_[o] = bias_[o];
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

/// The per-channel constants of 16 channels, in registers: even channels in the 64-bit
/// lanes of *E, odd ones in *O.
struct Group16 {
  __m512i bE, bO, mE, mO, rmE, rmO, sE, sO, maskE, maskO, halfE, halfO, oddE, oddO;
};

/// Half of a group (8 channels in 64-bit lanes): round_half_even(p / 2^s) exactly as
/// fxp::roundingShiftRight: q = p >> s (floor), r = p & (2^s - 1), q + 1 where
/// r + (q & 1) > 2^(s-1) (an unsigned compare: r + 1 <= 2^63); at s = 0 mask, half and
/// odd are 0, so q = p. Then the clamp.
inline __m512i roundClamp(__m512i p, __m512i s, __m512i mask, __m512i half, __m512i odd,
                          __m512i lo, __m512i hi) {
  __m512i q = _mm512_srav_epi64(p, s);
  const __m512i t = _mm512_add_epi64(_mm512_and_si512(p, mask), _mm512_and_si512(q, odd));
  q = _mm512_mask_add_epi64(q, _mm512_cmpgt_epu64_mask(t, half), q, _mm512_set1_epi64(1));
  return _mm512_min_epi64(_mm512_max_epi64(q, lo), hi);
}

/// Lanes 2i of a (low 32 bits of 64-bit lane i of `even`) and 2i+1 (of `odd`).
inline __m512i interleave(__m512i even, __m512i odd) {
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

template <typename TOut, typename TRes, bool kRes>
void avx512Rows(const int32_t* acc, const TRes* res, TOut* out, int64_t pixels, int64_t channels,
                const int64_t* bias, const int64_t* m, const int64_t* rm, const int64_t* s,
                const int64_t* mask, const int64_t* half, const int64_t* odd,
                fxp::IntRange clamp) {
  const __m512i lo = _mm512_set1_epi64(clamp.lo), hi = _mm512_set1_epi64(clamp.hi);
  const __m512i even_idx = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd_idx = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
  auto split = [&](const int64_t* v, __m512i& e, __m512i& o) {
    const __m512i a = _mm512_loadu_si512(v), b = _mm512_loadu_si512(v + 8);
    e = _mm512_permutex2var_epi64(a, even_idx, b);
    o = _mm512_permutex2var_epi64(a, odd_idx, b);
  };
  // Channel groups outside, pixels inside: a group's constants stay in registers.
  for (int64_t c0 = 0; c0 < channels; c0 += 16) {
    const int64_t n = std::min<int64_t>(16, channels - c0);
    const __mmask16 k = static_cast<__mmask16>((1u << n) - 1u);
    Group16 g;
    split(bias + c0, g.bE, g.bO);
    split(m + c0, g.mE, g.mO);
    split(s + c0, g.sE, g.sO);
    split(mask + c0, g.maskE, g.maskO);
    split(half + c0, g.halfE, g.halfO);
    split(odd + c0, g.oddE, g.oddO);
    if constexpr (kRes) split(rm + c0, g.rmE, g.rmO);
    const int32_t* a = acc + c0;
    TOut* y = out + c0;
    for (int64_t p = 0; p < pixels; ++p, a += channels, y += channels) {
      // acc * m + bias in 64-bit lanes (even channels in pe, odd in po).
      const __m512i v = _mm512_maskz_loadu_epi32(k, a);
      __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(v, g.mE), g.bE);
      __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), g.mO), g.bO);
      if constexpr (kRes) {
        const TRes* rp = res + c0 + p * channels;
        __m512i r;
        if constexpr (sizeof(TRes) == 1) {
          r = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, rp));
        } else {
          r = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(k, rp));
        }
        pe = _mm512_add_epi64(pe, _mm512_mul_epi32(r, g.rmE));
        po = _mm512_add_epi64(po, _mm512_mul_epi32(_mm512_srli_epi64(r, 32), g.rmO));
      }
      const __m512i q = interleave(roundClamp(pe, g.sE, g.maskE, g.halfE, g.oddE, lo, hi),
                                   roundClamp(po, g.sO, g.maskO, g.halfO, g.oddO, lo, hi));
      // Narrow in registers, then store (vpmovdb to memory is slow on some CPUs, e.g.
      // AMD Zen 4); masked only at a channel tail.
      if constexpr (sizeof(TOut) == 1) {
        const __m128i b = _mm512_cvtepi32_epi8(q);
        if (n == 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
        else _mm_mask_storeu_epi8(y, k, b);
      } else if constexpr (sizeof(TOut) == 2) {
        const __m256i h = _mm512_cvtepi32_epi16(q);
        if (n == 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), h);
        else _mm256_mask_storeu_epi16(y, k, h);
      } else {
        _mm512_mask_storeu_epi32(y, k, q);
      }
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
                                   pixels, channels_, b64_.data(), m64_.data(), rm64_.data(),
                                   s64_.data(), mask64_.data(), half64_.data(), odd64_.data(), clamp_);
    } else {
      avx512Rows<TOut, TRes, false>(acc, nullptr, static_cast<TOut*>(out), pixels, channels_,
                                    b64_.data(), m64_.data(), rm64_.data(), s64_.data(),
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
