// Dropout for training: seeded mask, scaling by 1 / (1 - ratio), backward through the mask.
#include "train/dropout.h"

#include <algorithm>
#include <cstring>

#include "data/random.h"

namespace hq::train {
namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment

Status checkRatio(float ratio) {
  if (!(ratio >= 0.0f && ratio <= 1.0f)) {
    return HQ_ERROR(kInvalidArgument, "Dropout: ratio {} must be in [0, 1]", ratio);
  }
  return Status::ok();
}

Status checkLike(const Tensor& t, DType dtype, const Shape& shape, const char* what) {
  if (t.dtype() != dtype || t.shape() != shape) {
    return HQ_ERROR(kShape, "Dropout: {} must be {} {}, got {} {}", what, dtypeName(dtype),
                    shapeString(shape), dtypeName(t.dtype()), shapeString(t.shape()));
  }
  return Status::ok();
}

float keepScale(float ratio) { return ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f; }

}  // namespace

float dropoutUniform(uint64_t seed, int64_t i) {
  // The (i+1)-th next() of SplitMix64(seed) is the first next() from seed + i * gamma.
  SplitMix64 g(seed + static_cast<uint64_t>(i) * kGamma);
  return g.uniform01();
}

Status dropoutForward(const Tensor& x, float ratio, bool training, uint64_t seed, Tensor& y,
                      Tensor* mask) {
  HQ_RETURN_IF_ERROR(checkLike(x, DType::kFloat32, x.shape(), "X"));
  HQ_RETURN_IF_ERROR(checkRatio(ratio));
  HQ_RETURN_IF_ERROR(checkLike(y, DType::kFloat32, x.shape(), "output"));
  if (mask != nullptr) HQ_RETURN_IF_ERROR(checkLike(*mask, DType::kBool, x.shape(), "mask"));
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  bool* m = mask != nullptr ? mask->data<bool>() : nullptr;
  const int64_t n = x.numel();
  if (!training) {
    if (yd != xd) std::memcpy(yd, xd, static_cast<size_t>(n) * sizeof(float));
    if (m != nullptr) std::fill(m, m + n, true);
    return Status::ok();
  }
  const float s = keepScale(ratio);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = dropoutUniform(seed, i) >= ratio;
    yd[i] = keep ? xd[i] * s : 0.0f;
    if (m != nullptr) m[i] = keep;
  }
  return Status::ok();
}

Status dropoutBackward(const Tensor& dy, const Tensor* mask, float ratio, bool training,
                       Tensor& dx) {
  HQ_RETURN_IF_ERROR(checkLike(dy, DType::kFloat32, dy.shape(), "dY"));
  HQ_RETURN_IF_ERROR(checkRatio(ratio));
  HQ_RETURN_IF_ERROR(checkLike(dx, DType::kFloat32, dy.shape(), "dX"));
  const float* g = dy.data<float>();
  float* d = dx.data<float>();
  const int64_t n = dy.numel();
  if (!training) {
    if (d != g) std::memcpy(d, g, static_cast<size_t>(n) * sizeof(float));
    return Status::ok();
  }
  if (mask == nullptr)
    return HQ_ERROR(kInvalidArgument, "Dropout: training backward needs the mask");
  HQ_RETURN_IF_ERROR(checkLike(*mask, DType::kBool, dy.shape(), "mask"));
  const bool* m = mask->data<bool>();
  const float s = keepScale(ratio);
  for (int64_t i = 0; i < n; ++i) d[i] = m[i] ? g[i] * s : 0.0f;
  return Status::ok();
}

Status backwardDropout(const BackwardCall& call) {
  if (!call.wantsGrad(0)) return Status::ok();
  if (!call.hasIn(0)) return call.error(ErrorCode::kShape, "input 0 is missing");
  Tensor& dx = call.gradIn(0);
  const float ratio = call.hasIn(1) && call.in(1).numel() == 1
                          ? static_cast<float>(call.in(1).toDouble()[0])
                          : 0.5f;
  const bool training =
      call.hasIn(2) && call.in(2).numel() == 1 && call.in(2).toInt64()[0] != 0 && ratio != 0.0f;
  Tensor zero;
  const Tensor* dy = call.hasGradOut(0) ? &call.gradOut(0) : nullptr;
  if (dy == nullptr) {
    zero = Tensor(DType::kFloat32, call.in(0).shape());
    dy = &zero;
  }
  const Tensor* mask = call.outputs.size() > 1 ? call.outputs[1] : nullptr;
  if (training && mask == nullptr) {
    return call.error(ErrorCode::kInvalidArgument,
                      "training-mode backward needs the mask (output 1) of the forward");
  }
  Status s = dropoutBackward(*dy, mask, ratio, training, dx);
  if (!s.isOk()) return call.error(s.code(), "{}", s.message());
  return Status::ok();
}

}  // namespace hq::train
