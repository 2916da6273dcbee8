// NumPy .npy files (format 1.0/2.0, little-endian, C order) for tensors in and out.
#pragma once

#include <string>

#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// Serialize a tensor as .npy bytes (format 1.0).
std::string encodeNpy(const Tensor& t);
/// Write a tensor to an .npy file atomically.
Status writeNpy(const std::string& path, const Tensor& t);
/// Parse .npy bytes; `what` names the source in messages.
Expected<Tensor> decodeNpy(const std::string& bytes, const std::string& what);
/// Read an .npy file.
Expected<Tensor> readNpy(const std::string& path);

}  // namespace hq
