// hq-calib as a user runs it: calibrate the bundled model, check what it wrote, and feed
// it every kind of bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "support/atomic_file.h"
#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::requireCleanError;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {
const std::string kModel = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx";
const bool kHaveFashion = fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");

void writeText(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::string slurp(const fs::path& p) { return *hq::readFile(p.string()); }

const hq::Node* producerOp(const hq::Graph& g, const std::string& value) {
  const hq::Value* v = g.findValue(value);
  return v ? v->producer : nullptr;
}
}  // namespace

TEST_CASE("hq-calib writes a checked, deterministic QDQ model that scores close to float") {
  if (!kHaveFashion) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  auto dir = scratchDir("calib_ok");
  std::string a = (dir / "a.onnx").string(), b = (dir / "b.onnx").string();
  std::string report = (dir / "report.json").string();
  auto r = runTool("hq-calib", kModel + " --data fashion-mnist-calib --limit 512 --json -q --out " +
                                   a + " --report " + report);
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  auto summary = nlohmann::json::parse(r.out);
  CHECK(summary["images"] == 512);
  CHECK(summary["fused_units"] == 4);
  CHECK(summary["activation_points"] == 6);
  // Same inputs and options (the output names may differ): the same bytes.
  REQUIRE(runTool("hq-calib", kModel + " --data fashion-mnist-calib --limit 512 --json -q --out " +
                                  b + " --report " + (dir / "report2.json").string())
              .exitCode == 0);
  CHECK(slurp(a) == slurp(b));
  CHECK(slurp(report).size() > 0);

  // The model is standard QDQ ONNX: the checker accepts it, hq reads it back.
  std::string bytes = slurp(a);
  CHECK(hq::checkOnnxBytes(bytes, a).isOk());
  auto g = hq::importOnnxBytes(bytes, a);
  REQUIRE(g.isOk());
  int q = 0, dq = 0;
  for (const hq::Node* n : (*g)->nodes()) {
    q += n->opType == "QuantizeLinear";
    dq += n->opType == "DequantizeLinear";
  }
  CHECK(q == 6);         // one per activation point
  CHECK(dq == 6 + 4);    // and one per weight
  CHECK((*g)->metadata.count("hq.qconfig") == 1);
  CHECK((*g)->metadata.at("hq.version") == "0.1.0");
  auto lineage = nlohmann::json::parse((*g)->metadata.at("hq.lineage"));
  CHECK(lineage["inputs"]["model"].get<std::string>().size() == 64);  // SHA-256 of the model
  // The fixed input scale 1/128 is honoured exactly.
  const hq::Node* qin = nullptr;
  for (const hq::Node* n : (*g)->nodes()) {
    if (n->opType == "QuantizeLinear" && n->inputs[0]->name == "input") qin = n;
  }
  REQUIRE(qin);
  REQUIRE(qin->inputs[1]->isConstant());
  CHECK(qin->inputs[1]->constant.data<float>()[0] == 0.0078125f);
  // BatchNormalization is gone (folded) and the graph output keeps its name.
  CHECK((*g)->outputs()[0]->name == "logits");

  // The report: every point with its observer, range, scale, saturation and SQNR.
  auto rep = nlohmann::json::parse(slurp(report));
  REQUIRE(rep["points"].size() == 10);
  for (const auto& p : rep["points"]) {
    CHECK(p.contains("tensor"));
    CHECK(p.contains("observer"));
    CHECK(p["saturation"].get<double>() >= 0.0);
    CHECK(p["saturation"].get<double>() <= 1.0);
  }
  CHECK(rep["points"][0]["observer"] == "fixed");
  CHECK(rep["points"][0]["saturation"].get<double>() == 0.0);  // pixels fit 1/128 exactly

  // Fake-quant accuracy close to float on the first 1,000 test images.
  auto fr = runTool("hq-eval", kModel + " --data fashion-mnist-test --limit 1000 --json -q");
  auto qr = runTool("hq-eval", a + " --data fashion-mnist-test --limit 1000 --json -q");
  REQUIRE(fr.exitCode == 0);
  REQUIRE(qr.exitCode == 0);
  double f1 = nlohmann::json::parse(fr.out)["top1"], q1 = nlohmann::json::parse(qr.out)["top1"];
  CHECK(std::abs(f1 - q1) <= 1.0);
}

