// Reference kernels: broadcasting binary ops Add, Sub, Mul, Div (float32/64 and the
// integer types; integer Div truncates toward zero as ONNX does, overflow wraps).
#include <type_traits>

#include "runtime/kernels/elementwise_util.h"
#include "runtime/kernels/reference_kernels.h"

namespace hq::kernels {

BroadcastLoops planBroadcast(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> da(rank, 1), db(rank, 1);
  std::copy(a.begin(), a.end(), da.begin() + (rank - a.size()));
  std::copy(b.begin(), b.end(), db.begin() + (rank - b.size()));
  std::vector<int64_t> ca(rank), cb(rank);  // contiguous strides
  int64_t sa = 1, sb = 1;
  for (size_t i = rank; i-- > 0;) {
    ca[i] = sa;
    cb[i] = sb;
    sa *= da[i];
    sb *= db[i];
  }
  BroadcastLoops loops;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t out = da[i] == 1 ? db[i] : da[i];
    loops.numel *= out;
    if (out == 1) continue;  // no effect on addressing
    const int64_t stride_a = da[i] == 1 ? 0 : ca[i];
    const int64_t stride_b = db[i] == 1 ? 0 : cb[i];
    if (!loops.dims.empty()) {
      // Merge with the previous dim when one counter can walk both.
      const int64_t inner = out;
      if (loops.strideA.back() == stride_a * inner && loops.strideB.back() == stride_b * inner) {
        loops.dims.back() *= inner;
        loops.strideA.back() = stride_a;
        loops.strideB.back() = stride_b;
        continue;
      }
    }
    loops.dims.push_back(out);
    loops.strideA.push_back(stride_a);
    loops.strideB.push_back(stride_b);
  }
  if (loops.dims.empty() && loops.numel == 1) {
    loops.dims.push_back(1);
    loops.strideA.push_back(0);
    loops.strideB.push_back(0);
  }
  return loops;
}

namespace {

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

template <typename T>
struct Arith {
  // Integer arithmetic in the unsigned type wraps like numpy instead of being UB.
  using U = std::make_unsigned_t<std::conditional_t<std::is_integral_v<T>, T, int>>;
  static T add(T x, T y) {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(static_cast<U>(x) + static_cast<U>(y));
    else
      return x + y;
  }
  static T sub(T x, T y) {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(static_cast<U>(x) - static_cast<U>(y));
    else
      return x - y;
  }
  static T mul(T x, T y) {
    if constexpr (std::is_integral_v<T>) {
      // Promote small types to unsigned int first so the product cannot overflow int.
      using W = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, U>;
      return static_cast<T>(static_cast<W>(static_cast<U>(x)) * static_cast<W>(static_cast<U>(y)));
    } else {
      return x * y;
    }
  }
  static T div(T x, T y) {
    if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      if (y == -1) return static_cast<T>(U(0) - static_cast<U>(x));  // avoids MIN / -1 trap
      return static_cast<T>(x / y);
    } else {
      return static_cast<T>(x / y);
    }
  }
};

Status runBinary(const KernelCall& call, BinaryOp op) {
  const Tensor& a = call.in(0);
  const Tensor& b = call.in(1);
  Tensor& out = call.out(0);
  if (a.dtype() != b.dtype() || out.dtype() != a.dtype()) {
    return call.error(ErrorCode::kShape, "dtypes differ: {} and {} -> {}", dtypeName(a.dtype()),
                      dtypeName(b.dtype()), dtypeName(out.dtype()));
  }
  const BroadcastLoops loops = planBroadcast(a.shape(), b.shape());
  if (loops.numel != out.numel()) {
    return call.error(ErrorCode::kShape, "cannot broadcast {} with {} into {}",
                      shapeString(a.shape()), shapeString(b.shape()), shapeString(out.shape()));
  }
  Status status;
  bool known = dispatchNumeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    switch (op) {
      case BinaryOp::kAdd:
        broadcastApply(loops, pa, pb, po, [](T x, T y) { return Arith<T>::add(x, y); });
        break;
      case BinaryOp::kSub:
        broadcastApply(loops, pa, pb, po, [](T x, T y) { return Arith<T>::sub(x, y); });
        break;
      case BinaryOp::kMul:
        broadcastApply(loops, pa, pb, po, [](T x, T y) { return Arith<T>::mul(x, y); });
        break;
      case BinaryOp::kDiv:
        if constexpr (std::is_integral_v<T>) {
          for (int64_t i = 0; i < b.numel(); ++i) {
            if (pb[i] == 0) {
              status =
                  call.error(ErrorCode::kData, "integer division by zero (divisor element {})", i);
              return;
            }
          }
        }
        broadcastApply(loops, pa, pb, po, [](T x, T y) { return Arith<T>::div(x, y); });
        break;
    }
  });
  if (!known) {
    return call.error(ErrorCode::kUnsupported, "dtype {} is not supported", dtypeName(a.dtype()));
  }
  return status;
}

}  // namespace

Status refAdd(const KernelCall& call) { return runBinary(call, BinaryOp::kAdd); }
Status refSub(const KernelCall& call) { return runBinary(call, BinaryOp::kSub); }
Status refMul(const KernelCall& call) { return runBinary(call, BinaryOp::kMul); }
Status refDiv(const KernelCall& call) { return runBinary(call, BinaryOp::kDiv); }

}  // namespace hq::kernels
