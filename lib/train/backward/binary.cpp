// Backward of the broadcasting binary ops Add, Sub, Mul, Div (forward:
// runtime/kernels/binary.cpp). With numpy (multidirectional) broadcasting, the gradient of
// each operand is the elementwise gradient summed over the axes along which that operand
// was broadcast, so it has the operand's own shape. Float32 only; sums run in double.
//
// Fast paths (the reference loop below is their oracle, tests/train/fast_backward_test.cpp):
//  - same shapes: elementwise, vectorized, parallel;
//  - one operand of the output's shape and the other broadcast along all but one contiguous
//    block of dims ([1, C, 1, 1] channel scales, [C, 1, 1, 1] weight factors, a [C] bias,
//    scalars): the output viewed as [outer, C, inner], each (outer, c) plane one vectorized
//    pass that writes the large operand's gradient and sums the small one's in double, the
//    plane sums of a channel then added in ascending outer order. Each plane belongs to one
//    thread and the final order is fixed: the same bytes for any thread count.
// The large operand's gradient has the reference's very bytes (a float product / quotient
// rounded once equals the double one rounded to float); the small one's sums differ from the
// reference's sequential double sum only by reordering (relative ~1e-15).
#include <cstring>
#include <vector>

#include "train/backward/binary.h"

#include "train/backward/backward_fns.h"
#include "train/backward/grad_util.h"

namespace hq::train {

namespace {

using detail::checkFloatInput;
using detail::checkGradIn;
using detail::gradOutData;

enum class Op { kAdd, kSub, kMul, kDiv };

/// Elementwise loops run on several threads from this many elements.
constexpr int64_t kParallelElements = 1 << 15;

// ---- vectorized passes (AVX-512 / AVX2 clones picked at run time) ----

#define HQ_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

/// out = sign * g (out may be null); returns sum(g) in double.
HQ_CLONES double passCopySum(const float* g, float* out, float sign, int64_t n) {
  double s = 0;
  if (out) {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) {
      out[i] = sign * g[i];
      s += g[i];
    }
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += g[i];
  }
  return s;
}

/// out = g * y (out may be null); returns sum(g * x) in double.
HQ_CLONES double passMulSum(const float* g, const float* x, float y, float* out, int64_t n) {
  double s = 0;
  if (out) {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) {
      out[i] = g[i] * y;
      s += static_cast<double>(g[i]) * x[i];
    }
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * x[i];
  }
  return s;
}

/// out = g / y (out may be null); returns sum(g * x) in double.
HQ_CLONES double passDivSum(const float* g, const float* x, float y, float* out, int64_t n) {
  double s = 0;
  if (out) {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) {
      out[i] = g[i] / y;
      s += static_cast<double>(g[i]) * x[i];
    }
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * x[i];
  }
  return s;
}

/// out = g * y elementwise.
HQ_CLONES void passMul(const float* g, const float* y, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] * y[i];
}

/// out = g / y elementwise.
HQ_CLONES void passDiv(const float* g, const float* y, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / y[i];
}

/// out = -g * x / (y * y) elementwise, in double as the reference.
HQ_CLONES void passDivRhs(const float* g, const float* x, const float* y, float* out,
                          int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double yy = static_cast<double>(y[i]) * y[i];
    out[i] = static_cast<float>(-static_cast<double>(g[i]) * x[i] / yy);
  }
}

/// out = sign * g elementwise.
HQ_CLONES void passCopy(const float* g, float* out, float sign, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = sign * g[i];
}

/// out = x op y (y a scalar, on the right when `right`, else on the left).
HQ_CLONES void passScalarOp(int op, const float* x, float y, bool right, float* out, int64_t n) {
  switch (op) {
    case 0:
      for (int64_t i = 0; i < n; ++i) out[i] = right ? x[i] + y : y + x[i];
      break;
    case 1:
      for (int64_t i = 0; i < n; ++i) out[i] = right ? x[i] - y : y - x[i];
      break;
    case 2:
      for (int64_t i = 0; i < n; ++i) out[i] = right ? x[i] * y : y * x[i];
      break;
    default:
      for (int64_t i = 0; i < n; ++i) out[i] = right ? x[i] / y : y / x[i];
      break;
  }
}

