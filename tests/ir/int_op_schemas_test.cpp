// ONNX schemas of the ai.hq ops: one per op of int_ops.def (and no other), attribute names
// equal to the .def's, a graph with every op passes onnx::checker, and the checker names
// the node of a missing required attribute, a wrong attribute kind or a wrong input count.
#include <catch2/catch.hpp>

#include <limits>
#include <set>
#include <thread>

#include <onnx/defs/schema.h>

#include "ir/graph.h"
#include "ir/int_op_schemas.h"
#include "ir/onnx_export.h"
#include "ir/op_registry.h"

using namespace hq;

namespace {

Attribute I(int64_t v) { return Attribute::ofInt(v); }
Attribute Is(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }
Attribute F(float v) { return Attribute::ofFloat(v); }
Attribute S(std::string v) { return Attribute::ofString(std::move(v)); }

Attributes make(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

/// out_lo, out_hi, out_type of an int8 output.
void int8Out(Attributes* a) {
  a->set("out_lo", I(-128));
  a->set("out_hi", I(127));
  a->set("out_type", I(3));
}

/// A graph in which every ai.hq op reads the int8 input x [1, 2, 4, 4] (and constants) and
/// writes its own graph output.
struct AllOpsGraph {
  Graph g;
  Value* x = nullptr;

  AllOpsGraph() {
    g.opsetVersion = 13;
    g.extraOpsets[kIntDomain] = kIntDomainVersion;
    x = g.addValue("x", DType::kInt8, {1, 2, 4, 4}, true);
    g.mutableInputs().push_back(x);
    Value* w = g.addConstant("w", Tensor(DType::kInt8, {2, 2, 3, 3}));
    Value* wt = g.addConstant("wt", Tensor(DType::kInt8, {2, 2, 3, 3}));
    // Compute-op biases: int64 fixed-point for requantized outputs, int32 for int32 outputs.
    Value* b = g.addConstant("b", Tensor(DType::kInt64, {2}));
    Value* b32 = g.addConstant("b32", Tensor(DType::kInt32, {3}));
    Value* wg = g.addConstant("wg", Tensor(DType::kInt8, {4, 3}));
    Value* table = g.addConstant("table", Tensor(DType::kInt8, {256}));
    Value* e = g.addConstant("e", Tensor(DType::kInt32, {256}));
    Value* c = g.addConstant("c", Tensor(DType::kInt8, {1}));

    Attributes conv = make({{"kernel_shape", Is({3, 3})},
                            {"pads", Is({1, 1, 1, 1})},
                            {"multiplier", Is({1 << 30, 1 << 30})},
                            {"shift", Is({36, 36})},
                            {"in_scale", F(0.1f)},
                            {"w_scale", Attribute::ofFloats({0.1f, 0.2f})},
                            {"out_scale", F(0.1f)}});
    int8Out(&conv);
    add("QConv", {x, w, b}, DType::kInt8, {1, 2, 4, 4}, conv);
    Attributes convt = conv;
    convt.set("strides", Is({2, 2}));
    convt.set("output_padding", Is({1, 1}));
    add("QConvTranspose", {x, wt, nullptr, x}, DType::kInt8, {1, 2, 8, 8}, convt);
    Attributes gemm = make({{"transB", I(0)},
                            {"multiplier", Is({1 << 30, 1 << 30, 1 << 30})},
                            {"shift", Is({36, 36, 36})}});
    int8Out(&gemm);
    add("QGemm", {x, wg}, DType::kInt8, {1, 2, 4, 3}, gemm);
    Attributes gemm32 = make({{"transB", I(0)},
                              {"out_lo", I(std::numeric_limits<int32_t>::min())},
                              {"out_hi", I(std::numeric_limits<int32_t>::max())},
                              {"out_type", I(6)}});
    add("QGemm", {x, wg, b32}, DType::kInt32, {1, 2, 4, 3}, gemm32);
    add("QMaxPool", {x}, DType::kInt8, {1, 2, 2, 2},
        make({{"kernel_shape", Is({2, 2})}, {"strides", Is({2, 2})}}));
    add("QGlobalMaxPool", {x}, DType::kInt8, {1, 2, 1, 1}, {});
    add("QClamp", {x}, DType::kInt8, {1, 2, 4, 4}, make({{"lo", I(0)}, {"hi", I(127)}}));
    Attributes avg = make({{"kernel_shape", Is({2, 2})},
                           {"multiplier", Is({1 << 30, 1 << 30, 1 << 30, 1 << 30})},
                           {"shift", Is({30, 31, 32, 32})}});
    int8Out(&avg);
    add("QAveragePool", {x}, DType::kInt8, {1, 2, 3, 3}, avg);
    Attributes gavg = make({{"multiplier", Is({1 << 30})}, {"shift", Is({34})}});
    int8Out(&gavg);
    add("QGlobalAveragePool", {x}, DType::kInt8, {1, 2, 1, 1}, gavg);
    Attributes qadd = make({{"multiplier_a", I(1 << 30)},
                            {"multiplier_b", I(-(1 << 29))},
                            {"shift", I(30)},
                            {"a_scale", F(0.1f)}});
    int8Out(&qadd);
    add("QAdd", {x, c}, DType::kInt8, {1, 2, 4, 4}, qadd);
    Attributes mul = make({{"multiplier", I(1 << 30)}, {"shift", I(36)}});
    int8Out(&mul);
    add("QMul", {x, x}, DType::kInt8, {1, 2, 4, 4}, mul);
    Attributes rescale = make({{"multiplier", I(1 << 30)}, {"shift", I(31)}});
    rescale.set("out_lo", I(-32768));
    rescale.set("out_hi", I(32767));
    rescale.set("out_type", I(5));
    add("QRescale", {x}, DType::kInt16, {1, 2, 4, 4}, rescale);
    Attributes concat = make({{"axis", I(1)},
                              {"multiplier", Is({1 << 30, 1 << 30})},
                              {"shift", Is({30, 31})},
                              {"in_scales", Attribute::ofFloats({1, 2})}});
    int8Out(&concat);
    add("QConcat", {x, x}, DType::kInt8, {1, 4, 4, 4}, concat);
    Attributes resize = make({{"mode", S("linear")},
                              {"sizes", Is({1, 2, 8, 8})},
                              {"scales", Attribute::ofFloats({1, 1, 2, 2})},
                              {"frac_bits", I(12)},
                              {"multiplier", I(1 << 30)},
                              {"shift", I(54)}});
    int8Out(&resize);
    add("QResize", {x}, DType::kInt8, {1, 2, 8, 8}, resize);
    add("QResize", {x}, DType::kInt8, {1, 2, 8, 8},
        make({{"mode", S("nearest")}, {"sizes", Is({1, 2, 8, 8})}}));
    add("QLookup", {x, table}, DType::kInt8, {1, 2, 4, 4},
        make({{"in_lo", I(-128)}, {"out_type", I(3)}, {"function", S("Sigmoid")}}));
    Attributes softmax = make({{"axis", I(-1)}, {"multiplier", I(1 << 30)}, {"shift", I(23)}});
    int8Out(&softmax);
    add("QSoftmax", {x, e}, DType::kInt8, {1, 2, 4, 4}, softmax);
  }

  Node* add(const std::string& op, std::vector<Value*> ins, DType t, Shape s, Attributes a) {
    const std::string name = op + std::to_string(g.nodeCount());
    Value* y = g.addValue(name + "_out", t, std::move(s), true);
    g.mutableOutputs().push_back(y);
    return g.addNode(op, name, std::move(ins), {y}, std::move(a), kIntDomain);
  }

  Status check() {
    auto bytes = exportOnnxBytes(g);
    if (!bytes.isOk()) return bytes.status();
    return checkOnnxBytes(*bytes, "int.onnx");
  }
};

}  // namespace

TEST_CASE("every op of int_ops.def has an ONNX schema, and no other", "[int][onnx]") {
  REQUIRE(registerIntOpSchemas().isOk());
  REQUIRE(registerIntOpSchemas().isOk());  // idempotent
  std::set<std::string> def;
  for (const OpInfo& op : allIntOps()) def.insert(op.name);
  CHECK(def.size() == 15);
  const std::vector<std::string> names = intOpSchemaNames();
  CHECK(std::set<std::string>(names.begin(), names.end()) == def);
  std::set<std::string> registered;
  for (const onnx::OpSchema& s : onnx::OpSchemaRegistry::get_all_schemas()) {
    if (s.domain() == kIntDomain) registered.insert(s.Name());
  }
  CHECK(registered == def);
  for (const OpInfo& op : allIntOps()) {
    INFO(op.name);
    const onnx::OpSchema* s =
        onnx::OpSchemaRegistry::Schema(op.name, kIntDomainVersion, kIntDomain);
    REQUIRE(s);
    CHECK(s->SinceVersion() == 1);
    std::set<std::string> attrs;
    for (const auto& [name, attr] : s->attributes()) attrs.insert(name);
    CHECK(attrs == std::set<std::string>(op.attributes.begin(), op.attributes.end()));
  }
  const onnx::OpSchema* conv = onnx::OpSchemaRegistry::Schema("QConv", 1, kIntDomain);
  REQUIRE(conv);
  CHECK(conv->min_input() == 2);
  CHECK(conv->max_input() == 4);
  CHECK(conv->attributes().at("out_type").required);
  CHECK_FALSE(conv->attributes().at("residual_multiplier").required);
  CHECK(conv->attributes().at("w_scale").type == onnx::AttributeProto::FLOATS);
  // B: int64 (fixed-point bias of requantized outputs) or int32 (int32 outputs), its own
  // type constraint.
  for (const char* op : {"QConv", "QConvTranspose", "QGemm"}) {
    const onnx::OpSchema* cs = onnx::OpSchemaRegistry::Schema(op, 1, kIntDomain);
    REQUIRE(cs);
    REQUIRE(cs->inputs().size() == 4);
    CHECK(cs->inputs()[2].GetName() == "B");
    std::set<std::string> b_types, x_types;
    for (const std::string* t : cs->inputs()[2].GetTypes()) b_types.insert(*t);
    for (const std::string* t : cs->inputs()[0].GetTypes()) x_types.insert(*t);
    CHECK(b_types == std::set<std::string>{"tensor(int32)", "tensor(int64)"});
    CHECK(x_types == std::set<std::string>{"tensor(int8)", "tensor(int16)"});
  }
  CHECK(onnx::OpSchemaRegistry::Schema("QMul", 1, kIntDomain)->attributes().at("multiplier").type ==
        onnx::AttributeProto::INT);
  CHECK(onnx::OpSchemaRegistry::Schema("QConcat", 1, kIntDomain)
            ->attributes()
            .at("multiplier")
            .type == onnx::AttributeProto::INTS);
}

TEST_CASE("registerIntOpSchemas is safe from several threads", "[int][onnx]") {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&ok, i] { ok[i] = registerIntOpSchemas().isOk(); });
  for (auto& t : threads) t.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}

