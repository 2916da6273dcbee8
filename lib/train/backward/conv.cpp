// Backward of the conv family: Conv, ConvTranspose, Gemm, MatMul (float32, NCHW).
// Plain reference loops, written to be obviously right: they are the oracle for any later
// fast path. The window geometry comes from ir/ops/window.h (the same resolution the
// forward kernels use), so forward and backward cannot disagree on pads or output sizes.
// Every gradient buffer is overwritten; loops are parallel only where each thread owns
// the elements it writes.
#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/kernels/gemm_geometry.h"
#include "runtime/kernels/window3d.h"
#include "train/backward/backward_fns.h"

namespace hq::train {

namespace {

using kernels::validRange;
using kernels::Window3d;

/// Inputs and gradients are float32; the gradient of output 0 (when present) has
/// `out_shape`; every requested input gradient has its input's shape.
Status checkBuffers(const BackwardCall& call, const Shape& out_shape) {
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    if (call.hasIn(i) && call.in(i).dtype() != DType::kFloat32) {
      return call.error(ErrorCode::kUnsupported, "input {} has dtype {}; only float32 is supported",
                        i, dtypeName(call.in(i).dtype()));
    }
  }
  if (call.hasGradOut(0)) {
    const Tensor& gy = call.gradOut(0);
    if (gy.dtype() != DType::kFloat32 || gy.shape() != out_shape) {
      return call.error(ErrorCode::kShape, "gradient of output 0 is {} {}, expected float32 {}",
                        dtypeName(gy.dtype()), shapeString(gy.shape()), shapeString(out_shape));
    }
  }
  for (size_t i = 0; i < call.gradInputs.size(); ++i) {
    if (!call.wantsGrad(i)) continue;
    if (!call.hasIn(i)) {
      return call.error(ErrorCode::kInternal,
                        "gradient of input {} requested, but the input is "
                        "omitted",
                        i);
    }
    const Tensor& g = call.gradIn(i);
    if (g.dtype() != DType::kFloat32 || g.shape() != call.in(i).shape()) {
      return call.error(ErrorCode::kShape,
                        "gradient buffer of input {} is {} {}, expected "
                        "float32 {}",
                        i, dtypeName(g.dtype()), shapeString(g.shape()),
                        shapeString(call.in(i).shape()));
    }
  }
  return Status::ok();
}

void zeroWanted(const BackwardCall& call) {
  for (size_t i = 0; i < call.gradInputs.size(); ++i) {
    if (!call.wantsGrad(i)) continue;
    Tensor& g = call.gradIn(i);
    std::fill(g.data<float>(), g.data<float>() + g.numel(), 0.0f);
  }
}

/// The spatial relation of Conv and ConvTranspose: "small" position a and "big" position
/// b = a * s + k * d - padBegin for kernel offset k. Conv: small = Y, big = X;
/// ConvTranspose: small = X, big = Y. Sizes per D, H, W.
struct Geo {
  int64_t small[3], big[3], k[3], s[3], d[3], pad[3];
  int64_t smallPlane() const { return small[0] * small[1] * small[2]; }
  int64_t bigPlane() const { return big[0] * big[1] * big[2]; }
  int64_t kvol() const { return k[0] * k[1] * k[2]; }
};

Geo makeGeo(const Window3d& g, bool transpose) {
  Geo r;
  for (int a = 0; a < 3; ++a) {
    r.small[a] = transpose ? g.in[a] : g.out[a];
    r.big[a] = transpose ? g.out[a] : g.in[a];
    r.k[a] = g.k[a];
    r.s[a] = g.s[a];
    r.d[a] = g.d[a];
    r.pad[a] = g.padBegin[a];
  }
  return r;
}

/// Calls f(small_row, big_row, lo, hi, off_w, kidx) for every kernel offset and every
/// pair of rows (D, H) that lines up; along W, small positions [lo, hi) meet big
/// position a * s + off_w.
template <typename F>
void forEachRowPair(const Geo& g, F&& f) {
  for (int64_t kd = 0; kd < g.k[0]; ++kd) {
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        const int64_t kidx = (kd * g.k[1] + kh) * g.k[2] + kw;
        const int64_t off_w = kw * g.d[2] - g.pad[2];
        int64_t lo, hi;
        validRange(g.small[2], g.s[2], off_w, g.big[2], &lo, &hi);
        if (lo >= hi) continue;
        for (int64_t ad = 0; ad < g.small[0]; ++ad) {
          const int64_t bd = ad * g.s[0] + kd * g.d[0] - g.pad[0];
          if (bd < 0 || bd >= g.big[0]) continue;
          for (int64_t ah = 0; ah < g.small[1]; ++ah) {
            const int64_t bh = ah * g.s[1] + kh * g.d[1] - g.pad[1];
            if (bh < 0 || bh >= g.big[1]) continue;
            f((ad * g.small[1] + ah) * g.small[2], (bd * g.big[1] + bh) * g.big[2], lo, hi, off_w,
              kidx);
          }
        }
      }
    }
  }
}

