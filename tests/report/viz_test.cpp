// hq-viz's library: DOT and SVG/PNG of float, QDQ and integer ONNX models and of compiled
// .hbm files (one box per node or layer, fused groups as clusters, traffic and cost labels),
// deterministic bytes, the layout rule, and errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <numeric>
#include <regex>

#include "compiler/compile.h"
#include "compiler/march.h"
#include "ir/onnx_import.h"
#include "quant/convert.h"
#include "report/viz.h"
#include "sim/timing.h"

namespace fs = std::filesystem;

namespace {

const std::string kQdq = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

std::unique_ptr<hq::Graph> load(const std::string& path) {
  auto g = hq::importOnnxFile(path);
  INFO(g.status().message());
  REQUIRE(g.isOk());
  return std::move(*g);
}

std::unique_ptr<hq::Graph> fmnistInt() {
  auto g = hq::convertToInteger(*load(kQdq));
  INFO(g.status().message());
  REQUIRE(g.isOk());
  return std::move(*g);
}

hq::CompileResult compileFmnist(int level, int64_t batch) {
  auto march = hq::loadMarch("bayes");
  REQUIRE(march.isOk());
  hq::CompileOptions o;
  o.optLevel = level;
  o.batch = batch;
  auto r = hq::compileModel(*fmnistInt(), *march, o);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(*r);
}

int64_t countOf(const std::string& text, const std::string& needle) {
  int64_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

std::string svgOf(const std::string& dot) {
  auto svg = hq::renderDot(dot, hq::VizFormat::kSvg);
  INFO(svg.status().message());
  REQUIRE(svg.isOk());
  return *svg;
}

/// Valid SVG with exactly `nodes` boxes.
void checkSvg(const std::string& svg, int64_t nodes) {
  CHECK((svg.rfind("<?xml", 0) == 0 || svg.rfind("<svg", 0) == 0));
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(countOf(svg, "class=\"node\"") == nodes);
}

int64_t drawnBoxes(const hq::Graph& g) {
  return static_cast<int64_t>(g.nodeCount() + g.inputs().size() + g.outputs().size());
}

}  // namespace

TEST_CASE("viz: every shared float model draws as valid SVG, one box per node", "[report][viz]") {
  const fs::path dir(HQ_SHARED_MODELS);
  if (!fs::is_directory(dir)) {
    WARN("no shared models at " << dir << "; skipped");
    return;
  }
  std::vector<fs::path> models;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 11 && name.substr(name.size() - 11) == ".float.onnx")
      models.push_back(e.path());
  }
  std::sort(models.begin(), models.end());
  REQUIRE(!models.empty());
  for (const fs::path& p : models) {
    INFO(p);
    auto g = load(p.string());
    hq::VizSummary s;
    const std::string dot = hq::graphToDot(*g, {}, &s);
    CHECK(s.nodes == drawnBoxes(*g));
    CHECK(s.edges >= static_cast<int64_t>(g->nodeCount()));  // a connected chain at least
    CHECK(dot.find(s.nodes < hq::kVizLeftRightFromNodes ? "rankdir=TB" : "rankdir=LR") !=
          std::string::npos);
    checkSvg(svgOf(dot), s.nodes);
  }
}