TEST_CASE("onnx::checker accepts a graph with every ai.hq op", "[int][onnx]") {
  AllOpsGraph m;
  Status s = m.check();
  INFO(s.message());
  CHECK(s.isOk());
}

TEST_CASE("onnx::checker rejects malformed ai.hq nodes, naming them", "[int][onnx]") {
  SECTION("missing required attribute") {
    AllOpsGraph m;
    Node* n = nullptr;
    for (Node* node : m.g.nodes())
      if (node->opType == "QAdd") n = node;
    REQUIRE(n);
    n->attrs.erase("shift");
    Status s = m.check();
    REQUIRE_FALSE(s.isOk());
    CHECK_THAT(s.message(), Catch::Contains(n->name));
    CHECK_THAT(s.message(), Catch::Contains("shift"));
  }
  SECTION("wrong input count") {
    AllOpsGraph m;
    Node* n = m.add("QMul", {m.x, m.x, m.x}, DType::kInt8, {1, 2, 4, 4},
                    make({{"multiplier", I(1)},
                          {"shift", I(1)},
                          {"out_lo", I(0)},
                          {"out_hi", I(1)},
                          {"out_type", I(3)}}));
    Status s = m.check();
    REQUIRE_FALSE(s.isOk());
    CHECK_THAT(s.message(), Catch::Contains(n->name));
    CHECK_THAT(s.message(), Catch::Contains("input size 3"));
  }
  SECTION("wrong attribute kind") {
    AllOpsGraph m;
    Node* n = m.add("QRescale", {m.x}, DType::kInt8, {1, 2, 4, 4},
                    make({{"multiplier", Is({1})},
                          {"shift", I(1)},
                          {"out_lo", I(0)},
                          {"out_hi", I(1)},
                          {"out_type", I(3)}}));
    Status s = m.check();
    REQUIRE_FALSE(s.isOk());
    CHECK_THAT(s.message(), Catch::Contains(n->name));
    CHECK_THAT(s.message(), Catch::Contains("multiplier"));
  }
  SECTION("unknown attribute") {
    AllOpsGraph m;
    Node* n = m.add("QClamp", {m.x}, DType::kInt8, {1, 2, 4, 4},
                    make({{"lo", I(0)}, {"hi", I(1)}, {"max", I(1)}}));
    Status s = m.check();
    REQUIRE_FALSE(s.isOk());
    CHECK_THAT(s.message(), Catch::Contains(n->name));
    CHECK_THAT(s.message(), Catch::Contains("max"));
  }
  SECTION("missing ai.hq opset import") {
    AllOpsGraph m;
    m.g.extraOpsets.clear();
    Status s = m.check();
    REQUIRE_FALSE(s.isOk());
    CHECK_THAT(s.message(), Catch::Contains("ai.hq"));
  }
}