/// out = a op b elementwise.
HQ_CLONES void passOp(int op, const float* a, const float* b, float* out, int64_t n) {
  switch (op) {
    case 0:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
      break;
    case 1:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
      break;
    case 2:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
      break;
    default:
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] / b[i];
      break;
  }
}

#undef HQ_CLONES

/// Run f(begin, end) over [0, n) in fixed pieces, on several threads when n is large.
template <typename F>
void forPieces(int64_t n, F f) {
  constexpr int64_t kPiece = 1 << 14;
  const int64_t pieces = (n + kPiece - 1) / kPiece;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t p = 0; p < pieces; ++p) f(p * kPiece, std::min(n, (p + 1) * kPiece));
}

/// Same shapes: every gradient elementwise. True when handled.
bool sameShapeBackward(const BackwardCall& call, Op op, const float* dy) {
  const Tensor& a = call.in(0);
  const Tensor& b = call.in(1);
  if (a.shape() != b.shape()) return false;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* ga = call.wantsGrad(0) ? call.gradIn(0).data<float>() : nullptr;
  float* gb = call.wantsGrad(1) ? call.gradIn(1).data<float>() : nullptr;
  forPieces(a.numel(), [&](int64_t lo, int64_t hi) {
    const int64_t n = hi - lo;
    if (ga) {
      if (op == Op::kMul) passMul(dy + lo, pb + lo, ga + lo, n);
      else if (op == Op::kDiv) passDiv(dy + lo, pb + lo, ga + lo, n);
      else passCopy(dy + lo, ga + lo, 1.0f, n);
    }
    if (gb) {
      if (op == Op::kMul) passMul(dy + lo, pa + lo, gb + lo, n);
      else if (op == Op::kDiv) passDivRhs(dy + lo, pa + lo, pb + lo, gb + lo, n);
      else passCopy(dy + lo, gb + lo, op == Op::kSub ? -1.0f : 1.0f, n);
    }
  });
  return true;
}

/// For an operand of shape `s` broadcast to `out`: when its non-1 dims (right-aligned) are one
/// contiguous block equal to out's, the output as [outer, C, inner] with the operand indexed by
/// C. Scalars (C = 1) split as [rest, 1, last dim].
bool channelView(const Shape& s, const Shape& out, int64_t* outer, int64_t* c, int64_t* inner) {
  const size_t r = out.size();
  if (s.size() > r) return false;
  size_t lo = r, hi = r;
  for (size_t d = 0; d < r; ++d) {
    const int64_t sd = d + s.size() >= r ? s[d + s.size() - r] : 1;
    if (sd == 1 && out[d] != 1) continue;
    if (sd != out[d]) return false;
    if (out[d] == 1) continue;
    if (lo == r) lo = d;
    else if (hi != d) return false;  // a second block
    hi = d + 1;
  }
  if (lo == r) lo = hi = r == 0 ? 0 : r - 1;
  *outer = *c = *inner = 1;
  for (size_t d = 0; d < r; ++d) (d < lo ? *outer : d < hi ? *c : *inner) *= out[d];
  return true;
}

