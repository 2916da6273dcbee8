// Training checkpoints (hq-qat --resume): every tensor of the training state, byte-exact,
// plus a JSON document of the trainer's own state, in one file written atomically.
//
// File layout (version 1; little-endian):
//   bytes 0..7    magic "HQCKPT" 0x00 0x01 (the last byte is the format version)
//   bytes 8..15   uint64 H: length of the header
//   H bytes       header, UTF-8 JSON: {"state": <caller's JSON>, "tensors": [{"name",
//                 "dtype" (dtypeName), "shape", "offset", "bytes"}, ...]}
//   payload       the tensors' raw bytes, at the header's offsets (relative to the payload)
//   64 bytes      SHA-256 (hex) of everything before it
// A truncated, corrupted or foreign file is refused with one line naming the file and the
// problem; a file from a newer format version says so.
#pragma once

#include <string>
#include <vector>

#include "support/json.h"
#include "support/status.h"
#include "train/optimizer.h"  // NamedTensor

namespace hq::train {

inline constexpr int kCheckpointVersion = 1;

struct Checkpoint {
  OrderedJson state;                 ///< the trainer's JSON (epoch, options, history...)
  std::vector<NamedTensor> tensors;  ///< names unique
};

/// Serialize (deterministic: same checkpoint, same bytes).
Expected<std::string> serializeCheckpoint(const Checkpoint& ckpt);
/// Parse; `what` names the file in errors.
Expected<Checkpoint> parseCheckpoint(const std::string& bytes, const std::string& what);

/// Write atomically (temp file + rename) / read.
Status writeCheckpoint(const std::string& path, const Checkpoint& ckpt);
Expected<Checkpoint> readCheckpoint(const std::string& path);

}  // namespace hq::train
