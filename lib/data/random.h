// Portable, documented pseudo-random numbers for dataset order and augmentation, so the same
// seed gives the same samples on every platform and compiler (std::shuffle and the standard
// distributions are implementation-defined, so they are not used).
//
//   SplitMix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15;
//     z = state; z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) * 0x94D049BB133111EB;
//     return z ^ z >> 31
//   uniformBelow(n): t = (2^64 - n) mod n; draw r until r >= t; return r mod n  (unbiased)
//   permutation(n, seed): p = [0..n); for i = n-1 down to 1: swap(p[i], p[uniformBelow(i+1)])
//   combineSeeds(a, b) = SplitMix64(a ^ SplitMix64(b).next()).next()
#pragma once

#include <cstdint>
#include <vector>

namespace hq {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  uint64_t uniformBelow(uint64_t n) {
    uint64_t threshold = (0 - n) % n;
    while (true) {
      uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  /// Uniform float in [0, 1) with 24 random bits.
  float uniform01() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

 private:
  uint64_t state_;
};

/// Mix two values into one seed (e.g. seed and epoch).
inline uint64_t combineSeeds(uint64_t a, uint64_t b) {
  return SplitMix64(a ^ SplitMix64(b).next()).next();
}

/// A Fisher-Yates permutation of 0..n-1 driven by SplitMix64(seed).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace hq
