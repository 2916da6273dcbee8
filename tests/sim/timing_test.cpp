// The timing model: hand-computed costs of single instructions, a double-buffered schedule that
// overlaps loads with compute, the per-layer latency shares summing to the run, the roofline.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "ir/onnx_import.h"
#include "quant/convert.h"
#include "sim/timing.h"

TEST_CASE("timing: probe", "[sim][timing][.probe]") {
  const char* path = std::getenv("HQ_PROBE_MODEL");
  REQUIRE(path);
  auto g = hq::importOnnxFile(path);
  REQUIRE(g.isOk());
  auto march = hq::loadMarch(std::getenv("HQ_PROBE_MARCH") ? std::getenv("HQ_PROBE_MARCH") : "bayes");
  REQUIRE(march.isOk());
  for (int level = 0; level <= 3; ++level) {
    hq::CompileOptions o;
    o.optLevel = level;
    o.batch = std::atoi(std::getenv("HQ_PROBE_BATCH") ? std::getenv("HQ_PROBE_BATCH") : "256");
    o.inputSource = hq::InputSource::kPyramid;
    auto r = hq::compileModel(**g, *march, o);
    REQUIRE(r.isOk());
    auto t = hq::simulateTiming(r->model);
    INFO(t.status().message());
    REQUIRE(t.isOk());
    double lat = 0;
    for (const auto& l : t->layers) lat += l.latencyCycles;
    WARN("O" << level << ": " << t->fps() << " FPS, " << t->latencyUs() << " us/run, DDR "
             << t->ddrBytesPerFrame() << " B/frame, roofline " << t->rooflineCycles() << " ("
             << t->computeBoundCycles << " compute, " << t->ddrBoundCycles << " ddr) fraction "
             << t->rooflineFraction() << " busy mac " << t->busyCycles[2] << " vec "
             << t->busyCycles[3] << " in " << t->busyCycles[0] << " out " << t->busyCycles[1]
             << " sum lat " << lat << " cycles " << t->cycles);
  }
}

TEST_CASE("timing: layer probe", "[sim][timing][.probe]") {
  auto g = hq::importOnnxFile(std::getenv("HQ_PROBE_MODEL"));
  REQUIRE(g.isOk());
  auto march = hq::loadMarch(std::getenv("HQ_PROBE_MARCH"));
  REQUIRE(march.isOk());
  hq::CompileOptions o;
  o.optLevel = 3;
  o.batch = 16;
  o.inputSource = hq::InputSource::kPyramid;
  auto r = hq::compileModel(**g, *march, o);
  REQUIRE(r.isOk());
  auto t = hq::simulateTiming(r->model);
  REQUIRE(t.isOk());
  for (const auto& l : t->layers)
    std::fprintf(stderr, "%-40s %-14s macs %9lld compute %8lld ideal %8.0f eff %.2f lat %.0f\n",
                 l.name.c_str(), l.opType.c_str(), (long long)l.macsPerFrame, (long long)l.computeCycles,
                 l.computeBoundCycles, l.computeBoundCycles / std::max<int64_t>(1, l.computeCycles),
                 l.latencyCycles);
}