/// One operand (`big`) of the output's shape, the other per channel of channelView. True when
/// handled.
bool channelBackward(const BackwardCall& call, Op op, const float* dy, const Shape& out) {
  const Tensor& a = call.in(0);
  const Tensor& b = call.in(1);
  size_t big = 0;
  if (a.shape() == out) big = 0;
  else if (b.shape() == out) big = 1;
  else return false;
  const size_t small = 1 - big;
  if (op == Op::kDiv && small == 0) return false;  // a per channel over b: rare, reference
  int64_t outer = 0, channels = 0, inner = 0;
  if (!channelView(call.in(small).shape(), out, &outer, &channels, &inner)) return false;
  const float* pbig = call.in(big).data<float>();
  const float* psmall = call.in(small).data<float>();
  float* gbig = call.wantsGrad(big) ? call.gradIn(big).data<float>() : nullptr;
  const bool want_small = call.wantsGrad(small);
  const int64_t planes = outer * channels;
  std::vector<double> partial(want_small ? static_cast<size_t>(planes) : 0);
  const float big_sign = op == Op::kSub && big == 1 ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if (planes * inner > kParallelElements)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t off = p * inner;
    const float y = psmall[p % channels];
    float* o = gbig ? gbig + off : nullptr;
    double s = 0;
    switch (op) {
      case Op::kAdd:
      case Op::kSub:
        s = passCopySum(dy + off, o, big_sign, inner);
        break;
      case Op::kMul:
        s = passMulSum(dy + off, pbig + off, y, o, inner);
        break;
      case Op::kDiv:
        s = passDivSum(dy + off, pbig + off, y, o, inner);
        break;
    }
    if (want_small) partial[static_cast<size_t>(p)] = s;
  }
  if (!want_small) return true;
  float* gs = call.gradIn(small).data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    double s = 0;
    for (int64_t o = 0; o < outer; ++o) s += partial[static_cast<size_t>(o * channels + c)];
    if (op == Op::kSub && small == 1) s = -s;
    if (op == Op::kDiv) {
      const double y = psmall[c];
      s = -s / (y * y);
    }
    gs[c] = static_cast<float>(s);
  }
  return true;
}

/// makeTrainBinary's kernel: the shapes fixed at preparation, checked at every run.
class TrainBinaryKernel : public PreparedKernel {
 public:
  TrainBinaryKernel(Op op, Shape a, Shape b, Shape out, int64_t channels, int64_t inner)
      : op_(op), a_(std::move(a)), b_(std::move(b)), out_(std::move(out)), channels_(channels),
        inner_(inner) {}
  std::string name() const override { return "train:binary"; }
  Status run(const KernelCall& call) override {
    if (!call.has(0) || !call.has(1) || !call.hasOut(0) || call.in(0).shape() != a_ ||
        call.in(1).shape() != b_ || call.out(0).shape() != out_ ||
        call.in(0).dtype() != DType::kFloat32 || call.in(1).dtype() != DType::kFloat32 ||
        call.out(0).dtype() != DType::kFloat32) {
      return call.error(ErrorCode::kShape, "expected float32 {} and {} -> {}", shapeString(a_),
                        shapeString(b_), shapeString(out_));
    }
    const float* pa = call.in(0).data<float>();
    const float* pb = call.in(1).data<float>();
    float* y = call.out(0).data<float>();
    const int op = static_cast<int>(op_);
    if (a_ == b_) {
      forPieces(shapeNumel(out_),
                [&](int64_t lo, int64_t hi) { passOp(op, pa + lo, pb + lo, y + lo, hi - lo); });
      return Status::ok();
    }
    const bool right = a_ == out_;  // the small operand is b
    const float* big = right ? pa : pb;
    const float* small = right ? pb : pa;
    const int64_t planes = shapeNumel(out_) / inner_;
#pragma omp parallel for schedule(static) if (planes * inner_ > kParallelElements)
    for (int64_t p = 0; p < planes; ++p) {
      passScalarOp(op, big + p * inner_, small[p % channels_], right, y + p * inner_, inner_);
    }
    return Status::ok();
  }

 private:
  Op op_;
  Shape a_, b_, out_;
  int64_t channels_, inner_;
};

