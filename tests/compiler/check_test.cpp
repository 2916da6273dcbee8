// hq-check's rules: hand-built integer graphs that break specific march limits give exactly
// those diagnostics (node, rule, expected vs found); the shared models pass on bayes; the
// summary's MACs and parameters match hand counts.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "compiler/check.h"
#include "compiler/march.h"
#include "compiler/npu_test_models.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "ir/op_registry.h"
#include "quant/calibrate.h"
#include "quant/convert.h"

using hq::Attribute;
using hq::Attributes;
using hq::DType;
using hq::Value;

namespace {

/// Builds small NCHW integer graphs (shapes set by hand; the checker reads shapes only).
struct Builder {
  hq::Graph g;
  Value* input(const std::string& name, hq::Shape shape, DType t = DType::kInt8) {
    Value* v = g.addValue(name, t, std::move(shape), true);
    g.mutableInputs().push_back(v);
    return v;
  }
  /// QConv with square kernel k, stride s, dilation d, pad p, `group`; bias included.
  Value* conv(const std::string& name, Value* x, int64_t cout, int64_t k, int64_t s = 1,
              int64_t d = 1, int64_t p = 0, int64_t group = 1, DType out = DType::kInt8) {
    int64_t cin = x->shape[1], h = x->shape[2], w = x->shape[3];
    int64_t ho = (h + 2 * p - d * (k - 1) - 1) / s + 1, wo = (w + 2 * p - d * (k - 1) - 1) / s + 1;
    Value* wt = g.addConstant(name + ".w", hq::Tensor(DType::kInt8, {cout, cin / group, k, k}));
    Value* b = g.addConstant(name + ".b", hq::Tensor(DType::kInt64, {cout}));
    Value* y = g.addValue(name + ".y", out, {1, cout, ho, wo}, true);
    Attributes a;
    a.set("kernel_shape", Attribute::ofInts({k, k}));
    a.set("strides", Attribute::ofInts({s, s}));
    a.set("dilations", Attribute::ofInts({d, d}));
    a.set("pads", Attribute::ofInts({p, p, p, p}));
    a.set("group", Attribute::ofInt(group));
    g.addNode("QConv", name, {x, wt, b}, {y}, a, hq::kIntDomain);
    return y;
  }
  Value* resize(const std::string& name, Value* x, const std::string& mode, int64_t factor) {
    Value* y = g.addValue(name + ".y", x->dtype,
                          {1, x->shape[1], x->shape[2] * factor, x->shape[3] * factor}, true);
    Attributes a;
    a.set("mode", Attribute::ofString(mode));
    g.addNode("QResize", name, {x}, {y}, a, hq::kIntDomain);
    return y;
  }
  Value* unary(const std::string& op, const std::string& name, Value* x) {
    Value* y = g.addValue(name + ".y", x->dtype, x->shape, true);
    Attributes a;
    a.set("axis", Attribute::ofInt(1));
    g.addNode(op, name, {x}, {y}, a, hq::kIntDomain);
    return y;
  }
  void output(Value* v) { g.mutableOutputs().push_back(v); }
};

hq::March march(const std::string& name) {
  auto m = hq::loadMarch(name);
  REQUIRE(m.isOk());
  return std::move(m).value();
}

hq::CheckReport check(const hq::Graph& g, const std::string& march_name) {
  auto r = hq::checkModel(g, march(march_name));
  REQUIRE(r.isOk());
  return std::move(r).value();
}

/// "node:rule" of every diagnostic, in order.
std::vector<std::string> keys(const hq::CheckReport& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) out.push_back(d.node + ":" + d.rule);
  return out;
}

const hq::Diagnostic& find(const hq::CheckReport& r, const std::string& node,
                           const std::string& rule) {
  for (const auto& d : r.diagnostics) {
    if (d.node == node && d.rule == rule) return d;
  }
  FAIL("no diagnostic " << node << ":" << rule);
  return r.diagnostics.front();
}

bool has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("check: 7x7, stride-4 and dilated convs break bernoulli2, every one listed",
          "[compiler][check]") {
  Builder b;
  Value* x = b.input("x", {1, 8, 64, 64});
  Value* y = b.conv("conv7", x, 8, 7, 1, 1, 3);  // kernel 7 > 5, pad 3 > 2
  y = b.conv("conv_s4", y, 8, 3, 4, 1, 1);       // stride 4 > 2
  y = b.conv("conv_d2", y, 8, 3, 1, 2, 2);       // dilation 2 > 1
  y = b.conv("conv_ok", y, 8, 3, 1, 1, 1);
  b.output(y);

  hq::CheckReport r = check(b.g, "bernoulli2");
  CHECK_FALSE(r.supported);
  CHECK(keys(r) == std::vector<std::string>{"conv7:conv.kernel", "conv7:conv.pad",
                                            "conv_s4:conv.stride", "conv_d2:conv.dilation"});
  const auto& k = find(r, "conv7", "conv.kernel");
  CHECK(k.op == "QConv");
  CHECK(k.message == "kernel 7x7: expected at most 5 per dim, found 7");
  CHECK(k.suggestion == "split the 7x7 conv into 3 stacked 3x3 convs (same receptive field)");
  const auto& s = find(r, "conv_s4", "conv.stride");
  CHECK(s.message == "strides 4x4: expected at most 2 per dim, found 4");
  CHECK(s.suggestion == "use stride 2 and a second stride-2 op (conv or pool) instead of stride 4");
  const auto& d = find(r, "conv_d2", "conv.dilation");
  CHECK(d.message == "dilations 2x2: expected at most 1, found 2");
  CHECK(has(d.suggestion, "dense 5x5 kernel"));

  // bayes is generous: the same graph runs there.
  hq::CheckReport ok = check(b.g, "bayes");
  CHECK(ok.supported);
  CHECK(ok.diagnostics.empty());
}

