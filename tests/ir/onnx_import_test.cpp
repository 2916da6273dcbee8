// ONNX import: the real PyTorch models read exactly (simplify=false), every dtype and
// Constant form, and each rejection with its message.
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

#include "ir/onnx_import.h"
#include "onnx_test_util.h"
#include "support/atomic_file.h"

using namespace hq;
using hq::test::countOps;
using hq::test::irData;
using hq::test::projectModel;
using hq::test::sharedModel;

namespace {
const ImportOptions kRaw{/*simplify=*/false};

double sumOf(const Tensor& t) {
  auto v = t.toDouble();
  return std::accumulate(v.begin(), v.end(), 0.0);
}

/// The error message of importing `file` of tests/fixtures/ir (fails the test if it imports).
std::string importError(const std::string& file, ErrorCode code) {
  auto g = importOnnxFile(irData(file), kRaw);
  REQUIRE_FALSE(g.isOk());
  CHECK(g.status().code() == code);
  return g.status().message();
}
}  // namespace

TEST_CASE("import fmnist_cnn.float.onnx as exported", "[onnx]") {
  auto r = importOnnxFile(projectModel("fmnist_cnn.float.onnx"), kRaw);
  REQUIRE(r.isOk());
  const Graph& g = **r;
  CHECK(g.opsetVersion == 13);
  CHECK(g.producerName == "pytorch");
  CHECK(g.producerVersion == "1.13.0");
  CHECK(g.name == "torch_jit");
  REQUIRE(g.inputs().size() == 1);
  const Value* in = g.inputs()[0];
  CHECK(in->name == "input");
  CHECK(in->dtype == DType::kFloat32);
  CHECK(in->shape == Shape{-1, 1, 28, 28});
  CHECK(in->dimParams == std::vector<std::string>{"batch", "", "", ""});
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0]->name == "logits");
  CHECK(g.outputs()[0]->shape == Shape{-1, 10});

  REQUIRE(g.nodeCount() == 11);
  CHECK(countOps(g, "Conv") == 3);
  CHECK(countOps(g, "Relu") == 3);
  CHECK(countOps(g, "MaxPool") == 2);
  const Node* conv = g.nodes()[0];
  CHECK(conv->name == "/features/features.0/features.0.0/Conv");
  CHECK(conv->opType == "Conv");
  CHECK(conv->attrs.getInts("pads") == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(conv->attrs.getInts("kernel_shape") == std::vector<int64_t>{3, 3});
  CHECK(conv->attrs.getInt("group", -1) == 1);
  REQUIRE(conv->inputs.size() == 3);
  CHECK(conv->inputs[0] == in);
  CHECK(conv->inputs[1]->name == "onnx::Conv_36");
  const Node* gemm = g.nodes().back();
  CHECK(gemm->opType == "Gemm");
  CHECK(gemm->attrs.getInt("transB", 0) == 1);
  CHECK(gemm->attrs.find("alpha")->kind == Attribute::Kind::kFloat);
  CHECK(gemm->outputs[0] == g.outputs()[0]);

  // Initializers: 8 constants, values as numpy reads them.
  REQUIRE(g.constants().size() == 8);
  const Value* w = g.findValue("fc.weight");
  REQUIRE(w);
  REQUIRE(w->isConstant());
  CHECK(w->constant.shape() == Shape{10, 64});
  CHECK(w->constant.data<float>()[0] == -0.36415622f);
  CHECK(w->constant.data<float>()[639] == -0.2447229f);
  CHECK(sumOf(w->constant) == Approx(-33.590458894032054).epsilon(1e-9));
  CHECK(sumOf(g.findValue("onnx::Conv_42")->constant) == Approx(94.50002406506974).epsilon(1e-9));
  CHECK(g.findValue("onnx::Conv_40")->constant.data<float>()[0] == 1.1781455f);
  REQUIRE(g.verify().isOk());
}

