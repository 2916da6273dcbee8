// Reference kernels: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization (float32, NCHW).
// Plain loops, written to be obviously right (they are the test oracle for the fast
// kernels), with a cache-friendly order and OpenMP over (batch, output channel).
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernels/gemm_geometry.h"
#include "runtime/kernels/reference_kernels.h"
#include "runtime/kernels/window3d.h"

namespace hq::kernels {

namespace {
/// Every present input and output is float32 (shape functions reject the rest; this
/// guards direct calls).
Status requireF32(const KernelCall& call) {
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    if (call.has(i) && call.in(i).dtype() != DType::kFloat32) {
      return call.error(ErrorCode::kUnsupported, "input {} has dtype {}; only float32 is supported",
                        i, dtypeName(call.in(i).dtype()));
    }
  }
  for (size_t i = 0; i < call.outputs.size(); ++i) {
    if (call.hasOut(i) && call.out(i).dtype() != DType::kFloat32) {
      return call.error(ErrorCode::kInternal, "output {} has dtype {}, expected float32", i,
                        dtypeName(call.out(i).dtype()));
    }
  }
  return Status::ok();
}

Status checkOutShape(const KernelCall& call, const Shape& expected) {
  if (call.out(0).shape() != expected) {
    return call.error(ErrorCode::kInternal, "output buffer has shape {}, expected {}",
                      shapeString(call.out(0).shape()), shapeString(expected));
  }
  return Status::ok();
}

/// Shape checks shared by Conv and ConvTranspose, then the resolved 3-D window.
Expected<Window3d> convWindow(const KernelCall& call, bool transpose, int64_t* group) {
  HQ_RETURN_IF_ERROR(requireF32(call));
  if (!call.has(0) || !call.has(1))
    return call.error(ErrorCode::kShape, "inputs X and W are required");
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  HQ_ASSIGN_OR_RETURN(ops::Window win,
                      ops::convWindow(call.node, x.shape(), w.shape(), transpose, group));
  const int64_t g = *group;
  const int64_t c_out = transpose ? w.dim(1) * g : w.dim(0);
  if (call.has(2) && (call.in(2).rank() != 1 || call.in(2).dim(0) != c_out)) {
    return call.error(ErrorCode::kShape, "bias B has shape {}, expected [{}]",
                      shapeString(call.in(2).shape()), c_out);
  }
  Shape expected = {x.dim(0), c_out};
  expected.insert(expected.end(), win.output.begin(), win.output.end());
  HQ_RETURN_IF_ERROR(checkOutShape(call, expected));
  return toWindow3d(win);
}
}  // namespace

Status refConv(const KernelCall& call) {
  int64_t group = 1;
  HQ_ASSIGN_OR_RETURN(Window3d g, convWindow(call, /*transpose=*/false, &group));
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = call.has(2) ? call.in(2).data<float>() : nullptr;
  float* yd = call.out(0).data<float>();
  const int64_t n_batch = x.dim(0), c_in = x.dim(1), c_out = w.dim(0);
  const int64_t cpg = w.dim(1), mpg = c_out / group;  // channels per group (in, out)
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane(), kvol = g.kernelVolume();

#pragma omp parallel for schedule(static)
  for (int64_t nm = 0; nm < n_batch * c_out; ++nm) {
    const int64_t n = nm / c_out, m = nm % c_out, grp = m / mpg;
    float* yp = yd + nm * out_plane;
    const float bias = bd ? bd[m] : 0.0f;
    for (int64_t i = 0; i < out_plane; ++i) yp[i] = bias;
    for (int64_t ic = 0; ic < cpg; ++ic) {
      const float* xp = xd + (n * c_in + grp * cpg + ic) * in_plane;
      const float* wp = wd + (m * cpg + ic) * kvol;
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        for (int64_t kh = 0; kh < g.k[1]; ++kh) {
          for (int64_t kw = 0; kw < g.k[2]; ++kw) {
            const float wv = wp[(kd * g.k[1] + kh) * g.k[2] + kw];
            const int64_t off_w = kw * g.d[2] - g.padBegin[2];
            int64_t lo, hi;
            validRange(g.out[2], g.s[2], off_w, g.in[2], &lo, &hi);
            for (int64_t od = 0; od < g.out[0]; ++od) {
              const int64_t id = od * g.s[0] + kd * g.d[0] - g.padBegin[0];
              if (id < 0 || id >= g.in[0]) continue;
              for (int64_t oh = 0; oh < g.out[1]; ++oh) {
                const int64_t ih = oh * g.s[1] + kh * g.d[1] - g.padBegin[1];
                if (ih < 0 || ih >= g.in[1]) continue;
                const float* xr = xp + (id * g.in[1] + ih) * g.in[2];
                float* yr = yp + (od * g.out[1] + oh) * g.out[2];
                for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * g.s[2] + off_w];
              }
            }
          }
        }
      }
    }
  }
  return Status::ok();
}

