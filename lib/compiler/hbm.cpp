// The .hbm container and payload validation (schemas/hbm.md).
#include "compiler/hbm.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include "support/atomic_file.h"
#include "support/sha256.h"

namespace hq {
namespace {

constexpr char kMagic[6] = {'H', 'Q', 'H', 'B', 'M', '\0'};
constexpr size_t kMagicBytes = sizeof(kMagic);

void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t getU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

/// offset + size <= limit without overflow.
bool fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

class Validator {
 public:
  explicit Validator(const hbm::Model& m) : m_(m) {}

  Status run() {
    HQ_RETURN_IF_ERROR(checkHeader());
    HQ_RETURN_IF_ERROR(checkBuffers());
    for (int i = 0; i < m_.inputs_size(); ++i)
      HQ_RETURN_IF_ERROR(checkDesc(m_.inputs(i), fmt::format("inputs[{}]", i), true));
    for (int i = 0; i < m_.outputs_size(); ++i)
      HQ_RETURN_IF_ERROR(checkDesc(m_.outputs(i), fmt::format("outputs[{}]", i), false));
    HQ_RETURN_IF_ERROR(checkLayers());
    for (int i = 0; i < m_.instructions_size(); ++i) HQ_RETURN_IF_ERROR(checkInstruction(i));
    return Status::ok();
  }

 private:
  static bool isHexDigest(const std::string& s) {
    if (s.size() != 64) return false;
    for (char ch : s)
      if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
    return true;
  }

  Status checkHeader() {
    if (m_.march().empty()) return HQ_ERROR(kParse, "march: the march name is empty");
    if (m_.batch() == 0) return HQ_ERROR(kParse, "batch is 0, expected >= 1 frames per run");
    if (!m_.source_model_sha256().empty() && !isHexDigest(m_.source_model_sha256()))
      return HQ_ERROR(kParse, "source_model_sha256: '{}' is not 64 lower-case hex digits",
                      m_.source_model_sha256());
    if (!m_.march_info().sha256().empty() && !isHexDigest(m_.march_info().sha256()))
      return HQ_ERROR(kParse, "march_info.sha256: '{}' is not 64 lower-case hex digits",
                      m_.march_info().sha256());
    const auto& opts = m_.compiler().options();
    for (int i = 1; i < opts.size(); ++i)
      if (!(opts[i - 1].key() < opts[i].key()))
        return HQ_ERROR(kParse,
                        "compiler.options[{}]: key '{}' after '{}', expected keys sorted "
                        "and unique",
                        i, opts[i].key(), opts[i - 1].key());
    return Status::ok();
  }

  Status checkBuffers() {
    const int64_t burst = m_.march_info().ddr_burst_bytes();
    const uint64_t align = burst > 0 ? static_cast<uint64_t>(burst) : 1;
    for (int i = 0; i < m_.buffers_size(); ++i) {
      const hbm::Buffer& b = m_.buffers(i);
      if (!buffers_.emplace(b.id(), &b).second)
        return HQ_ERROR(kParse, "buffers[{}] '{}': id {} is used by an earlier buffer", i, b.name(),
                        b.id());
      if (b.size() == 0)
        return HQ_ERROR(kParse, "buffers[{}] '{}': size is 0, expected > 0 bytes", i, b.name());
      if (!fits(b.offset(), b.size(), UINT64_MAX))
        return HQ_ERROR(kParse, "buffers[{}] '{}': offset {} + size {} overflows", i, b.name(),
                        b.offset(), b.size());
      if (align > 1 && b.offset() % align != 0)
        return HQ_ERROR(kParse,
                        "buffers[{}] '{}': offset {} is not a multiple of the march's "
                        "DDR burst {} bytes",
                        i, b.name(), b.offset(), align);
      if (b.purpose() == hbm::Buffer::PURPOSE_UNSPECIFIED)
        return HQ_ERROR(kParse, "buffers[{}] '{}': purpose is unset", i, b.name());
    }
    return Status::ok();
  }