TEST_CASE("hq-calib honours the 32-bit classifier output") {
  if (!kHaveFashion) return;
  auto dir = scratchDir("calib_32");
  std::string out = (dir / "m.onnx").string();
  auto r = runTool("hq-calib", kModel + " --qconfig default-32bit-out --data fashion-mnist-calib "
                                        "--limit 256 -q --out " + out);
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  auto g = hq::importOnnxFile(out);
  REQUIRE(g.isOk());
  const hq::Node* p = producerOp(**g, "logits");
  REQUIRE(p);
  CHECK(p->opType == "Gemm");  // no QuantizeLinear/DequantizeLinear on the classifier output
  CHECK((*g)->metadata.at("hq.quant.int32_outputs") == "logits");
}

TEST_CASE("hq-calib rejects bad input with one clear line and writes nothing") {
  auto dir = scratchDir("calib_bad");
  std::string out = (dir / "out.onnx").string();
  std::string base = kModel + " --out " + out;

  SECTION("qconfig with an unknown key names its JSON path") {
    writeText(dir / "q.json", R"({"format_version": 1, "default": {"activation": {"dtype": "qint8", "colour": 3}}})");
    requireCleanError(runTool("hq-calib", base + " --data fashion-mnist-calib --qconfig " + (dir / "q.json").string()),
                      3, "/default/activation");
  }
  SECTION("qconfig with an unknown observer") {
    writeText(dir / "q.json", R"({"format_version": 1, "default": {"activation": {"observer": "magic"}}})");
    requireCleanError(runTool("hq-calib", base + " --data fashion-mnist-calib --qconfig " + (dir / "q.json").string()),
                      3, "magic");
  }
  SECTION("qconfig with a wrong type") {
    writeText(dir / "q.json", R"({"format_version": 1, "default": {"weight": {"per_channel": "yes"}}})");
    requireCleanError(runTool("hq-calib", base + " --data fashion-mnist-calib --qconfig " + (dir / "q.json").string()),
                      3, "/default/weight/per_channel");
  }
  SECTION("unknown --observer is a usage error") {
    auto r = runTool("hq-calib", base + " --data fashion-mnist-calib --observer magic");
    CHECK(r.exitCode == 2);
    CHECK(lineCount(r.err) == 1);
  }
  SECTION("calibration data of the wrong shape") {
    if (!kHaveFashion) return;
    requireCleanError(runTool("hq-calib", base + " --data fashion-mnist-calib-32"), 3, "expects");
  }
  SECTION("NaN in the calibration data") {
    hq::Tensor images(hq::DType::kFloat32, {4, 1, 28, 28});
    images.data<float>()[100] = std::nanf("");
    REQUIRE(hq::writeNpy((dir / "images.npy").string(), images).isOk());
    writeText(dir / "nan.json", R"({"format_version": 1, "source": {"kind": "npy", "images": "images.npy"}})");
    requireCleanError(runTool("hq-calib", base + " --data " + (dir / "nan.json").string()), 3, "NaN");
  }
  SECTION("an unwritable report leaves no model behind") {
    if (!kHaveFashion) return;
    auto r = runTool("hq-calib", base + " --data fashion-mnist-calib --limit 64 -q --report " +
                                     (dir / "no/such/dir/r.json").string());
    CHECK(r.exitCode == 5);
    CHECK(lineCount(r.err) == 1);
  }
  SECTION("missing model") {
    requireCleanError(runTool("hq-calib", (dir / "none.onnx").string() + " --out " + out +
                                              " --data fashion-mnist-calib"),
                      3, "none.onnx");
  }
  CHECK_FALSE(fs::exists(out));
  for (auto& e : fs::directory_iterator(dir)) {
    CHECK(e.path().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("hq-calib warns about a qconfig override that matches no node") {
  if (!kHaveFashion) return;
  auto dir = scratchDir("calib_warn");
  writeText(dir / "q.json", R"({"format_version": 1, "overrides": [{"name": "clasifier*", "weight": {"observer": "minmax"}}]})");
  auto r = runTool("hq-calib", kModel + " --data fashion-mnist-calib --limit 64 --out " +
                                   (dir / "m.onnx").string() + " --qconfig " + (dir / "q.json").string());
  CHECK(r.exitCode == 0);
  CHECK(r.err.find("warning:") != std::string::npos);
  CHECK(r.err.find("clasifier*") != std::string::npos);
  CHECK(fs::exists(dir / "m.onnx"));
}

TEST_CASE("hq-calib quantizes the shared MobileNetV2 (skipped without ../shared/models)") {
  std::string model = std::string(HQ_SHARED_MODELS) + "/mobilenetv2_32.float.onnx";
  if (!fs::exists(model) || !kHaveFashion) {
    WARN("mobilenetv2_32.float.onnx or Fashion-MNIST absent; skipped");
    return;
  }
  auto dir = scratchDir("calib_mnv2");
  std::string out = (dir / "m.onnx").string();
  auto r = runTool("hq-calib", model + " --data fashion-mnist-calib-32 --limit 256 --json -q --out " + out);
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  auto s = nlohmann::json::parse(r.out);
  CHECK(s["fused_units"] == 53);  // 52 Conv (BN, ReLU6 and the 10 residual Adds fused) + Gemm
  CHECK(hq::checkOnnxBytes(slurp(out), out).isOk());
  auto fr = runTool("hq-eval", model + " --data fashion-mnist-test-32 --limit 500 --json -q");
  auto qr = runTool("hq-eval", out + " --data fashion-mnist-test-32 --limit 500 --json -q");
  REQUIRE(qr.exitCode == 0);
  double f1 = nlohmann::json::parse(fr.out)["top1"], q1 = nlohmann::json::parse(qr.out)["top1"];
  CHECK(std::abs(f1 - q1) <= 2.0);
}

TEST_CASE("hq-calib writes qint16 activations as Div/Round/Clip/Mul that any ONNX runtime runs") {
  if (!kHaveFashion) return;
  auto dir = scratchDir("calib_q16");
  writeText(dir / "q16.json", R"({"format_version": 1,
    "overrides": [{"op_type": "Conv", "output": {"dtype": "qint16"}}]})");
  std::string out = (dir / "m.onnx").string();
  auto r = runTool("hq-calib", kModel + " --data fashion-mnist-calib --limit 256 -q --out " + out +
                                   " --qconfig " + (dir / "q16.json").string());
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(hq::checkOnnxBytes(slurp(out), out).isOk());
  auto g = hq::importOnnxFile(out);
  REQUIRE(g.isOk());
  int rounds = 0, quantize = 0;
  for (const hq::Node* n : (*g)->nodes()) {
    rounds += n->opType == "Round";
    quantize += n->opType == "QuantizeLinear";
  }
  CHECK(rounds == 3);    // the three Conv units' outputs
  CHECK(quantize == 3);  // input, GlobalAveragePool and Gemm outputs stay qint8
  const std::string& listed = (*g)->metadata.at("hq.quant.int16_activations");
  CHECK(std::count(listed.begin(), listed.end(), ',') == 2);
  auto qr = runTool("hq-eval", out + " --data fashion-mnist-test --limit 500 --json -q");
  auto fr = runTool("hq-eval", kModel + " --data fashion-mnist-test --limit 500 --json -q");
  REQUIRE(qr.exitCode == 0);
  double f1 = nlohmann::json::parse(fr.out)["top1"], q1 = nlohmann::json::parse(qr.out)["top1"];
  CHECK(std::abs(f1 - q1) <= 1.0);
}

TEST_CASE("hq-calib --observer all holds out images even when the data fits one batch") {
  if (!kHaveFashion) return;
  auto dir = scratchDir("calib_all_small");
  auto r = runTool("hq-calib", kModel + " --data fashion-mnist-calib --limit 64 --observer all "
                                        "--json -q --out " + (dir / "m.onnx").string());
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  auto s = nlohmann::json::parse(r.out);
  CHECK(s["observed_images"] == 48);  // 64 minus a held-out quarter, cut inside the batch
  REQUIRE(s["candidates"].size() == 4);
  for (const auto& c : s["candidates"]) {
    CHECK(c["holdout_top1_agreement"].get<double>() > 50.0);  // really scored on 16 images
    CHECK(c["holdout_logit_mse"].get<double>() > 0.0);
  }
}
