// Whole-model checks of integer models: the ai.hq opset import and symmetric boundaries.
#include <catch2/catch.hpp>

#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "ir/op_registry.h"
#include "runtime/executor.h"

using namespace hq;

namespace {

/// x (float) -> QuantizeLinear (scale 0.5, zero point zp) -> ai.hq.QClamp [0, 127] ->
/// DequantizeLinear -> y.
std::unique_ptr<Graph> clampModel(int8_t zp, bool import_domain) {
  auto g = std::make_unique<Graph>();
  g->opsetVersion = 13;
  if (import_domain) g->extraOpsets[kIntDomain] = kIntDomainVersion;
  Value* x = g->addValue("x", DType::kFloat32, {1, 4}, true);
  g->mutableInputs().push_back(x);
  Value* s = g->addConstant("s", Tensor::fromVector<float>({}, {0.5f}));
  Value* z = g->addConstant("z", Tensor::fromVector<int8_t>({}, {zp}));
  Value* q = g->addValue("x_quantized");
  g->addNode("QuantizeLinear", "q", {x, s, z}, {q});
  Attributes a;
  a.set("lo", Attribute::ofInt(0));
  a.set("hi", Attribute::ofInt(127));
  Value* c = g->addValue("c");
  g->addNode("QClamp", "clamp", {q}, {c}, a, kIntDomain);
  Value* y = g->addValue("y");
  g->addNode("DequantizeLinear", "dq", {c, s, z}, {y});
  g->mutableOutputs().push_back(y);
  REQUIRE(inferShapes(*g).isOk());
  return g;
}

}  // namespace

TEST_CASE("integer models: symmetric boundaries run, a zero point is refused", "[int]") {
  auto ok = Executor::create(*clampModel(0, true));
  REQUIRE(ok.isOk());
  auto out = (*ok)->run({Tensor::fromVector<float>({1, 4}, {-3.0f, 0.74f, 0.76f, 100.0f})});
  REQUIRE(out.isOk());
  // q = [-6, 1, 2, 127] (0.74 / 0.5 = 1.48 -> 1), clamped to [0, 127], times 0.5.
  const float* y = (*out)[0].data<float>();
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.5f);
  CHECK(y[2] == 1.0f);
  CHECK(y[3] == 63.5f);

  auto bad = Executor::create(*clampModel(5, true));
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("zero point 5"));
  CHECK_THAT(bad.status().message(), Catch::Contains("'q'"));
}

TEST_CASE("integer models: ai.hq nodes need the ai.hq opset import", "[int]") {
  auto with = exportOnnxBytes(*clampModel(0, true));
  REQUIRE(with.isOk());
  CHECK(importOnnxBytes(*with, "with.onnx").isOk());
  auto without = exportOnnxBytes(*clampModel(0, false));
  REQUIRE(without.isOk());
  auto r = importOnnxBytes(*without, "without.onnx");
  REQUIRE_FALSE(r.isOk());
  CHECK_THAT(r.status().message(), Catch::Contains("imports no opset"));
  CHECK_THAT(r.status().message(), Catch::Contains("clamp"));
}
