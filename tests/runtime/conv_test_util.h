// Helpers of the conv / pool kernel tests: run one node through runReference, compare
// tensors, and read the golden cases of tests/fixtures/kernels_conv/*.txt (written by
// tests/fixtures/kernels_conv/gen_goldens.py from PyTorch and numpy).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"

namespace hq::testing {

/// Run a single `op` node with `attrs` on `inputs` (nullptr = omitted optional input),
/// with `num_outputs` outputs, through the reference kernel.
inline Expected<std::vector<Tensor>> runOp(const std::string& op, const Attributes& attrs,
                                           const std::vector<const Tensor*>& inputs,
                                           size_t num_outputs = 1) {
  Graph g;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) {
      ins.push_back(nullptr);
      continue;
    }
    ins.push_back(
        g.addValue("in" + std::to_string(i), inputs[i]->dtype(), inputs[i]->shape(), true));
  }
  std::vector<Value*> outs;
  for (size_t i = 0; i < num_outputs; ++i) outs.push_back(g.addValue("out" + std::to_string(i)));
  Node* node = g.addNode(op, "node", ins, outs, attrs);
  return runReference(*node, inputs);
}

/// Shape inference only, on value infos (dims may be -1).
inline Expected<std::vector<ValueInfo>> inferOp(const std::string& op, const Attributes& attrs,
                                                const std::vector<ValueInfo>& inputs,
                                                size_t num_outputs = 1) {
  Graph g;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(inputs[i].dtype == DType::kUndefined
                      ? nullptr
                      : g.addValue("in" + std::to_string(i), inputs[i].dtype, inputs[i].shape,
                                   inputs[i].hasShape));
  }
  std::vector<Value*> outs;
  for (size_t i = 0; i < num_outputs; ++i) outs.push_back(g.addValue("out" + std::to_string(i)));
  Node* node = g.addNode(op, "node", ins, outs, attrs);
  return inferNode(*node, inputs);
}

inline ValueInfo info(Shape shape, DType dtype = DType::kFloat32) {
  ValueInfo v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.hasShape = true;
  return v;
}

inline Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::fromVector<float>(std::move(shape), values);
}

/// |got - want| <= tol * (1 + |want|) everywhere, same dtype and shape.
inline void checkClose(const Tensor& got, const Tensor& want, double tol) {
  REQUIRE(dtypeName(got.dtype()) == std::string(dtypeName(want.dtype())));
  REQUIRE(shapeString(got.shape()) == shapeString(want.shape()));
  std::vector<double> g = got.toDouble(), w = want.toDouble();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::fabs(g[i] - w[i]) > tol * (1.0 + std::fabs(w[i]))) {
      if (bad++ < 5) FAIL_CHECK("element " << i << ": got " << g[i] << ", want " << w[i]);
    }
  }
  CHECK(bad == 0);
}

/// One golden case of a tests/fixtures/kernels_conv/*.txt file.
struct GoldenCase {
  std::string name;
  std::string op;
  Attributes attrs;
  std::vector<Tensor> inputs;  ///< undefined Tensor for an omitted input
  std::vector<Tensor> outputs;
  double tol = 1e-5;
};

inline Tensor parseTensor(std::istringstream& ss) {
  std::string kind;
  size_t rank = 0;
  ss >> kind >> rank;
  Shape shape(rank);
  for (auto& d : shape) ss >> d;
  std::string colon;
  ss >> colon;
  const DType dt = kind == "f32"   ? DType::kFloat32
                   : kind == "i64" ? DType::kInt64
                   : kind == "u8"  ? DType::kUInt8
                                   : DType::kInt8;
  Tensor t(dt, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = 0;
    ss >> v;
    switch (dt) {
      case DType::kFloat32: t.data<float>()[i] = static_cast<float>(v); break;
      case DType::kInt64: t.data<int64_t>()[i] = static_cast<int64_t>(v); break;
      case DType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
      default: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
    }
  }
  return t;
}

inline std::vector<GoldenCase> readGoldenCases(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<GoldenCase> cases;
  std::string line;
  GoldenCase cur;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string key;
    ss >> key;
    if (key == "case") {
      cur = GoldenCase();
      ss >> cur.name;
    } else if (key == "op") {
      ss >> cur.op;
    } else if (key == "attr") {
      std::string name, kind;
      ss >> name >> kind;
      if (kind == "int") {
        int64_t v;
        ss >> v;
        cur.attrs.set(name, Attribute::ofInt(v));
      } else if (kind == "float") {
        float v;
        ss >> v;
        cur.attrs.set(name, Attribute::ofFloat(v));
      } else if (kind == "string") {
        std::string v;
        ss >> v;
        cur.attrs.set(name, Attribute::ofString(v));
      } else {
        std::vector<int64_t> v;
        int64_t x;
        while (ss >> x) v.push_back(x);
        cur.attrs.set(name, Attribute::ofInts(v));
      }
    } else if (key == "in") {
      std::string peek;
      std::istringstream probe(line.substr(3));
      probe >> peek;
      cur.inputs.push_back(peek == "none" ? Tensor() : parseTensor(ss));
    } else if (key == "out") {
      cur.outputs.push_back(parseTensor(ss));
    } else if (key == "tol") {
      ss >> cur.tol;
    } else if (key == "end") {
      cases.push_back(cur);
    }
  }
  return cases;
}

/// Run every case of a golden file whose op is in `ops` (empty: all); returns the count.
inline int runGoldenFile(const std::string& path, const std::vector<std::string>& ops) {
  int count = 0;
  for (const GoldenCase& c : readGoldenCases(path)) {
    if (!ops.empty() && std::find(ops.begin(), ops.end(), c.op) == ops.end()) continue;
    ++count;
    INFO("case " << c.name << " (" << c.op << ")");
    std::vector<const Tensor*> ins;
    for (const Tensor& t : c.inputs) ins.push_back(t.defined() ? &t : nullptr);
    auto res = runOp(c.op, c.attrs, ins, c.outputs.size());
    if (!res) FAIL_CHECK(res.status().message());
    if (!res) continue;
    REQUIRE(res->size() == c.outputs.size());
    for (size_t i = 0; i < c.outputs.size(); ++i) {
      INFO("output " << i);
      checkClose((*res)[i], c.outputs[i], c.tol);
    }
  }
  return count;
}

}  // namespace hq::testing
