// Reference kernels: data movement (Concat, Split, Slice, Transpose, Gather and the
// reshaping family). They copy elements by size, so every dtype works. Output shapes
// were inferred by the caller; the kernels check what they rely on.
#include <algorithm>
#include <cstring>

#include "ir/ops/tensor_ops.h"
#include "runtime/kernels/elementwise_util.h"
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

namespace {

/// Call f(U{}) with U an unsigned integer type of `bytes` size (1, 2, 4 or 8).
template <typename F>
bool dispatchElementSize(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: f(uint8_t{}); return true;
    case 2: f(uint16_t{}); return true;
    case 4: f(uint32_t{}); return true;
    case 8: f(uint64_t{}); return true;
    default: return false;
  }
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

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

/// Copy the input's bytes to the output (same element count); no-op when they alias.
Status copyAll(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  if (x.numel() != y.numel() || x.dtype() != y.dtype()) {
    return call.error(ErrorCode::kShape, "output {} {} does not fit input {} {}",
                      dtypeName(y.dtype()), shapeString(y.shape()), dtypeName(x.dtype()),
                      shapeString(x.shape()));
  }
  if (y.raw() != x.raw() && x.nbytes()) std::memcpy(y.raw(), x.raw(), x.nbytes());
  return Status::ok();
}

/// out[c] = in[sum_d (offset[d] + c[d] * step[d]) * inStride[d]] for every out coord c.
/// Serves Slice (offset/step) and Transpose (permuted strides).
template <typename U>
void stridedGather(const U* in, U* out, const Shape& out_shape, const Shape& offset,
                   const Shape& in_stride) {
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  const int64_t total = product(out_shape, 0, out_shape.size());
  if (total == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  int64_t base = 0;
  for (int64_t d = 0; d < rank; ++d) base += offset[d];
  const int64_t inner = out_shape[rank - 1];
  const int64_t inner_stride = in_stride[rank - 1];
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total >= kParallelMin)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off = base, rest = row;
    for (int64_t d = rank - 2; d >= 0; --d) {
      off += (rest % out_shape[d]) * in_stride[d];
      rest /= out_shape[d];
    }
    const U* p = in + off;
    U* q = out + row * inner;
    if (inner_stride == 1) {
      std::memcpy(q, p, static_cast<size_t>(inner) * sizeof(U));
    } else {
      for (int64_t j = 0; j < inner; ++j) q[j] = p[j * inner_stride];
    }
  }
}

}  // namespace

Status refConcat(const KernelCall& call) {
  Tensor& y = call.out(0);
  const int64_t rank = y.rank();
  int64_t axis = call.attrs().getInt("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return call.error(ErrorCode::kShape, "axis is out of range");
  const size_t esize = dtypeSize(y.dtype());
  const int64_t outer = product(y.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(y.shape(), static_cast<size_t>(axis) + 1, y.shape().size());
  int64_t along = 0;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const Tensor& x = call.in(i);
    if (x.rank() != rank || x.dtype() != y.dtype()) {
      return call.error(ErrorCode::kShape, "input {} ({} {}) does not fit output {} {}", i,
                        dtypeName(x.dtype()), shapeString(x.shape()), dtypeName(y.dtype()),
                        shapeString(y.shape()));
    }
    along += x.dim(axis);
  }
  if (along != y.dim(axis)) {
    return call.error(ErrorCode::kShape, "inputs sum to {} along axis {}, output has {}", along,
                      axis, y.dim(axis));
  }
  char* out = static_cast<char*>(y.raw());
  const size_t out_row = static_cast<size_t>(y.dim(axis) * inner) * esize;
  size_t col = 0;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const Tensor& x = call.in(i);
    const size_t chunk = static_cast<size_t>(x.dim(axis) * inner) * esize;
    const char* in = static_cast<const char*>(x.raw());
    for (int64_t o = 0; o < outer && chunk; ++o) {
      std::memcpy(out + o * out_row + col, in + o * chunk, chunk);
    }
    col += chunk;
  }
  return Status::ok();
}

