// Backward of the data-movement family: Concat, Split, Slice, Flatten, Reshape, Transpose,
// Squeeze, Unsqueeze, Identity, Resize (nearest). Each routes gradient elements back to the
// input elements the forward (runtime/kernels/tensor_ops.cpp, resize.cpp) copied them from;
// Resize nearest sums the gradients of every output that read the same input element.
// Shape, axes, roi, scales and sizes inputs get no gradient.
#include <cstring>
#include <vector>

#include "ir/ops/resize.h"
#include "ir/ops/tensor_ops.h"
#include "runtime/kernels/resize_taps.h"
#include "train/backward/backward_fns.h"
#include "train/backward/grad_util.h"

namespace hq::train {

namespace {

using detail::checkFloatInput;
using detail::checkGradIn;
using detail::gradOutData;

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

Shape contiguousStrides(const Shape& s) {
  Shape strides(s.size());
  int64_t st = 1;
  for (size_t i = s.size(); i-- > 0;) {
    strides[i] = st;
    st *= s[i];
  }
  return strides;
}

Expected<int64_t> normalizedAxis(const BackwardCall& call, int64_t rank, int64_t dflt) {
  int64_t axis = call.attrs().getInt("axis", dflt);
  if (axis < -rank || axis >= rank) {
    return call.error(ErrorCode::kShape, "axis {} is out of range for rank {}", axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

/// dx = dy reshaped (the reshaping family): the gradient of output 0 must have the forward
/// output's element count; its elements are copied in order.
Status copyBackward(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  for (size_t i = 1; i < call.gradInputs.size(); ++i) {
    if (call.wantsGrad(i)) {
      return call.error(ErrorCode::kShape, "input {} (a shape or axes) has no gradient", i);
    }
  }
  if (!call.wantsGrad(0)) return Status::ok();
  Tensor& dx = call.gradIn(0);
  if (!call.hasGradOut(0)) {
    detail::zeroGradIn(call, 0);
    return Status::ok();
  }
  const Tensor& dy = call.gradOut(0);
  const bool shape_ok =
      call.outputs.empty() || call.outputs[0] == nullptr || dy.shape() == call.out(0).shape();
  if (dy.dtype() != DType::kFloat32 || dy.numel() != dx.numel() || !shape_ok) {
    return call.error(ErrorCode::kShape,
                      "gradient of output 0 must be float32 with {} elements{}, got {} {}",
                      dx.numel(),
                      call.outputs.empty() || call.outputs[0] == nullptr
                          ? std::string()
                          : " and shape " + shapeString(call.out(0).shape()),
                      dtypeName(dy.dtype()), shapeString(dy.shape()));
  }
  if (dx.nbytes()) std::memcpy(dx.raw(), dy.raw(), dx.nbytes());
  return Status::ok();
}

}  // namespace

// Concat: input i's gradient is its block of dy along the axis.
Status backwardConcat(const BackwardCall& call) {
  if (call.inputs.empty()) return call.error(ErrorCode::kShape, "no inputs");
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    HQ_RETURN_IF_ERROR(checkFloatInput(call, i));
    HQ_RETURN_IF_ERROR(checkGradIn(call, i));
  }
  const Tensor& x0 = call.in(0);
  HQ_ASSIGN_OR_RETURN(const int64_t axis, normalizedAxis(call, x0.rank(), 0));
  Shape out = x0.shape();
  out[axis] = 0;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const Tensor& x = call.in(i);
    bool fits = x.rank() == x0.rank();
    for (int64_t d = 0; fits && d < x.rank(); ++d) fits = d == axis || x.dim(d) == x0.dim(d);
    if (!fits) {
      return call.error(ErrorCode::kShape, "input {} {} does not concatenate with input 0 {}", i,
                        shapeString(x.shape()), shapeString(x0.shape()));
    }
    out[axis] += x.dim(axis);
  }
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, out));
  const int64_t outer = product(out, 0, static_cast<size_t>(axis));
  const int64_t inner = product(out, static_cast<size_t>(axis) + 1, out.size());
  const int64_t out_row = out[axis] * inner;
  int64_t col = 0;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const int64_t chunk = call.in(i).dim(axis) * inner;
    if (call.wantsGrad(i)) {
      float* dx = call.gradIn(i).data<float>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < chunk; ++j) dx[o * chunk + j] = dy ? dy[o * out_row + col + j] : 0;
      }
    }
    col += chunk;
  }
  return Status::ok();
}

