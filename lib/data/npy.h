// NumPy .npy files (format 1.0/2.0, little-endian, C order) for tensors in and out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// Serialize a tensor as .npy bytes (format 1.0).
std::string encodeNpy(const Tensor& t);
/// Write a tensor to an .npy file atomically.
Status writeNpy(const std::string& path, const Tensor& t);
/// The header of an .npy file: element type, shape (C order) and where the data starts.
struct NpyHeader {
  DType dtype = DType::kUndefined;
  Shape shape;
  size_t dataOffset = 0;  ///< bytes from the start of the file to the first element
  size_t dataBytes = 0;   ///< numel * element size
};

/// Parse and check an .npy header (versions 1.0, 2.0, 3.0; little-endian or byte-sized
/// dtypes; C order) of a file of `size` bytes, and that the data that follows is exactly
/// as long as the shape says. `what` names the source in messages.
Expected<NpyHeader> parseNpyHeader(const uint8_t* data, size_t size, const std::string& what);
/// Parse .npy bytes; `what` names the source in messages.
Expected<Tensor> decodeNpy(const std::string& bytes, const std::string& what);
/// Read an .npy file.
Expected<Tensor> readNpy(const std::string& path);

}  // namespace hq