/// small[a] += sum_k w[k] * big[b(a, k)] over one plane pair.
void gatherPlane(const Geo& g, const float* big, const float* w, float* small) {
  forEachRowPair(g, [&](int64_t sr, int64_t br, int64_t lo, int64_t hi, int64_t off, int64_t k) {
    const float wv = w[k];
    for (int64_t a = lo; a < hi; ++a) small[sr + a] += wv * big[br + a * g.s[2] + off];
  });
}

/// big[b(a, k)] += w[k] * small[a] over one plane pair.
void scatterPlane(const Geo& g, const float* small, const float* w, float* big) {
  forEachRowPair(g, [&](int64_t sr, int64_t br, int64_t lo, int64_t hi, int64_t off, int64_t k) {
    const float wv = w[k];
    for (int64_t a = lo; a < hi; ++a) big[br + a * g.s[2] + off] += wv * small[sr + a];
  });
}

/// dw[k] += sum_a small[a] * big[b(a, k)] over one plane pair.
void correlatePlane(const Geo& g, const float* small, const float* big, float* dw) {
  forEachRowPair(g, [&](int64_t sr, int64_t br, int64_t lo, int64_t hi, int64_t off, int64_t k) {
    float acc = 0.0f;
    for (int64_t a = lo; a < hi; ++a) acc += small[sr + a] * big[br + a * g.s[2] + off];
    dw[k] += acc;
  });
}

struct ConvSetup {
  Window3d win;
  int64_t group = 1;
  Shape outShape;
};

/// Shapes, attributes and the window of Conv / ConvTranspose, as the forward kernel
/// resolves them.
Expected<ConvSetup> convSetup(const BackwardCall& call, bool transpose) {
  if (!call.hasIn(0) || !call.hasIn(1)) {
    return call.error(ErrorCode::kShape, "inputs X and W are required");
  }
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  ConvSetup r;
  HQ_ASSIGN_OR_RETURN(ops::Window win,
                      ops::convWindow(call.node, x.shape(), w.shape(), transpose, &r.group));
  const int64_t g = r.group;
  const int64_t c_out = transpose ? w.dim(1) * g : w.dim(0);
  if (call.hasIn(2) && (call.in(2).rank() != 1 || call.in(2).dim(0) != c_out)) {
    return call.error(ErrorCode::kShape, "bias B has shape {}, expected [{}]",
                      shapeString(call.in(2).shape()), c_out);
  }
  r.outShape = {x.dim(0), c_out};
  r.outShape.insert(r.outShape.end(), win.output.begin(), win.output.end());
  HQ_RETURN_IF_ERROR(checkBuffers(call, r.outShape));
  r.win = kernels::toWindow3d(win);
  return r;
}