// Split: dx is the concatenation of the outputs' gradients along the axis (zero for an
// output with none). The parts' sizes are the forward outputs' dims along the axis.
Status backwardSplit(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  if (call.wantsGrad(1)) return call.error(ErrorCode::kShape, "input 1 (split) has no gradient");
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  HQ_ASSIGN_OR_RETURN(const int64_t axis, normalizedAxis(call, x.rank(), 0));
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  int64_t along = 0;
  for (size_t k = 0; k < call.outputs.size(); ++k) {
    if (call.outputs[k] == nullptr) {
      return call.error(ErrorCode::kShape, "forward output {} is missing (its size is needed)", k);
    }
    along += call.out(k).dim(axis);
  }
  if (along != x.dim(axis)) {
    return call.error(ErrorCode::kShape, "outputs sum to {} along axis {}, input has {}", along,
                      axis, x.dim(axis));
  }
  float* dx = call.gradIn(0).data<float>();
  const int64_t in_row = x.dim(axis) * inner;
  int64_t col = 0;
  for (size_t k = 0; k < call.outputs.size(); ++k) {
    const Shape& ys = call.out(k).shape();
    HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, k, ys));
    const int64_t chunk = ys[axis] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < chunk; ++j) dx[o * in_row + col + j] = dy ? dy[o * chunk + j] : 0;
    }
    col += chunk;
  }
  return Status::ok();
}

// Slice: dx is zero except at the elements the slice read, which get dy (a slice reads each
// input element at most once, negative steps included).
Status backwardSlice(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  for (size_t i = 1; i < call.gradInputs.size(); ++i) {
    if (call.wantsGrad(i)) {
      return call.error(ErrorCode::kShape, "input {} (starts/ends/axes/steps) has no gradient", i);
    }
  }
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  std::vector<const Tensor*> params(call.inputs.begin(), call.inputs.end());
  HQ_ASSIGN_OR_RETURN(ops::SliceSpec spec, ops::sliceSpecOf(call.node, params));
  HQ_ASSIGN_OR_RETURN(ops::SliceParams p, ops::resolveSlice(call.node, x.shape(), spec));
  const Shape out(p.count);
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, out));
  detail::zeroGradIn(call, 0);
  if (!dy) return Status::ok();
  float* dx = call.gradIn(0).data<float>();
  const Shape in_strides = contiguousStrides(x.shape());
  const size_t rank = out.size();
  const int64_t total = product(out, 0, rank);
  std::vector<int64_t> coord(rank, 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (p.start[d] + coord[d] * p.step[d]) * in_strides[d];
    dx[off] = dy[o];
    for (size_t d = rank; d-- > 0;) {
      if (++coord[d] < out[d]) break;
      coord[d] = 0;
    }
  }
  return Status::ok();
}

Status backwardFlatten(const BackwardCall& call) { return copyBackward(call); }
Status backwardReshape(const BackwardCall& call) { return copyBackward(call); }
Status backwardSqueeze(const BackwardCall& call) { return copyBackward(call); }
Status backwardUnsqueeze(const BackwardCall& call) { return copyBackward(call); }
Status backwardIdentity(const BackwardCall& call) { return copyBackward(call); }