Status binaryBackward(const BackwardCall& call, Op op) {
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 0));
  HQ_RETURN_IF_ERROR(checkFloatInput(call, 1));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 0));
  HQ_RETURN_IF_ERROR(checkGradIn(call, 1));
  const Tensor& a = call.in(0);
  const Tensor& b = call.in(1);
  const kernels::BroadcastLoops loops = kernels::planBroadcast(a.shape(), b.shape());
  // The broadcast output shape, to check the output gradient against.
  const size_t rank = std::max(a.shape().size(), b.shape().size());
  Shape out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a.shape().size() >= rank ? a.shape()[i + a.shape().size() - rank] : 1;
    const int64_t db = i + b.shape().size() >= rank ? b.shape()[i + b.shape().size() - rank] : 1;
    if (da != db && da != 1 && db != 1) {
      return call.error(ErrorCode::kShape, "inputs {} and {} do not broadcast",
                        shapeString(a.shape()), shapeString(b.shape()));
    }
    out[i] = da == 1 ? db : da;
  }
  HQ_ASSIGN_OR_RETURN(const float* dy, gradOutData(call, 0, out));
  if (dy && a.numel() > 0 && b.numel() > 0) {
    if (sameShapeBackward(call, op, dy) || channelBackward(call, op, dy, out)) {
      return Status::ok();
    }
  }
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  std::vector<double> ga(call.wantsGrad(0) ? static_cast<size_t>(a.numel()) : 0, 0.0);
  std::vector<double> gb(call.wantsGrad(1) ? static_cast<size_t>(b.numel()) : 0, 0.0);
  if (dy) {
    detail::forEachBroadcast(loops, [&](int64_t o, int64_t ia, int64_t ib) {
      const double g = dy[o];
      const double x = pa[ia], y = pb[ib];
      double da = 0, db = 0;
      switch (op) {
        case Op::kAdd:
          da = g;
          db = g;
          break;
        case Op::kSub:
          da = g;
          db = -g;
          break;
        case Op::kMul:
          da = g * y;
          db = g * x;
          break;
        case Op::kDiv:
          da = g / y;
          db = -g * x / (y * y);
          break;
      }
      if (!ga.empty()) ga[static_cast<size_t>(ia)] += da;
      if (!gb.empty()) gb[static_cast<size_t>(ib)] += db;
    });
  }
  for (size_t k = 0; k < 2; ++k) {
    if (!call.wantsGrad(k)) continue;
    const std::vector<double>& g = k == 0 ? ga : gb;
    float* dst = call.gradIn(k).data<float>();
    for (size_t i = 0; i < g.size(); ++i) dst[i] = static_cast<float>(g[i]);
  }
  return Status::ok();
}

}  // namespace

std::unique_ptr<PreparedKernel> makeTrainBinary(const Node& node,
                                                const std::vector<ValueInfo>& inputs,
                                                const std::vector<ValueInfo>& outputs) {
  if (!node.domain.empty() || inputs.size() != 2 || outputs.size() != 1) return nullptr;
  Op op;
  if (node.opType == "Add") op = Op::kAdd;
  else if (node.opType == "Sub") op = Op::kSub;
  else if (node.opType == "Mul") op = Op::kMul;
  else if (node.opType == "Div") op = Op::kDiv;
  else return nullptr;
  for (const ValueInfo* v : {&inputs[0], &inputs[1], &outputs[0]}) {
    if (v->dtype != DType::kFloat32 || !v->hasShape || shapeNumel(v->shape) <= 0) return nullptr;
  }
  const Shape& a = inputs[0].shape;
  const Shape& b = inputs[1].shape;
  const Shape& out = outputs[0].shape;
  int64_t outer = 1, channels = 1, inner = 1;
  if (a == b) {
    if (a != out) return nullptr;
  } else if (a == out) {
    if (!channelView(b, out, &outer, &channels, &inner)) return nullptr;
  } else if (b == out) {
    if (!channelView(a, out, &outer, &channels, &inner)) return nullptr;
  } else {
    return nullptr;
  }
  return std::make_unique<TrainBinaryKernel>(op, a, b, out, channels, inner);
}

// d(a + b) = (dy, dy), each summed to its operand's shape.
Status backwardAdd(const BackwardCall& call) { return binaryBackward(call, Op::kAdd); }

// d(a - b) = (dy, -dy).
Status backwardSub(const BackwardCall& call) { return binaryBackward(call, Op::kSub); }

// d(a * b) = (dy * b, dy * a).
Status backwardMul(const BackwardCall& call) { return binaryBackward(call, Op::kMul); }

// d(a / b) = (dy / b, -dy * a / b^2). A zero divisor gives inf/NaN as the forward does.
Status backwardDiv(const BackwardCall& call) { return binaryBackward(call, Op::kDiv); }

}  // namespace hq::train