TEST_CASE("viz: float fmnist_cnn labels ops, folded weights, shapes and dtypes", "[report][viz]") {
  const std::string path = std::string(HQ_SHARED_MODELS) + "/fmnist_cnn.float.onnx";
  if (!fs::exists(path)) {
    WARN("no " << path << "; skipped");
    return;
  }
  auto g = load(path);
  const std::string dot = hq::graphToDot(*g);
  // Constants are folded into the consumer, never separate boxes.
  for (const hq::Value* c : g->constants())
    CHECK(dot.find("label=\"" + c->name + "\"") == std::string::npos);
  CHECK(
      std::regex_search(dot, std::regex(R"(Conv\\n[^"]*W 16x1x3x3\\nB 16\\n\?x16x28x28 float32)")));
  CHECK(dot.find("shape=invhouse") != std::string::npos);
  CHECK(dot.find("shape=house") != std::string::npos);
  CHECK(dot.find("label=\"?x16x28x28\"") != std::string::npos);  // edge labeled with shape
  CHECK(dot.find("rankdir=TB") != std::string::npos);
}

TEST_CASE("viz: QDQ and integer fmnist_cnn show scales; ai.hq ops are styled distinctly",
          "[report][viz]") {
  auto qdq = load(kQdq);
  hq::VizSummary s;
  const std::string qdot = hq::graphToDot(*qdq, {}, &s);
  CHECK(s.nodes == drawnBoxes(*qdq));
  CHECK(std::regex_search(qdot, std::regex(R"(QuantizeLinear\\n[^"]*\\nscale 0\.0[0-9]+)")));
  CHECK(qdot.find("#dadaeb") != std::string::npos);  // quant boundary color
  CHECK(qdot.find("bold") == std::string::npos);     // no ai.hq ops in a QDQ model
  checkSvg(svgOf(qdot), s.nodes);

  auto ig = fmnistInt();
  const std::string idot = hq::graphToDot(*ig, {}, &s);
  CHECK(s.nodes == drawnBoxes(*ig));
  int64_t hq_nodes = 0, scaled = 0;
  for (const hq::Node* n : ig->nodes()) {
    if (n->domain != "ai.hq") continue;
    ++hq_nodes;
    scaled += n->attrs.has("out_scale") ? 1 : 0;
  }
  REQUIRE(hq_nodes > 0);
  CHECK(countOf(idot, "style=\"filled,rounded,bold\"") == hq_nodes);
  CHECK(idot.find("ai.hq") == std::string::npos);  // op shown without its domain
  CHECK(std::regex_search(idot,
                          std::regex(R"(QConv\\n[^"]*W 16x1x3x3[^"]*int8\\nscale 0\.0[0-9]+)")));
  CHECK(countOf(idot, "\\nscale ") >= scaled);
  checkSvg(svgOf(idot), s.nodes);
}

TEST_CASE("viz: a -O3 .hbm draws layers, fused groups as clusters, traffic and costs",
          "[report][viz][hbm]") {
  const hq::CompileResult r = compileFmnist(3, 2);
  const hq::hbm::Model& m = r.model;
  REQUIRE(r.stats.fusedGroups > 0);
  hq::VizSummary s;
  const std::string dot = hq::hbmToDot(m, {}, {}, &s);
  CHECK(s.hbm);
  CHECK(s.nodes == m.layers_size() + m.inputs_size() + m.outputs_size());
  CHECK(s.clusters == r.stats.fusedGroups);
  CHECK(countOf(dot, "subgraph cluster_") == r.stats.fusedGroups);
  const std::string svg = svgOf(dot);
  checkSvg(svg, s.nodes);
  CHECK(countOf(svg, "class=\"cluster\"") == r.stats.fusedGroups);
  // Data flow: every layer reads something, the input feeds a layer, the output is stored.
  for (int k = 0; k < m.layers_size(); ++k) {
    INFO("layer " << k);
    CHECK(std::regex_search(dot, std::regex("(i0|L[0-9]+) -> L" + std::to_string(k) + ";")));
  }
  CHECK(std::regex_search(dot, std::regex("L[0-9]+ -> o0;")));
  CHECK(s.edges >= m.layers_size());

  // Traffic per layer sums to the compiler's totals.
  const auto traffic = hq::layerTraffic(m);
  int64_t ddr = 0, weights = 0;
  for (const auto& t : traffic) ddr += t.ddrBytes, weights += t.weightBytes;
  CHECK(ddr == r.stats.ddrLoadBytes + r.stats.ddrStoreBytes);
  CHECK(weights == r.stats.weightLoadBytes);

  // Costs are the timing model's: the layer's share of the run and its roofline terms.
  const auto costs = hq::estimateLayerCosts(m);
  REQUIRE(costs.size() == static_cast<size_t>(m.layers_size()));
  auto timing = hq::simulateTiming(m);
  REQUIRE(timing.isOk());
  double total = 0;
  for (int k = 0; k < m.layers_size(); ++k) {
    const auto& lt = timing->layers[static_cast<size_t>(k)];
    CHECK(costs[k].computeCycles == lt.computeBoundCycles);
    CHECK(costs[k].ddrCycles == lt.ddrBoundCycles);
    CHECK(costs[k].cycles == lt.latencyCycles);
    CHECK(costs[k].ddrBound == (lt.ddrBoundCycles > lt.computeBoundCycles));
    total += costs[k].cycles;
  }
  CHECK(total == Approx(static_cast<double>(timing->cycles)));
  // Given costs (a timing simulation's) replace the estimate.
  std::vector<hq::LayerCost> given(static_cast<size_t>(m.layers_size()));
  for (auto& c : given) c = {1.0, 2000.0, 2000.0, true};
  const std::string gdot = hq::hbmToDot(m, {}, given);
  CHECK(countOf(gdot, ", DDR-bound\"") == m.layers_size());
  CHECK(gdot.find("given costs") != std::string::npos);
}

TEST_CASE("viz: below -O3 every layer is its own group: no clusters", "[report][viz][hbm]") {
  const hq::CompileResult r = compileFmnist(0, 1);
  hq::VizSummary s;
  const std::string dot = hq::hbmToDot(r.model, {}, {}, &s);
  CHECK(s.clusters == 0);
  CHECK(dot.find("subgraph") == std::string::npos);
  checkSvg(svgOf(dot), s.nodes);
  // fmnist_cnn: the conv layer shows its full output shape (tiles joined), MACs and time.
  CHECK(
      std::regex_search(dot, std::regex(R"(QConv\\n[^"]*1x16x28x28\\nMACs 113k\\nDDR [^"]*us, )")));
}

TEST_CASE("viz: output is deterministic; PNG has the PNG magic", "[report][viz]") {
  auto g = fmnistInt();
  const std::string dot = hq::graphToDot(*g);
  CHECK(hq::graphToDot(*fmnistInt()) == dot);
  const std::string svg = svgOf(dot);
  CHECK(svgOf(dot) == svg);
  auto png = hq::renderDot(dot, hq::VizFormat::kPng);
  INFO(png.status().message());
  REQUIRE(png.isOk());
  CHECK(png->rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  CHECK(*hq::renderDot(dot, hq::VizFormat::kPng) == *png);
  CHECK(*hq::renderDot(dot, hq::VizFormat::kDot) == dot);
  const hq::CompileResult r = compileFmnist(3, 1);
  CHECK(hq::hbmToDot(r.model) == hq::hbmToDot(compileFmnist(3, 1).model));
}

TEST_CASE("viz: layout direction, formats and errors", "[report][viz]") {
  auto g = fmnistInt();
  hq::VizOptions lr;
  lr.rankDir = hq::VizRankDir::kLeftRight;
  CHECK(hq::graphToDot(*g).find("rankdir=TB") != std::string::npos);
  CHECK(hq::graphToDot(*g, lr).find("rankdir=LR") != std::string::npos);

  CHECK(hq::vizFormatForPath("a/b.PNG") == hq::VizFormat::kPng);
  CHECK(hq::vizFormatForPath("b.dot") == hq::VizFormat::kDot);
  CHECK(hq::vizFormatForPath("b.gv") == hq::VizFormat::kDot);
  CHECK(hq::vizFormatForPath("b.svg") == hq::VizFormat::kSvg);
  CHECK(hq::vizFormatForPath("b") == hq::VizFormat::kSvg);
  CHECK(*hq::parseVizFormat("SVG") == hq::VizFormat::kSvg);
  CHECK(hq::parseVizFormat("jpeg").status().code() == hq::ErrorCode::kInvalidArgument);
  CHECK(*hq::parseVizRankDir("lr") == hq::VizRankDir::kLeftRight);
  CHECK(hq::parseVizRankDir("BT").status().code() == hq::ErrorCode::kInvalidArgument);

  auto bad = hq::renderDot("digraph { a -> ", hq::VizFormat::kSvg);
  CHECK(!bad.isOk());
  CHECK(bad.status().code() == hq::ErrorCode::kInternal);
  // Rendering still works after an error.
  checkSvg(svgOf("digraph { a -> b }"), 2);

  const fs::path dir = fs::temp_directory_path() / "hq_viz_lib_test";
  fs::create_directories(dir);
  auto missing = hq::visualizeModelFile((dir / "nope.onnx").string(), (dir / "x.svg").string(),
                                        hq::VizFormat::kSvg);
  CHECK(missing.status().code() == hq::ErrorCode::kNotFound);
  CHECK(!fs::exists(dir / "x.svg"));
  auto ok = hq::visualizeModelFile(kQdq, (dir / "q.svg").string(), hq::VizFormat::kSvg);
  REQUIRE(ok.isOk());
  CHECK(fs::file_size(dir / "q.svg") > 1000);
}
