// Tensor: a dtype, a shape and a buffer (owned, or shared with other tensors).
// Layout is dense row-major (NCHW for images) unless an executor says otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/status.h"

namespace hq {

/// Element types. Values match ONNX TensorProto.DataType where one exists.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
};

/// Size of one element in bytes (0 for kUndefined).
size_t dtypeSize(DType t);
/// "float32", "int8", ...
const char* dtypeName(DType t);
/// From an ONNX TensorProto data type; kUndefined when hq does not know it.
DType dtypeFromOnnx(int32_t onnx_type);

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kFloat32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kFloat64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kUInt8; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kInt8; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::kUInt16; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::kInt16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kInt32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kInt64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

/// Dimensions; in graph value info a negative dim means "unknown" (e.g. dynamic batch).
using Shape = std::vector<int64_t>;

/// Number of elements (1 for a scalar); -1 if any dim is unknown.
int64_t shapeNumel(const Shape& s);
/// "[1, 3, 32, 32]" with "?" for unknown dims.
std::string shapeString(const Shape& s);

class Tensor {
 public:
  Tensor() = default;
  /// Allocate a zero-filled tensor (64-byte aligned).
  Tensor(DType dtype, Shape shape);

  /// A tensor that shares `buffer` (which must hold nbytes at `data`).
  static Tensor shared(DType dtype, Shape shape, std::shared_ptr<void> buffer, void* data);
  template <typename T>
  static Tensor fromVector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T value) { return fromVector<T>({}, {value}); }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i < 0 ? i + rank() : i)]; }
  int64_t numel() const { return shapeNumel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T> T* data() { checkType<T>(); return static_cast<T*>(data_); }
  template <typename T> const T* data() const { checkType<T>(); return static_cast<const T*>(data_); }

  /// Same buffer, another shape with the same element count.
  Tensor reshaped(Shape shape) const;
  /// A deep copy with its own buffer.
  Tensor clone() const;
  /// Values converted to int64 / double (any integer or float dtype); for small
  /// parameter tensors such as Reshape's shape input.
  std::vector<int64_t> toInt64() const;
  std::vector<double> toDouble() const;
  /// Same dtype, shape and bytes.
  bool equals(const Tensor& other) const;
  /// Do two tensors use the same memory?
  bool sharesBufferWith(const Tensor& other) const { return buffer_ == other.buffer_; }

 private:
  template <typename T> void checkType() const {
    if (DTypeOf<T>::value != dtype_) typeMismatch(DTypeOf<T>::value);
  }
  [[noreturn]] void typeMismatch(DType wanted) const;

  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<void> buffer_;
  void* data_ = nullptr;
};

template <typename T>
Tensor Tensor::fromVector(Shape shape, const std::vector<T>& values) {
  Tensor t(DTypeOf<T>::value, std::move(shape));
  T* d = t.data<T>();
  for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.numel(); ++i) d[i] = values[i];
  return t;
}

}  // namespace hq
