// Reference kernels: pooling (NCHW, 1-D to 3-D windows). MaxPool handles float32, uint8
// and int8 and the optional Indices output; the averages are float32.
#include <algorithm>
#include <limits>

#include "runtime/kernels/reference_kernels.h"
#include "runtime/kernels/window3d.h"

namespace hq::kernels {

namespace {
/// Resolve the window of MaxPool / AveragePool for the call's input shape and check the
/// output buffer against it.
Expected<Window3d> poolWindow(const KernelCall& call, bool is_max) {
  if (!call.has(0)) return call.error(ErrorCode::kShape, "input X is required");
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(ops::Window win, ops::poolWindow(call.node, x.shape(), is_max));
  Shape expected = {x.dim(0), x.dim(1)};
  expected.insert(expected.end(), win.output.begin(), win.output.end());
  for (size_t o = 0; o < 2; ++o) {
    if (call.hasOut(o) && call.out(o).shape() != expected) {
      return call.error(ErrorCode::kInternal, "output {} buffer has shape {}, expected {}", o,
                        shapeString(call.out(o).shape()), shapeString(expected));
    }
  }
  return toWindow3d(win);
}

template <typename T>
void maxPool(const Tensor& x, Tensor& y, Tensor* indices, const Window3d& g, bool column_major) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  int64_t* id_out = indices ? indices->data<int64_t>() : nullptr;

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* xp = xd + nc * in_plane;
    T* yp = yd + nc * out_plane;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          T best = std::numeric_limits<T>::lowest();
          int64_t best_at[3] = {-1, -1, -1};
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = od * g.s[0] + kd * g.d[0] - g.padBegin[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = oh * g.s[1] + kh * g.d[1] - g.padBegin[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              const T* xr = xp + (id * g.in[1] + ih) * g.in[2];
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const int64_t iw = ow * g.s[2] + kw * g.d[2] - g.padBegin[2];
                if (iw < 0 || iw >= g.in[2]) continue;
                if (best_at[0] < 0 || xr[iw] > best) {
                  best = xr[iw];
                  best_at[0] = id;
                  best_at[1] = ih;
                  best_at[2] = iw;
                }
              }
            }
          }
          const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
          yp[o] = best;
          if (id_out) {
            // Index into the whole flattened X; storage_order=1 orders the spatial dims
            // column-major (first spatial dim fastest).
            int64_t spatial = -1;
            if (best_at[0] >= 0) {
              spatial = column_major ? best_at[0] + (best_at[1] + best_at[2] * g.in[1]) * g.in[0]
                                     : (best_at[0] * g.in[1] + best_at[1]) * g.in[2] + best_at[2];
            }
            id_out[nc * out_plane + o] = spatial < 0 ? -1 : nc * in_plane + spatial;
          }
        }
      }
    }
  }
}

/// Sum (true) or max (false) over each whole N, C plane.
Status globalPool(const KernelCall& call, bool average) {
  if (!call.has(0)) return call.error(ErrorCode::kShape, "input X is required");
  const Tensor& x = call.in(0);
  if (x.dtype() != DType::kFloat32 || x.rank() < 3) {
    return call.error(ErrorCode::kUnsupported, "X must be float32 with rank >= 3, got {} {}",
                      dtypeName(x.dtype()), shapeString(x.shape()));
  }
  const int64_t planes = x.dim(0) * x.dim(1);
  if (call.out(0).numel() != planes) {
    return call.error(ErrorCode::kInternal, "output buffer has shape {}, expected {} elements",
                      shapeString(call.out(0).shape()), planes);
  }
  const int64_t plane = planes > 0 ? x.numel() / planes : 0;
  const float* xd = x.data<float>();
  float* yd = call.out(0).data<float>();

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* p = xd + nc * plane;
    if (average) {
      double sum = 0.0;
      for (int64_t i = 0; i < plane; ++i) sum += p[i];
      yd[nc] = static_cast<float>(sum / static_cast<double>(plane));
    } else {
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < plane; ++i) best = p[i] > best ? p[i] : best;
      yd[nc] = best;
    }
  }
  return Status::ok();
}
}  // namespace

Status refMaxPool(const KernelCall& call) {
  HQ_ASSIGN_OR_RETURN(Window3d g, poolWindow(call, /*is_max=*/true));
  HQ_ASSIGN_OR_RETURN(int64_t storage_order, ops::intAttr(call.node, "storage_order", 0));
  const Tensor& x = call.in(0);
  Tensor* indices = call.hasOut(1) ? &call.out(1) : nullptr;
  if (indices && indices->dtype() != DType::kInt64) {
    return call.error(ErrorCode::kInternal, "Indices output has dtype {}, expected int64",
                      dtypeName(indices->dtype()));
  }
  if (x.dtype() != call.out(0).dtype()) {
    return call.error(ErrorCode::kInternal, "output dtype {} differs from input dtype {}",
                      dtypeName(call.out(0).dtype()), dtypeName(x.dtype()));
  }
  const bool column_major = storage_order == 1;
  switch (x.dtype()) {
    case DType::kFloat32: maxPool<float>(x, call.out(0), indices, g, column_major); break;
    case DType::kUInt8: maxPool<uint8_t>(x, call.out(0), indices, g, column_major); break;
    case DType::kInt8: maxPool<int8_t>(x, call.out(0), indices, g, column_major); break;
    default:
      return call.error(ErrorCode::kUnsupported,
                        "input X has dtype {}; supported: float32, uint8, int8",
                        dtypeName(x.dtype()));
  }
  return Status::ok();
}

Status refAveragePool(const KernelCall& call) {
  HQ_ASSIGN_OR_RETURN(Window3d g, poolWindow(call, /*is_max=*/false));
  HQ_ASSIGN_OR_RETURN(int64_t include_pad, ops::intAttr(call.node, "count_include_pad", 0));
  const Tensor& x = call.in(0);
  if (x.dtype() != DType::kFloat32 || call.out(0).dtype() != DType::kFloat32) {
    return call.error(ErrorCode::kUnsupported, "input X has dtype {}; only float32 is supported",
                      dtypeName(x.dtype()));
  }
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  const float* xd = x.data<float>();
  float* yd = call.out(0).data<float>();

#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* xp = xd + nc * in_plane;
    float* yp = yd + nc * out_plane;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const AverageSpan sd = averageSpan(g, 0, od);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const AverageSpan sh = averageSpan(g, 1, oh);
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const AverageSpan sw = averageSpan(g, 2, ow);
          float sum = 0.0f;
          for (int64_t id = sd.lo; id < sd.hi; ++id) {
            for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
              const float* xr = xp + (id * g.in[1] + ih) * g.in[2];
              for (int64_t iw = sw.lo; iw < sw.hi; ++iw) sum += xr[iw];
            }
          }
          const int64_t count = averageCount(sd, sh, sw, include_pad);
          yp[(od * g.out[1] + oh) * g.out[2] + ow] =
              count > 0 ? sum / static_cast<float>(count) : 0.0f;
        }
      }
    }
  }
  return Status::ok();
}

Status refGlobalAveragePool(const KernelCall& call) { return globalPool(call, /*average=*/true); }

Status refGlobalMaxPool(const KernelCall& call) { return globalPool(call, /*average=*/false); }

}  // namespace hq::kernels
