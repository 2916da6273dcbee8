// The timing model: hand-computed costs of single instructions, a double-buffered schedule that
// overlaps loads with compute, the per-layer latency shares summing to the run, the roofline.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/mac_cost.h"
#include "compiler/npu_test_models.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "quant/qconfig.h"
#include "sim/timing.h"

namespace {

hq::hbm::Model compileFor(const hq::Graph& g, int level, int64_t batch,
                          hq::InputSource source = hq::InputSource::kDdr) {
  return hq::testing::compileFor(g, level, batch, source).model;
}

}  // namespace

TEST_CASE("mac cost: hand-computed cycles per mapping", "[sim][timing]") {
  using M = hq::hbm::TileGeometry;
  hq::MacWork w;  // 3x3 conv, 16 -> 96 channels, 8x8 output pixels, on a 64x64 array
  w.outPixels = 64, w.inChannels = 16, w.outChannels = 96, w.taps = 9;
  CHECK(hq::macCycles(w, 64, 64, 1.0, M::CHANNELS) == 64 * 9 * 1 * 2);  // 1152
  CHECK(hq::macCycles(w, 64, 64, 1.0, M::IM2COL) == 64 * 3 * 2);        // ceil(144/64) = 3
  CHECK(hq::macCycles(w, 64, 64, 1.0, M::PIXELS) == 64 * 3 * 2);        // 144 >= 64: as IM2COL
  CHECK(hq::bestMacMapping(w, 64, 64) == M::IM2COL);
  w.taps = 1, w.inChannels = 16;  // 1x1: 16 inputs leave 48 of 64 columns idle; PIXELS packs 4
  CHECK(hq::macCycles(w, 64, 64, 1.0, M::CHANNELS) == 64 * 2);
  CHECK(hq::macCycles(w, 64, 64, 1.0, M::PIXELS) == 16 * 2);
  CHECK(hq::bestMacMapping(w, 64, 64) == M::PIXELS);
  hq::MacWork dw;  // depthwise 3x3 over 960 channels at 2x2
  dw.outPixels = 4, dw.inChannels = dw.outChannels = dw.group = 960, dw.taps = 9;
  CHECK(hq::isDepthwise(dw));
  CHECK(hq::macCycles(dw, 64, 64, 1.0, M::CHANNELS) == 15 * 4 * 1);  // taps on columns
  CHECK(hq::macCycles(dw, 64, 64, 1.0, M::PIXELS) == 15 * 1 * 9);    // pixels on columns
  CHECK(hq::bestMacMapping(dw, 64, 64) == M::CHANNELS);
  dw.int16 = true;
  CHECK(hq::macCycles(dw, 64, 64, 0.25, M::CHANNELS) == 4 * 60);
  hq::MacWork gemm;  // 1280 -> 10 classifier, one frame
  gemm.gemm = true, gemm.outPixels = 1, gemm.inChannels = 1280, gemm.outChannels = 10;
  CHECK(hq::macCycles(gemm, 64, 64, 1.0, M::CHANNELS) == 20);
}

TEST_CASE("timing: DMA and compute costs, consistency of the report", "[sim][timing]") {
  auto g = hq::testing::fmnistIntModel();
  const hq::hbm::Model m = compileFor(*g, 1, 2);
  auto t = hq::simulateTiming(m);
  INFO(t.status().message());
  REQUIRE(t.isOk());
  // bayes: 1 GHz, 12.8 GB/s = 12.8 bytes/cycle, 100 ns = 100 cycles, 64-byte bursts.
  for (int i = 0; i < m.instructions_size(); ++i) {
    const auto& in = m.instructions(i);
    if (in.opcode() != hq::hbm::Instruction::DMA_LOAD || in.dma().src().dims_size() != 0) continue;
    const int64_t bytes = static_cast<int64_t>(in.dma().src().size());
    const int64_t bursts = (bytes + 63) / 64 * 64;
    CHECK(*hq::instructionCycles(m, i) ==
          static_cast<int64_t>(std::ceil(static_cast<double>(bursts) / 12.8)) + 100);
  }
  // Every instruction runs after what it waits for, on a free engine; the run ends with the last.
  int64_t last = 0;
  for (const auto& it : t->instructions) {
    CHECK(it.end >= it.start);
    last = std::max(last, it.end);
  }
  CHECK(last == t->cycles);
  CHECK(t->latencyUs() == static_cast<double>(t->cycles) / 1000.0);
  CHECK(t->fps() == Approx(2 * 1e9 / static_cast<double>(t->cycles)));
  // Per-layer shares sum to the run; bytes per layer and per interval sum to the totals.
  double shares = 0;
  int64_t loaded = 0, stored = 0, weights = 0;
  for (const auto& l : t->layers) {
    shares += l.latencyCycles;
    loaded += l.loadedBytes, stored += l.storedBytes, weights += l.weightBytes;
    CHECK(l.rooflineCycles() > 0);
  }
  CHECK(shares == Approx(static_cast<double>(t->cycles)).epsilon(1e-9));
  int64_t interval_loaded = 0, interval_stored = 0;
  for (const auto& iv : t->intervals) {
    interval_loaded += iv.loadedBytes, interval_stored += iv.storedBytes;
    for (double b : iv.busy) {
      CHECK(b >= 0.0);
      CHECK(b <= 1.0 + 1e-12);
    }
  }
  CHECK(interval_loaded == loaded + weights);
  CHECK(interval_stored == stored);
  CHECK(t->loadedBytes == loaded);
  CHECK(t->rooflineFraction() > 0.0);
  CHECK(t->rooflineFraction() <= 1.0);
  // The same .hbm, the same timing.
  auto again = hq::simulateTiming(m);
  CHECK(again->cycles == t->cycles);
}

