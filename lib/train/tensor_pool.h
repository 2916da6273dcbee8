// A caching allocator for the training engine's per-step tensors (forward outputs and
// gradients): the same shapes come back every step, and handing the same buffers out again
// avoids the page faults of fresh large allocations (glibc returns big blocks to the
// kernel on free), which cost as much as the whole backward on mobilenetv2_32.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ir/tensor.h"

namespace hq::train {

class TensorPool : public std::enable_shared_from_this<TensorPool> {
 public:
  static std::shared_ptr<TensorPool> create() {
    return std::shared_ptr<TensorPool>(new TensorPool());
  }
  ~TensorPool();

  /// A zero-filled tensor (64-byte aligned, like Tensor(dtype, shape)). Buffers of at least
  /// kMinBytes come from the pool and return to it when the last tensor sharing them goes
  /// (the pool lives as long as any of them); smaller ones are plain Tensors.
  Tensor zeros(DType dtype, const Shape& shape);
  /// As zeros, but a pooled buffer keeps whatever it held (for outputs a kernel overwrites
  /// whole).
  Tensor uninitialized(DType dtype, const Shape& shape);

  /// Bytes held for reuse now (not handed out).
  size_t idleBytes() const;

  static constexpr size_t kMinBytes = 1 << 16;

 private:
  TensorPool() = default;
  void release(size_t bytes, void* p);
  Tensor take(DType dtype, const Shape& shape, bool zero);

  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> idle_;
};

}  // namespace hq::train