TEST_CASE("check: resize mode and factor, group conv, int16 output on bernoulli2",
          "[compiler][check]") {
  Builder b;
  Value* x = b.input("x", {1, 4, 8, 8});
  Value* y = b.resize("up_linear4", x, "linear", 4);
  y = b.conv("grouped", y, 4, 3, 1, 1, 1, 2);    // group 2 of 4 channels
  y = b.conv("depthwise", y, 4, 3, 1, 1, 1, 4);  // depthwise: allowed
  Value* wide = b.conv("wide_out", y, 4, 1, 1, 1, 0, 1, DType::kInt16);
  b.output(b.conv("after_wide", wide, 4, 1));

  hq::CheckReport r = check(b.g, "bernoulli2");
  CHECK(keys(r) == std::vector<std::string>{"up_linear4:resize.mode", "up_linear4:resize.factor",
                                            "grouped:conv.group", "wide_out:conv.out_type",
                                            "after_wide:conv.in_type"});
  CHECK(find(r, "up_linear4", "resize.mode").message == "expected mode nearest, found linear");
  CHECK(has(find(r, "up_linear4", "resize.mode").suggestion, "use nearest resize"));
  CHECK(find(r, "up_linear4", "resize.factor").message ==
        "axis 2 (8 -> 32): expected an up-scaling factor of 2, found 4");
  CHECK(has(find(r, "grouped", "conv.group").message, "found group 2"));
  CHECK(find(r, "wide_out", "conv.out_type").message ==
        "output 'wide_out.y': expected int8, int32, found int16");
  CHECK(find(r, "wide_out", "conv.out_type").suggestion ==
        "quantize this op's output to int8 (qconfig dtype qint8)");
  CHECK(find(r, "after_wide", "conv.in_type").message ==
        "input 'wide_out.y': expected int8, found int16");

  // bayes: linear x4 and group conv are fine, int16 too; a factor of 3 is not.
  CHECK(check(b.g, "bayes").supported);
  Builder c;
  c.output(c.resize("up3", c.input("x", {1, 4, 8, 8}), "nearest", 3));
  hq::CheckReport r3 = check(c.g, "bayes");
  CHECK(keys(r3) == std::vector<std::string>{"up3:resize.factor"});
  CHECK(has(r3.diagnostics[0].message, "found 3"));
}

TEST_CASE("check: ops a march does not run are listed with a suggestion", "[compiler][check]") {
  Builder b;
  Value* x = b.input("x", {1, 10, 1, 1});
  Value* y = b.unary("QSoftmax", "softmax", x);
  b.output(y);
  hq::CheckReport r = check(b.g, "bernoulli2");
  CHECK(keys(r) == std::vector<std::string>{"softmax:op.unsupported"});
  CHECK(has(r.diagnostics[0].message, "march 'bernoulli2'"));
  CHECK(has(r.diagnostics[0].suggestion, "softmax"));
  CHECK(check(b.g, "bayes").supported);

  // A float op left inside an integer model runs nowhere.
  Builder f;
  Value* fx = f.input("x", {1, 4, 2, 2});
  Value* fy = f.g.addValue("y", DType::kInt8, {1, 4, 2, 2}, true);
  f.g.addNode("Relu", "relu", {fx}, {fy});
  f.output(fy);
  hq::CheckReport rf = check(f.g, "bayes");
  CHECK(keys(rf) == std::vector<std::string>{"relu:op.unsupported"});
  CHECK(has(rf.diagnostics[0].message, "float op"));
}

TEST_CASE("check: the summary counts ops, parameters and MACs by hand", "[compiler][check]") {
  Builder b;
  Value* x = b.input("x", {1, 4, 16, 16});
  Value* y = b.conv("c1", x, 8, 3, 1, 1, 1);  // 8*16*16 outputs x 4*9 MACs each
  y = b.conv("dw", y, 8, 3, 2, 1, 1, 8);      // 8*8*8 outputs x 1*9
  b.output(y);
  hq::CheckReport r = check(b.g, "bayes");
  CHECK(r.supported);
  CHECK(r.summary.nodes == 2);
  CHECK(r.summary.opCounts.at("QConv") == 2);
  CHECK(r.summary.macsPerFrame == 8 * 16 * 16 * 4 * 9 + 8 * 8 * 8 * 9);
  CHECK(r.summary.parameters == (8 * 4 * 9 + 8) + (8 * 1 * 9 + 8));
  hq::OrderedJson j = r.toJson();
  CHECK(j["supported"] == true);
  CHECK(j["summary"]["macs_per_frame"] == 8 * 16 * 16 * 4 * 9 + 8 * 8 * 8 * 9);
  CHECK(j["diagnostics"].empty());
}

