// ONNX export: checker acceptance, lossless round trips and deterministic bytes.
#include <cstdio>

#include <catch2/catch.hpp>

#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "ir/passes/passes.h"
#include "onnx_test_util.h"
#include "support/atomic_file.h"

using namespace hq;
using hq::test::checkSameGraph;
using hq::test::irData;
using hq::test::projectModel;
using hq::test::sharedModel;

namespace {
const ImportOptions kRaw{/*simplify=*/false};

/// import -> export -> import: the graphs match and the second export gives the same bytes.
void checkRoundTrip(const Graph& g) {
  auto bytes = exportOnnxBytes(g);
  INFO(bytes.status().message());
  REQUIRE(bytes.isOk());
  Status checked = checkOnnxBytes(*bytes, "exported");
  INFO(checked.message());
  REQUIRE(checked.isOk());
  auto again = exportOnnxBytes(g);
  REQUIRE(again.isOk());
  CHECK(*again == *bytes);  // same graph, same bytes
  auto back = importOnnxBytes(*bytes, "exported", kRaw);
  INFO(back.status().message());
  REQUIRE(back.isOk());
  checkSameGraph(g, **back);
  auto bytes2 = exportOnnxBytes(**back);
  REQUIRE(bytes2.isOk());
  CHECK(*bytes2 == *bytes);  // a fixed point after one round
}

std::unique_ptr<Graph> load(const std::string& path, const ImportOptions& o = kRaw) {
  auto r = importOnnxFile(path, o);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(r).value();
}
}  // namespace

TEST_CASE("round trip fmnist_cnn models", "[onnx][export]") {
  for (const char* name : {"fmnist_cnn.float.onnx", "fmnist_cnn.float-bn.onnx"}) {
    INFO(name);
    auto g = load(projectModel(name));
    checkRoundTrip(*g);
    REQUIRE(runImportPasses(*g).isOk());  // simplified (inference BN) exports cleanly too
    checkRoundTrip(*g);
  }
}

TEST_CASE("round trip mobilenetv2_32 models", "[onnx][export]") {
  for (const char* name : {"mobilenetv2_32.float.onnx", "mobilenetv2_32.float-bn.onnx"}) {
    std::string path = sharedModel(name);
    if (path.empty()) {
      WARN(name << " not found in HQ_SHARED_MODELS; skipped");
      continue;
    }
    INFO(name);
    auto g = load(path);
    checkRoundTrip(*g);
    REQUIRE(runImportPasses(*g).isOk());
    checkRoundTrip(*g);
  }
}

TEST_CASE("round trip keeps every dtype, metadata and dim names", "[onnx][export]") {
  auto g = load(irData("dtypes.onnx"));
  checkRoundTrip(*g);
  auto bytes = exportOnnxBytes(*g);
  REQUIRE(bytes.isOk());
  auto back = importOnnxBytes(*bytes, "exported", kRaw);
  REQUIRE(back.isOk());
  CHECK((*back)->metadata.at("author") == "hq tests");
  CHECK((*back)->inputs()[0]->dimParams == std::vector<std::string>{"batch", ""});
  CHECK((*back)->findValue("f16_typed")->constant.dtype() == DType::kFloat16);
  CHECK((*back)->extraOpsets.at("com.example.hq") == 2);
  CHECK((*back)->inputs().size() == 1);
}

TEST_CASE("export gives unknown output dims a dim_param and needs output ranks", "[onnx][export]") {
  Graph g;
  g.opsetVersion = 13;
  Value* x = g.addValue("x", DType::kFloat32, {-1, 3}, true);
  Value* y = g.addValue("y", DType::kFloat32, {-1, 3}, true);
  g.mutableInputs().push_back(x);
  g.mutableOutputs().push_back(y);
  g.addNode("Relu", "relu", {x}, {y});
  auto bytes = exportOnnxBytes(g);
  REQUIRE(bytes.isOk());
  REQUIRE(checkOnnxBytes(*bytes, "relu.onnx").isOk());
  auto back = importOnnxBytes(*bytes, "relu.onnx", kRaw);
  REQUIRE(back.isOk());
  CHECK((*back)->outputs()[0]->shape == Shape{-1, 3});
  CHECK((*back)->outputs()[0]->dimParams == std::vector<std::string>{"y_dim0", ""});
  CHECK((*back)->name == "hq");  // an unnamed graph gets a name (the checker wants one)

  y->hasShape = false;
  y->shape.clear();
  auto bad = exportOnnxBytes(g);
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(),
             Catch::StartsWith("cannot export graph output 'y': its rank is unknown"));
}

TEST_CASE("checkOnnxBytes reports what the checker finds", "[onnx][export]") {
  Graph g;
  g.opsetVersion = 13;
  Value* x = g.addValue("x", DType::kFloat32, {1, 3}, true);
  Value* y = g.addValue("y", DType::kFloat32, {1, 3}, true);
  g.mutableInputs().push_back(x);
  g.mutableOutputs().push_back(y);
  Attributes a;
  a.set("axis", Attribute::ofString("one"));  // Softmax's axis must be an int
  g.addNode("Softmax", "soft", {x}, {y}, a);
  auto bytes = exportOnnxBytes(g);
  REQUIRE(bytes.isOk());
  Status s = checkOnnxBytes(*bytes, "soft.onnx");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::StartsWith("soft.onnx: the ONNX checker rejects the model: "));
  CHECK_THAT(s.message(), Catch::Contains("axis"));
  CHECK(checkOnnxBytes("garbage", "g.onnx").message() ==
        "g.onnx: not a valid ONNX model (protobuf parse failed)");
  std::string out = std::string(HQ_BIN_DIR) + "/ir_export_rejected.onnx";
  std::remove(out.c_str());
  CHECK_FALSE(exportOnnxFile(g, out).isOk());
  CHECK_FALSE(readFile(out).isOk());  // nothing written
}

TEST_CASE("exportOnnxFile writes the exported bytes", "[onnx][export]") {
  auto g = load(projectModel("fmnist_cnn.float.onnx"));
  std::string out = std::string(HQ_BIN_DIR) + "/ir_export_fmnist.onnx";
  REQUIRE(exportOnnxFile(*g, out).isOk());
  auto written = readFile(out);
  REQUIRE(written.isOk());
  CHECK(*written == *exportOnnxBytes(*g));
  std::remove(out.c_str());
  Status s = exportOnnxFile(*g, "/nonexistent-dir/x.onnx");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("/nonexistent-dir/x.onnx"));
}