TEST_CASE("timing: double buffering overlaps loads with compute", "[sim][timing]") {
  auto g = hq::testing::fmnistIntModel();
  auto t0 = hq::simulateTiming(compileFor(*g, 0, 4));
  auto t1 = hq::simulateTiming(compileFor(*g, 1, 4));
  REQUIRE(t0.isOk());
  REQUIRE(t1.isOk());
  // -O0 is serial: an instruction on another engine than its predecessor starts after the
  // predecessor ends (same-engine DMAs pipeline their latency, as requests do).
  const hq::hbm::Model m0 = compileFor(*g, 0, 4);
  int overlaps = 0;
  for (int i = 1; i < m0.instructions_size(); ++i) {
    if (m0.instructions(i).engine() != m0.instructions(i - 1).engine() &&
        t0->instructions[i].start < t0->instructions[i - 1].end)
      ++overlaps;
  }
  CHECK(overlaps == 0);
  // -O1 overlaps them.
  const hq::hbm::Model m1 = compileFor(*g, 1, 4);
  int overlapping = 0;
  for (int i = 1; i < m1.instructions_size(); ++i) {
    if (m1.instructions(i).engine() != m1.instructions(i - 1).engine() &&
        t1->instructions[i].start < t1->instructions[i - 1].end)
      ++overlapping;
  }
  CHECK(overlapping > 0);
  CHECK(t1->cycles < t0->cycles);
}

TEST_CASE("timing: mobilenetv2_32 at batch 256 — the -O levels as issue 7's goals say",
          "[sim][timing]") {
  auto g = hq::testing::mobilenetIntModel();
  if (!g) return;
  hq::TimingResult t[4];
  for (int level = 0; level <= 3; ++level) {
    auto r = hq::simulateTiming(compileFor(*g, level, 256, hq::InputSource::kPyramid));
    REQUIRE(r.isOk());
    t[level] = std::move(*r);
    WARN("-O" << level << ": " << t[level].fps() << " FPS, " << t[level].ddrBytesPerFrame()
              << " DDR bytes/frame, roofline fraction " << t[level].rooflineFraction());
  }
  // The seed's perf_model (BAYES, O1, pyramid, batch 256): 5,722.98 FPS, 1,403,592 DDR bytes
  // per frame. Within 2x at -O1.
  CHECK(t[1].fps() > 5722.98 / 2);
  CHECK(t[1].fps() < 5722.98 * 2);
  CHECK(t[1].ddrBytesPerFrame() > 1403592.0 / 2);
  CHECK(t[1].ddrBytesPerFrame() < 1403592.0 * 2);
  // -O3: >= 1.5x the FPS of -O0, >= 30% fewer DDR bytes per frame, >= 60% of the roofline.
  CHECK(t[3].fps() >= 1.5 * t[0].fps());
  CHECK(t[3].ddrBytesPerFrame() <= 0.7 * t[0].ddrBytesPerFrame());
  CHECK(t[3].rooflineFraction() >= 0.6);
  for (int level = 1; level <= 3; ++level) CHECK(t[level].fps() > t[level - 1].fps());
}
