// BatchNormalization for training: forward with batch statistics, running-stat update,
// training and inference backward (formulas in batchnorm.h).
#include "train/batchnorm.h"

#include <algorithm>
#include <cmath>

#include "ir/ops/window.h"

namespace hq::train {
namespace {

/// Layout of x [N, C, ...]: batch, channels and elements per (n, c) plane.
struct BnLayout {
  int64_t batch = 0, channels = 0, plane = 0;
  int64_t count() const { return batch * plane; }  ///< M: elements per channel
};

Status checkFloat(const Tensor& t, const char* what) {
  if (!t.defined()) return HQ_ERROR(kShape, "BatchNormalization: {} is missing", what);
  if (t.dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "BatchNormalization: {} has dtype {}; only float32 trains", what,
                    dtypeName(t.dtype()));
  }
  return Status::ok();
}

Expected<BnLayout> layoutOf(const Tensor& x) {
  HQ_RETURN_IF_ERROR(checkFloat(x, "X"));
  if (x.rank() < 2) {
    return HQ_ERROR(kShape, "BatchNormalization: X {} must have rank >= 2", shapeString(x.shape()));
  }
  BnLayout l;
  l.batch = x.dim(0);
  l.channels = x.dim(1);
  l.plane = l.batch * l.channels == 0 ? 0 : x.numel() / (l.batch * l.channels);
  return l;
}

/// Error unless t (when given) is float32 of shape `shape`.
Status checkShape(const Tensor* t, const Shape& shape, const char* what) {
  if (t == nullptr) return Status::ok();
  HQ_RETURN_IF_ERROR(checkFloat(*t, what));
  if (t->shape() != shape) {
    return HQ_ERROR(kShape, "BatchNormalization: {} has shape {}, expected {}", what,
                    shapeString(t->shape()), shapeString(shape));
  }
  return Status::ok();
}

/// Error unless t is float32 with C elements.
Status checkChannels(const Tensor* t, int64_t channels, const char* what) {
  if (t == nullptr) return Status::ok();
  HQ_RETURN_IF_ERROR(checkFloat(*t, what));
  if (t->numel() != channels) {
    return HQ_ERROR(kShape, "BatchNormalization: {} has shape {}, expected [{}]", what,
                    shapeString(t->shape()), channels);
  }
  return Status::ok();
}

/// Per channel sums of the backward: sum(g) and sum(g * xhat). Each (n, c) plane is summed
/// in float (vectorized), the planes of a channel in double: a fixed order, so the result
/// does not depend on the thread count.
void gradSums(const BnLayout& l, const float* x, const float* g, const float* mean,
              const float* inv_std, std::vector<double>* sum_g, std::vector<double>* sum_gx) {
  sum_g->assign(static_cast<size_t>(l.channels), 0.0);
  sum_gx->assign(static_cast<size_t>(l.channels), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < l.channels; ++c) {
    double sg = 0.0, sgx = 0.0;
    const float m = mean[c];
    for (int64_t n = 0; n < l.batch; ++n) {
      const int64_t off = (n * l.channels + c) * l.plane;
      const float* gp = g + off;
      const float* xp = x + off;
      float pg = 0.0f, pgx = 0.0f;
#pragma omp simd reduction(+ : pg, pgx)
      for (int64_t i = 0; i < l.plane; ++i) {
        pg += gp[i];
        pgx += gp[i] * (xp[i] - m);
      }
      sg += pg;
      sgx += pgx;
    }
    (*sum_g)[static_cast<size_t>(c)] = sg;
    (*sum_gx)[static_cast<size_t>(c)] = sgx * inv_std[c];
  }
}

void writeSums(const std::vector<double>& sums, Tensor* out) {
  if (out == nullptr) return;
  float* p = out->data<float>();
  for (size_t c = 0; c < sums.size(); ++c) p[c] = static_cast<float>(sums[c]);
}

}  // namespace

Expected<BatchNormSaved> batchNormStatistics(const Tensor& x, float epsilon) {
  HQ_ASSIGN_OR_RETURN(BnLayout l, layoutOf(x));
  BatchNormSaved s;
  s.mean.assign(static_cast<size_t>(l.channels), 0.0f);
  s.var.assign(s.mean.size(), 0.0f);
  s.invStd.assign(s.mean.size(), 0.0f);
  const float* xd = x.data<float>();
  const double count = static_cast<double>(l.count());
  // Each (n, c) plane summed in float (vectorized), the planes of a channel in double.
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < l.channels; ++c) {
    double sum = 0.0, sq = 0.0;
    for (int64_t n = 0; n < l.batch; ++n) {
      const float* p = xd + (n * l.channels + c) * l.plane;
      float ps = 0.0f;
#pragma omp simd reduction(+ : ps)
      for (int64_t i = 0; i < l.plane; ++i) ps += p[i];
      sum += ps;
    }
    const double mu = count > 0 ? sum / count : 0.0;
    const float muf = static_cast<float>(mu);
    for (int64_t n = 0; n < l.batch; ++n) {
      const float* p = xd + (n * l.channels + c) * l.plane;
      float pq = 0.0f;
#pragma omp simd reduction(+ : pq)
      for (int64_t i = 0; i < l.plane; ++i) pq += (p[i] - muf) * (p[i] - muf);
      sq += pq;
    }
    const double var = count > 0 ? sq / count : 0.0;
    s.mean[static_cast<size_t>(c)] = static_cast<float>(mu);
    s.var[static_cast<size_t>(c)] = static_cast<float>(var);
    s.invStd[static_cast<size_t>(c)] = static_cast<float>(1.0 / std::sqrt(var + epsilon));
  }
  return s;
}

