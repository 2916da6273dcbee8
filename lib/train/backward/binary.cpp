// Backward of the broadcasting binary ops Add, Sub, Mul, Div (forward:
// runtime/kernels/binary.cpp). With numpy (multidirectional) broadcasting, the gradient of
// each operand is the elementwise gradient summed over the axes along which that operand
// was broadcast, so it has the operand's own shape. Float32 only; sums run in double.
#include <vector>

#include "train/backward/backward_fns.h"
#include "train/backward/grad_util.h"

namespace hq::train {

namespace {

using detail::checkFloatInput;
using detail::checkGradIn;
using detail::gradOutData;

enum class Op { kAdd, kSub, kMul, kDiv };

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

// d(a + b) = (dy, dy), each summed to its operand's shape.
Status backwardAdd(const BackwardCall& call) { return binaryBackward(call, Op::kAdd); }

// d(a - b) = (dy, -dy).
Status backwardSub(const BackwardCall& call) { return binaryBackward(call, Op::kSub); }

// d(a * b) = (dy * b, dy * a).
Status backwardMul(const BackwardCall& call) { return binaryBackward(call, Op::kMul); }

// d(a / b) = (dy / b, -dy * a / b^2). A zero divisor gives inf/NaN as the forward does.
Status backwardDiv(const BackwardCall& call) { return binaryBackward(call, Op::kDiv); }

}  // namespace hq::train
