// Backward of the pool family: MaxPool, AveragePool, GlobalAveragePool (float32, NCHW,
// 1-D to 3-D windows). Plain reference loops over each (n, c) plane (one thread per
// plane, so no two threads write one element). The window comes from ir/ops/window.h, as
// in the forward kernels (runtime/kernels/pool.cpp).
//
// MaxPool: the gradient of each output goes to ONE input element, the first maximum of its
// window in the forward kernel's scan order (D, then H, then W, each ascending; a later
// element wins only if strictly greater), i.e. the element the forward's Indices output
// names. Ties therefore do not split the gradient.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "runtime/kernels/window3d.h"
#include "train/backward/backward_fns.h"

namespace hq::train {

namespace {

using kernels::averageCount;
using kernels::AverageSpan;
using kernels::averageSpan;
using kernels::Window3d;

/// X and the gradients are float32; dY (when present) has `out_shape`; dX has X's shape.
Status checkBuffers(const BackwardCall& call, const Shape& out_shape) {
  const Tensor& x = call.in(0);
  if (x.dtype() != DType::kFloat32) {
    return call.error(ErrorCode::kUnsupported, "input X has dtype {}; only float32 is supported",
                      dtypeName(x.dtype()));
  }
  if (call.hasGradOut(0)) {
    const Tensor& gy = call.gradOut(0);
    if (gy.dtype() != DType::kFloat32 || gy.shape() != out_shape) {
      return call.error(ErrorCode::kShape, "gradient of output 0 is {} {}, expected float32 {}",
                        dtypeName(gy.dtype()), shapeString(gy.shape()), shapeString(out_shape));
    }
  }
  if (call.wantsGrad(0)) {
    const Tensor& g = call.gradIn(0);
    if (g.dtype() != DType::kFloat32 || g.shape() != x.shape()) {
      return call.error(ErrorCode::kShape,
                        "gradient buffer of input 0 is {} {}, expected "
                        "float32 {}",
                        dtypeName(g.dtype()), shapeString(g.shape()), shapeString(x.shape()));
    }
  }
  return Status::ok();
}

/// The window of MaxPool / AveragePool for X, resolved as the forward kernel does, and the
/// buffers checked against it.
Expected<Window3d> poolWindow(const BackwardCall& call, bool is_max) {
  if (!call.hasIn(0)) return call.error(ErrorCode::kShape, "input X is required");
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(ops::Window win, ops::poolWindow(call.node, x.shape(), is_max));
  Shape out_shape = {x.dim(0), x.dim(1)};
  out_shape.insert(out_shape.end(), win.output.begin(), win.output.end());
  HQ_RETURN_IF_ERROR(checkBuffers(call, out_shape));
  return kernels::toWindow3d(win);
}

/// Zero dX; true when there is something to add to it.
bool startGrad(const BackwardCall& call) {
  if (!call.wantsGrad(0)) return false;
  Tensor& g = call.gradIn(0);
  std::fill(g.data<float>(), g.data<float>() + g.numel(), 0.0f);
  return call.hasGradOut(0);
}

/// dX of one row of 2x2/2 windows (input rows r0, r1; dY row gy) when the windows tile the
/// rows exactly: the first maximum in scan order (r0[2j], r0[2j+1], r1[2j], r1[2j+1]; a later
/// one wins only if strictly greater, so a NaN wins only when first) gets gy[j], the other
/// three 0. Scalar.
void maxPool2x2RowsScalar(const float* r0, const float* r1, const float* gy, float* d0,
                          float* d1, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    int at = 0;
    float best = a;
    if (b > best) best = b, at = 1;
    if (c > best) best = c, at = 2;
    if (d > best) at = 3;
    const float v = gy[j];
    d0[2 * j] = at == 0 ? v : 0.0f;
    d0[2 * j + 1] = at == 1 ? v : 0.0f;
    d1[2 * j] = at == 2 ? v : 0.0f;
    d1[2 * j + 1] = at == 3 ? v : 0.0f;
  }
}

/// maxPool2x2RowsScalar for all n windows, 16 at a time with AVX-512 (the same ordered
/// comparisons, so the same result; a partial last group through masks).
__attribute__((target("avx512f"))) void maxPool2x2RowsAvx512(const float* r0, const float* r1,
                                                              const float* gy, float* d0,
                                                              float* d1, int64_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t j = 0; j < n; j += 16) {
    // The last group may be partial: masked loads and stores (no access past the rows).
    const int64_t k = std::min<int64_t>(16, n - j);
    const __mmask16 mv = static_cast<__mmask16>((1u << k) - 1);
    const __mmask16 mlo = static_cast<__mmask16>(k >= 8 ? 0xFFFFu : (1u << (2 * k)) - 1);
    const __mmask16 mhi = static_cast<__mmask16>(k > 8 ? (1u << (2 * k - 16)) - 1 : 0u);
    const __m512 x0 = _mm512_maskz_loadu_ps(mlo, r0 + 2 * j);
    const __m512 x1 = _mm512_maskz_loadu_ps(mhi, r0 + 2 * j + 16);
    const __m512 y0 = _mm512_maskz_loadu_ps(mlo, r1 + 2 * j);
    const __m512 y1 = _mm512_maskz_loadu_ps(mhi, r1 + 2 * j + 16);
    const __m512 a = _mm512_permutex2var_ps(x0, even, x1), b = _mm512_permutex2var_ps(x0, odd, x1);
    const __m512 c = _mm512_permutex2var_ps(y0, even, y1), d = _mm512_permutex2var_ps(y0, odd, y1);
    const __mmask16 sb = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
    const __m512 m1 = _mm512_mask_blend_ps(sb, a, b);
    const __mmask16 sc = _mm512_cmp_ps_mask(c, m1, _CMP_GT_OQ);
    const __m512 m2 = _mm512_mask_blend_ps(sc, m1, c);
    const __mmask16 sd = _mm512_cmp_ps_mask(d, m2, _CMP_GT_OQ);
    const __m512 v = _mm512_maskz_loadu_ps(mv, gy + j);
    const __m512 ga = _mm512_maskz_mov_ps(static_cast<__mmask16>(~(sb | sc | sd)), v);
    const __m512 gb = _mm512_maskz_mov_ps(static_cast<__mmask16>(sb & ~sc & ~sd), v);
    const __m512 gc = _mm512_maskz_mov_ps(static_cast<__mmask16>(sc & ~sd), v);
    const __m512 gd = _mm512_maskz_mov_ps(sd, v);
    _mm512_mask_storeu_ps(d0 + 2 * j, mlo, _mm512_permutex2var_ps(ga, lo, gb));
    _mm512_mask_storeu_ps(d0 + 2 * j + 16, mhi, _mm512_permutex2var_ps(ga, hi, gb));
    _mm512_mask_storeu_ps(d1 + 2 * j, mlo, _mm512_permutex2var_ps(gc, lo, gd));
    _mm512_mask_storeu_ps(d1 + 2 * j + 16, mhi, _mm512_permutex2var_ps(gc, hi, gd));
  }
}

}  // namespace

