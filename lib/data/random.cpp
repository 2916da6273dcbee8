#include "data/random.h"

#include <cstddef>
#include <numeric>
#include <utility>

namespace hq {

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n > 0 ? n : 0));
  std::iota(p.begin(), p.end(), int64_t{0});
  SplitMix64 rng(seed);
  for (int64_t i = n - 1; i >= 1; --i) {
    auto j = static_cast<int64_t>(rng.uniformBelow(static_cast<uint64_t>(i) + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

}  // namespace hq