Status batchNormTrainForward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                             Tensor* running_mean, Tensor* running_var,
                             const BatchNormOptions& options, Tensor& y, BatchNormSaved* saved) {
  HQ_ASSIGN_OR_RETURN(BnLayout l, layoutOf(x));
  HQ_RETURN_IF_ERROR(checkChannels(&scale, l.channels, "scale"));
  HQ_RETURN_IF_ERROR(checkChannels(&bias, l.channels, "B"));
  HQ_RETURN_IF_ERROR(checkChannels(running_mean, l.channels, "input_mean"));
  HQ_RETURN_IF_ERROR(checkChannels(running_var, l.channels, "input_var"));
  HQ_RETURN_IF_ERROR(checkShape(&y, x.shape(), "Y"));
  if (!(options.epsilon >= 0.0f) || !(options.momentum >= 0.0f && options.momentum <= 1.0f)) {
    return HQ_ERROR(kInvalidArgument,
                    "BatchNormalization: epsilon {} must be >= 0 and momentum {} in [0, 1]",
                    options.epsilon, options.momentum);
  }
  HQ_ASSIGN_OR_RETURN(BatchNormSaved s, batchNormStatistics(x, options.epsilon));
  const float* xd = x.data<float>();
  const float* sc = scale.data<float>();
  const float* b = bias.data<float>();
  float* yd = y.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < l.batch * l.channels; ++nc) {
    const size_t c = static_cast<size_t>(nc % l.channels);
    const float a = s.invStd[c] * sc[c];
    const float m = s.mean[c];
    const float bc = b[c];
    const float* p = xd + nc * l.plane;
    float* q = yd + nc * l.plane;
#pragma omp simd
    for (int64_t i = 0; i < l.plane; ++i) q[i] = (p[i] - m) * a + bc;
  }
  const double count = static_cast<double>(l.count());
  const float mom = options.momentum;
  for (size_t c = 0; c < s.mean.size(); ++c) {
    if (running_mean != nullptr) {
      float& r = running_mean->data<float>()[c];
      r = r * mom + s.mean[c] * (1.0f - mom);
    }
    if (running_var != nullptr) {
      double var = s.var[c];
      if (options.runningVariance == RunningVariance::kUnbiased && count > 1) {
        var = var * count / (count - 1.0);
      }
      float& r = running_var->data<float>()[c];
      r = r * mom + static_cast<float>(var) * (1.0f - mom);
    }
  }
  if (saved != nullptr) *saved = std::move(s);
  return Status::ok();
}

Status batchNormTrainBackward(const Tensor& x, const Tensor& scale, const BatchNormSaved& saved,
                              const Tensor& dy, Tensor* dx, Tensor* dscale, Tensor* dbias) {
  HQ_ASSIGN_OR_RETURN(BnLayout l, layoutOf(x));
  HQ_RETURN_IF_ERROR(checkChannels(&scale, l.channels, "scale"));
  HQ_RETURN_IF_ERROR(checkShape(&dy, x.shape(), "dY"));
  HQ_RETURN_IF_ERROR(checkShape(dx, x.shape(), "dX"));
  HQ_RETURN_IF_ERROR(checkChannels(dscale, l.channels, "dscale"));
  HQ_RETURN_IF_ERROR(checkChannels(dbias, l.channels, "dB"));
  if (static_cast<int64_t>(saved.mean.size()) != l.channels ||
      saved.invStd.size() != saved.mean.size()) {
    return HQ_ERROR(kShape, "BatchNormalization: saved statistics have {} channels, expected {}",
                    saved.mean.size(), l.channels);
  }
  const float* xd = x.data<float>();
  const float* g = dy.data<float>();
  std::vector<double> sum_g, sum_gx;
  gradSums(l, xd, g, saved.mean.data(), saved.invStd.data(), &sum_g, &sum_gx);
  if (dx != nullptr) {
    const float* sc = scale.data<float>();
    float* d = dx->data<float>();
    const double count = static_cast<double>(l.count());
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < l.batch * l.channels; ++nc) {
      // dx = k (M g - sum_g - xhat sum_gx), k = scale inv_std / M, xhat = (x - mean) inv_std:
      // dx = a g + b (x - mean) + e with the per-channel factors in double, the rest in float.
      const size_t c = static_cast<size_t>(nc % l.channels);
      const double inv = saved.invStd[c];
      const double k = sc[c] * inv / count;
      const float a = static_cast<float>(k * count);
      const float b = static_cast<float>(-k * inv * sum_gx[c]);
      const float e = static_cast<float>(-k * sum_g[c]);
      const float m = saved.mean[c];
      const int64_t off = nc * l.plane;
      const float* gp = g + off;
      const float* xp = xd + off;
      float* dp = d + off;
#pragma omp simd
      for (int64_t i = 0; i < l.plane; ++i) dp[i] = a * gp[i] + b * (xp[i] - m) + e;
    }
  }
  writeSums(sum_gx, dscale);
  writeSums(sum_g, dbias);
  return Status::ok();
}

