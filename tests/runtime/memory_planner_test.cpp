#include <catch2/catch.hpp>

#include "runtime/memory_planner.h"

using hq::MemoryPlanner;

TEST_CASE("memory planner reuses memory of dead buffers") {
  // A chain a -> b -> c: a and c never live together and share an offset.
  MemoryPlanner p(1);
  int a = p.addBuffer(100, 0, 1);
  int b = p.addBuffer(50, 1, 2);
  int c = p.addBuffer(100, 2, 3);
  p.plan();
  CHECK(p.arenaBytes() == 150);
  CHECK(p.peakLiveBytes() == 150);
  CHECK(p.offset(a) == p.offset(c));
  CHECK(p.offset(b) >= 100);
}

TEST_CASE("memory planner never overlaps live buffers and respects alignment") {
  MemoryPlanner p(64);
  std::vector<std::tuple<int, int, int>> bufs;  // id, first, last
  for (int i = 0; i < 40; ++i) {
    int first = (i * 7) % 20, last = first + (i % 5);
    bufs.push_back({p.addBuffer(static_cast<size_t>(10 + (i * 37) % 300), first, last), first, last});
  }
  p.plan();
  for (auto& [id, f, l] : bufs) CHECK(p.offset(id) % 64 == 0);
  for (size_t i = 0; i < bufs.size(); ++i) {
    for (size_t j = i + 1; j < bufs.size(); ++j) {
      auto [ia, fa, la] = bufs[i];
      auto [ib, fb, lb] = bufs[j];
      if (la < fb || lb < fa) continue;
      size_t sa = (10 + (ia * 37) % 300 + 63) / 64 * 64, sb = (10 + (ib * 37) % 300 + 63) / 64 * 64;
      bool disjoint = p.offset(ia) + sa <= p.offset(ib) || p.offset(ib) + sb <= p.offset(ia);
      CHECK(disjoint);
    }
  }
  CHECK(p.arenaBytes() >= p.peakLiveBytes());
}
