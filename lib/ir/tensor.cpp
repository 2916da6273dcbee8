#include "ir/tensor.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace hq {

size_t dtypeSize(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kUInt16: return 2;
    case DType::kInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kBool: return 1;
    case DType::kFloat16: return 2;
    case DType::kFloat64: return 8;
    case DType::kUndefined: return 0;
  }
  return 0;
}

const char* dtypeName(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kUInt16: return "uint16";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kFloat16: return "float16";
    case DType::kFloat64: return "float64";
    case DType::kUndefined: return "undefined";
  }
  return "undefined";
}

DType dtypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 10: case 11:
      return static_cast<DType>(onnx_type);
    default:
      return DType::kUndefined;
  }
}

int64_t shapeNumel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

std::string shapeString(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i] < 0 ? "?" : std::to_string(s[i]);
  }
  return out + "]";
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  int64_t n = shapeNumel(shape_);
  if (n < 0) throw std::invalid_argument("Tensor with unknown dims " + shapeString(shape_));
  size_t bytes = static_cast<size_t>(n) * dtypeSize(dtype_);
  size_t alloc = ((bytes + 63) / 64) * 64;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(64, alloc);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, alloc);
  buffer_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  data_ = p;
}

Tensor Tensor::shared(DType dtype, Shape shape, std::shared_ptr<void> buffer, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.buffer_ = std::move(buffer);
  t.data_ = data;
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  if (t.numel() != numel()) throw std::invalid_argument("reshaped: element count differs");
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

namespace {
template <typename Out>
std::vector<Out> convertAll(const Tensor& t) {
  std::vector<Out> out(static_cast<size_t>(t.numel()));
  const void* p = t.raw();
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype()) {
      case DType::kFloat32: out[i] = static_cast<Out>(static_cast<const float*>(p)[i]); break;
      case DType::kFloat64: out[i] = static_cast<Out>(static_cast<const double*>(p)[i]); break;
      case DType::kUInt8: out[i] = static_cast<Out>(static_cast<const uint8_t*>(p)[i]); break;
      case DType::kInt8: out[i] = static_cast<Out>(static_cast<const int8_t*>(p)[i]); break;
      case DType::kUInt16: out[i] = static_cast<Out>(static_cast<const uint16_t*>(p)[i]); break;
      case DType::kInt16: out[i] = static_cast<Out>(static_cast<const int16_t*>(p)[i]); break;
      case DType::kInt32: out[i] = static_cast<Out>(static_cast<const int32_t*>(p)[i]); break;
      case DType::kInt64: out[i] = static_cast<Out>(static_cast<const int64_t*>(p)[i]); break;
      case DType::kBool: out[i] = static_cast<Out>(static_cast<const uint8_t*>(p)[i] != 0); break;
      default: throw std::invalid_argument(std::string("cannot convert ") + dtypeName(t.dtype()));
    }
  }
  return out;
}
}  // namespace

std::vector<int64_t> Tensor::toInt64() const { return convertAll<int64_t>(*this); }
std::vector<double> Tensor::toDouble() const { return convertAll<double>(*this); }

bool Tensor::equals(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  return nbytes() == 0 || std::memcmp(data_, other.data_, nbytes()) == 0;
}

void Tensor::typeMismatch(DType wanted) const {
  throw std::logic_error(std::string("tensor of ") + dtypeName(dtype_) + " accessed as " +
                         dtypeName(wanted));
}

}  // namespace hq