/// dB[m] = sum over batch and space of dY[n, m, ...].
void biasGrad(const Tensor& gy, Tensor& gb) {
  const int64_t n_batch = gy.dim(0), ch = gy.dim(1);
  const int64_t plane = n_batch * ch > 0 ? gy.numel() / (n_batch * ch) : 0;
  const float* gd = gy.data<float>();
  float* bd = gb.data<float>();
  for (int64_t m = 0; m < ch; ++m) {
    double sum = 0.0;
    for (int64_t n = 0; n < n_batch; ++n) {
      const float* p = gd + (n * ch + m) * plane;
      for (int64_t i = 0; i < plane; ++i) sum += p[i];
    }
    bd[m] = static_cast<float>(sum);
  }
}

}  // namespace

// Conv: Y[n, m, a] = B[m] + sum_{ic, k} W[m, ic, k] * X[n, grp * cpg + ic, b(a, k)].
Status backwardConv(const BackwardCall& call) {
  HQ_ASSIGN_OR_RETURN(ConvSetup cs, convSetup(call, /*transpose=*/false));
  zeroWanted(call);
  if (!call.hasGradOut(0)) return Status::ok();
  const Geo g = makeGeo(cs.win, /*transpose=*/false);
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  const Tensor& gy = call.gradOut(0);
  const int64_t n_batch = x.dim(0), c_in = x.dim(1), c_out = w.dim(0);
  const int64_t cpg = w.dim(1), mpg = c_out / cs.group;
  const int64_t xp = g.bigPlane(), yp = g.smallPlane(), kv = g.kvol();
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* gyd = gy.data<float>();

  if (call.wantsGrad(0)) {  // dX: each (n, c) plane gathers from its group's outputs.
    float* gx = call.gradIn(0).data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < n_batch * c_in; ++nc) {
      const int64_t n = nc / c_in, c = nc % c_in, grp = c / cpg, ic = c % cpg;
      for (int64_t m = grp * mpg; m < (grp + 1) * mpg; ++m) {
        scatterPlane(g, gyd + (n * c_out + m) * yp, wd + (m * cpg + ic) * kv, gx + nc * xp);
      }
    }
  }
  if (call.wantsGrad(1)) {  // dW[m, ic, k] = sum_n sum_a dY[n, m, a] * X[n, c, b(a, k)].
    float* gw = call.gradIn(1).data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t mi = 0; mi < c_out * cpg; ++mi) {
      const int64_t m = mi / cpg, ic = mi % cpg, c = (m / mpg) * cpg + ic;
      for (int64_t n = 0; n < n_batch; ++n) {
        correlatePlane(g, gyd + (n * c_out + m) * yp, xd + (n * c_in + c) * xp, gw + mi * kv);
      }
    }
  }
  if (call.wantsGrad(2)) biasGrad(gy, call.gradIn(2));
  return Status::ok();
}

// ConvTranspose: Y[n, grp * mpg + oc, b(a, k)] += X[n, c, a] * W[c, oc, k] (+ B).
Status backwardConvTranspose(const BackwardCall& call) {
  HQ_ASSIGN_OR_RETURN(ConvSetup cs, convSetup(call, /*transpose=*/true));
  zeroWanted(call);
  if (!call.hasGradOut(0)) return Status::ok();
  const Geo g = makeGeo(cs.win, /*transpose=*/true);
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  const Tensor& gy = call.gradOut(0);
  const int64_t n_batch = x.dim(0), c_in = x.dim(1), mpg = w.dim(1);
  const int64_t c_out = mpg * cs.group, cpg = c_in / cs.group;
  const int64_t xp = g.smallPlane(), yp = g.bigPlane(), kv = g.kvol();
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* gyd = gy.data<float>();

  if (call.wantsGrad(0)) {  // dX[n, c, a] = sum_{oc, k} W[c, oc, k] * dY[n, m, b(a, k)].
    float* gx = call.gradIn(0).data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < n_batch * c_in; ++nc) {
      const int64_t n = nc / c_in, c = nc % c_in, grp = c / cpg;
      for (int64_t oc = 0; oc < mpg; ++oc) {
        gatherPlane(g, gyd + (n * c_out + grp * mpg + oc) * yp, wd + (c * mpg + oc) * kv,
                    gx + nc * xp);
      }
    }
  }
  if (call.wantsGrad(1)) {  // dW[c, oc, k] = sum_n sum_a X[n, c, a] * dY[n, m, b(a, k)].
    float* gw = call.gradIn(1).data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < c_in * mpg; ++co) {
      const int64_t c = co / mpg, oc = co % mpg, m = (c / cpg) * mpg + oc;
      for (int64_t n = 0; n < n_batch; ++n) {
        correlatePlane(g, xd + (n * c_in + c) * xp, gyd + (n * c_out + m) * yp, gw + co * kv);
      }
    }
  }
  if (call.wantsGrad(2)) biasGrad(gy, call.gradIn(2));
  return Status::ok();
}

