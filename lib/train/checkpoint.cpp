#include "train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "support/atomic_file.h"
#include "support/sha256.h"

namespace hq::train {

namespace {

constexpr char kMagic[7] = {'H', 'Q', 'C', 'K', 'P', 'T', '\0'};
constexpr size_t kPrefix = 16;  // magic + version + header length
constexpr size_t kDigest = 64;  // hex SHA-256

DType dtypeByName(const std::string& name) {
  for (DType t : {DType::kFloat32, DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16,
                  DType::kInt32, DType::kInt64, DType::kBool, DType::kFloat16, DType::kFloat64}) {
    if (name == dtypeName(t)) return t;
  }
  return DType::kUndefined;
}

}  // namespace

Expected<std::string> serializeCheckpoint(const Checkpoint& ckpt) {
  OrderedJson header;
  header["state"] = ckpt.state;
  header["tensors"] = OrderedJson::array();
  std::set<std::string> names;
  size_t offset = 0;
  for (const NamedTensor& t : ckpt.tensors) {
    if (!names.insert(t.name).second) {
      return HQ_ERROR(kInternal, "checkpoint: tensor '{}' appears twice", t.name);
    }
    if (!t.tensor.defined()) {
      return HQ_ERROR(kInternal, "checkpoint: tensor '{}' has no value", t.name);
    }
    OrderedJson e;
    e["name"] = t.name;
    e["dtype"] = dtypeName(t.tensor.dtype());
    e["shape"] = t.tensor.shape();
    e["offset"] = offset;
    e["bytes"] = t.tensor.nbytes();
    header["tensors"].push_back(e);
    offset += t.tensor.nbytes();
  }
  std::string head = header.dump();
  std::string out;
  out.reserve(kPrefix + head.size() + offset + kDigest);
  out.append(kMagic, sizeof(kMagic));
  out.push_back(static_cast<char>(kCheckpointVersion));
  uint64_t len = head.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += head;
  for (const NamedTensor& t : ckpt.tensors) {
    out.append(static_cast<const char*>(t.tensor.raw()), t.tensor.nbytes());
  }
  out += sha256Hex(out);
  return out;
}

Expected<Checkpoint> parseCheckpoint(const std::string& bytes, const std::string& what) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return HQ_ERROR(kParse, "{}: not an hq checkpoint (no HQCKPT magic)", what);
  }
  if (bytes.size() < kPrefix + kDigest) {
    return HQ_ERROR(kParse, "{}: truncated checkpoint ({} bytes)", what, bytes.size());
  }
  int version = static_cast<unsigned char>(bytes[7]);
  if (version > kCheckpointVersion) {
    return HQ_ERROR(kUnsupported,
                    "{}: checkpoint format version {} is newer than this hq "
                    "reads ({})",
                    what, version, kCheckpointVersion);
  }
  if (version < 1) return HQ_ERROR(kParse, "{}: bad checkpoint format version 0", what);
  const size_t body = bytes.size() - kDigest;
  if (sha256Hex(std::string_view(bytes.data(), body)) != bytes.substr(body)) {
    return HQ_ERROR(kParse, "{}: checkpoint checksum mismatch (truncated or corrupted file)", what);
  }
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) {
    len |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  }
  if (len > body - kPrefix) {
    return HQ_ERROR(kParse, "{}: checkpoint header length {} exceeds the file", what, len);
  }
  Json header = Json::parse(bytes.begin() + kPrefix, bytes.begin() + kPrefix + len, nullptr, false);
  if (header.is_discarded() || !header.is_object() || !header.contains("tensors") ||
      !header["tensors"].is_array()) {
    return HQ_ERROR(kParse, "{}: checkpoint header is not valid JSON", what);
  }
  Checkpoint ckpt;
  ckpt.state = header.contains("state") ? OrderedJson(header["state"]) : OrderedJson::object();
  const size_t payload = kPrefix + len;
  std::set<std::string> names;
  const size_t payload_size = body - payload;
  for (const Json& e : header["tensors"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("dtype") ||
        !e["dtype"].is_string() || !e.contains("shape") || !e["shape"].is_array() ||
        !e.contains("offset") || !e["offset"].is_number_unsigned() || !e.contains("bytes") ||
        !e["bytes"].is_number_unsigned()) {
      return HQ_ERROR(kParse, "{}: checkpoint tensor entry malformed: {}", what, e.dump());
    }
    const std::string name = e["name"];
    DType t = dtypeByName(e["dtype"]);
    if (t == DType::kUndefined) {
      return HQ_ERROR(kParse, "{}: tensor '{}': unknown dtype '{}'", what, name,
                      e["dtype"].get<std::string>());
    }
    if (!names.insert(name).second) {
      return HQ_ERROR(kParse, "{}: tensor '{}' appears twice", what, name);
    }
    Shape shape;
    uint64_t numel = 1;
    for (const Json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t{1} << 40)) {
        return HQ_ERROR(kParse, "{}: tensor '{}': bad shape {}", what, name, e["shape"].dump());
      }
      shape.push_back(d.get<int64_t>());
      numel = std::min<uint64_t>(numel * static_cast<uint64_t>(shape.back()), uint64_t{1} << 50);
    }
    const size_t off = e["offset"], n = e["bytes"];
    // Sizes are checked against the file before anything is allocated.
    if (numel * dtypeSize(t) != n || off > payload_size || n > payload_size - off) {
      return HQ_ERROR(kParse,
                      "{}: tensor '{}': {} bytes at offset {} do not fit its shape {} "
                      "or the file",
                      what, name, n, off, shapeString(shape));
    }
    Tensor tensor(t, shape);
    if (n) std::memcpy(tensor.raw(), bytes.data() + payload + off, n);
    ckpt.tensors.push_back({name, std::move(tensor)});
  }
  return ckpt;
}

Status writeCheckpoint(const std::string& path, const Checkpoint& ckpt) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, serializeCheckpoint(ckpt));
  return writeFileAtomic(path, bytes);
}

Expected<Checkpoint> readCheckpoint(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  return parseCheckpoint(bytes, path);
}

}  // namespace hq::train