TEST_CASE("import fmnist_cnn.float-bn.onnx keeps training-mode BN when not simplified", "[onnx]") {
  auto r = importOnnxFile(projectModel("fmnist_cnn.float-bn.onnx"), kRaw);
  REQUIRE(r.isOk());
  const Graph& g = **r;
  CHECK(g.opsetVersion == 15);
  CHECK(g.nodeCount() == 14);
  CHECK(g.constants().size() == 17);
  REQUIRE(countOps(g, "BatchNormalization") == 3);
  for (const Node* n : g.nodes()) {
    if (n->opType != "BatchNormalization") continue;
    CHECK(n->outputs.size() == 3);
    CHECK(n->attrs.getInt("training_mode", 0) == 1);
    CHECK(n->attrs.getFloat("epsilon", 0) == Approx(1e-5));
    CHECK(n->inputs.size() == 5);
  }
}

TEST_CASE("import mobilenetv2_32: Constant nodes become constants", "[onnx]") {
  std::string path = sharedModel("mobilenetv2_32.float.onnx");
  if (path.empty()) {
    WARN("mobilenetv2_32.float.onnx not found in HQ_SHARED_MODELS; skipped");
    return;
  }
  auto r = importOnnxFile(path, kRaw);
  REQUIRE(r.isOk());
  const Graph& g = **r;
  CHECK(countOps(g, "Constant") == 0);
  CHECK(g.nodeCount() == 170 - 70);
  CHECK(g.constants().size() == 106 + 70);
  CHECK(countOps(g, "Clip") == 35);
  for (const Node* n : g.nodes()) {
    if (n->opType != "Clip") continue;
    REQUIRE(n->inputs.size() == 3);
    REQUIRE(n->inputs[1]->isConstant());
    REQUIRE(n->inputs[2]->isConstant());
    CHECK(n->inputs[1]->constant.rank() == 0);
    CHECK(n->inputs[1]->constant.data<float>()[0] == 0.0f);
    CHECK(n->inputs[2]->constant.data<float>()[0] == 6.0f);
  }
  const Value* c = g.findValue("/features/features.0/features.0.2/Constant_1_output_0");
  REQUIRE(c);
  CHECK(c->constant.data<float>()[0] == 6.0f);
}

TEST_CASE("import every dtype, Constant forms, metadata and node names", "[onnx]") {
  auto r = importOnnxFile(irData("dtypes.onnx"), kRaw);
  REQUIRE(r.isOk());
  const Graph& g = **r;
  CHECK(g.docString == "dtype test model");
  CHECK(g.producerName == "make_bad_models.py");
  CHECK(g.metadata ==
        std::map<std::string, std::string>{{"author", "hq tests"}, {"purpose", "dtypes"}});
  auto c = [&](const char* name) -> const Tensor& {
    const Value* v = g.findValue(name);
    INFO(name);
    REQUIRE(v);
    REQUIRE(v->isConstant());
    return v->constant;
  };
  for (const char* n : {"f32_typed", "f32_raw"}) {
    CHECK(c(n).dtype() == DType::kFloat32);
    CHECK(c(n).data<float>()[0] == 1.5f);
    CHECK(c(n).data<float>()[1] == -2.25f);
  }
  CHECK(c("f64_typed").data<double>()[0] == 0.1);
  CHECK(c("f64_typed").data<double>()[1] == -3.0);
  for (const char* n : {"i8_typed", "i8_raw"}) {
    CHECK(c(n).toInt64() == std::vector<int64_t>{-128, 0, 127});
    CHECK(c(n).dtype() == DType::kInt8);
  }
  CHECK(c("u8_typed").toInt64() == std::vector<int64_t>{0, 255});
  CHECK(c("i16_typed").toInt64() == std::vector<int64_t>{-32768, 32767});
  CHECK(c("i32_typed").toInt64() == std::vector<int64_t>{-7, 2147483647});
  CHECK(c("i64_typed").toInt64() == std::vector<int64_t>{INT64_MIN, 5});
  CHECK(c("i64_raw").toInt64() == std::vector<int64_t>{-1, int64_t{1} << 40});
  CHECK(c("bool_typed").dtype() == DType::kBool);
  CHECK(c("bool_typed").toInt64() == std::vector<int64_t>{1, 0, 1});
  for (const char* n : {"f16_typed", "f16_raw"}) {
    REQUIRE(c(n).dtype() == DType::kFloat16);
    uint16_t bits[2];
    std::memcpy(bits, c(n).raw(), 4);
    CHECK(bits[0] == 0x3C00);  // 1.0
    CHECK(bits[1] == 0xC000);  // -2.0
  }
  CHECK(c("w").shape() == Shape{2, 3});  // unused initializers are kept without simplify
  REQUIRE(g.inputs().size() == 1);       // 'w' is listed as an input too, but is a constant
  CHECK(g.inputs()[0]->name == "x");
  CHECK(g.extraOpsets == std::map<std::string, int64_t>{{"com.example.hq", 2}});
  CHECK(g.opsetVersion == 13);

  CHECK(c("c_float").rank() == 0);
  CHECK(c("c_float").data<float>()[0] == 0.5f);
  CHECK(c("c_floats").shape() == Shape{2});
  CHECK(c("c_floats").data<float>()[1] == 2.0f);
  CHECK(c("c_int").rank() == 0);
  CHECK(c("c_int").toInt64() == std::vector<int64_t>{-3});
  CHECK(c("c_ints").toInt64() == std::vector<int64_t>{4, 5, 6});
  CHECK(c("c_tensor").shape() == Shape{2, 1});
  CHECK(c("c_tensor").toInt64() == std::vector<int64_t>{7, 8});

  REQUIRE(g.nodeCount() == 2);
  CHECK(g.nodes()[0]->name == "Relu_5");  // unnamed in the file: op type + file position
  CHECK(g.nodes()[1]->name == "scale");
  const Value* r_val = g.findValue("r");
  CHECK(r_val->dtype == DType::kFloat32);  // from value_info
  CHECK(r_val->shape == Shape{-1, 4});
  CHECK(r_val->dimParams == std::vector<std::string>{"batch", ""});
}