// Gemm: Y = alpha * A' B' + beta * C, A' = transA ? A^T : A ([M, K]), B' ([K, N]),
// C broadcast to [M, N]. dA' = alpha dY B'^T, dB' = alpha A'^T dY, dC = beta * dY summed
// over C's broadcast dims.
Status backwardGemm(const BackwardCall& call) {
  if (!call.hasIn(0) || !call.hasIn(1)) {
    return call.error(ErrorCode::kShape, "inputs A and B are required");
  }
  const Tensor& a = call.in(0);
  const Tensor& b = call.in(1);
  HQ_ASSIGN_OR_RETURN(const kernels::GemmGeometry g,
                      kernels::gemmGeometry(call.node, a.shape(), b.shape(),
                                            call.hasIn(2) ? &call.in(2).shape() : nullptr,
                                            call.node.describe() + ": backward: "));
  const int64_t m_size = g.m, k_size = g.k, n_size = g.n;
  const float alpha = g.alpha, beta = g.beta;
  const int64_t c_sm = g.cM, c_sn = g.cN;
  HQ_RETURN_IF_ERROR(checkBuffers(call, {m_size, n_size}));
  zeroWanted(call);
  if (!call.hasGradOut(0)) return Status::ok();
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  const float* gy = call.gradOut(0).data<float>();
  // A'(m, k) at m * a_sm + k * a_sk; B'(k, n) at k * b_sk + n * b_sn.
  const int64_t a_sm = g.aM, a_sk = g.aK, b_sk = g.bK, b_sn = g.bN;

  if (call.wantsGrad(0)) {
    float* ga = call.gradIn(0).data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < m_size; ++m) {
      for (int64_t k = 0; k < k_size; ++k) {
        float acc = 0.0f;
        for (int64_t n = 0; n < n_size; ++n) acc += gy[m * n_size + n] * bd[k * b_sk + n * b_sn];
        ga[m * a_sm + k * a_sk] = alpha * acc;
      }
    }
  }
  if (call.wantsGrad(1)) {
    float* gb = call.gradIn(1).data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < k_size; ++k) {
      for (int64_t n = 0; n < n_size; ++n) {
        float acc = 0.0f;
        for (int64_t m = 0; m < m_size; ++m) acc += ad[m * a_sm + k * a_sk] * gy[m * n_size + n];
        gb[k * b_sk + n * b_sn] = alpha * acc;
      }
    }
  }
  if (call.wantsGrad(2)) {
    float* gc = call.gradIn(2).data<float>();
    for (int64_t m = 0; m < m_size; ++m) {
      for (int64_t n = 0; n < n_size; ++n) gc[m * c_sm + n * c_sn] += beta * gy[m * n_size + n];
    }
  }
  return Status::ok();
}

