// hq-convert as a user runs it: output, summary, JSON, determinism, exit codes, and no
// output file on any error.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "quant/qdq.h"
#include "quant/rules.h"
#include "support/json.h"
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

/// A QDQ model hq-convert must refuse: Gemm with transA = 1.
std::string writeTransAModel(const fs::path& dir) {
  hq::Graph g;
  g.opsetVersion = 13;
  hq::Value* x = g.addValue("x", hq::DType::kFloat32, {8, 2}, true);
  g.mutableInputs().push_back(x);
  hq::Value* y = g.addValue("y", hq::DType::kFloat32, {2, 4}, true);
  hq::Tensor w(hq::DType::kFloat32, {8, 4});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = 0.1f * static_cast<float>(i % 7 - 3);
  hq::Attributes a;
  a.set("transA", hq::Attribute::ofInt(1));
  g.addNode("Gemm", "fc", {x, g.addConstant("w", w)}, {y}, a);
  g.mutableOutputs().push_back(y);
  auto plan = hq::planQuantization(g, hq::QConfig::defaults());
  REQUIRE(plan.isOk());
  std::vector<hq::QuantParams> params;
  for (const auto& p : plan->points) {
    hq::QuantParams q;
    q.scales = {p.kind == hq::QuantPoint::Kind::kWeight ? 0.3f / 127 : 0.05f};
    q.zeroPoints = {0};
    params.push_back(q);
  }
  REQUIRE(hq::insertQdq(g, *plan, params).isOk());
  std::string path = (dir / "transa.calib.onnx").string();
  REQUIRE(hq::exportOnnxFile(g, path).isOk());
  return path;
}

}  // namespace

TEST_CASE("hq-convert writes the integer model and prints one summary line") {
  auto dir = scratchDir("hq_convert_ok");
  auto out = dir / "m.int.onnx";
  auto report = dir / "r.json";
  auto r = runTool("hq-convert", kQdq + " --out " + out.string() + " --report " + report.string());
  INFO("stderr: " << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(lineCount(r.out) == 1);
  CHECK(r.out.find("3 ai.hq.QConv") != std::string::npos);
  CHECK(r.out.find("0 warning(s)") != std::string::npos);
  REQUIRE(fs::exists(out));
  auto g = hq::importOnnxFile(out.string());
  REQUIRE(g.isOk());
  CHECK((*g)->metadata.at("hq.stage") == "int");
  auto lineage = hq::parseJson((*g)->metadata.at("hq.lineage"), "lineage");
  REQUIRE(lineage.isOk());
  CHECK((*lineage)["tool"] == "hq-convert");
  CHECK((*lineage)["inputs"]["model"].get<std::string>().size() == 64);  // sha256 hex
  auto rep = hq::readJsonFile(report.string());
  REQUIRE(rep.isOk());
  CHECK((*rep)["nodes"]["ai.hq.QGemm"] == 1);

  // Same options, other output names: the same bytes.
  auto out2 = dir / "other.int.onnx";
  auto r2 = runTool("hq-convert",
                    kQdq + " --out " + out2.string() + " --report " + (dir / "r2.json").string());
  REQUIRE(r2.exitCode == 0);
  CHECK(slurp(out) == slurp(out2));

  // --json: the report on stdout.
  auto j = runTool("hq-convert", kQdq + " --json -q --out " + (dir / "j.int.onnx").string());
  REQUIRE(j.exitCode == 0);
  auto doc = hq::parseJson(j.out, "stdout");
  REQUIRE(doc.isOk());
  CHECK((*doc)["nodes"]["ai.hq.QConv"] == 3);
  CHECK((*doc)["fused_units"] == 4);
  CHECK((*doc)["warnings"].empty());
}

TEST_CASE("hq-eval runs the integer model as accurately as the QDQ model") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  auto dir = scratchDir("hq_convert_eval");
  auto out = dir / "m.int.onnx";
  REQUIRE(runTool("hq-convert", kQdq + " -q --out " + out.string()).exitCode == 0);
  auto ir = runTool("hq-eval", out.string() + " --data fashion-mnist-test --limit 500 --json -q");
  auto qr = runTool("hq-eval", kQdq + " --data fashion-mnist-test --limit 500 --json -q");
  INFO("stderr: " << ir.err);
  REQUIRE(ir.exitCode == 0);
  REQUIRE(qr.exitCode == 0);
  auto ij = hq::parseJson(ir.out, "int");
  auto qj = hq::parseJson(qr.out, "qdq");
  REQUIRE(ij.isOk());
  REQUIRE(qj.isOk());
  double it = (*ij)["top1"].get<double>(), qt = (*qj)["top1"].get<double>();
  CHECK(it > 70.0);
  CHECK(std::fabs(it - qt) <= 0.4);  // at most 2 of 500 images differ
}