TEST_CASE("import rejects bad models with a message naming the place", "[onnx]") {
  std::string p = irData("");
  CHECK(importError("unknown_op.onnx", ErrorCode::kUnsupported) ==
        p + "unknown_op.onnx: node FancyOp 'fancy': operator 'FancyOp' is not supported by hq");
  CHECK(importError("unsupported_attr.onnx", ErrorCode::kUnsupported) ==
        p + "unsupported_attr.onnx: node LeakyRelu 'leaky': attribute 'beta' of LeakyRelu is "
            "not supported");
  CHECK_THAT(importError("external_data.onnx", ErrorCode::kUnsupported),
             Catch::StartsWith(p + "external_data.onnx: initializer 'w': tensor data is stored "
                                   "outside the model (data_location EXTERNAL, file "
                                   "'weights.bin')"));
  CHECK(importError("truncated.onnx", ErrorCode::kParse) ==
        p + "truncated.onnx: not a valid ONNX model (protobuf parse failed)");
  CHECK(importError("garbage.onnx", ErrorCode::kParse) ==
        p + "garbage.onnx: not a valid ONNX model (protobuf parse failed)");
  CHECK_THAT(importError("if_subgraph.onnx", ErrorCode::kUnsupported),
             Catch::StartsWith(p + "if_subgraph.onnx: node If 'branch': attribute 'else_branch' "
                                   "holds a subgraph (GRAPH)"));
  CHECK(importError("opset_18.onnx", ErrorCode::kUnsupported) ==
        p + "opset_18.onnx: opset 18 of the default ONNX domain is not supported (expected "
            "1..17)");
  CHECK(importError("ir_version_9.onnx", ErrorCode::kUnsupported) ==
        p + "ir_version_9.onnx: IR version 9 is not supported (expected 3..8)");
  CHECK(importError("dangling_input.onnx", ErrorCode::kParse) ==
        p + "dangling_input.onnx: node Add 'add': input 'missing' is not a graph input, an "
            "initializer or the output of any node");
  CHECK_THAT(importError("string_initializer.onnx", ErrorCode::kUnsupported),
             Catch::StartsWith(p + "string_initializer.onnx: initializer 's': data type STRING "
                                   "(8) is not supported"));
  CHECK(importError("sparse_initializer.onnx", ErrorCode::kUnsupported) ==
        p + "sparse_initializer.onnx: sparse initializer 'sp' is not supported (store it "
            "dense)");
  auto missing = importOnnxFile(p + "no_such_model.onnx");
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  CHECK(missing.status().message() == p + "no_such_model.onnx: no such file");
  auto empty = importOnnxBytes("", "empty.onnx");
  REQUIRE_FALSE(empty.isOk());
  CHECK(empty.status().message() == "empty.onnx: not a valid ONNX model (protobuf parse failed)");
}