TEST_CASE("check: fmnist_cnn's integer model runs on both marches", "[compiler][check]") {
  auto qdq = hq::importOnnxFile(std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx");
  REQUIRE(qdq.isOk());
  CHECK_FALSE(hq::isIntegerModel(**qdq));
  auto model = hq::convertToInteger(**qdq);
  REQUIRE(model.isOk());
  CHECK(hq::isIntegerModel(**model));
  for (const char* name : {"bayes", "bernoulli2"}) {
    INFO(name);
    hq::CheckReport r = check(**model, name);
    for (const auto& d : r.diagnostics) INFO(d.node << " " << d.rule << " " << d.message);
    CHECK(r.supported);
    CHECK(r.summary.opCounts.at("QConv") == 3);
    CHECK(r.summary.opCounts.at("QMaxPool") == 2);
    CHECK(r.summary.nodes == 10);
    // fmnist_cnn: convs 1->16 @28x28, 16->32 @14x14, 32->64 @7x7 (3x3), Gemm 64->10.
    CHECK(r.summary.macsPerFrame ==
          16 * 28 * 28 * 1 * 9 + 32 * 14 * 14 * 16 * 9 + 64 * 7 * 7 * 32 * 9 + 64 * 10);
    // Weights + biases of the float model (onnx initializers: 23,946 elements).
    CHECK(r.summary.parameters == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 64 * 32 * 9 + 64 + 640 + 10);
  }
}

TEST_CASE("check: mobilenetv2_32's integer model runs on bayes (12.25 M ops per frame)",
          "[compiler][check]") {
  auto model = hq::testing::mobilenetIntModel();
  if (!model) return;
  hq::CheckReport r = check(*model, "bayes");
  CHECK(r.supported);
  CHECK(r.summary.opCounts.at("QConv") == 52);
  // The seed's perf report: 12.25 M ops (2 per MAC) per frame for this model.
  CHECK(std::abs(2.0 * r.summary.macsPerFrame / 1e6 - 12.25) < 0.005);
  // torchvision-style MobileNetV2 with 10 classes: ~2.2 M parameters (weights + biases).
  CHECK(r.summary.parameters > 2100000);
  CHECK(r.summary.parameters < 2300000);
}

TEST_CASE("check: boundary, channel, tensor-size and axis rules", "[compiler][check]") {
  Builder b;
  Value* x = b.input("x", {1, 4096, 1, 1});
  Value* wide = b.conv("wide_in", x, 8, 1);  // 4096 input channels > 2048 on bernoulli2
  Value* big_in = b.input("big", {1, 8, 256, 256});
  Value* big = b.conv("big_out", big_in, 128, 1);  // 128x256x256 int8 = 8 MiB > 4 MiB
  // A Dequantize/Quantize pair inside the model, not at its boundary.
  Value* f = b.g.addValue("mid.f", DType::kFloat32, {1, 8, 1, 1}, true);
  b.g.addNode("DequantizeLinear", "dq_mid", {wide}, {f});
  Value* q = b.g.addValue("mid.q", DType::kInt8, {1, 8, 1, 1}, true);
  b.g.addNode("QuantizeLinear", "q_mid", {f}, {q});
  // Concat along H: bernoulli2 concatenates along channels only.
  Value* cat = b.g.addValue("cat", DType::kInt8, {1, 8, 2, 1}, true);
  Attributes a;
  a.set("axis", Attribute::ofInt(2));
  b.g.addNode("QConcat", "concat_h", {q, q}, {cat}, a, hq::kIntDomain);
  b.output(cat);
  b.output(big);

  hq::CheckReport r = check(b.g, "bernoulli2");
  CHECK(keys(r) == std::vector<std::string>{"wide_in:conv.in_channels", "big_out:conv.tensor_size",
                                            "dq_mid:dequantizelinear.boundary",
                                            "q_mid:quantizelinear.boundary",
                                            "concat_h:concat.axis"});
  CHECK(find(r, "wide_in", "conv.in_channels").message ==
        "expected at most 2048 input channels, found 4096");
  CHECK(find(r, "big_out", "conv.tensor_size").message ==
        "tensor 'big_out.y' [1, 128, 256, 256]: expected at most 4194304 bytes per frame, "
        "found 8388608");
  CHECK(find(r, "concat_h", "concat.axis").message == "expected axis 1, found 2");
  CHECK(has(find(r, "q_mid", "quantizelinear.boundary").message, "only on a model input"));
}