  Status checkDesc(const hbm::TensorDesc& d, const std::string& where, bool isInput) {
    const std::string at = fmt::format("{} '{}'", where, d.name());
    if (d.name().empty()) return HQ_ERROR(kParse, "{}: name is empty", where);
    if (d.shape_size() == 0) return HQ_ERROR(kParse, "{}: shape is empty", at);
    for (int k = 0; k < d.shape_size(); ++k)
      if (d.shape(k) <= 0)
        return HQ_ERROR(kParse, "{}: shape[{}] is {}, expected > 0", at, k, d.shape(k));
    if (d.dtype() == hbm::DTYPE_UNSPECIFIED) return HQ_ERROR(kParse, "{}: dtype is unset", at);
    if (d.layout() == hbm::LAYOUT_UNSPECIFIED) return HQ_ERROR(kParse, "{}: layout is unset", at);
    if (d.scales_size() == 0) return HQ_ERROR(kParse, "{}: no scales", at);
    if (d.zero_points_size() != 0 && d.zero_points_size() != d.scales_size())
      return HQ_ERROR(kParse, "{}: {} zero points for {} scales", at, d.zero_points_size(),
                      d.scales_size());
    if (isInput && d.source() == hbm::INPUT_SOURCE_UNSPECIFIED)
      return HQ_ERROR(kParse, "{}: input source is unset", at);
    auto it = buffers_.find(d.buffer_id());
    if (it == buffers_.end())
      return HQ_ERROR(kParse, "{}: buffer_id {} names no buffer", at, d.buffer_id());
    const uint64_t frames = m_.batch();
    const uint64_t span = d.frame_stride_bytes() * frames;
    if (d.frame_stride_bytes() == 0 || span / frames != d.frame_stride_bytes() ||
        !fits(d.offset(), span, it->second->size()))
      return HQ_ERROR(kParse,
                      "{}: offset {} + {} frames x {} bytes is outside buffer {} ({} "
                      "bytes)",
                      at, d.offset(), frames, d.frame_stride_bytes(), d.buffer_id(),
                      it->second->size());
    return Status::ok();
  }

  Status checkLayers() {
    const uint64_t n = static_cast<uint64_t>(m_.instructions_size());
    for (int i = 0; i < m_.layers_size(); ++i) {
      const hbm::Layer& l = m_.layers(i);
      if (!fits(l.first_instruction(), l.instruction_count(), n))
        return HQ_ERROR(kParse,
                        "layers[{}] '{}': instructions [{}, +{}) beyond the {} "
                        "instructions",
                        i, l.name(), l.first_instruction(), l.instruction_count(), n);
    }
    for (int i = 0; i < m_.weight_regions_size(); ++i) {
      const hbm::WeightRegion& w = m_.weight_regions(i);
      if (w.layer() >= static_cast<uint32_t>(m_.layers_size()))
        return HQ_ERROR(kParse, "weight_regions[{}]: layer {} does not exist ({} layers)", i,
                        w.layer(), m_.layers_size());
      if (!fits(w.offset(), w.size(), m_.weights().size()))
        return HQ_ERROR(kParse,
                        "weight_regions[{}]: offset {} + size {} is beyond the weight "
                        "blob ({} bytes)",
                        i, w.offset(), w.size(), m_.weights().size());
    }
    return Status::ok();
  }

  /// `field` is the operand's path inside the instruction ("conv.weights").
  Status checkRegion(const hbm::Region& r, const std::string& field) {
    uint64_t limit = 0;
    std::string space;
    switch (r.space()) {
      case hbm::Region::DDR: {
        auto it = buffers_.find(r.buffer_id());
        if (it == buffers_.end())
          return HQ_ERROR(kParse, "{}: {}: buffer_id {} names no buffer", at_, field,
                          r.buffer_id());
        limit = it->second->size();
        space = fmt::format("buffer {} '{}' ({} bytes)", r.buffer_id(), it->second->name(), limit);
        break;
      }
      case hbm::Region::SRAM:
        limit = static_cast<uint64_t>(std::max<int64_t>(0, m_.march_info().sram_bytes()));
        space = fmt::format("SRAM ({} bytes)", limit);
        break;
      case hbm::Region::WEIGHTS:
        limit = m_.weights().size();
        space = fmt::format("the weight blob ({} bytes)", limit);
        break;
      default: return HQ_ERROR(kParse, "{}: {}: space is unset", at_, field);
    }
    if (r.size() == 0) return HQ_ERROR(kParse, "{}: {}: size is 0", at_, field);
    if (!fits(r.offset(), r.size(), limit))
      return HQ_ERROR(kParse, "{}: {}: offset {} + size {} is beyond {}", at_, field, r.offset(),
                      r.size(), space);
    if (r.dims_size() != r.strides_size() || r.dims_size() > 4)
      return HQ_ERROR(kParse, "{}: {}: {} dims and {} strides, expected the same count <= 4", at_,
                      field, r.dims_size(), r.strides_size());
    uint64_t last = 0;
    for (int k = 0; k < r.dims_size(); ++k) {
      if (r.dims(k) == 0) return HQ_ERROR(kParse, "{}: {}: dims[{}] is 0", at_, field, k);
      if (r.strides(k) < 0 || r.strides(k) > static_cast<int64_t>(r.size()))
        return HQ_ERROR(kParse, "{}: {}: strides[{}] = {} is outside [0, size {}]", at_, field, k,
                        r.strides(k), r.size());
      last += static_cast<uint64_t>(r.dims(k) - 1) * static_cast<uint64_t>(r.strides(k));
      if (last >= r.size())
        return HQ_ERROR(kParse, "{}: {}: the strided view reaches byte {} of a {}-byte region", at_,
                        field, last, r.size());
    }
    return Status::ok();
  }

