// Lowering to layers: fmnist_cnn's integer model gives the hand-counted layers and MACs;
// mobilenetv2_32's gives the seed's 54-row layer table (ops per run at batch 256) in order;
// views and the boundary make no layers; the native layout pads channels as computed by hand.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "compiler/lower.h"
#include "compiler/npu_test_models.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "ir/op_registry.h"
#include "quant/calibrate.h"
#include "quant/convert.h"

using hq::Attribute;
using hq::Attributes;
using hq::DType;
using hq::LayerKind;
using hq::Value;

namespace {

hq::LayerGraph lower(const hq::Graph& g) {
  auto r = hq::lowerModel(g);
  INFO((r.isOk() ? std::string() : r.status().message()));
  REQUIRE(r.isOk());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("lower: fmnist_cnn's integer model", "[compiler][lower]") {
  auto qdq = hq::importOnnxFile(std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx");
  REQUIRE(qdq.isOk());
  auto model = hq::convertToInteger(**qdq);
  REQUIRE(model.isOk());
  hq::LayerGraph lg = lower(**model);

  std::vector<std::string> kinds;
  for (const hq::Layer& l : lg.layers) kinds.push_back(hq::layerKindName(l.kind));
  // conv-relu-pool x2, conv-relu, global pool, flatten (view), gemm.
  CHECK(kinds == std::vector<std::string>{"conv", "pool", "conv", "pool", "conv", "pool", "gemm"});
  std::string dump;
  for (const hq::Layer& l : lg.layers) dump += l.opType + ":" + l.name + " ";
  INFO(dump);
  CHECK(lg.boundary.size() == 2);  // input QuantizeLinear, output DequantizeLinear
  // fmnist_cnn: convs 1->16 @28x28, 16->32 @14x14, 32->64 @7x7 (3x3), Gemm 64->10.
  std::vector<int64_t> conv_macs;
  for (const hq::Layer& l : lg.layers) {
    if (l.kind == LayerKind::kConv || l.kind == LayerKind::kGemm)
      conv_macs.push_back(l.macsPerFrame);
    if (l.kind != LayerKind::kConv && l.kind != LayerKind::kGemm) CHECK(l.macsPerFrame == 0);
    CHECK(l.opsPerFrame == 2 * l.macsPerFrame);
  }
  CHECK(conv_macs == std::vector<int64_t>{16 * 28 * 28 * 1 * 9, 32 * 14 * 14 * 16 * 9,
                                          64 * 7 * 7 * 32 * 9, 64 * 10});
  CHECK(lg.totalMacsPerFrame() == 1919872);

  const hq::Layer* first = &lg.layers.front();
  CHECK(first->opType == "QConv");
  CHECK(first->inputs.size() == 1);
  CHECK(first->inputs[0].shape.back() == 28);
  CHECK(first->outputs[0].dtype == DType::kInt8);
  // int8 weights 16*1*3*3, int64 bias 16, multiplier 16 x 4 B, shift 16 x 1 B.
  CHECK(first->weightBytes == 144 + 16 * 8 + 16 * 4 + 16);
  const hq::Layer* gemm = &lg.layers.back();
  CHECK(gemm->kind == LayerKind::kGemm);
  CHECK(gemm->outputs[0].shape.back() == 10);
  // The gemm reads through a view (Flatten/Reshape) when there is one: storage is its source.
  if (!lg.views.empty()) {
    CHECK(gemm->inputs[0].name == lg.views.back().output);
    CHECK(gemm->inputs[0].storage == lg.views.back().inputs[0]);
    CHECK(lg.layers[lg.layers.size() - 2].outputs[0].name == gemm->inputs[0].storage);
  }
  for (const hq::Layer& l : lg.layers) CHECK(l.kind != LayerKind::kView);
}

TEST_CASE("lower: mobilenetv2_32 matches the seed's 54-layer table", "[compiler][lower]") {
  auto model = hq::testing::mobilenetIntModel();
  if (!model) return;
  hq::LayerGraph lg = lower(*model);

  auto rows = hq::testing::seedMobilenetLayers();
  REQUIRE(rows.size() == 54);
  REQUIRE(lg.layers.size() == rows.size());
  int64_t seed_total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const hq::Layer& l = lg.layers[i];
    INFO("row " << i << ": seed " << rows[i].first << " " << rows[i].second << ", ours " << l.opType
                << " '" << l.name << "' " << l.opsPerFrame << " ops/frame");
    CHECK(l.opsPerFrame * 256 == rows[i].second);
    seed_total += rows[i].second;
    // The seed names each layer after its torch module: convs are "..._hz_conv2d", the
    // classifier "..._hz_linear...", the global pool a 0-op "..._torch_native" row.
    if (rows[i].first.find("linear") != std::string::npos) {
      CHECK(l.kind == LayerKind::kGemm);
    } else if (rows[i].second == 0) {
      CHECK(l.kind == LayerKind::kPool);
    } else {
      CHECK((l.kind == LayerKind::kConv || l.kind == LayerKind::kDepthwise));
    }
  }
  CHECK(seed_total == int64_t{256} * 12249856);
  CHECK(lg.totalOpsPerFrame() == 12249856);
  // The 10 residual Adds are fused into the projection convs (the seed's
  // "_generated_add_" rows): each has two activation inputs.
  int residual = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (lg.layers[i].inputs.size() == 2) {
      ++residual;
      CHECK(rows[i].first.find("generated_add") != std::string::npos);
    }
  }
  CHECK(residual == 10);
  // One depthwise 3x3 per inverted-residual block (features.1 .. features.17).
  int depthwise = 0;
  for (const hq::Layer& l : lg.layers) depthwise += l.kind == LayerKind::kDepthwise ? 1 : 0;
  CHECK(depthwise == 17);
}

TEST_CASE("lower: channel concat and reshape are views; native layout pads channels",
          "[compiler][lower]") {
  // x[1,3,4,4] -> QConv a (5 ch) and QConv b (6 ch) -> QConcat axis 1 (11 ch, a rescaled)
  // -> QMaxPool -> Flatten -> QGemm (11*2*2 -> 7).
  hq::Graph g;
  Value* x = g.addValue("x", DType::kInt8, {1, 3, 4, 4}, true);
  g.mutableInputs().push_back(x);
  auto conv = [&](const std::string& name, int64_t cout) {
    Value* w = g.addConstant(name + ".w", hq::Tensor(DType::kInt8, {cout, 3, 1, 1}));
    Value* y = g.addValue(name + ".y", DType::kInt8, {1, cout, 4, 4}, true);
    Attributes a;
    a.set("kernel_shape", Attribute::ofInts({1, 1}));
    a.set("multiplier", Attribute::ofInts(std::vector<int64_t>(cout, 1 << 30)));
    a.set("shift", Attribute::ofInts(std::vector<int64_t>(cout, 31)));
    g.addNode("QConv", name, {x, w}, {y}, a, hq::kIntDomain);
    return y;
  };
  Value* a = conv("a", 5);
  Value* b = conv("b", 6);
  Value* cat = g.addValue("cat", DType::kInt8, {1, 11, 4, 4}, true);
  Attributes ca;
  ca.set("axis", Attribute::ofInt(1));
  ca.set("multiplier", Attribute::ofInts({1 << 30, 1 << 30}));
  ca.set("shift", Attribute::ofInts({31, 30}));  // a halved, b identity
  g.addNode("QConcat", "cat", {a, b}, {cat}, ca, hq::kIntDomain);
  Value* pooled = g.addValue("pooled", DType::kInt8, {1, 11, 2, 2}, true);
  Attributes pa;
  pa.set("kernel_shape", Attribute::ofInts({2, 2}));
  pa.set("strides", Attribute::ofInts({2, 2}));
  g.addNode("QMaxPool", "pool", {cat}, {pooled}, pa, hq::kIntDomain);
  Value* flat = g.addValue("flat", DType::kInt8, {1, 44}, true);
  g.addNode("Flatten", "flatten", {pooled}, {flat});
  Value* gw = g.addConstant("fc.w", hq::Tensor(DType::kInt8, {7, 44}));
  Value* gb = g.addConstant("fc.b", hq::Tensor(DType::kInt64, {7}));
  Value* out = g.addValue("out", DType::kInt8, {1, 7}, true);
  Attributes fa;
  fa.set("transB", Attribute::ofInt(1));
  g.addNode("QGemm", "fc", {flat, gw, gb}, {out}, fa, hq::kIntDomain);
  g.mutableOutputs().push_back(out);

  hq::LayerGraph lg = lower(g);
  REQUIRE(lg.layers.size() == 4);  // a, b, pool, fc: no concat, no flatten
  CHECK(lg.layers[0].name == "a");
  CHECK(lg.layers[1].name == "b");
  CHECK(lg.layers[2].kind == LayerKind::kPool);
  CHECK(lg.layers[3].kind == LayerKind::kGemm);
  CHECK(lg.layers[0].outputs[0].storage == "cat");
  CHECK(lg.layers[0].outputs[0].channelOffset == 0);
  CHECK(lg.layers[1].outputs[0].storage == "cat");
  CHECK(lg.layers[1].outputs[0].channelOffset == 5);
  CHECK(lg.layers[3].inputs[0].storage == "pooled");
  CHECK(lg.layers[0].macsPerFrame == 5 * 16 * 3);
  CHECK(lg.layers[3].macsPerFrame == 7 * 44);
  CHECK(lg.layers[3].weightBytes == 7 * 44 + 7 * 8);
  CHECK(lg.layers[0].weightBytes == 5 * 3 + 5 * 4 + 5);
  CHECK(lg.layers[2].elementsPerFrame == 44);
  REQUIRE(lg.views.size() == 2);
  CHECK(lg.views[0].opType == "QConcat");
  CHECK(lg.views[0].channelOffsets == std::vector<int64_t>{0, 5});
  CHECK(lg.views[0].rescale == std::vector<bool>{true, false});
  CHECK(lg.views[1].opType == "Flatten");

  // Native layout: [1, 11, 4, 4] int8 on channel group 8 -> 4x4x16: 176 bytes, 256 padded.
  auto l = hq::nativeLayout(cat->shape, DType::kInt8, 8);
  REQUIRE(l.isOk());
  CHECK(l->height == 4);
  CHECK(l->width == 4);
  CHECK(l->channels == 11);
  CHECK(l->paddedChannels == 16);
  CHECK(l->bytes == 176);
  CHECK(l->paddedBytes == 256);
  CHECK(l->padBytes() == 80);
  // int16 [N, 44] on group 16 -> 48 channels x 2 bytes; dynamic batch ignored.
  auto v = hq::nativeLayout({-1, 44}, DType::kInt16, 16);
  REQUIRE(v.isOk());
  CHECK(v->bytes == 88);
  CHECK(v->paddedBytes == 96);
  // Already aligned: no padding.
  auto al = hq::nativeLayout({1, 32, 3, 5}, DType::kInt8, 16);
  REQUIRE(al.isOk());
  CHECK(al->paddedBytes == al->bytes);
  CHECK(al->bytes == 480);
  CHECK(!hq::nativeLayout({1, 8}, DType::kInt8, 0).isOk());
  CHECK(!hq::nativeLayout({1, -1, 4, 4}, DType::kInt8, 8).isOk());
}

TEST_CASE("lower: errors name the node", "[compiler][lower]") {
  hq::Graph g;
  Value* x = g.addValue("x", DType::kInt8, {1, 4}, true);
  g.mutableInputs().push_back(x);
  Value* f = g.addValue("f", DType::kFloat32, {1, 4}, true);
  g.addNode("DequantizeLinear", "dq_mid", {x}, {f});
  Value* y = g.addValue("y", DType::kFloat32, {1, 4}, true);
  g.addNode("Relu", "relu", {f}, {y});
  g.mutableOutputs().push_back(y);
  auto r = hq::lowerModel(g);
  REQUIRE(!r.isOk());
  CHECK(r.status().message().find("dq_mid") != std::string::npos);
  CHECK(r.status().message().find("used inside the model") != std::string::npos);
  // An ONNX op that is no view and no boundary: not an integer model.
  hq::Graph g2;
  Value* x2 = g2.addValue("x", DType::kInt8, {1, 4}, true);
  g2.mutableInputs().push_back(x2);
  Value* y2 = g2.addValue("y", DType::kInt8, {1, 4}, true);
  g2.addNode("Relu", "relu", {x2}, {y2});
  g2.mutableOutputs().push_back(y2);
  auto r2 = hq::lowerModel(g2);
  REQUIRE(!r2.isOk());
  CHECK(r2.status().message().find("'relu'") != std::string::npos);
  CHECK(r2.status().message().find("ai.hq integer op") != std::string::npos);
}
