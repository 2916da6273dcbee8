// hq-eval as a user runs it: real model, real data, and every kind of bad input.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {
const std::string kModel = std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx";
const bool kHaveFashion = fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");

void writeText(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

/// The error contract: exit code, exactly one line on stderr containing `needle`, no stdout.
void requireEvalError(const hq::testing::ToolResult& r, int code, const std::string& needle) {
  INFO("stderr: " << r.err);
  CHECK(r.exitCode == code);
  CHECK(lineCount(r.err) == 1);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(r.err.rfind("hq-eval: error: ", 0) == 0);
  CHECK(r.out.empty());
}
}  // namespace

TEST_CASE("hq-eval scores the bundled model like PyTorch (85.73%)") {
  if (!kHaveFashion) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  auto dir = scratchDir("eval_ok");
  auto r = runTool("hq-eval", kModel + " --data fashion-mnist-test --json --quiet --report " +
                                  (dir / "r.json").string());
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["count"] == 10000);
  // PyTorch's float top-1 on this model (../shared/models/README.md): 85.73%.
  CHECK(j["top1"].get<double>() == Approx(85.73).margin(0.02));
  CHECK(j["top5"].get<double>() > j["top1"].get<double>());
  CHECK(j["images_per_s"].get<double>() > 0);
  CHECK(nlohmann::json::parse(std::ifstream(dir / "r.json")) == j);
}

TEST_CASE("hq-eval --limit and the human-readable line") {
  if (!kHaveFashion) return;
  auto r = runTool("hq-eval", kModel + " --data fashion-mnist-test --limit 300 --label Float -q");
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.rfind("Float: evaluation Acc@1 ", 0) == 0);
  CHECK(r.out.find("(300 images") != std::string::npos);
  CHECK(r.err.empty());  // --quiet
}

TEST_CASE("hq-eval rejects bad input with one clear line and writes nothing") {
  auto dir = scratchDir("eval_bad");
  std::string report = (dir / "report.json").string();
  std::string data = " --data fashion-mnist-test --report " + report;

  SECTION("missing model file") {
    requireEvalError(runTool("hq-eval", (dir / "nope.onnx").string() + data), 3, "nope.onnx");
  }
  SECTION("garbage model file") {
    writeText(dir / "garbage.onnx", "this is not a protobuf \x01\x02\x03 at all");
    requireEvalError(runTool("hq-eval", (dir / "garbage.onnx").string() + data), 3, "garbage.onnx");
  }
  SECTION("truncated model file") {
    std::ifstream in(kModel, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    writeText(dir / "truncated.onnx", bytes.substr(0, bytes.size() / 2));
    requireEvalError(runTool("hq-eval", (dir / "truncated.onnx").string() + data), 3,
                      "truncated.onnx");
  }
  SECTION("dataset spec that fails its schema names the JSON path") {
    writeText(dir / "spec.json",
              R"({"format_version": 1, "source": {"kind": "idx", "images": "a.gz", "labels": "b.gz"},
                  "steps": [{"op": "normalize", "offset": 128, "scale": "big"}]})");
    requireEvalError(runTool("hq-eval", kModel + " --data " + (dir / "spec.json").string() +
                                             " --report " + report),
                      3, "/steps/0");
  }
  SECTION("dataset spec that is not JSON") {
    writeText(dir / "spec.json", "{\"source\": ");
    requireEvalError(runTool("hq-eval", kModel + " --data " + (dir / "spec.json").string()), 3,
                      "spec.json:");
  }
  SECTION("image size that does not match the model input") {
    if (!kHaveFashion) return;
    requireEvalError(
        runTool("hq-eval", kModel + " --data fashion-mnist-test-32 --report " + report), 3,
        "expects");
  }
  SECTION("corrupted .gz data file") {
    std::ifstream in("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", std::ios::binary);
    if (!in) return;
    std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string images = gz;  // labels file as images: also wrong, but corrupt it instead:
    for (size_t i = 40; i < gz.size() && i < 400; i += 7) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
    writeText(dir / "labels.gz", gz);
    writeText(dir / "spec.json",
              R"({"format_version": 1, "source": {"kind": "idx",
                  "images": "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                  "labels": "labels.gz"},
                  "steps": [{"op": "normalize", "offset": 128, "scale": 0.0078125}]})");
    requireEvalError(runTool("hq-eval", kModel + " --data " + (dir / "spec.json").string() +
                                             " --report " + report),
                      3, "labels.gz");
  }
  SECTION("bad option value") {
    auto r = runTool("hq-eval", kModel + " --data fashion-mnist-test --batch 0");
    CHECK(r.exitCode == 2);
    CHECK(lineCount(r.err) == 1);
    CHECK(r.err.find("--batch") != std::string::npos);
    CHECK(r.out.empty());
  }
  CHECK_FALSE(fs::exists(report));
  for (auto& e : fs::directory_iterator(dir)) {
    CHECK(e.path().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("hq-eval --dump-tensors writes intermediate tensors of every evaluated image") {
  if (!kHaveFashion) return;
  auto dir = scratchDir("eval_dump_tensors");
  auto slurp = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), {});
  };
  // A tensor by name and a node by name (its first output), batches of 32 over 70 images.
  fs::remove_all(dir / "sub");
  auto r = runTool("hq-eval", kModel + " --data fashion-mnist-test --limit 70 --batch 32 -q "
                                       "--dump-tensors /features/features.1/MaxPool_output_0,"
                                       "/fc/Gemm --dump-dir " + (dir / "sub" / "d").string() +
                                       " --dump-outputs " + (dir / "all_logits.npy").string());
  dir /= "sub/d";  // created by --dump-dir
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  const fs::path pool = dir / "_features_features.1_MaxPool_output_0.npy";
  REQUIRE(fs::exists(pool));
  // float32 [70, 16, 14, 14] after the 128-byte .npy 1.0 header.
  CHECK(fs::file_size(pool) == 128 + 70 * 16 * 14 * 14 * 4);
  CHECK(slurp(pool).find("'shape': (70, 16, 14, 14)") != std::string::npos);
  // The Gemm node's output is the graph output "logits": the bytes of --dump-outputs.
  REQUIRE(fs::exists(dir / "logits.npy"));
  CHECK(slurp(dir / "logits.npy") == slurp(dir.parent_path().parent_path() / "all_logits.npy"));

  auto bad = runTool("hq-eval", kModel + " --data fashion-mnist-test --limit 5 -q "
                                         "--dump-tensors nope --dump-dir " + dir.string());
  requireEvalError(bad, 3, "no tensor or node named 'nope'");
}