Status refConvTranspose(const KernelCall& call) {
  int64_t group = 1;
  HQ_ASSIGN_OR_RETURN(Window3d g, convWindow(call, /*transpose=*/true, &group));
  const Tensor& x = call.in(0);
  const Tensor& w = call.in(1);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = call.has(2) ? call.in(2).data<float>() : nullptr;
  float* yd = call.out(0).data<float>();
  const int64_t n_batch = x.dim(0), c_in = x.dim(1), mpg = w.dim(1);
  const int64_t c_out = mpg * group, cpg = c_in / group;
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane(), kvol = g.kernelVolume();

  // Each output channel plane is owned by one thread; input pixels scatter into it:
  // y[i * s + k * d - pad_begin] += x[i] * w[k].
#pragma omp parallel for schedule(static)
  for (int64_t nm = 0; nm < n_batch * c_out; ++nm) {
    const int64_t n = nm / c_out, m = nm % c_out, grp = m / mpg, oc = m % mpg;
    float* yp = yd + nm * out_plane;
    const float bias = bd ? bd[m] : 0.0f;
    for (int64_t i = 0; i < out_plane; ++i) yp[i] = bias;
    for (int64_t ic = 0; ic < cpg; ++ic) {
      const int64_t c = grp * cpg + ic;
      const float* xp = xd + (n * c_in + c) * in_plane;
      const float* wp = wd + (c * mpg + oc) * kvol;
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        for (int64_t kh = 0; kh < g.k[1]; ++kh) {
          for (int64_t kw = 0; kw < g.k[2]; ++kw) {
            const float wv = wp[(kd * g.k[1] + kh) * g.k[2] + kw];
            const int64_t off_w = kw * g.d[2] - g.padBegin[2];
            int64_t lo, hi;
            validRange(g.in[2], g.s[2], off_w, g.out[2], &lo, &hi);
            for (int64_t id = 0; id < g.in[0]; ++id) {
              const int64_t od = id * g.s[0] + kd * g.d[0] - g.padBegin[0];
              if (od < 0 || od >= g.out[0]) continue;
              for (int64_t ih = 0; ih < g.in[1]; ++ih) {
                const int64_t oh = ih * g.s[1] + kh * g.d[1] - g.padBegin[1];
                if (oh < 0 || oh >= g.out[1]) continue;
                const float* xr = xp + (id * g.in[1] + ih) * g.in[2];
                float* yr = yp + (od * g.out[1] + oh) * g.out[2];
                for (int64_t iw = lo; iw < hi; ++iw) yr[iw * g.s[2] + off_w] += wv * xr[iw];
              }
            }
          }
        }
      }
    }
  }
  return Status::ok();
}