// MatMul (numpy semantics): a 1-D A is [1, K], a 1-D B is [K, 1] (same memory layout), the
// batch dims broadcast. dA[ba] = sum over the output batches reading ba of dY B^T, and
// likewise dB[bb] = sum of A^T dY.
Status backwardMatMul(const BackwardCall& call) {
  if (!call.hasIn(0) || !call.hasIn(1)) {
    return call.error(ErrorCode::kShape, "inputs A and B are required");
  }
  Shape as = call.in(0).shape(), bs = call.in(1).shape();
  if (as.empty() || bs.empty()) {
    return call.error(ErrorCode::kShape, "operands must have rank >= 1, got {} and {}",
                      shapeString(as), shapeString(bs));
  }
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m_size = as[as.size() - 2], k_size = as.back(), n_size = bs.back();
  if (bs[bs.size() - 2] != k_size) {
    return call.error(ErrorCode::kShape, "inner dimensions differ: A {} and B {}",
                      shapeString(call.in(0).shape()), shapeString(call.in(1).shape()));
  }
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  Shape batch(rank);
  std::vector<int64_t> a_stride(rank, 0), b_stride(rank, 0);
  int64_t a_acc = 1, b_acc = 1;
  for (size_t i = rank; i-- > 0;) {
    const int64_t da = i >= rank - (as.size() - 2) ? as[i + as.size() - 2 - rank] : 1;
    const int64_t db = i >= rank - (bs.size() - 2) ? bs[i + bs.size() - 2 - rank] : 1;
    if (da != db && da != 1 && db != 1) {
      return call.error(ErrorCode::kShape, "batch dims of A {} and B {} do not broadcast",
                        shapeString(call.in(0).shape()), shapeString(call.in(1).shape()));
    }
    batch[i] = da == 1 ? db : da;
    a_stride[i] = da == 1 ? 0 : a_acc;
    b_stride[i] = db == 1 ? 0 : b_acc;
    a_acc *= da;
    b_acc *= db;
  }
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(m_size);
  if (!b_vec) out_shape.push_back(n_size);
  HQ_RETURN_IF_ERROR(checkBuffers(call, out_shape));
  zeroWanted(call);
  if (!call.hasGradOut(0)) return Status::ok();
  const float* ad = call.in(0).data<float>();
  const float* bd = call.in(1).data<float>();
  const float* gy = call.gradOut(0).data<float>();
  float* ga = call.wantsGrad(0) ? call.gradIn(0).data<float>() : nullptr;
  float* gb = call.wantsGrad(1) ? call.gradIn(1).data<float>() : nullptr;
  const int64_t n_batch = shapeNumel(batch);
  // Output batches one after another (several may add into the same A or B matrix); the
  // rows inside one are independent.
  for (int64_t flat = 0; flat < n_batch; ++flat) {
    int64_t rem = flat, ao = 0, bo = 0;
    for (size_t i = rank; i-- > 0;) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      ao += idx * a_stride[i];
      bo += idx * b_stride[i];
    }
    const float* am = ad + ao * m_size * k_size;
    const float* bm = bd + bo * k_size * n_size;
    const float* gm = gy + flat * m_size * n_size;
    if (ga) {
      float* gam = ga + ao * m_size * k_size;
#pragma omp parallel for schedule(static)
      for (int64_t m = 0; m < m_size; ++m) {
        for (int64_t k = 0; k < k_size; ++k) {
          float acc = 0.0f;
          for (int64_t n = 0; n < n_size; ++n) acc += gm[m * n_size + n] * bm[k * n_size + n];
          gam[m * k_size + k] += acc;
        }
      }
    }
    if (gb) {
      float* gbm = gb + bo * k_size * n_size;
#pragma omp parallel for schedule(static)
      for (int64_t k = 0; k < k_size; ++k) {
        for (int64_t m = 0; m < m_size; ++m) {
          const float av = am[m * k_size + k];
          for (int64_t n = 0; n < n_size; ++n) gbm[k * n_size + n] += av * gm[m * n_size + n];
        }
      }
    }
  }
  return Status::ok();
}

}  // namespace hq::train