Status backwardMaxPool(const BackwardCall& call) {
  HQ_ASSIGN_OR_RETURN(Window3d g, poolWindow(call, /*is_max=*/true));
  const bool tiles = g.in[0] == 1 && g.k[0] == 1 && g.k[1] == 2 && g.k[2] == 2 && g.s[1] == 2 &&
                     g.s[2] == 2 && g.d[1] == 1 && g.d[2] == 1 && g.padBegin[1] == 0 &&
                     g.padBegin[2] == 0 && 2 * g.out[1] == g.in[1] && 2 * g.out[2] == g.in[2];
  if (tiles && call.wantsGrad(0) && call.hasGradOut(0)) {
    // 2x2 windows with stride 2 tiling the plane exactly: each input element is in one window,
    // so every gradient element is written once (the max gets dy, the others 0; first max in
    // the forward's scan order), with no separate zero fill.
    const Tensor& x = call.in(0);
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t w = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
    const float* xd = x.data<float>();
    const float* gyd = call.gradOut(0).data<float>();
    float* gxd = call.gradIn(0).data<float>();
    const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
    static const bool avx512 = __builtin_cpu_supports("avx512f");
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < planes; ++nc) {
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        const int64_t r = nc * in_plane + 2 * oh * w;
        const float* gy = gyd + nc * out_plane + oh * ow_n;
        if (avx512) maxPool2x2RowsAvx512(xd + r, xd + r + w, gy, gxd + r, gxd + r + w, ow_n);
        else maxPool2x2RowsScalar(xd + r, xd + r + w, gy, gxd + r, gxd + r + w, ow_n);
      }
    }
    return Status::ok();
  }
  if (!startGrad(call)) return Status::ok();
  const Tensor& x = call.in(0);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  const float* xd = x.data<float>();
  const float* gyd = call.gradOut(0).data<float>();
  float* gxd = call.gradIn(0).data<float>();

  // 2x2 windows with stride 2, no pads, inside the input (the common 2-D pooling): the same
  // scan, unrolled; each input element gets at most one contribution.
  if (g.in[0] == 1 && g.k[0] == 1 && g.k[1] == 2 && g.k[2] == 2 && g.s[1] == 2 && g.s[2] == 2 &&
      g.d[1] == 1 && g.d[2] == 1 && g.padBegin[1] == 0 && g.padBegin[2] == 0 &&
      2 * g.out[1] <= g.in[1] && 2 * g.out[2] <= g.in[2]) {
    const int64_t w = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < planes; ++nc) {
      const float* xp = xd + nc * in_plane;
      const float* gyp = gyd + nc * out_plane;
      float* gxp = gxd + nc * in_plane;
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          const int64_t a = 2 * oh * w + 2 * ow;
          int64_t at = a;
          float best = xp[a];
          if (xp[a + 1] > best) best = xp[at = a + 1];
          if (xp[a + w] > best) best = xp[at = a + w];
          if (xp[a + w + 1] > best) at = a + w + 1;
          gxp[at] += gyp[oh * ow_n + ow];
        }
      }
    }
    return Status::ok();
  }

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* xp = xd + nc * in_plane;
    const float* gyp = gyd + nc * out_plane;
    float* gxp = gxd + nc * in_plane;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          // The forward's scan: first strictly greater element wins.
          float best = std::numeric_limits<float>::lowest();
          int64_t best_at = -1;
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = od * g.s[0] + kd * g.d[0] - g.padBegin[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = oh * g.s[1] + kh * g.d[1] - g.padBegin[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              const int64_t row = (id * g.in[1] + ih) * g.in[2];
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const int64_t iw = ow * g.s[2] + kw * g.d[2] - g.padBegin[2];
                if (iw < 0 || iw >= g.in[2]) continue;
                if (best_at < 0 || xp[row + iw] > best) {
                  best = xp[row + iw];
                  best_at = row + iw;
                }
              }
            }
          }
          if (best_at >= 0) gxp[best_at] += gyp[(od * g.out[1] + oh) * g.out[2] + ow];
        }
      }
    }
  }
  return Status::ok();
}

