#include "train/tensor_pool.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace hq::train {

TensorPool::~TensorPool() {
  for (auto& [bytes, list] : idle_) {
    for (void* p : list) std::free(p);
  }
}

Tensor TensorPool::zeros(DType dtype, const Shape& shape) { return take(dtype, shape, true); }

Tensor TensorPool::uninitialized(DType dtype, const Shape& shape) {
  return take(dtype, shape, false);
}

Tensor TensorPool::take(DType dtype, const Shape& shape, bool zero) {
  const int64_t n = shapeNumel(shape);
  const size_t bytes = n > 0 ? static_cast<size_t>(n) * dtypeSize(dtype) : 0;
  if (bytes < kMinBytes) return Tensor(dtype, shape);
  const size_t alloc = (bytes + 63) / 64 * 64;
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(alloc);
    if (it != idle_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    }
  }
  if (!p) {
    p = std::aligned_alloc(64, alloc);
    if (!p) throw std::bad_alloc();
  }
  // Zero in parallel chunks (each byte written by one thread).
  char* c = static_cast<char*>(p);
  const int64_t chunks = zero ? static_cast<int64_t>((alloc + (1 << 20) - 1) >> 20) : 0;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t k = 0; k < chunks; ++k) {
    const size_t lo = static_cast<size_t>(k) << 20;
    std::memset(c + lo, 0, std::min<size_t>(alloc - lo, size_t{1} << 20));
  }
  auto self = shared_from_this();
  std::shared_ptr<void> buffer(p, [self, alloc](void* q) { self->release(alloc, q); });
  return Tensor::shared(dtype, shape, std::move(buffer), p);
}

void TensorPool::release(size_t bytes, void* p) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_[bytes].push_back(p);
}

size_t TensorPool::idleBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t total = 0;
  for (const auto& [bytes, list] : idle_) total += bytes * list.size();
  return total;
}

}  // namespace hq::train
