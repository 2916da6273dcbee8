// hq-viz as a user runs it: SVG/DOT/PNG by extension or --format, ONNX and .hbm inputs,
// one-line errors with the shared exit codes, no output file left behind on failure.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/march.h"
#include "ir/onnx_import.h"
#include "quant/convert.h"
#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::requireCleanError;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {

const std::string kQdq = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t countOf(const std::string& text, const std::string& needle) {
  int64_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("hq-viz: ONNX to SVG, DOT and PNG", "[tools][hq-viz]") {
  fs::path dir = scratchDir("hq_viz_onnx");
  auto r = runTool("hq-viz", kQdq + " --out " + (dir / "m.svg").string());
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(r.err.empty());
  const std::string svg = slurp(dir / "m.svg");
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  auto g = hq::importOnnxFile(kQdq);
  REQUIRE(g.isOk());
  const int64_t boxes =
      static_cast<int64_t>((*g)->nodeCount() + (*g)->inputs().size() + (*g)->outputs().size());
  CHECK(countOf(svg, "class=\"node\"") == boxes);
  CHECK(r.out.rfind("Wrote " + (dir / "m.svg").string() + ": " + std::to_string(boxes) + " boxes, ",
                    0) == 0);

  // DOT by extension, twice: same bytes; --format overrides the extension.
  REQUIRE(runTool("hq-viz", kQdq + " --out " + (dir / "a.dot").string() + " -q").exitCode == 0);
  REQUIRE(runTool("hq-viz", kQdq + " --out " + (dir / "b.txt").string() + " --format dot -q")
              .exitCode == 0);
  const std::string dot = slurp(dir / "a.dot");
  CHECK(dot.rfind("digraph model {", 0) == 0);
  CHECK(slurp(dir / "b.txt") == dot);
  auto lr = runTool("hq-viz", kQdq + " --out " + (dir / "lr.dot").string() + " --rankdir LR -q");
  CHECK(lr.exitCode == 0);
  CHECK(lr.out.empty());
  CHECK(slurp(dir / "lr.dot").find("rankdir=LR") != std::string::npos);

  REQUIRE(runTool("hq-viz", kQdq + " --out " + (dir / "m.png").string() + " -q").exitCode == 0);
  CHECK(slurp(dir / "m.png").rfind("\x89PNG\r\n\x1a\n", 0) == 0);
}

TEST_CASE("hq-viz: a .hbm is recognized by content and drawn with its fused groups",
          "[tools][hq-viz]") {
  fs::path dir = scratchDir("hq_viz_hbm");
  auto qdq = hq::importOnnxFile(kQdq);
  REQUIRE(qdq.isOk());
  auto model = hq::convertToInteger(**qdq);
  REQUIRE(model.isOk());
  auto march = hq::loadMarch("bayes");
  REQUIRE(march.isOk());
  hq::CompileOptions o;
  o.optLevel = 3;
  auto c = hq::compileModel(**model, *march, o);
  REQUIRE(c.isOk());
  const std::string hbm = (dir / "model.bin").string();  // no .hbm extension: routed by content
  REQUIRE(hq::writeHbm(hbm, c->model).isOk());

  auto r = runTool("hq-viz", hbm + " --out " + (dir / "m.svg").string());
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.find(", " + std::to_string(c->stats.fusedGroups) +
                   (c->stats.fusedGroups == 1 ? " fused group\n" : " fused groups\n")) !=
        std::string::npos);
  const std::string svg = slurp(dir / "m.svg");
  CHECK(countOf(svg, "class=\"cluster\"") == c->stats.fusedGroups);
  CHECK(countOf(svg, "class=\"node\"") == c->stats.layers + 2);
  CHECK(svg.find("us, DDR&#45;bound") != std::string::npos);  // Graphviz escapes "-"
}

TEST_CASE("hq-viz: errors are one line with the shared exit codes", "[tools][hq-viz]") {
  fs::path dir = scratchDir("hq_viz_errors");
  const std::string out = (dir / "x.svg").string();
  requireCleanError(runTool("hq-viz", (dir / "missing.onnx").string() + " --out " + out), 3,
                    "hq-viz: error: ");
  std::ofstream(dir / "junk.onnx") << "this is not a model";
  requireCleanError(runTool("hq-viz", (dir / "junk.onnx").string() + " --out " + out), 3,
                    "junk.onnx");
  // A truncated .hbm: the magic routes it, the reader refuses it.
  std::ofstream(dir / "cut.hbm", std::ios::binary) << std::string("HQHBM\0\1\0", 8) << "xx";
  requireCleanError(runTool("hq-viz", (dir / "cut.hbm").string() + " --out " + out), 3, "cut.hbm");
  requireCleanError(runTool("hq-viz", kQdq + " --out " + out + " --format jpeg"), 2, "jpeg");
  requireCleanError(runTool("hq-viz", kQdq + " --out " + out + " --rankdir BT"), 2, "BT");
  requireCleanError(runTool("hq-viz", kQdq), 2, "--out");
  CHECK(!fs::exists(out));
  // An unwritable destination is an I/O error.
  requireCleanError(runTool("hq-viz", kQdq + " --out " + (dir / "no/such/dir/x.svg").string()), 5,
                    "hq-viz: error: ");
}