Status backwardAveragePool(const BackwardCall& call) {
  HQ_ASSIGN_OR_RETURN(Window3d g, poolWindow(call, /*is_max=*/false));
  HQ_ASSIGN_OR_RETURN(int64_t include_pad, ops::intAttr(call.node, "count_include_pad", 0));
  if (!startGrad(call)) return Status::ok();
  const Tensor& x = call.in(0);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  const float* gyd = call.gradOut(0).data<float>();
  float* gxd = call.gradIn(0).data<float>();

  // The forward's windows and divisors (averageSpan / averageCount, as refAveragePool).
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* gyp = gyd + nc * out_plane;
    float* gxp = gxd + nc * in_plane;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const AverageSpan sd = averageSpan(g, 0, od);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const AverageSpan sh = averageSpan(g, 1, oh);
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const AverageSpan sw = averageSpan(g, 2, ow);
          const int64_t count = averageCount(sd, sh, sw, include_pad);
          if (count <= 0) continue;
          const float share = gyp[(od * g.out[1] + oh) * g.out[2] + ow] / static_cast<float>(count);
          for (int64_t id = sd.lo; id < sd.hi; ++id) {
            for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
              float* gr = gxp + (id * g.in[1] + ih) * g.in[2];
              for (int64_t iw = sw.lo; iw < sw.hi; ++iw) gr[iw] += share;
            }
          }
        }
      }
    }
  }
  return Status::ok();
}

Status backwardGlobalAveragePool(const BackwardCall& call) {
  if (!call.hasIn(0)) return call.error(ErrorCode::kShape, "input X is required");
  const Tensor& x = call.in(0);
  if (x.rank() < 3) {
    return call.error(ErrorCode::kShape, "X {} must have rank >= 3", shapeString(x.shape()));
  }
  Shape out_shape(x.shape().size(), 1);
  out_shape[0] = x.dim(0);
  out_shape[1] = x.dim(1);
  HQ_RETURN_IF_ERROR(checkBuffers(call, out_shape));
  if (!startGrad(call)) return Status::ok();
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t plane = planes > 0 ? x.numel() / planes : 0;
  const float* gyd = call.gradOut(0).data<float>();
  float* gxd = call.gradIn(0).data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float share = gyd[nc] / static_cast<float>(plane);
    std::fill(gxd + nc * plane, gxd + (nc + 1) * plane, share);
  }
  return Status::ok();
}

}  // namespace hq::train
