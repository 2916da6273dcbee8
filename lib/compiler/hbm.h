// The .hbm container (schemas/hbm.md): 8-byte magic with the format version, payload length,
// the hq.hbm.Model protobuf payload (schemas/hbm.proto), then a SHA-256 of everything before.
// Readers refuse truncated, corrupted, foreign and newer-major files with one line naming
// the file, and validate the payload (every operand inside its buffer, SRAM or the weight
// blob) before anyone runs it.
#pragma once

#include <cstdint>
#include <string>

#include "hbm.pb.h"
#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// Format version written by this hq. A reader accepts any minor of its own major (unknown
/// fields of a newer minor are ignored) and refuses a newer major.
inline constexpr uint8_t kHbmFormatMajor = 1;
inline constexpr uint8_t kHbmFormatMinor = 0;
/// Bytes of the fixed header: magic "HQHBM\0" + major + minor (8), payload length (8, LE).
inline constexpr size_t kHbmHeaderBytes = 16;
/// Bytes of the trailing SHA-256.
inline constexpr size_t kHbmChecksumBytes = 32;

/// The container bytes of `model`: deterministic (same model, same bytes). Validates the
/// model first, so a compiler bug never reaches a file.
Expected<std::string> serializeHbm(const hbm::Model& model);

/// Parse and validate container bytes; `what` (usually the path) prefixes every error.
Expected<hbm::Model> parseHbm(const std::string& bytes, const std::string& what);

/// Structural checks of a payload (also run by serializeHbm/parseHbm): buffer ids unique,
/// descriptors with shapes and existing buffers, every instruction's operands inside their
/// buffer / SRAM / the weight blob, layer indices valid. Errors name the instruction index
/// and the field ("instruction 3 (CONV): conv.weights: offset 4090 + size 64 is beyond the
/// weight blob (4096 bytes)").
Status validateHbm(const hbm::Model& model);

/// Serialize and write atomically (a temp file renamed into place).
Status writeHbm(const std::string& path, const hbm::Model& model);

/// Read, check and parse an .hbm file.
Expected<hbm::Model> readHbm(const std::string& path);

/// The hq element type of an .hbm dtype (INT8 -> kInt8, UINT8 -> kUInt8, INT16, INT32, INT64);
/// kUndefined for DTYPE_UNSPECIFIED or an unknown value.
DType dtypeFromHbm(hbm::DType t);
/// The .hbm dtype of an hq element type; DTYPE_UNSPECIFIED for types the NPU does not store
/// (float, bool, uint16, ...).
hbm::DType dtypeToHbm(DType t);

/// Bytes per element of an hbm dtype; 0 for DTYPE_UNSPECIFIED or an unknown value.
int64_t hbmDTypeBytes(hbm::DType dtype);

/// Payload bytes a DMA moves (what CompileStats, the timing model and hq-viz count): the
/// region's footprint for a contiguous region, elements x element size for a strided view
/// (an unspecified dtype counts 1 byte per element, as the simulator moves it).
int64_t dmaPayloadBytes(const hbm::Region& region, hbm::DType dtype);

/// True when the file starts with the .hbm magic ("HQHBM\0"); any version. For tools that
/// route inputs by content (hq-eval, hq-perf).
bool looksLikeHbm(const std::string& path);

}  // namespace hq