  /// A compute operand: an activation (channel_stride > 0: native layout in SRAM, stride >= C)
  /// or a dense constant (channel_stride 0, in SRAM or WEIGHTS); the region holds its bytes.
  Status checkOperand(const hbm::Operand& o, const std::string& field) {
    if (o.absent()) return Status::ok();
    HQ_RETURN_IF_ERROR(checkRegion(o.region(), field));
    HQ_RETURN_IF_ERROR(
        expectSpace(o.region(), hbm::Region::SRAM, hbm::Region::WEIGHTS, field + ".region"));
    const int64_t elem = hbmDTypeBytes(o.dtype());
    if (elem == 0) return HQ_ERROR(kParse, "{}: {}: dtype is unset", at_, field);
    uint64_t elements = 1;
    for (int64_t d : o.shape()) {
      if (d <= 0 || d > (int64_t{1} << 31))
        return HQ_ERROR(kParse, "{}: {}: shape has dim {}", at_, field, d);
      elements *= static_cast<uint64_t>(d);
    }
    if (o.channel_stride() > 0) {
      if (o.region().space() != hbm::Region::SRAM)
        return HQ_ERROR(kParse, "{}: {}: an activation (channel_stride > 0) must be in SRAM", at_,
                        field);
      const int64_t channels = o.shape_size() >= 2 ? o.shape(1) : 1;
      if (o.channel_stride() < static_cast<uint64_t>(channels))
        return HQ_ERROR(kParse, "{}: {}: channel_stride {} < {} channels", at_, field,
                        o.channel_stride(), channels);
      if (o.channel_offset() + static_cast<uint64_t>(channels) > o.channel_stride() ||
          (o.written_channels() != 0 &&
           (o.written_channels() < static_cast<uint64_t>(channels) ||
            o.channel_offset() + o.written_channels() > o.channel_stride())))
        return HQ_ERROR(kParse,
                        "{}: {}: channels [{}, +{}) written [{}, +{}) do not fit channel_stride {}",
                        at_, field, o.channel_offset(), channels, o.channel_offset(),
                        o.written_channels(), o.channel_stride());
      elements = elements / static_cast<uint64_t>(channels) * o.channel_stride();
    }
    if (elements * static_cast<uint64_t>(elem) != o.region().size())
      return HQ_ERROR(kParse, "{}: {}: region holds {} bytes, the operand {}", at_, field,
                      o.region().size(), elements * static_cast<uint64_t>(elem));
    return Status::ok();
  }

  Status expectSpace(const hbm::Region& r, hbm::Region::Space a, hbm::Region::Space b,
                     const std::string& field) {
    if (r.space() == a || r.space() == b) return Status::ok();
    return HQ_ERROR(kParse, "{}: {}: space {} is not allowed here (expected {})", at_, field,
                    hbm::Region::Space_Name(r.space()), hbm::Region::Space_Name(a));
  }

