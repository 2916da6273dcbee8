// hq-compile's engine on fmnist_cnn's integer model: every level and input source compiles to a
// valid .hbm, deterministically; each level moves fewer DDR bytes (or runs fewer instructions)
// than the one below; refusals carry hq-check's diagnostics.
#include <catch2/catch.hpp>

#include <filesystem>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/npu_test_models.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "quant/qconfig.h"

namespace {

/// compileFor with the march first, as these tests read.
hq::CompileResult compile(const hq::Graph& g, const char* march, int level,
                          hq::InputSource source = hq::InputSource::kDdr, int64_t batch = 1) {
  return hq::testing::compileFor(g, level, batch, source, march);
}

}  // namespace

TEST_CASE("compile: fmnist_cnn at every level and input source", "[compiler][compile]") {
  auto g = hq::testing::fmnistIntModel();
  for (int level = 0; level <= 3; ++level) {
    for (auto source :
         {hq::InputSource::kDdr, hq::InputSource::kPyramid, hq::InputSource::kResizer}) {
      INFO("O" << level << " " << hq::inputSourceName(source));
      hq::CompileResult r = compile(*g, "bayes", level, source, 2);
      auto bytes = hq::serializeHbm(r.model);
      INFO(bytes.status().message());
      REQUIRE(bytes.isOk());
      CHECK(r.model.batch() == 2);
      CHECK(r.model.inputs_size() == 1);
      CHECK(r.model.outputs_size() == 1);
      // 3 convs, 2 pools, 2 gemms (+ the NV12 conversion for pyramid/resizer input).
      CHECK(r.stats.layers == (source == hq::InputSource::kDdr ? 7 : 8));
      CHECK(r.model.compiler().opt_level() == static_cast<uint32_t>(level));
      // Same input, same bytes.
      hq::CompileResult again = compile(*g, "bayes", level, source, 2);
      CHECK(*hq::serializeHbm(again.model) == *bytes);
    }
  }
}

TEST_CASE("compile: each level moves fewer bytes or runs fewer instructions",
          "[compiler][compile]") {
  auto g = hq::testing::fmnistIntModel();
  hq::CompileStats s[4];
  for (int level = 0; level <= 3; ++level)
    s[level] = compile(*g, "bayes", level, hq::InputSource::kDdr, 8).stats;
  for (int level = 0; level <= 3; ++level) {
    INFO("O" << level << ": " << s[level].ddrBytesPerFrame() << " B/frame, "
             << s[level].instructions << " instructions, " << s[level].tiles << " tiles");
    CHECK(s[level].ddrBytesPerFrame() > 0);
  }
  // -O1 loads weights once per layer and frame instead of once per tile.
  CHECK(s[1].weightLoadBytes < s[0].weightLoadBytes);
  CHECK(s[1].ddrBytesPerFrame() < s[0].ddrBytesPerFrame());
  // -O2 loads weights once per run and searches taller tiles: fewer bytes and instructions.
  CHECK(s[1].weightLoadBytes >= 8 * s[2].weightLoadBytes);
  CHECK(s[2].ddrBytesPerFrame() < s[1].ddrBytesPerFrame());
  CHECK(s[2].instructions < s[1].instructions);
  // -O3 keeps intermediates on chip.
  CHECK(s[3].ddrBytesPerFrame() < 0.5 * s[2].ddrBytesPerFrame());
  CHECK(s[3].fusedGroups >= 1);
}

TEST_CASE("compile: mobilenetv2_32 at every level", "[compiler][compile]") {
  auto model = hq::testing::mobilenetIntModel();
  if (!model) return;
  hq::CompileStats s[4];
  for (int level = 0; level <= 3; ++level) {
    hq::CompileResult r = compile(*model, "bayes", level, hq::InputSource::kDdr, 4);
    s[level] = r.stats;
    REQUIRE(hq::serializeHbm(r.model).isOk());
    CHECK(r.stats.layers == 54);
    uint64_t macs = 0;
    for (const auto& l : r.model.layers()) macs += l.macs();
    CHECK(macs * 2 == 12249856);  // the seed's effective ops per frame
    WARN("O" << level << ": " << r.stats.ddrBytesPerFrame() << " B/frame, " << r.stats.instructions
             << " instructions, " << r.stats.tiles << " tiles, " << r.stats.fusedGroups
             << " fused groups, sram peak " << r.stats.sramPeakBytes);
  }
  CHECK(s[1].ddrBytesPerFrame() < s[0].ddrBytesPerFrame());
  CHECK(s[2].ddrBytesPerFrame() < s[1].ddrBytesPerFrame());
  CHECK(s[2].instructions < s[1].instructions);
  CHECK(s[3].ddrBytesPerFrame() < 0.7 * s[2].ddrBytesPerFrame());
}

TEST_CASE("compile: refuses what hq-check refuses, with the same diagnostics",
          "[compiler][compile]") {
  auto g = hq::testing::fmnistIntModel();
  auto strict = hq::loadMarch("bernoulli2");
  REQUIRE(strict.isOk());
  strict->name = "strict";
  strict->ops.at("QConv").maxKernel = 2;
  strict->ops.erase("QMaxPool");
  auto report = hq::checkModel(*g, *strict);
  REQUIRE(report.isOk());
  REQUIRE(report->diagnostics.size() == 5);
  auto r = hq::compileModel(*g, *strict, hq::CompileOptions{});
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().code() == hq::ErrorCode::kUnsupported);
  std::string expected = "this model is not supported on march 'strict': 5 problem(s)";
  for (const hq::Diagnostic& d : report->diagnostics) expected += "\n  " + hq::formatDiagnostic(d);
  CHECK(r.status().message() == expected);
  CHECK(r.status().message().find("(QConv): [conv.kernel] kernel 3x3: expected at most 2 per dim, "
                                  "found 3\n    suggestion: ") != std::string::npos);
}

TEST_CASE("compile: pyramid input needs the fixed 1/128 scale", "[compiler][compile]") {
  auto g = hq::testing::fmnistIntModel();
  auto m = hq::loadMarch("bayes");
  REQUIRE(m.isOk());
  // fmnist_cnn's calibrated input scale is not 1/128: the pyramid cannot feed it... unless it is.
  const hq::Node* q = nullptr;
  for (const hq::Node* n : g->nodes()) {
    if (n->opType == "QuantizeLinear") q = n;
  }
  REQUIRE(q);
  const float scale = static_cast<float>(q->inputs[1]->constant.toDouble()[0]);
  hq::CompileOptions o;
  o.inputSource = hq::InputSource::kPyramid;
  auto r = hq::compileModel(*g, *m, o);
  if (scale == 1.0f / 128.0f) {
    CHECK(r.isOk());
  } else {
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find("pyramid input arrives with the fixed scale 1/128") !=
          std::string::npos);
  }
}

TEST_CASE("compile: bad options", "[compiler][compile]") {
  auto g = hq::testing::fmnistIntModel();
  auto m = hq::loadMarch("bayes");
  REQUIRE(m.isOk());
  hq::CompileOptions o;
  o.optLevel = 4;
  CHECK(hq::compileModel(*g, *m, o).status().message() ==
        "optimization level 4 is not one of 0, 1, 2, 3");
  o.optLevel = 1;
  o.batch = 0;
  CHECK(hq::compileModel(*g, *m, o).status().message() == "batch 0 is outside [1, 65536]");
  CHECK(hq::parseInputSource("camera").status().message() ==
        "unknown input source 'camera' (expected ddr, pyramid or resizer)");
  CHECK(*hq::parseInputSource("resizer") == hq::InputSource::kResizer);
}
