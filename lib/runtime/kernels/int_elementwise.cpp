// Reference kernels of the ai.hq elementwise ops (schemas/int-ops.md 3, 4.2-4.4, 4.7):
// QClamp, QAdd (Add/Sub), QMul, QRescale, QLookup. Plain loops over hq::fxp; these are the
// oracle of the integer executor, the compiler and the simulator.
#include <vector>

#include "ir/ops/int_elementwise.h"
#include "runtime/kernels/elementwise_util.h"
#include "runtime/kernels/int_kernel_util.h"
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

Status checkIntCall(const KernelCall& call) {
  std::vector<ValueInfo> infos;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    ValueInfo v;
    if (call.has(i)) {
      v.dtype = call.in(i).dtype();
      v.shape = call.in(i).shape();
      v.hasShape = true;
      v.constant = call.inputs[i];
    }
    infos.push_back(std::move(v));
  }
  HQ_ASSIGN_OR_RETURN(std::vector<ValueInfo> outs, inferNode(call.node, infos));
  if (!call.hasOut(0) || outs.empty()) return call.error(ErrorCode::kShape, "output 0 is missing");
  const Tensor& y = call.out(0);
  if (y.dtype() != outs[0].dtype || y.shape() != outs[0].shape) {
    return call.error(ErrorCode::kShape, "output 0 must be {} {}, got {} {}",
                      dtypeName(outs[0].dtype), shapeString(outs[0].shape), dtypeName(y.dtype()),
                      shapeString(y.shape()));
  }
  return Status::ok();
}

namespace {

/// out[i] = f(a[ia], b[ib]) over the broadcast of a and b, with the int8/int16 dtypes of a,
/// b and out dispatched.
template <typename F>
void broadcastInt(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const BroadcastLoops loops = planBroadcast(a.shape(), b.shape());
  dispatchIntActivation(a.dtype(), [&](auto ta) {
    using TA = decltype(ta);
    dispatchIntActivation(b.dtype(), [&](auto tb) {
      using TB = decltype(tb);
      dispatchIntActivation(out.dtype(), [&](auto to) {
        using TO = decltype(to);
        broadcastApply(loops, a.data<TA>(), b.data<TB>(), out.data<TO>(),
                       [&](TA x, TB y) { return static_cast<TO>(f(x, y)); });
      });
    });
  });
}

/// y[i] = f(x[i]) with the int8/int16 dtypes of x and y dispatched.
template <typename F>
void unaryInt(const Tensor& x, Tensor& y, F f) {
  const int64_t n = x.numel();
  dispatchIntActivation(x.dtype(), [&](auto tx) {
    using TX = decltype(tx);
    dispatchIntActivation(y.dtype(), [&](auto ty) {
      using TY = decltype(ty);
      const TX* in = x.data<TX>();
      TY* out = y.data<TY>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<TY>(f(in[i]));
    });
  });
}

}  // namespace

Status refQClamp(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  HQ_ASSIGN_OR_RETURN(fxp::IntRange r, ops::readQClamp(call.node, call.in(0).dtype()));
  unaryInt(call.in(0), call.out(0), [r](int32_t v) { return fxp::saturate(v, r); });
  return Status::ok();
}

Status refQAdd(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  HQ_ASSIGN_OR_RETURN(ops::QAddParams p, ops::readQAdd(call.node));
  broadcastInt(call.in(0), call.in(1), call.out(0), [&p](int32_t a, int32_t b) {
    return fxp::requantizeSum(a, p.multiplierA, b, p.multiplierB, p.shift, p.out.clamp);
  });
  return Status::ok();
}

Status refQMul(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  HQ_ASSIGN_OR_RETURN(ops::QRequantParams p, ops::readQRequant(call.node));
  broadcastInt(call.in(0), call.in(1), call.out(0), [&p](int32_t a, int32_t b) {
    return fxp::requantize(a * b, p.multiplier, p.out.clamp);  // |a * b| <= 2^30: exact
  });
  return Status::ok();
}

Status refQRescale(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  HQ_ASSIGN_OR_RETURN(ops::QRequantParams p, ops::readQRequant(call.node));
  unaryInt(call.in(0), call.out(0),
           [&p](int32_t v) { return fxp::requantize(v, p.multiplier, p.out.clamp); });
  return Status::ok();
}

Status refQLookup(const KernelCall& call) {
  HQ_RETURN_IF_ERROR(checkIntCall(call));
  const Tensor& x = call.in(0);
  const Tensor& t = call.in(1);
  Tensor& y = call.out(0);
  HQ_ASSIGN_OR_RETURN(ops::QLookupParams p,
                      ops::readQLookup(call.node, x.dtype(), x.shape(), t.dtype(), t.shape()));
  // The tables as int32 (fxp::lookup's form): one copy per call, C * 2^bits entries.
  const std::vector<int64_t> t64 = t.toInt64();
  const std::vector<int32_t> table(t64.begin(), t64.end());
  int64_t outer = 1, channels = 1, inner = x.numel();
  if (p.axis >= 0) {
    outer = 1;
    for (int64_t d = 0; d < p.axis; ++d) outer *= x.dim(d);
    channels = x.dim(p.axis);
    inner = 1;
    for (int64_t d = p.axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  }
  dispatchIntActivation(x.dtype(), [&](auto tx) {
    using TX = decltype(tx);
    dispatchIntActivation(y.dtype(), [&](auto ty) {
      using TY = decltype(ty);
      const TX* in = x.data<TX>();
      TY* out = y.data<TY>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
          const int32_t* tab = table.data() + c * p.tableSize;
          const int64_t base = (o * channels + c) * inner;
          for (int64_t i = base; i < base + inner; ++i) {
            out[i] = static_cast<TY>(fxp::lookup(tab, in[i], p.inLo));
          }
        }
      }
    });
  });
  return Status::ok();
}

}  // namespace hq::kernels
