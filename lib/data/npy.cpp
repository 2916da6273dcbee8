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
    return HQ_ERROR(kUnsupported, "{}: cannot write {} tensors as .npy", path,
                    dtypeName(t.dtype()));
  }
  return writeFileAtomic(path, encodeNpy(t));
}

namespace {

DType dtypeFromDescr(const std::string& descr) {
  if (descr.size() < 3) return DType::kUndefined;
  char order = descr[0];
  std::string kind = descr.substr(1);
  bool one_byte = kind == "u1" || kind == "i1" || kind == "b1";
  if (order != '<' && order != '=' && !(order == '|' && one_byte) && !(order == '>' && one_byte)) {
    return DType::kUndefined;
  }
  if (kind == "f4") return DType::kFloat32;
  if (kind == "f8") return DType::kFloat64;
  if (kind == "f2") return DType::kFloat16;
  if (kind == "u1") return DType::kUInt8;
  if (kind == "i1") return DType::kInt8;
  if (kind == "u2") return DType::kUInt16;
  if (kind == "i2") return DType::kInt16;
  if (kind == "i4") return DType::kInt32;
  if (kind == "i8") return DType::kInt64;
  if (kind == "b1") return DType::kBool;
  return DType::kUndefined;
}

// Value of `key` in the header dict: the text after "'key':" up to the matching delimiter.
bool dictValue(const std::string& h, const std::string& key, std::string* out) {
  size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) k = h.find("\"" + key + "\"");
  if (k == std::string::npos) return false;
  size_t colon = h.find(':', k + key.size() + 2);
  if (colon == std::string::npos) return false;
  size_t p = colon + 1;
  while (p < h.size() && h[p] == ' ') ++p;
  if (p >= h.size()) return false;
  size_t end;
  if (h[p] == '\'' || h[p] == '"') {
    end = h.find(h[p], p + 1);
    if (end == std::string::npos) return false;
    *out = h.substr(p + 1, end - p - 1);
    return true;
  }
  if (h[p] == '(') {
    end = h.find(')', p);
    if (end == std::string::npos) return false;
    *out = h.substr(p + 1, end - p - 1);
    return true;
  }
  end = h.find_first_of(",}", p);
  if (end == std::string::npos) return false;
  *out = h.substr(p, end - p);
  while (!out->empty() && out->back() == ' ') out->pop_back();
  return true;
}

}  // namespace

Expected<NpyHeader> parseNpyHeader(const uint8_t* data, size_t size, const std::string& what) {
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) {
    return HQ_ERROR(kParse, "{}: not an .npy file (expected the \\x93NUMPY magic)", what);
  }
  int major = data[6];
  size_t header_len, prefix;
  if (major == 1) {
    header_len = data[8] | data[9] << 8;
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return HQ_ERROR(kParse, "{}: truncated .npy header", what);
    header_len = static_cast<size_t>(data[8]) | static_cast<size_t>(data[9]) << 8 |
                 static_cast<size_t>(data[10]) << 16 | static_cast<size_t>(data[11]) << 24;
    prefix = 12;
  } else {
    return HQ_ERROR(kUnsupported, "{}: .npy format version {}.{} (expected 1.0, 2.0 or 3.0)", what,
                    major, data[7]);
  }
  if (prefix + header_len > size) {
    return HQ_ERROR(kParse, "{}: truncated .npy header ({} bytes announced, {} in the file)", what,
                    header_len, size - prefix);
  }
  std::string h(reinterpret_cast<const char*>(data + prefix), header_len);
  std::string descr, fortran, shape_text;
  if (!dictValue(h, "descr", &descr) || !dictValue(h, "fortran_order", &fortran) ||
      !dictValue(h, "shape", &shape_text)) {
    return HQ_ERROR(kParse, "{}: .npy header lacks descr, fortran_order or shape: {}", what, h);
  }
  NpyHeader out;
  out.dtype = dtypeFromDescr(descr);
  if (out.dtype == DType::kUndefined) {
    return HQ_ERROR(kUnsupported,
                    "{}: .npy dtype '{}' is not supported (little-endian bool, "
                    "int8..int64, uint8, uint16, float16/32/64)",
                    what, descr);
  }
  if (fortran != "False") {
    return HQ_ERROR(kUnsupported,
                    "{}: .npy array is in Fortran order; save it in C order "
                    "(np.ascontiguousarray)",
                    what);
  }
  size_t p = 0;
  while (p < shape_text.size()) {
    while (p < shape_text.size() && (shape_text[p] == ' ' || shape_text[p] == ',')) ++p;
    if (p >= shape_text.size()) break;
    size_t q = p;
    while (q < shape_text.size() && shape_text[q] >= '0' && shape_text[q] <= '9') ++q;
    if (q == p || q - p > 18) {
      return HQ_ERROR(kParse, "{}: bad .npy shape '({})'", what, shape_text);
    }
    out.shape.push_back(std::stoll(shape_text.substr(p, q - p)));
    p = q;
  }
  out.dataOffset = prefix + header_len;
  unsigned __int128 bytes = dtypeSize(out.dtype);
  for (int64_t d : out.shape) {
    bytes *= static_cast<uint64_t>(d);
    if (bytes > (static_cast<unsigned __int128>(1) << 62)) {
      return HQ_ERROR(kParse, "{}: .npy shape {} is implausibly large", what,
                      shapeString(out.shape));
    }
  }
  out.dataBytes = static_cast<size_t>(bytes);
  size_t have = size - out.dataOffset;
  if (have != out.dataBytes) {
    return HQ_ERROR(kParse, "{}: .npy {} {} needs {} data bytes, the file has {}{}", what,
                    dtypeName(out.dtype), shapeString(out.shape), out.dataBytes, have,
                    have < out.dataBytes ? " (truncated)" : "");
  }
  return out;
}

Expected<Tensor> decodeNpy(const std::string& bytes, const std::string& what) {
  const auto* d = reinterpret_cast<const uint8_t*>(bytes.data());
  HQ_ASSIGN_OR_RETURN(NpyHeader h, parseNpyHeader(d, bytes.size(), what));
  Tensor t(h.dtype, h.shape);
  if (h.dataBytes) std::memcpy(t.raw(), d + h.dataOffset, h.dataBytes);
  return t;
}

Expected<Tensor> readNpy(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  return decodeNpy(bytes, path);
}

}  // namespace hq