// Transpose: y[c] = x[perm-permuted c], so dx at the input element each output read = dy.
Status backwardTranspose(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  if (!call.wantsGrad(0)) return Status::ok();
  const Tensor& x = call.in(0);
  const int64_t rank = x.rank();
  std::vector<int64_t> perm = call.attrs().getInts("perm");
  if (!call.attrs().has("perm")) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (size_t d = 0; valid && d < perm.size(); ++d) {
    valid = perm[d] >= 0 && perm[d] < rank && !seen[static_cast<size_t>(perm[d])];
    if (valid) seen[static_cast<size_t>(perm[d])] = true;
  }
  if (!valid) {
    return call.error(ErrorCode::kShape, "perm is not a permutation of the {} axes", rank);
  }
  Shape out(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) out[d] = x.dim(perm[d]);
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, out));
  detail::zeroGradIn(call, 0);
  if (!dy) return Status::ok();
  float* dx = call.gradIn(0).data<float>();
  const Shape in_strides = contiguousStrides(x.shape());
  const int64_t total = x.numel();
  std::vector<int64_t> coord(perm.size(), 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < perm.size(); ++d) off += coord[d] * in_strides[perm[d]];
    dx[off] = dy[o];
    for (size_t d = perm.size(); d-- > 0;) {
      if (++coord[d] < out[d]) break;
      coord[d] = 0;
    }
  }
  return Status::ok();
}

// Resize, nearest mode only: every output element read one input element (the tap the
// forward's axisTaps picked); dx sums dy over the outputs that read each input element.
// Outputs that took the extrapolation value (tf_crop_and_resize) pass no gradient. Linear
// and cubic modes are kUnsupported.
Status backwardResize(const BackwardCall& call) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  for (size_t i = 1; i < call.gradInputs.size(); ++i) {
    if (call.wantsGrad(i)) {
      return call.error(ErrorCode::kShape, "input {} (roi/scales/sizes) has no gradient", i);
    }
  }
  const Tensor& x = call.in(0);
  auto opt = [&](size_t i) { return call.hasIn(i) ? &call.in(i) : nullptr; };
  HQ_ASSIGN_OR_RETURN(ops::ResizeParams p,
                      ops::resolveResize(call.node, x.shape(), opt(1), opt(2), opt(3)));
  if (p.mode != ops::ResizeMode::kNearest) {
    return call.error(ErrorCode::kUnsupported,
                      "only mode='nearest' has a backward (linear and cubic do not yet)");
  }
  if (!call.wantsGrad(0)) return Status::ok();
  if (x.rank() == 0) return call.error(ErrorCode::kShape, "input must have rank >= 1");
  const Shape& out = p.outShape;
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, out));
  detail::zeroGradIn(call, 0);
  if (!dy || x.numel() == 0) return Status::ok();
  const size_t rank = out.size();
  std::vector<kernels::AxisTaps> axes(rank);
  for (size_t d = 0; d < rank; ++d) {
    axes[d] = kernels::axisTaps(p, d, x.dim(static_cast<int64_t>(d)), out[d]);
    if (axes[d].taps != 1) {
      return call.error(ErrorCode::kInternal, "nearest resize gave {} taps on axis {}",
                        axes[d].taps, d);
    }
  }
  const Shape in_strides = contiguousStrides(x.shape());
  const int64_t total = product(out, 0, rank);
  std::vector<double> acc(static_cast<size_t>(x.numel()), 0.0);
  std::vector<int64_t> coord(rank, 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    bool outside = false;
    for (size_t d = 0; d < rank; ++d) {
      const size_t c = static_cast<size_t>(coord[d]);
      outside = outside || axes[d].outside[c] || axes[d].weight[c] == 0.0;
      off += axes[d].idx[c] * in_strides[d];
    }
    if (!outside) acc[static_cast<size_t>(off)] += dy[o];
    for (size_t d = rank; d-- > 0;) {
      if (++coord[d] < out[d]) break;
      coord[d] = 0;
    }
  }
  float* dx = call.gradIn(0).data<float>();
  for (size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<float>(acc[i]);
  return Status::ok();
}

}  // namespace hq::train
