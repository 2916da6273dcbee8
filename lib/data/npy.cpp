#include "data/npy.h"

#include <cstring>

#include "support/atomic_file.h"

namespace hq {

namespace {
const char* npyDescr(DType t) {
  switch (t) {
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    case DType::kUInt8: return "|u1";
    case DType::kInt8: return "|i1";
    case DType::kUInt16: return "<u2";
    case DType::kInt16: return "<i2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kBool: return "|b1";
    case DType::kFloat16: return "<f2";
    default: return nullptr;
  }
}
}  // namespace

std::string encodeNpy(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    shape += std::to_string(t.shape()[i]);
    shape += (t.shape().size() == 1 || i + 1 < t.shape().size()) ? "," : "";
    if (i + 1 < t.shape().size()) shape += " ";
  }
  shape += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   npyDescr(t.dtype()), shape);
  // Pad with spaces so that magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

Status writeNpy(const std::string& path, const Tensor& t) {
  if (!npyDescr(t.dtype())) {
    return HQ_ERROR(kUnsupported, "{}: cannot write {} tensors as .npy", path, dtypeName(t.dtype()));
  }
  return writeFileAtomic(path, encodeNpy(t));
}

}  // namespace hq