Status batchNormEvalBackward(const Tensor& x, const Tensor& scale, const Tensor& mean,
                             const Tensor& var, float epsilon, const Tensor& dy, Tensor* dx,
                             Tensor* dscale, Tensor* dbias) {
  HQ_ASSIGN_OR_RETURN(BnLayout l, layoutOf(x));
  HQ_RETURN_IF_ERROR(checkChannels(&scale, l.channels, "scale"));
  HQ_RETURN_IF_ERROR(checkChannels(&mean, l.channels, "input_mean"));
  HQ_RETURN_IF_ERROR(checkChannels(&var, l.channels, "input_var"));
  HQ_RETURN_IF_ERROR(checkShape(&dy, x.shape(), "dY"));
  HQ_RETURN_IF_ERROR(checkShape(dx, x.shape(), "dX"));
  HQ_RETURN_IF_ERROR(checkChannels(dscale, l.channels, "dscale"));
  HQ_RETURN_IF_ERROR(checkChannels(dbias, l.channels, "dB"));
  std::vector<float> inv_std(static_cast<size_t>(l.channels));
  for (size_t c = 0; c < inv_std.size(); ++c) {
    const double v = static_cast<double>(var.data<float>()[c]) + epsilon;
    if (!(v > 0.0)) {
      return HQ_ERROR(kData, "BatchNormalization: channel {}: var + epsilon = {} must be > 0", c,
                      v);
    }
    inv_std[c] = static_cast<float>(1.0 / std::sqrt(v));
  }
  const float* xd = x.data<float>();
  const float* g = dy.data<float>();
  if (dscale != nullptr || dbias != nullptr) {
    std::vector<double> sum_g, sum_gx;
    gradSums(l, xd, g, mean.data<float>(), inv_std.data(), &sum_g, &sum_gx);
    writeSums(sum_gx, dscale);
    writeSums(sum_g, dbias);
  }
  if (dx != nullptr) {
    const float* sc = scale.data<float>();
    float* d = dx->data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < l.batch * l.channels; ++nc) {
      const size_t c = static_cast<size_t>(nc % l.channels);
      const float a = sc[c] * inv_std[c];
      const int64_t off = nc * l.plane;
      for (int64_t i = 0; i < l.plane; ++i) d[off + i] = g[off + i] * a;
    }
  }
  return Status::ok();
}

Status backwardBatchNormalization(const BackwardCall& call) {
  for (size_t i = 0; i < 5; ++i) {
    if (!call.hasIn(i)) return call.error(ErrorCode::kShape, "input {} is missing", i);
  }
  HQ_ASSIGN_OR_RETURN(float eps, ops::floatAttr(call.node, "epsilon", 1e-5f));
  HQ_ASSIGN_OR_RETURN(int64_t training, ops::intAttr(call.node, "training_mode", 0));
  for (size_t i = 3; i < 5; ++i) {
    if (!call.wantsGrad(i)) continue;
    Tensor& g = call.gradIn(i);
    if (g.dtype() != DType::kFloat32) {
      return call.error(ErrorCode::kShape, "gradient of input {} must be float32", i);
    }
    std::fill(g.data<float>(), g.data<float>() + g.numel(), 0.0f);
  }
  Tensor* dx = call.wantsGrad(0) ? &call.gradIn(0) : nullptr;
  Tensor* ds = call.wantsGrad(1) ? &call.gradIn(1) : nullptr;
  Tensor* db = call.wantsGrad(2) ? &call.gradIn(2) : nullptr;
  const Tensor& x = call.in(0);
  Tensor zero;
  const Tensor* dy = call.hasGradOut(0) ? &call.gradOut(0) : nullptr;
  if (dy == nullptr) {  // no gradient flows: all zero
    if (x.dtype() != DType::kFloat32) {
      return call.error(ErrorCode::kUnsupported, "X has dtype {}; only float32 trains",
                        dtypeName(x.dtype()));
    }
    zero = Tensor(DType::kFloat32, x.shape());
    dy = &zero;
  }
  Status s;
  if (training != 0) {
    auto saved = batchNormStatistics(x, eps);
    s = saved.isOk() ? batchNormTrainBackward(x, call.in(1), *saved, *dy, dx, ds, db)
                     : saved.status();
  } else {
    s = batchNormEvalBackward(x, call.in(1), call.in(3), call.in(4), eps, *dy, dx, ds, db);
  }
  if (!s.isOk()) return call.error(s.code(), "{}", s.message());
  return Status::ok();
}

}  // namespace hq::train
