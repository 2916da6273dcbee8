// Helpers of the ai.hq compute / pooling op tests (int_compute_test.cpp, int_pool_test.cpp):
// build one ai.hq node, run it through shape inference and its reference kernel, compare
// integer tensors, and read tests/fixtures/int_compute/cases.txt (written by
// gen_goldens.py there: PyTorch float64 accumulators and Python-integer requantization).
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/kernel.h"
#include "support/fixed_point.h"

namespace hq::testing {

/// Attributes built in one expression: IntAttrs().i("group", 2).is("pads", {1, 1, 1, 1}).
struct IntAttrs {
  Attributes a;
  IntAttrs& i(const char* name, int64_t v) {
    a.set(name, Attribute::ofInt(v));
    return *this;
  }
  IntAttrs& is(const char* name, std::vector<int64_t> v) {
    a.set(name, Attribute::ofInts(std::move(v)));
    return *this;
  }
  IntAttrs& f(const char* name, float v) {
    a.set(name, Attribute::ofFloat(v));
    return *this;
  }
  IntAttrs& drop(const char* name) {
    a.erase(name);
    return *this;
  }
  /// out_type, out_lo, out_hi = the type's full range (3: int8, 5: int16, 6: int32).
  IntAttrs& out(int64_t type) {
    const fxp::IntRange r = type == 3 ? fxp::kInt8Range : type == 5 ? fxp::kInt16Range
                                                                     : fxp::kInt32Range;
    return i("out_type", type).i("out_lo", r.lo).i("out_hi", r.hi);
  }
  /// multiplier and shift lists.
  IntAttrs& requant(std::vector<int64_t> m, std::vector<int64_t> s) {
    return is("multiplier", std::move(m)).is("shift", std::move(s));
  }
};

/// Run one ai.hq node named "qnode" on `inputs` (nullptr: omitted optional input).
inline Expected<std::vector<Tensor>> runInt(const std::string& op, const IntAttrs& attrs,
                                            const std::vector<const Tensor*>& inputs,
                                            size_t num_outputs = 1) {
  Graph g;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(inputs[i] ? g.addValue("in" + std::to_string(i), inputs[i]->dtype(),
                                         inputs[i]->shape(), true)
                            : nullptr);
  }
  std::vector<Value*> outs;
  for (size_t i = 0; i < num_outputs; ++i) outs.push_back(g.addValue("out" + std::to_string(i)));
  Node* node = g.addNode(op, "qnode", ins, outs, attrs.a, kIntDomain);
  return runReference(*node, inputs);
}

/// Shape inference of one ai.hq node; tensors given as `constants` are constant inputs.
inline Expected<std::vector<ValueInfo>> inferInt(const std::string& op, const IntAttrs& attrs,
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
  Node* node = g.addNode(op, "qnode", ins, outs, attrs.a, kIntDomain);
  return inferNode(*node, inputs);
}

template <typename T>
Tensor tensorOf(Shape shape, const std::vector<int64_t>& values) {
  std::vector<T> v(values.begin(), values.end());
  return Tensor::fromVector<T>(std::move(shape), v);
}
inline Tensor i8(Shape s, const std::vector<int64_t>& v) { return tensorOf<int8_t>(std::move(s), v); }
inline Tensor i16(Shape s, const std::vector<int64_t>& v) { return tensorOf<int16_t>(std::move(s), v); }
inline Tensor i32(Shape s, const std::vector<int64_t>& v) { return tensorOf<int32_t>(std::move(s), v); }
/// An int64 tensor: the fixed-point bias of a requantized compute op.
inline Tensor i64(Shape s, const std::vector<int64_t>& v) {
  return tensorOf<int64_t>(std::move(s), v);
}

/// A ValueInfo of a tensor; constant when `constant` is true (the tensor must outlive it).
inline ValueInfo infoOf(const Tensor& t, bool constant) {
  ValueInfo v;
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.hasShape = true;
  v.constant = constant ? &t : nullptr;
  return v;
}

/// Same dtype, shape and values.
inline void checkInts(const Tensor& got, const Tensor& want) {
  REQUIRE(std::string(dtypeName(got.dtype())) == dtypeName(want.dtype()));
  REQUIRE(shapeString(got.shape()) == shapeString(want.shape()));
  const std::vector<int64_t> g = got.toInt64(), w = want.toInt64();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i] != w[i] && bad++ < 5) FAIL_CHECK("element " << i << ": got " << g[i] << ", want " << w[i]);
  }
  CHECK(bad == 0);
}

/// The error of running / inferring must have `code` and mention the node and `needle`.
inline void checkError(const Status& s, ErrorCode code, const std::string& needle) {
  REQUIRE_FALSE(s.isOk());
  INFO(s.message());
  CHECK(s.code() == code);
  CHECK(s.message().find("'qnode'") != std::string::npos);
  CHECK(s.message().find(needle) != std::string::npos);
}

/// Random integers in [lo, hi].
template <typename T>
Tensor randomInts(Shape shape, int64_t lo, int64_t hi, std::mt19937& rng) {
  Tensor t(DTypeOf<T>::value, std::move(shape));
  std::uniform_int_distribution<int64_t> d(lo, hi);
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(d(rng));
  return t;
}

/// float32 copy of an integer tensor, element i times scales[channel(i)] (fxp::dequantize).
template <typename ChannelOf>
Tensor dequantizeTensor(const Tensor& q, const std::vector<float>& scales, ChannelOf channel_of) {
  const std::vector<int64_t> v = q.toInt64();
  Tensor f(DType::kFloat32, q.shape());
  float* p = f.data<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    p[i] = fxp::dequantize(static_cast<int32_t>(v[i]), scales[channel_of(static_cast<int64_t>(i))]);
  }
  return f;
}

/// One case of cases.txt.
struct IntGoldenCase {
  std::string name, op;
  IntAttrs attrs;
  std::vector<Tensor> inputs;  ///< undefined tensor for an omitted input
  Tensor output;
};

inline Tensor readTensor(std::istringstream& in) {
  std::string dtype;
  size_t rank = 0;
  in >> dtype >> rank;
  Shape shape(rank);
  for (auto& d : shape) in >> d;
  std::vector<int64_t> values(static_cast<size_t>(shapeNumel(shape)));
  for (auto& v : values) in >> v;
  if (dtype == "int8") return i8(shape, values);
  if (dtype == "int16") return i16(shape, values);
  if (dtype == "int64") return i64(shape, values);
  return i32(shape, values);
}

inline std::vector<IntGoldenCase> readIntGoldenCases(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  std::vector<IntGoldenCase> cases;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "case") {
      cases.emplace_back();
      in >> cases.back().name >> cases.back().op;
    } else if (tag == "int") {
      std::string name;
      int64_t v = 0;
      in >> name >> v;
      cases.back().attrs.i(name.c_str(), v);
    } else if (tag == "ints") {
      std::string name;
      std::vector<int64_t> v;
      in >> name;
      for (int64_t x; in >> x;) v.push_back(x);
      cases.back().attrs.is(name.c_str(), v);
    } else if (tag == "none") {
      cases.back().inputs.emplace_back();
    } else if (tag == "input") {
      cases.back().inputs.push_back(readTensor(in));
    } else if (tag == "output") {
      cases.back().output = readTensor(in);
    }
  }
  return cases;
}

}  // namespace hq::testing