TEST_CASE("hq-convert refuses unconvertible models and leaves no output file") {
  auto dir = scratchDir("hq_convert_err");
  auto out = dir / "m.int.onnx";
  SECTION("Gemm transA") {
    std::string model = writeTransAModel(dir);
    requireCleanError(runTool("hq-convert", model + " --out " + out.string()), 4, "Gemm 'fc'");
  }
  SECTION("missing input file") {
    requireCleanError(runTool("hq-convert", (dir / "nope.onnx").string() + " --out " + out.string()),
                      3, "nope.onnx");
  }
  SECTION("--fail-below without --compare") {
    requireCleanError(runTool("hq-convert", kQdq + " --fail-below 0.99 --out " + out.string()), 2,
                      "--fail-below needs --compare");
  }
  SECTION("--limit or --float without --compare") {
    requireCleanError(runTool("hq-convert", kQdq + " --limit 5 --out " + out.string()), 2,
                      "--limit needs --compare");
    requireCleanError(runTool("hq-convert", kQdq + " --float " + kQdq + " --out " + out.string()),
                      2, "--float needs --compare");
  }
  SECTION("--out is the input: never overwritten") {
    const fs::path copy = dir / "same.onnx";
    fs::copy_file(kQdq, copy, fs::copy_options::overwrite_existing);
    const auto before = fs::file_size(copy);
    requireCleanError(runTool("hq-convert", copy.string() + " --out " + copy.string()), 2,
                      "is the input model");
    CHECK(fs::file_size(copy) == before);
    fs::remove(copy);
  }
  SECTION("usage error") {
    auto r = runTool("hq-convert", kQdq);
    CHECK(r.exitCode == 2);
  }
  CHECK_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir)) {  // no temporary files either
    CHECK(e.path().filename().string().find("m.int") == std::string::npos);
  }
}

TEST_CASE("hq-convert --compare: the three models side by side, and the --fail-below gate") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  auto dir = scratchDir("hq_convert_compare");
  auto out = dir / "m.int.onnx";
  const std::string flt = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx";
  const std::string base = kQdq + " --compare fashion-mnist-test --limit 20 -q --out " +
                           out.string() + " --float " + flt;
  auto r = runTool("hq-convert", base + " --json");
  INFO("stderr: " << r.err);
  REQUIRE(r.exitCode == 0);
  REQUIRE(fs::exists(out));
  auto doc = hq::parseJson(r.out, "stdout");
  REQUIRE(doc.isOk());
  const auto& cmp = (*doc)["compare"];
  CHECK(cmp["images"] == 20);
  CHECK(cmp["float_model"] == flt);
  // input, 3 conv units, 2 max pools, average pool, Flatten, logits
  REQUIRE(cmp["layers"].size() == 9);
  CHECK(cmp["top1_disagreement"].get<double>() <= 0.05);
  // Worst first by cosine vs float; the integer model is close to the fake-quant one.
  double prev = -1;
  for (const auto& l : cmp["layers"]) {
    CHECK(l["cosine_float"].get<double>() >= prev);
    prev = l["cosine_float"].get<double>();
    CHECK(l["cosine_fake_quant"].get<double>() > 0.999);
    CHECK(l["cosine_float"].get<double>() > 0.95);
  }
  const double worst = cmp["layers"][0]["cosine_float"].get<double>();
  const std::string worst_tensor = cmp["layers"][0]["tensor"].get<std::string>();
  CHECK(worst < 0.9999);

  // The gate: passes just below the worst layer, fails (exit 1, naming it) just above,
  // and keeps the (valid) model.
  CHECK(runTool("hq-convert", base + " --fail-below " + std::to_string(worst - 1e-4)).exitCode == 0);
  fs::remove(out);
  auto g = runTool("hq-convert", base + " --fail-below " + std::to_string(worst + 1e-5));
  CHECK(g.exitCode == 1);
  CHECK(lineCount(g.err) == 1);
  CHECK(g.err.find("worst '" + worst_tensor + "'") != std::string::npos);
  CHECK(g.err.find("vs float") != std::string::npos);
  CHECK(fs::exists(out));

  // A bad dataset: an error, and no model written.
  fs::remove(out);
  auto bad = runTool("hq-convert", kQdq + " --compare fashion-mnist-test-32 -q --out " + out.string());
  CHECK(bad.exitCode == 3);
  CHECK(lineCount(bad.err) == 1);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("hq-eval refuses an integer model edited to an asymmetric input, naming file and node") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) return;
  auto dir = scratchDir("hq_convert_zp");
  const fs::path good = dir / "m.int.onnx", bad = dir / "zp.int.onnx";
  REQUIRE(runTool("hq-convert", kQdq + " -q --out " + good.string()).exitCode == 0);
  auto g = hq::importOnnxFile(good.string());
  REQUIRE(g.isOk());
  hq::Value* zp = (*g)->findValue("input_zero_point");
  REQUIRE(zp);
  REQUIRE(zp->isConstant());
  zp->constant = hq::Tensor::fromVector<int8_t>(zp->constant.shape(), {5});
  REQUIRE(hq::exportOnnxFile(**g, bad.string()).isOk());
  auto r = runTool("hq-eval", bad.string() + " --data fashion-mnist-test --limit 10 -q");
  INFO(r.err);
  CHECK(r.exitCode == 4);
  CHECK(lineCount(r.err) == 1);
  CHECK(r.err.find(bad.string() + ": ") != std::string::npos);  // the file
  CHECK(r.err.find("input_QuantizeLinear") != std::string::npos);  // the node
  CHECK(r.err.find("zero point 5") != std::string::npos);
}