  Status checkInstruction(int i) {
    const hbm::Instruction& in = m_.instructions(i);
    const std::string op = hbm::Instruction::Opcode_Name(in.opcode());
    at_ = fmt::format("instruction {} ({})", i, op.empty() ? std::to_string(in.opcode()) : op);
    if (m_.layers_size() > 0) {
      if (in.layer() >= static_cast<uint32_t>(m_.layers_size()))
        return HQ_ERROR(kParse, "{}: layer {} does not exist ({} layers)", at_, in.layer(),
                        m_.layers_size());
      at_ = fmt::format("instruction {} ({}, layer '{}')", i, op, m_.layers(in.layer()).name());
    }
    using I = hbm::Instruction;
    static const std::unordered_map<int, I::Engine> kEngine = {
        {I::DMA_LOAD, I::DMA_IN}, {I::DMA_STORE, I::DMA_OUT}, {I::CONV, I::MAC},
        {I::VECTOR, I::VEC},      {I::POOL, I::VEC},          {I::BARRIER, I::CONTROL}};
    auto engine = kEngine.find(in.opcode());
    if (engine != kEngine.end() && in.engine() != engine->second)
      return HQ_ERROR(kParse, "{}: engine {} does not run it (expected {})", at_,
                      I::Engine_Name(in.engine()), I::Engine_Name(engine->second));
    const auto want = [&](I::OperandsCase c, const char* name) -> Status {
      if (in.operands_case() == c) return Status::ok();
      return HQ_ERROR(kParse, "{}: expected `{}` operands", at_, name);
    };
    switch (in.opcode()) {
      case I::DMA_LOAD:
      case I::DMA_STORE: {
        HQ_RETURN_IF_ERROR(want(I::kDma, "dma"));
        const hbm::DmaOp& d = in.dma();
        HQ_RETURN_IF_ERROR(checkRegion(d.src(), "dma.src"));
        HQ_RETURN_IF_ERROR(checkRegion(d.dst(), "dma.dst"));
        if (in.opcode() == I::DMA_LOAD) {
          HQ_RETURN_IF_ERROR(
              expectSpace(d.src(), hbm::Region::DDR, hbm::Region::WEIGHTS, "dma.src"));
          HQ_RETURN_IF_ERROR(expectSpace(d.dst(), hbm::Region::SRAM, hbm::Region::SRAM, "dma.dst"));
        } else {
          HQ_RETURN_IF_ERROR(expectSpace(d.src(), hbm::Region::SRAM, hbm::Region::SRAM, "dma.src"));
          HQ_RETURN_IF_ERROR(expectSpace(d.dst(), hbm::Region::DDR, hbm::Region::DDR, "dma.dst"));
        }
        return Status::ok();
      }
      case I::CONV:
      case I::VECTOR:
      case I::POOL: {
        HQ_RETURN_IF_ERROR(want(I::kCompute, "compute"));
        const hbm::ComputeOp& c = in.compute();
        for (int k = 0; k < c.inputs_size(); ++k)
          HQ_RETURN_IF_ERROR(checkOperand(c.inputs(k), fmt::format("compute.inputs[{}]", k)));
        if (c.output().absent()) return HQ_ERROR(kParse, "{}: compute.output is absent", at_);
        HQ_RETURN_IF_ERROR(checkOperand(c.output(), "compute.output"));
        return expectSpace(c.output().region(), hbm::Region::SRAM, hbm::Region::SRAM,
                           "compute.output");
      }
      case I::BARRIER:
        if (in.operands_case() != I::OPERANDS_NOT_SET)
          return HQ_ERROR(kParse, "{}: a barrier takes no operands", at_);
        return Status::ok();
      default:
        return HQ_ERROR(kParse, "{}: opcode {} is unknown", at_, static_cast<int>(in.opcode()));
    }
  }