TEST_CASE("import never crashes on corrupted bytes", "[onnx]") {
  auto bytes = readFile(projectModel("fmnist_cnn.float.onnx"));
  REQUIRE(bytes.isOk());
  std::mt19937 rng(7);
  int failed = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string b = *bytes;
    if (trial % 3 == 0) {
      b.resize(std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng));
    } else {
      // Flip a few bytes, mostly in the structure at the start and the end.
      for (int k = 0; k < 4; ++k) {
        size_t pos = std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng);
        if (trial % 3 == 1) pos = pos % 600;
        b[pos] = static_cast<char>(rng());
      }
    }
    auto g = importOnnxBytes(b, "corrupt.onnx", {});
    if (!g.isOk()) {
      ++failed;
      CHECK_THAT(g.status().message(), Catch::StartsWith("corrupt.onnx: "));
    }
  }
  CHECK(failed > 100);  // truncations alone fail ~100 times
}

TEST_CASE("import: a Pad that pads nothing becomes nothing; a real Pad is refused",
          "[onnx]") {
  // x -> Pad(pads from a Constant node) -> AveragePool 2x2: what PyTorch exports for
  // nn.AvgPool2d(2) with default arguments.
  auto model = [](std::vector<int64_t> pads) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name("pad");
    auto io = [](onnx::ValueInfoProto* v, const char* name, std::vector<int64_t> dims) {
      v->set_name(name);
      auto* t = v->mutable_type()->mutable_tensor_type();
      t->set_elem_type(onnx::TensorProto::FLOAT);
      for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
    };
    io(g->add_input(), "x", {1, 1, 4, 4});
    io(g->add_output(), "z", {1, 1, 2, 2});
    onnx::NodeProto* c = g->add_node();
    c->set_op_type("Constant");
    c->add_output("pads");
    onnx::AttributeProto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    a->mutable_t()->add_dims(static_cast<int64_t>(pads.size()));
    for (int64_t p : pads) a->mutable_t()->add_int64_data(p);
    onnx::NodeProto* pad = g->add_node();
    pad->set_op_type("Pad");
    pad->set_name("pad");
    pad->add_input("x");
    pad->add_input("pads");
    pad->add_output("y");
    onnx::NodeProto* pool = g->add_node();
    pool->set_op_type("AveragePool");
    pool->set_name("pool");
    pool->add_input("y");
    pool->add_output("z");
    onnx::AttributeProto* k = pool->add_attribute();
    k->set_name("kernel_shape");
    k->set_type(onnx::AttributeProto::INTS);
    k->add_ints(2);
    k->add_ints(2);
    onnx::AttributeProto* st = pool->add_attribute();
    st->set_name("strides");
    st->set_type(onnx::AttributeProto::INTS);
    st->add_ints(2);
    st->add_ints(2);
    std::string bytes;
    REQUIRE(m.SerializeToString(&bytes));
    return bytes;
  };
  auto g = importOnnxBytes(model({0, 0, 0, 0, 0, 0, 0, 0}), "zero_pad.onnx");
  INFO(g.status().message());
  REQUIRE(g.isOk());
  CHECK(countOps(**g, "Pad") == 0);
  CHECK(countOps(**g, "Identity") == 0);
  REQUIRE((*g)->nodes().size() == 1);
  CHECK((*g)->nodes()[0]->opType == "AveragePool");
  CHECK((*g)->nodes()[0]->inputs[0]->name == "x");
  auto real = importOnnxBytes(model({0, 0, 1, 1, 0, 0, 1, 1}), "pad.onnx");
  REQUIRE_FALSE(real.isOk());
  CHECK(real.status().message().find("Pad") != std::string::npos);
}