Status refGemm(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireF32(call));
  const Tensor& a = call.in(0);
  const Tensor& b = call.in(1);
  HQ_ASSIGN_OR_RETURN(const GemmGeometry g,
                      gemmGeometry(call.node, a.shape(), b.shape(),
                                   call.has(2) ? &call.in(2).shape() : nullptr,
                                   call.node.describe() + ": "));
  const int64_t m_size = g.m, k_size = g.k, n_size = g.n;
  const float alpha = g.alpha, beta = g.beta;
  HQ_RETURN_IF_ERROR(checkOutShape(call, {m_size, n_size}));
  // C (optional) broadcasts to [M, N]: element (m, n) is at m * c_sm + n * c_sn.
  const float* cd = call.has(2) ? call.in(2).data<float>() : nullptr;
  const int64_t c_sm = g.cM, c_sn = g.cN;
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  float* yd = call.out(0).data<float>();
  // transB: copy B^T once so the inner loop runs along contiguous rows of [K, N].
  std::vector<float> b_t;
  if (g.transB) {
    b_t.resize(static_cast<size_t>(k_size * n_size));
    for (int64_t n = 0; n < n_size; ++n) {
      for (int64_t k = 0; k < k_size; ++k)
        b_t[static_cast<size_t>(k * n_size + n)] = bd[n * k_size + k];
    }
    bd = b_t.data();
  }
  // A(m, k) is at m * a_sm + k * a_sk.
  const int64_t a_sm = g.aM, a_sk = g.aK;

#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < m_size; ++m) {
    float* yr = yd + m * n_size;
    for (int64_t n = 0; n < n_size; ++n) yr[n] = 0.0f;
    for (int64_t k = 0; k < k_size; ++k) {
      const float av = ad[m * a_sm + k * a_sk];
      const float* br = bd + k * n_size;
      for (int64_t n = 0; n < n_size; ++n) yr[n] += av * br[n];
    }
    for (int64_t n = 0; n < n_size; ++n) {
      yr[n] = alpha * yr[n] + (cd ? beta * cd[m * c_sm + n * c_sn] : 0.0f);
    }
  }
  return Status::ok();
}

Status refMatMul(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireF32(call));
  Shape as = call.in(0).shape(), bs = call.in(1).shape();
  if (as.empty() || bs.empty()) {
    return call.error(ErrorCode::kShape, "operands must have rank >= 1, got {} and {}",
                      shapeString(as), shapeString(bs));
  }
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m_size = as[as.size() - 2], k_size = as.back(), n_size = bs.back();
  if (bs[bs.size() - 2] != k_size) {
    return call.error(ErrorCode::kShape, "inner dimensions differ: A {} and B {}",
                      shapeString(call.in(0).shape()), shapeString(call.in(1).shape()));
  }
  // Broadcast the batch dims; offsets (in matrices) of each output batch into A and B.
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  Shape batch(rank);
  std::vector<int64_t> a_stride(rank, 0), b_stride(rank, 0);
  int64_t a_acc = 1, b_acc = 1;
  for (size_t i = rank; i-- > 0;) {
    const size_t ai = i + as.size() - 2 - rank, bi = i + bs.size() - 2 - rank;
    const int64_t da = i >= rank - (as.size() - 2) ? as[ai] : 1;
    const int64_t db = i >= rank - (bs.size() - 2) ? bs[bi] : 1;
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
  const int64_t n_batch = shapeNumel(batch);
  if (call.out(0).numel() != n_batch * m_size * n_size) {
    return call.error(ErrorCode::kInternal, "output buffer {} does not hold {} x [{}, {}]",
                      shapeString(call.out(0).shape()), shapeString(batch), m_size, n_size);
  }
  std::vector<int64_t> a_off(static_cast<size_t>(n_batch)), b_off(static_cast<size_t>(n_batch));
  for (int64_t flat = 0; flat < n_batch; ++flat) {
    int64_t rem = flat, ao = 0, bo = 0;
    for (size_t i = rank; i-- > 0;) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      ao += idx * a_stride[i];
      bo += idx * b_stride[i];
    }
    a_off[static_cast<size_t>(flat)] = ao;
    b_off[static_cast<size_t>(flat)] = bo;
  }
  const float* ad = call.in(0).data<float>();
  const float* bd = call.in(1).data<float>();
  float* yd = call.out(0).data<float>();

