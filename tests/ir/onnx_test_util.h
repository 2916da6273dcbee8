// Helpers shared by the ONNX import/export and pass tests.
#pragma once

#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "ir/graph.h"

namespace hq::test {

/// A model of the project's own models/ folder.
inline std::string projectModel(const std::string& name) {
  return std::string(HQ_SOURCE_DIR) + "/models/" + name;
}
/// A model of the shared folder, or "" when it is absent (tests then skip).
inline std::string sharedModel(const std::string& name) {
  std::string p = std::string(HQ_SHARED_MODELS) + "/" + name;
  return std::ifstream(p).good() ? p : "";
}
/// A file of tests/fixtures/ir (written by make_bad_models.py).
inline std::string irData(const std::string& name) {
  return std::string(HQ_TEST_DATA) + "/ir/" + name;
}

inline size_t countOps(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (const Node* node : g.nodes()) n += node->opType == op;
  return n;
}

inline bool sameAttribute(const Attribute& a, const Attribute& b) {
  return a.kind == b.kind && a.i == b.i && a.f == b.f && a.s == b.s && a.ints == b.ints &&
         a.floats == b.floats && a.strings == b.strings && (a.t.defined() == b.t.defined()) &&
         (!a.t.defined() || a.t.equals(b.t));
}

inline void checkSameValue(const Value* a, const Value* b) {
  INFO("value " << a->name);
  REQUIRE(b != nullptr);
  CHECK(a->name == b->name);
  CHECK(a->dtype == b->dtype);
  CHECK(a->hasShape == b->hasShape);
  CHECK(a->shape == b->shape);
  CHECK(a->dimParams == b->dimParams);
  CHECK(a->isConstant() == b->isConstant());
  if (a->isConstant() && b->isConstant()) CHECK(a->constant.equals(b->constant));
}

/// Everything the round trip must keep: nodes (names, ops, wiring, attributes), constants
/// (names and bytes), inputs/outputs with types, value types, metadata and opsets.
inline void checkSameGraph(const Graph& a, const Graph& b) {
  CHECK(a.name == b.name);
  CHECK(a.metadata == b.metadata);
  CHECK(a.producerName == b.producerName);
  CHECK(a.producerVersion == b.producerVersion);
  CHECK(a.docString == b.docString);
  CHECK(a.opsetVersion == b.opsetVersion);
  CHECK(a.extraOpsets == b.extraOpsets);
  REQUIRE(a.inputs().size() == b.inputs().size());
  for (size_t i = 0; i < a.inputs().size(); ++i) checkSameValue(a.inputs()[i], b.inputs()[i]);
  REQUIRE(a.outputs().size() == b.outputs().size());
  for (size_t i = 0; i < a.outputs().size(); ++i) checkSameValue(a.outputs()[i], b.outputs()[i]);
  REQUIRE(a.constants().size() == b.constants().size());
  for (const Value* c : a.constants()) checkSameValue(c, b.findValue(c->name));
  auto an = a.nodes(), bn = b.nodes();
  REQUIRE(an.size() == bn.size());
  for (size_t i = 0; i < an.size(); ++i) {
    const Node* x = an[i];
    const Node* y = bn[i];
    INFO("node " << x->describe());
    CHECK(x->name == y->name);
    CHECK(x->opType == y->opType);
    CHECK(x->domain == y->domain);
    REQUIRE(x->inputs.size() == y->inputs.size());
    for (size_t k = 0; k < x->inputs.size(); ++k) {
      CHECK((x->inputs[k] ? x->inputs[k]->name : "") == (y->inputs[k] ? y->inputs[k]->name : ""));
    }
    REQUIRE(x->outputs.size() == y->outputs.size());
    for (size_t k = 0; k < x->outputs.size(); ++k) {
      REQUIRE((x->outputs[k] == nullptr) == (y->outputs[k] == nullptr));
      if (x->outputs[k]) checkSameValue(x->outputs[k], y->outputs[k]);
    }
    REQUIRE(x->attrs.size() == y->attrs.size());
    for (const auto& [name, attr] : x->attrs.all()) {
      INFO("attribute " << name);
      REQUIRE(y->attrs.find(name) != nullptr);
      CHECK(sameAttribute(attr, *y->attrs.find(name)));
    }
  }
}

}  // namespace hq::test