  const hbm::Model& m_;
  std::unordered_map<uint32_t, const hbm::Buffer*> buffers_;
  std::string at_;
};

}  // namespace

Status validateHbm(const hbm::Model& model) { return Validator(model).run(); }

DType dtypeFromHbm(hbm::DType t) {
  switch (t) {
    case hbm::INT8: return DType::kInt8;
    case hbm::UINT8: return DType::kUInt8;
    case hbm::INT16: return DType::kInt16;
    case hbm::INT32: return DType::kInt32;
    case hbm::INT64: return DType::kInt64;
    default: return DType::kUndefined;
  }
}

hbm::DType dtypeToHbm(DType t) {
  switch (t) {
    case DType::kInt8: return hbm::INT8;
    case DType::kUInt8: return hbm::UINT8;
    case DType::kInt16: return hbm::INT16;
    case DType::kInt32: return hbm::INT32;
    case DType::kInt64: return hbm::INT64;
    default: return hbm::DTYPE_UNSPECIFIED;
  }
}

int64_t hbmDTypeBytes(hbm::DType dtype) {
  switch (dtype) {
    case hbm::INT8:
    case hbm::UINT8: return 1;
    case hbm::INT16: return 2;
    case hbm::INT32: return 4;
    case hbm::INT64: return 8;
    default: return 0;
  }
}

int64_t dmaPayloadBytes(const hbm::Region& region, hbm::DType dtype) {
  if (region.dims_size() == 0) return static_cast<int64_t>(region.size());
  int64_t n = std::max<int64_t>(1, hbmDTypeBytes(dtype));
  for (uint32_t d : region.dims()) n *= d;
  return n;
}

Expected<std::string> serializeHbm(const hbm::Model& model) {
  HQ_RETURN_IF_ERROR(validateHbm(model).addContext("invalid .hbm model"));
  std::string payload;
  {
    google::protobuf::io::StringOutputStream stream(&payload);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!model.SerializeToCodedStream(&coded))
      return HQ_ERROR(kInternal, ".hbm payload failed to serialize");
  }
  std::string out;
  out.reserve(kHbmHeaderBytes + payload.size() + kHbmChecksumBytes);
  out.append(kMagic, kMagicBytes);
  out.push_back(static_cast<char>(kHbmFormatMajor));
  out.push_back(static_cast<char>(kHbmFormatMinor));
  putU64(out, payload.size());
  out += payload;
  Sha256 sha;
  sha.update(out);
  const std::array<uint8_t, 32> digest = sha.digest();
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

Expected<hbm::Model> parseHbm(const std::string& bytes, const std::string& what) {
  const size_t n = bytes.size();
  if (n == 0) return HQ_ERROR(kParse, "{}: not an .hbm file (it is empty)", what);
  if (std::memcmp(bytes.data(), kMagic, std::min(n, kMagicBytes)) != 0)
    return HQ_ERROR(kParse, "{}: not an .hbm file (no HQHBM magic at the start)", what);
  if (n > kMagicBytes) {
    // The major version is checked before anything else: a newer major may lay out the rest
    // of the file differently.
    const unsigned major = static_cast<uint8_t>(bytes[kMagicBytes]);
    if (major > kHbmFormatMajor)
      return HQ_ERROR(kUnsupported, "{}: was written by a newer hq (format {}, this hq reads {})",
                      what, major, kHbmFormatMajor);
    if (major == 0) return HQ_ERROR(kParse, "{}: bad .hbm format version 0", what);
  }
  if (n < kHbmHeaderBytes)
    return HQ_ERROR(kParse, "{}: truncated .hbm file: {} bytes, the header alone is {}", what, n,
                    kHbmHeaderBytes);
  const uint64_t payloadLen = getU64(bytes.data() + 8);
  const uint64_t room = n - kHbmHeaderBytes;
  if (payloadLen > room || room - payloadLen < kHbmChecksumBytes)
    return HQ_ERROR(kParse,
                    "{}: truncated .hbm file: {} bytes, the header announces a {}-byte "
                    "payload ({} bytes with header and checksum)",
                    what, n, payloadLen,
                    payloadLen > UINT64_MAX - 64
                        ? std::string("more than 2^64")
                        : std::to_string(payloadLen + kHbmHeaderBytes + kHbmChecksumBytes));
  if (room - payloadLen > kHbmChecksumBytes)
    return HQ_ERROR(kParse, "{}: {} unexpected bytes after the .hbm checksum", what,
                    room - payloadLen - kHbmChecksumBytes);
  const size_t body = kHbmHeaderBytes + static_cast<size_t>(payloadLen);
  Sha256 sha;
  sha.update(bytes.data(), body);
  const std::array<uint8_t, 32> digest = sha.digest();
  if (std::memcmp(digest.data(), bytes.data() + body, kHbmChecksumBytes) != 0)
    return HQ_ERROR(kParse, "{}: corrupted .hbm file: SHA-256 checksum mismatch", what);
  if (payloadLen > static_cast<uint64_t>(INT_MAX))
    return HQ_ERROR(kUnsupported, "{}: .hbm payload of {} bytes is over protobuf's 2 GiB limit",
                    what, payloadLen);
  hbm::Model model;
  // Damaged strings would otherwise make protobuf log to stderr; the Status says it all.
  google::protobuf::LogSilencer quiet;
  if (!model.ParseFromArray(bytes.data() + kHbmHeaderBytes, static_cast<int>(payloadLen)))
    return HQ_ERROR(kParse, "{}: the .hbm payload is not a valid hq.hbm.Model message", what);
  HQ_RETURN_IF_ERROR(validateHbm(model).addContext(what + ": invalid .hbm"));
  return model;
}

Status writeHbm(const std::string& path, const hbm::Model& model) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, serializeHbm(model));
  return writeFileAtomic(path, bytes);
}

Expected<hbm::Model> readHbm(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  return parseHbm(bytes, path);
}

bool looksLikeHbm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[kMagicBytes];
  if (!in.read(head, kMagicBytes)) return false;
  return std::memcmp(head, kMagic, kMagicBytes) == 0;
}

}  // namespace hq
