#!/usr/bin/python3
"""Regenerates the data-layer test fixtures and prints reference numbers for the tests.

Run with Debian's Python (numpy): /usr/bin/python3 tests/data/datasets/make_fixtures.py
The PRNG here is an independent Python implementation of lib/data/random.h.
"""
import os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
M = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)

    def uniform_below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            r = self.next()
            if r >= threshold:
                return r % n


def permutation(n, seed):
    p = list(range(n))
    rng = SplitMix64(seed)
    for i in range(n - 1, 0, -1):
        j = rng.uniform_below(i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def combine(a, b):
    return SplitMix64(a ^ SplitMix64(b).next()).next()


# tiny.npz: stored members. images uint8 NHWC [4, 2, 3, 3] = arange(72), labels int64.
images = np.arange(72, dtype=np.uint8).reshape(4, 2, 3, 3)
labels = np.array([3, 0, 2, 1], dtype=np.int64)
np.savez(os.path.join(HERE, "tiny.npz"), images=images, labels=labels)
# tiny_compressed.npz: deflated members. images float32 NCHW [4, 3, 2, 3] = arange(72) / 2.
fimages = (np.arange(72, dtype=np.float32) / 2).reshape(4, 3, 2, 3)
np.savez_compressed(os.path.join(HERE, "tiny_compressed.npz"), x=fimages,
                    y=labels.astype(np.int32))

print("splitmix64(0) first outputs:", [hex(v) for v in [SplitMix64(0).next()]])
print("permutation(10, 0):", permutation(10, 0))
print("permutation(10, 7):", permutation(10, 7))
print("permutation(60000, 0)[:8]:", permutation(60000, 0)[:8])
print("combineSeeds(1, 2):", hex(combine(1, 2)))