Status refSplit(const KernelCall& call) {
  const Tensor& x = call.in(0);
  const int64_t rank = x.rank();
  int64_t axis = call.attrs().getInt("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return call.error(ErrorCode::kShape, "axis is out of range");
  const size_t esize = dtypeSize(x.dtype());
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  // The parts' sizes are the inferred output dims.
  int64_t along = 0;
  for (size_t i = 0; i < call.outputs.size(); ++i) {
    if (!call.hasOut(i)) {
      return call.error(ErrorCode::kInternal, "output {} has no tensor", i);
    }
    along += call.out(i).dim(axis);
  }
  if (along != x.dim(axis)) {
    return call.error(ErrorCode::kShape, "outputs sum to {} along axis {}, input has {}", along,
                      axis, x.dim(axis));
  }
  const char* in = static_cast<const char*>(x.raw());
  const size_t in_row = static_cast<size_t>(x.dim(axis) * inner) * esize;
  size_t col = 0;
  for (size_t i = 0; i < call.outputs.size(); ++i) {
    Tensor& y = call.out(i);
    const size_t chunk = static_cast<size_t>(y.dim(axis) * inner) * esize;
    char* out = static_cast<char*>(y.raw());
    for (int64_t o = 0; o < outer && chunk; ++o) {
      std::memcpy(out + o * chunk, in + o * in_row + col, chunk);
    }
    col += chunk;
  }
  return Status::ok();
}

Status refSlice(const KernelCall& call) {
  const Tensor& x = call.in(0);
  std::vector<const Tensor*> params(call.inputs.begin(), call.inputs.end());
  HQ_ASSIGN_OR_RETURN(ops::SliceSpec spec, ops::sliceSpecOf(call.node, params));
  HQ_ASSIGN_OR_RETURN(ops::SliceParams p, ops::resolveSlice(call.node, x.shape(), spec));
  Tensor& y = call.out(0);
  if (Shape(p.count) != y.shape()) {
    return call.error(ErrorCode::kShape, "slice gives {} but the output is {}",
                      shapeString(p.count), shapeString(y.shape()));
  }
  const Shape in_strides = contiguousStrides(x.shape());
  Shape offset(in_strides.size()), stride(in_strides.size());
  for (size_t d = 0; d < in_strides.size(); ++d) {
    offset[d] = p.start[d] * in_strides[d];
    stride[d] = p.step[d] * in_strides[d];
  }
  dispatchElementSize(dtypeSize(x.dtype()), [&](auto tag) {
    using U = decltype(tag);
    stridedGather(static_cast<const U*>(x.raw()), static_cast<U*>(y.raw()), y.shape(), offset,
                  stride);
  });
  return Status::ok();
}

Status refFlatten(const KernelCall& call) { return copyAll(call); }
Status refReshape(const KernelCall& call) { return copyAll(call); }
Status refSqueeze(const KernelCall& call) { return copyAll(call); }
Status refUnsqueeze(const KernelCall& call) { return copyAll(call); }
Status refIdentity(const KernelCall& call) { return copyAll(call); }

Status refTranspose(const KernelCall& call) {
  const Tensor& x = call.in(0);
  Tensor& y = call.out(0);
  const int64_t rank = x.rank();
  std::vector<int64_t> perm = call.attrs().getInts("perm");
  if (!call.attrs().has("perm")) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != rank || y.rank() != rank) {
    return call.error(ErrorCode::kShape, "perm has {} entries for a rank-{} input", perm.size(),
                      rank);
  }
  const Shape in_strides = contiguousStrides(x.shape());
  Shape stride(perm.size()), offset(perm.size(), 0);
  for (size_t d = 0; d < perm.size(); ++d) {
    if (perm[d] < 0 || perm[d] >= rank || y.dim(d) != x.dim(perm[d])) {
      return call.error(ErrorCode::kShape, "perm does not map {} to {}", shapeString(x.shape()),
                        shapeString(y.shape()));
    }
    stride[d] = in_strides[perm[d]];
  }
  dispatchElementSize(dtypeSize(x.dtype()), [&](auto tag) {
    using U = decltype(tag);
    stridedGather(static_cast<const U*>(x.raw()), static_cast<U*>(y.raw()), y.shape(), offset,
                  stride);
  });
  return Status::ok();
}

