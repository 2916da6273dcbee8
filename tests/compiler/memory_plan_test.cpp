// Memory planner: hand cases with known optimal arena sizes, alignment, 1,000 seeded random
// request sets checked for overlap / bounds / determinism, an exact brute-force optimum on
// small sets, error cases, and double-buffered SRAM slots.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "compiler/memory_plan.h"

using hq::BufferRequest;
using hq::ErrorCode;
using hq::MemoryPlan;

namespace {

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/// Independent checker: no two buffers live at a common step share a byte; offsets aligned;
/// every buffer inside totalBytes.
void checkValid(const std::vector<BufferRequest>& reqs, const MemoryPlan& plan, int64_t align) {
  REQUIRE(plan.offsets.size() == reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    REQUIRE(plan.offsets[i] >= 0);
    REQUIRE(plan.offsets[i] % align == 0);
    REQUIRE(plan.offsets[i] + reqs[i].sizeBytes <= plan.totalBytes);
    for (size_t j = i + 1; j < reqs.size(); ++j) {
      bool timeOverlap = reqs[i].firstUse <= reqs[j].lastUse && reqs[j].firstUse <= reqs[i].lastUse;
      bool memOverlap = plan.offsets[i] < plan.offsets[j] + reqs[j].sizeBytes &&
                        plan.offsets[j] < plan.offsets[i] + reqs[i].sizeBytes;
      if (timeOverlap && memOverlap) {
        FAIL("buffers " << reqs[i].id << " and " << reqs[j].id << " overlap in time and memory");
      }
    }
  }
}

/// Brute-force lower bound: sum of aligned live sizes at every step, step by step.
int64_t bruteLowerBound(const std::vector<BufferRequest>& reqs, int64_t align) {
  int64_t maxStep = 0;
  for (const auto& r : reqs) maxStep = std::max(maxStep, r.lastUse);
  int64_t peak = 0;
  for (int64_t t = 0; t <= maxStep; ++t) {
    int64_t live = 0;
    for (const auto& r : reqs) {
      if (r.firstUse <= t && t <= r.lastUse) live += alignUp(r.sizeBytes, align);
    }
    peak = std::max(peak, live);
  }
  return peak;
}

/// Exact optimum for small sets: every packing can be pushed down so each buffer sits at the
/// lowest offset free of the buffers below it, so the optimum is the best first-fit placement
/// over all orders.
int64_t bruteOptimum(const std::vector<BufferRequest>& reqs, int64_t align) {
  std::vector<size_t> perm(reqs.size());
  std::iota(perm.begin(), perm.end(), 0);
  int64_t best = std::numeric_limits<int64_t>::max();
  do {
    std::vector<int64_t> off(reqs.size(), -1);
    int64_t total = 0;
    for (size_t i : perm) {
      int64_t size = alignUp(reqs[i].sizeBytes, align);
      int64_t cand = 0;
      bool moved = true;
      while (moved) {  // lowest offset clear of all placed time-overlapping buffers
        moved = false;
        for (size_t j = 0; j < reqs.size(); ++j) {
          if (off[j] < 0) continue;
          bool t = reqs[i].firstUse <= reqs[j].lastUse && reqs[j].firstUse <= reqs[i].lastUse;
          int64_t sj = alignUp(reqs[j].sizeBytes, align);
          if (t && cand < off[j] + sj && off[j] < cand + size) {
            cand = off[j] + sj;
            moved = true;
          }
        }
      }
      off[i] = cand;
      total = std::max(total, cand + size);
    }
    best = std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

std::vector<BufferRequest> randomRequests(std::mt19937_64& rng, int maxCount, int maxStep) {
  std::uniform_int_distribution<int> countDist(1, maxCount);
  std::uniform_int_distribution<int64_t> stepDist(0, maxStep);
  std::uniform_int_distribution<int64_t> sizeDist(1, 5000);
  std::vector<BufferRequest> reqs(static_cast<size_t>(countDist(rng)));
  for (size_t i = 0; i < reqs.size(); ++i) {
    int64_t a = stepDist(rng), b = stepDist(rng);
    reqs[i] = BufferRequest{static_cast<int64_t>(i) * 7 + 3, sizeDist(rng), std::min(a, b),
                            std::max(a, b)};
  }
  return reqs;
}

hq::MemoryPlan planOk(const std::vector<BufferRequest>& reqs, int64_t align) {
  auto plan = hq::planMemory(reqs, align);
  INFO(plan.status().message());
  REQUIRE(plan.isOk());
  checkValid(reqs, *plan, align);
  return *plan;
}

}  // namespace

TEST_CASE("memory plan: disjoint lifetimes share one slot", "[compiler][memory_plan]") {
  std::vector<BufferRequest> reqs = {{1, 100, 0, 0}, {2, 300, 1, 1}, {3, 200, 2, 5}, {4, 50, 6, 6}};
  MemoryPlan plan = planOk(reqs, 1);
  CHECK(plan.totalBytes == 300);
  CHECK(plan.lowerBoundBytes == 300);
  for (int64_t off : plan.offsets) CHECK(off == 0);
}

TEST_CASE("memory plan: chain A->B->C reuses A's bytes for C", "[compiler][memory_plan]") {
  // A live [0,1], B [1,2], C [2,3]: A and C never live together. Optimum 200 + 100.
  std::vector<BufferRequest> reqs = {{10, 100, 0, 1}, {11, 200, 1, 2}, {12, 100, 2, 3}};
  MemoryPlan plan = planOk(reqs, 1);
  CHECK(plan.totalBytes == 300);
  CHECK(plan.lowerBoundBytes == 300);
  CHECK(plan.offsets[0] == plan.offsets[2]);
  CHECK(plan.offsets[1] == 0);  // the biggest goes first, at the bottom
}

TEST_CASE("memory plan: diamond", "[compiler][memory_plan]") {
  // A=f(x) at 0; B=g(A) at 1; C=h(A) at 2; D=k(B,C) at 3. Live: A [0,2], B [1,3], C [2,3],
  // D [3,3]. Peak at steps 2 and 3: 64+32+32 = 128, and D reuses A's bytes.
  std::vector<BufferRequest> reqs = {{0, 64, 0, 2}, {1, 32, 1, 3}, {2, 32, 2, 3}, {3, 64, 3, 3}};
  MemoryPlan plan = planOk(reqs, 1);
  CHECK(plan.lowerBoundBytes == 128);
  CHECK(plan.totalBytes == 128);
  CHECK(plan.offsets[3] == plan.offsets[0]);
}

TEST_CASE("memory plan: best fit picks the smallest gap", "[compiler][memory_plan]") {
  // Long-lived A, C, E with short-lived B and D between them: once B and D die, F (live at
  // steps 5-6) sees a 300-byte hole (B's) and a 200-byte hole (D's) and takes the smaller
  // (first fit would take the lower one, at 500).
  hq::MemoryPlanner planner(1);
  planner.addBuffer(1, 500, 0, 9);            // A at 0
  planner.addBuffer(2, 300, 0, 0);            // B at 500
  planner.addBuffer(3, 200, 0, 9);            // C at 800
  planner.addBuffer(4, 200, 0, 0);            // D at 1000
  planner.addBuffer(5, 80, 0, 9);             // E at 1200
  size_t f = planner.addBuffer(6, 60, 5, 6);  // F, smallest: placed last
  REQUIRE(f == 5);
  auto plan = planner.plan();
  REQUIRE(plan.isOk());
  checkValid(planner.requests(), *plan, 1);
  // Equal sizes C and D: C first because it lives longer.
  CHECK(plan->offsets == std::vector<int64_t>{0, 500, 800, 1000, 1200, 1000});
  CHECK(plan->totalBytes == 1280);
  CHECK(plan->lowerBoundBytes == 1280);
}

TEST_CASE("memory plan: alignment rounds offsets and sizes", "[compiler][memory_plan]") {
  std::vector<BufferRequest> reqs = {{1, 1, 0, 3}, {2, 65, 0, 3}, {3, 64, 1, 2}};
  MemoryPlan plan = planOk(reqs, 64);
  // Aligned sizes 64, 128, 64, all live at steps 1-2.
  CHECK(plan.lowerBoundBytes == 256);
  CHECK(plan.totalBytes == 256);
  CHECK(plan.offsets[1] == 0);
  std::vector<int64_t> others = {plan.offsets[0], plan.offsets[2]};
  std::sort(others.begin(), others.end());
  CHECK(others == std::vector<int64_t>{128, 192});
}

TEST_CASE("memory plan: empty request list", "[compiler][memory_plan]") {
  MemoryPlan plan = planOk({}, 32);
  CHECK(plan.totalBytes == 0);
  CHECK(plan.lowerBoundBytes == 0);
}

TEST_CASE("memory plan: 1000 random sets are valid, bounded and deterministic",
          "[compiler][memory_plan]") {
  std::mt19937_64 rng(0x5eed6);
  const int64_t aligns[] = {1, 16, 64};
  double ratioSum = 0, worst = 1;
  for (int iter = 0; iter < 1000; ++iter) {
    int64_t align = aligns[iter % 3];
    auto reqs = randomRequests(rng, 40, 30);
    MemoryPlan plan = planOk(reqs, align);
    int64_t sum = 0;
    for (const auto& r : reqs) sum += alignUp(r.sizeBytes, align);
    REQUIRE(plan.lowerBoundBytes == bruteLowerBound(reqs, align));
    REQUIRE(plan.totalBytes >= plan.lowerBoundBytes);
    REQUIRE(plan.totalBytes <= sum);
    MemoryPlan again = planOk(reqs, align);
    REQUIRE(again.offsets == plan.offsets);
    REQUIRE(again.totalBytes == plan.totalBytes);
    double ratio = static_cast<double>(plan.totalBytes) / plan.lowerBoundBytes;
    ratioSum += ratio;
    worst = std::max(worst, ratio);
  }
  double mean = ratioSum / 1000;
  WARN("random sets: mean total/lower bound " << mean << ", worst " << worst);
  CHECK(mean < 1.03);  // 1.013 with seed 0x5eed6
}

TEST_CASE("memory plan: close to the exact optimum on small sets", "[compiler][memory_plan]") {
  std::mt19937_64 rng(42);
  double ratioSum = 0, worst = 1;
  int optimal = 0;
  const int kSets = 200;
  for (int iter = 0; iter < kSets; ++iter) {
    auto reqs = randomRequests(rng, 6, 8);
    MemoryPlan plan = planOk(reqs, 1);
    int64_t opt = bruteOptimum(reqs, 1);
    REQUIRE(opt >= plan.lowerBoundBytes);
    REQUIRE(plan.totalBytes >= opt);
    double ratio = static_cast<double>(plan.totalBytes) / opt;
    ratioSum += ratio;
    worst = std::max(worst, ratio);
    optimal += plan.totalBytes == opt;
  }
  WARN("small sets: mean total/optimum " << ratioSum / kSets << ", worst " << worst << ", "
                                         << optimal << "/" << kSets << " optimal");
  CHECK(ratioSum / kSets < 1.01);  // 1.0002 with seed 42
  CHECK(optimal >= 190);
}

TEST_CASE("memory plan: errors", "[compiler][memory_plan]") {
  auto fails = [](std::vector<BufferRequest> reqs, int64_t align, const char* needle) {
    auto plan = hq::planMemory(reqs, align);
    REQUIRE_FALSE(plan.isOk());
    CHECK(plan.status().code() == ErrorCode::kInvalidArgument);
    INFO(plan.status().message());
    CHECK(plan.status().message().find(needle) != std::string::npos);
  };
  fails({{1, 0, 0, 1}}, 8, "size must be > 0 bytes, got 0");
  fails({{1, -5, 0, 1}}, 8, "got -5");
  fails({{1, 8, 3, 2}}, 8, "first_use 3 is after last_use 2");
  fails({{1, 8, -1, 2}}, 8, "first_use must be >= 0");
  fails({{1, 8, 0, 2}}, 0, "power of two");
  fails({{1, 8, 0, 2}}, 48, "got 48");
  fails({{1, 8, 0, 2}}, -64, "power of two");
  fails({{7, 8, 0, 2}, {8, 8, 0, 2}, {7, 16, 3, 4}}, 8, "buffer 7 (request #2): duplicate id");
  const int64_t big = std::numeric_limits<int64_t>::max();
  fails({{1, big, 0, 0}}, 64, "overflows int64");
  fails({{1, big / 2 + 1, 0, 0}, {2, big / 2 + 1, 1, 1}}, 1, "overflow int64");
}

TEST_CASE("sram slots: two aligned slots per stream, ping-pong", "[compiler][memory_plan]") {
  auto plan = hq::planSramSlots({100, 64, 1}, 32, 1024);
  REQUIRE(plan.isOk());
  REQUIRE(plan->slotOffsets.size() == 3);
  CHECK(plan->slotOffsets[0] == std::array<int64_t, 2>{0, 128});
  CHECK(plan->slotOffsets[1] == std::array<int64_t, 2>{256, 320});
  CHECK(plan->slotOffsets[2] == std::array<int64_t, 2>{384, 416});
  CHECK(plan->totalBytes == 448);
  CHECK(plan->slotFor(0, 0) == 0);
  CHECK(plan->slotFor(0, 1) == 128);
  CHECK(plan->slotFor(0, 6) == 0);
  CHECK(plan->slotFor(1, 7) == 320);

  auto exact = hq::planSramSlots({512}, 32, 1024);
  REQUIRE(exact.isOk());
  CHECK(exact->totalBytes == 1024);

  auto tooBig = hq::planSramSlots({512, 1}, 32, 1024);
  REQUIRE_FALSE(tooBig.isOk());
  CHECK(tooBig.status().message().find("1024 bytes of SRAM") != std::string::npos);
  CHECK_FALSE(hq::planSramSlots({0}, 32, 1024).isOk());
  CHECK_FALSE(hq::planSramSlots({8}, 3, 1024).isOk());
  CHECK_FALSE(hq::planSramSlots({2048}, 32, 1024).isOk());
}