#pragma omp parallel for schedule(static)
  for (int64_t bm = 0; bm < n_batch * m_size; ++bm) {
    const int64_t bi = bm / m_size, m = bm % m_size;
    const float* ar = ad + a_off[static_cast<size_t>(bi)] * m_size * k_size + m * k_size;
    const float* bp = bd + b_off[static_cast<size_t>(bi)] * k_size * n_size;
    float* yr = yd + bm * n_size;
    for (int64_t n = 0; n < n_size; ++n) yr[n] = 0.0f;
    for (int64_t k = 0; k < k_size; ++k) {
      const float av = ar[k];
      const float* br = bp + k * n_size;
      for (int64_t n = 0; n < n_size; ++n) yr[n] += av * br[n];
    }
  }
  return Status::ok();
}

Status refBatchNormalization(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(requireF32(call));
  for (size_t i = 0; i < 5; ++i) {
    if (!call.has(i)) return call.error(ErrorCode::kShape, "input {} is required", i);
  }
  const Tensor& x = call.in(0);
  if (x.rank() < 2) {
    return call.error(ErrorCode::kShape, "X {} must have rank >= 2", shapeString(x.shape()));
  }
  const int64_t n_batch = x.dim(0), channels = x.dim(1);
  const int64_t plane = x.numel() / std::max<int64_t>(1, n_batch * channels);
  for (size_t i = 1; i < 5; ++i) {
    if (call.in(i).numel() != channels) {
      return call.error(ErrorCode::kShape, "input {} has shape {}, expected [{}]", i,
                        shapeString(call.in(i).shape()), channels);
    }
  }
  HQ_RETURN_IF_ERROR(checkOutShape(call, x.shape()));
  HQ_ASSIGN_OR_RETURN(float eps, ops::floatAttr(call.node, "epsilon", 1e-5f));
  HQ_ASSIGN_OR_RETURN(float momentum, ops::floatAttr(call.node, "momentum", 0.9f));
  HQ_ASSIGN_OR_RETURN(int64_t training, ops::intAttr(call.node, "training_mode", 0));
  const float* xd = x.data<float>();
  const float* scale = call.in(1).data<float>();
  const float* shift = call.in(2).data<float>();
  std::vector<float> mean(call.in(3).data<float>(), call.in(3).data<float>() + channels);
  std::vector<float> var(call.in(4).data<float>(), call.in(4).data<float>() + channels);
  float* yd = call.out(0).data<float>();

  if (training != 0) {
    // Batch statistics (population variance) over N and the spatial dims; the optional
    // outputs 1 and 2 get the running averages.
    std::vector<float> batch_mean(static_cast<size_t>(channels)), batch_var(batch_mean.size());
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0.0, sq = 0.0;
      for (int64_t n = 0; n < n_batch; ++n) {
        const float* p = xd + (n * channels + c) * plane;
        for (int64_t i = 0; i < plane; ++i) sum += p[i];
      }
      const double count = static_cast<double>(n_batch * plane);
      const double mu = count > 0 ? sum / count : 0.0;
      for (int64_t n = 0; n < n_batch; ++n) {
        const float* p = xd + (n * channels + c) * plane;
        for (int64_t i = 0; i < plane; ++i) sq += (p[i] - mu) * (p[i] - mu);
      }
      batch_mean[static_cast<size_t>(c)] = static_cast<float>(mu);
      batch_var[static_cast<size_t>(c)] = static_cast<float>(count > 0 ? sq / count : 0.0);
    }
    for (size_t o = 1; o <= 2; ++o) {
      if (!call.hasOut(o)) continue;
      const std::vector<float>& running = o == 1 ? mean : var;
      const std::vector<float>& current = o == 1 ? batch_mean : batch_var;
      float* out = call.out(o).data<float>();
      for (size_t c = 0; c < running.size(); ++c) {
        out[c] = running[c] * momentum + current[c] * (1.0f - momentum);
      }
    }
    mean = batch_mean;
    var = batch_var;
  }

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < n_batch * channels; ++nc) {
    const size_t c = static_cast<size_t>(nc % channels);
    const float inv_std = 1.0f / std::sqrt(var[c] + eps);
    const float* p = xd + nc * plane;
    float* q = yd + nc * plane;
    for (int64_t i = 0; i < plane; ++i) q[i] = scale[c] * (p[i] - mean[c]) * inv_std + shift[c];
  }
  return Status::ok();
}

}  // namespace hq::kernels