Status refGather(const KernelCall& call) {
  const Tensor& data = call.in(0);
  const Tensor& indices = call.in(1);
  Tensor& y = call.out(0);
  const int64_t rank = data.rank();
  int64_t axis = call.attrs().getInt("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return call.error(ErrorCode::kShape, "axis is out of range");
  if (indices.dtype() != DType::kInt32 && indices.dtype() != DType::kInt64) {
    return call.error(ErrorCode::kShape, "indices must be int32 or int64, got {}",
                      dtypeName(indices.dtype()));
  }
  const int64_t dim = data.dim(axis);
  std::vector<int64_t> idx = indices.toInt64();
  for (size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] < -dim || idx[i] >= dim) {
      return call.error(ErrorCode::kData, "index {} (element {}) is out of range [{}, {})", idx[i],
                        i, -dim, dim);
    }
    if (idx[i] < 0) idx[i] += dim;
  }
  const size_t esize = dtypeSize(data.dtype());
  const int64_t outer = product(data.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(data.shape(), static_cast<size_t>(axis) + 1, data.shape().size());
  const size_t block = static_cast<size_t>(inner) * esize;
  const int64_t n = static_cast<int64_t>(idx.size());
  if (y.numel() != outer * n * inner || y.dtype() != data.dtype()) {
    return call.error(ErrorCode::kShape, "output {} does not fit data {} and indices {}",
                      shapeString(y.shape()), shapeString(data.shape()),
                      shapeString(indices.shape()));
  }
  const char* in = static_cast<const char*>(data.raw());
  char* out = static_cast<char*>(y.raw());
  for (int64_t o = 0; o < outer && block; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      std::memcpy(out + (o * n + k) * block, in + (o * dim + idx[k]) * block, block);
    }
  }
  return Status::ok();
}

Status refShape(const KernelCall& call) {
  const Shape& s = call.in(0).shape();
  const int64_t rank = static_cast<int64_t>(s.size());
  int64_t start = call.attrs().getInt("start", 0), end = call.attrs().getInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Tensor& y = call.out(0);
  if (y.dtype() != DType::kInt64 || y.numel() != end - start) {
    return call.error(ErrorCode::kShape, "output must be int64 [{}]", end - start);
  }
  for (int64_t i = start; i < end; ++i) y.data<int64_t>()[i - start] = s[i];
  return Status::ok();
}

Status refDropout(const KernelCall& call) {
  // Inference: the identity. training_mode=true is only an identity with ratio 0.
  if (call.has(2) && call.in(2).numel() == 1 && call.in(2).toInt64()[0] != 0) {
    double ratio = call.has(1) ? call.in(1).toDouble().at(0) : 0.5;
    if (ratio != 0.0) {
      return call.error(ErrorCode::kUnsupported,
                        "training_mode=true with ratio {} is not supported (inference only)",
                        ratio);
    }
  }
  HQ_RETURN_IF_ERROR(copyAll(call));
  if (call.hasOut(1)) {
    Tensor& mask = call.out(1);
    if (mask.dtype() != DType::kBool) {
      return call.error(ErrorCode::kShape, "mask output must be bool, got {}",
                        dtypeName(mask.dtype()));
    }
    bool* m = mask.data<bool>();
    std::fill(m, m + mask.numel(), true);
  }
  return Status::ok();
}

Status refConstant(const KernelCall& call) {
  const Attributes& a = call.attrs();
  Tensor value;
  if (const Tensor* t = a.getTensor("value")) {
    value = *t;
  } else if (a.has("value_float")) {
    value = Tensor::scalar<float>(a.getFloat("value_float", 0.0f));
  } else if (a.has("value_floats")) {
    auto v = a.getFloats("value_floats");
    value = Tensor::fromVector<float>({static_cast<int64_t>(v.size())}, v);
  } else if (a.has("value_int")) {
    value = Tensor::scalar<int64_t>(a.getInt("value_int", 0));
  } else if (a.has("value_ints")) {
    auto v = a.getInts("value_ints");
    value = Tensor::fromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
  } else {
    return call.error(ErrorCode::kShape, "no value attribute");
  }
  Tensor& y = call.out(0);
  if (y.dtype() != value.dtype() || y.shape() != value.shape()) {
    return call.error(ErrorCode::kShape, "output {} {} does not fit the value {} {}",
                      dtypeName(y.dtype()), shapeString(y.shape()), dtypeName(value.dtype()),
                      shapeString(value.shape()));
  }
  if (value.nbytes()) std::memcpy(y.raw(), value.raw(), value.nbytes());
  return Status::ok();
}

}  // namespace hq::kernels
