// Helpers of the ai.hq elementwise/tensor op tests (int_elementwise_test.cpp,
// int_tensor_test.cpp): run one ai.hq node's reference kernel, and the float reference of
// the op it came from.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/kernel.h"
#include "support/fixed_point.h"

namespace hq::testing {

/// The node name every test node gets; error messages must contain it.
inline const char* kIntNodeName = "qnode";

/// A graph with one node `op` in `domain` reading inputs (nullptr: omitted) and writing one
/// output; its reference kernel run on `inputs`.
inline Expected<Tensor> runNode(const std::string& op, const std::string& domain,
                                const std::vector<const Tensor*>& inputs, Attributes attrs) {
  Graph g;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(inputs[i] ? g.addValue("in" + std::to_string(i)) : nullptr);
  }
  Value* out = g.addValue("out");
  Node* node = g.addNode(op, kIntNodeName, ins, {out}, std::move(attrs), domain);
  HQ_ASSIGN_OR_RETURN(std::vector<Tensor> outs, runReference(*node, inputs));
  return std::move(outs.at(0));
}

/// Run the ai.hq op on integer tensors.
inline Expected<Tensor> runInt(const std::string& op, const std::vector<const Tensor*>& inputs,
                               Attributes attrs) {
  return runNode(op, kIntDomain, inputs, std::move(attrs));
}

/// Run the float op (default domain).
inline Tensor runFloat(const std::string& op, const std::vector<const Tensor*>& inputs,
                       Attributes attrs = {}) {
  auto r = runNode(op, "", inputs, std::move(attrs));
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(r).value();
}

inline Attributes intAttrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

inline Attribute I(int64_t v) { return Attribute::ofInt(v); }
inline Attribute Is(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }

template <typename T>
Tensor ints(Shape s, std::vector<T> v) {
  REQUIRE(shapeNumel(s) == static_cast<int64_t>(v.size()));
  return Tensor::fromVector<T>(std::move(s), v);
}

/// Values of an integer tensor as int32.
inline std::vector<int32_t> valuesOf(const Tensor& t) {
  std::vector<int32_t> v;
  for (int64_t x : t.toInt64()) v.push_back(static_cast<int32_t>(x));
  return v;
}

/// Uniform random int8/int16 tensor in [lo, hi].
template <typename T>
Tensor randomInts(Shape s, std::mt19937& rng, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  Tensor t(DTypeOf<T>::value, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(d(rng));
  return t;
}

/// fxp::dequantize of every element (float32).
inline Tensor dequantized(const Tensor& q, float scale) {
  Tensor f(DType::kFloat32, q.shape());
  const std::vector<int64_t> v = q.toInt64();
  for (size_t i = 0; i < v.size(); ++i)
    f.data<float>()[i] = fxp::dequantize(static_cast<int32_t>(v[i]), scale);
  return f;
}

/// fxp::quantizeLinear of every element into `out`'s range.
inline std::vector<int32_t> quantized(const Tensor& f, float scale, fxp::IntRange out) {
  std::vector<int32_t> q;
  for (int64_t i = 0; i < f.numel(); ++i)
    q.push_back(fxp::quantizeLinear(f.data<float>()[i], scale, out));
  return q;
}

/// Largest |a[i] - b[i]| (sizes must match).
inline int64_t maxAbsDiff(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  REQUIRE(a.size() == b.size());
  int64_t m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max<int64_t>(m, std::abs(int64_t{a[i]} - b[i]));
  return m;
}

/// The call failed with a message naming the test node.
inline void checkNodeError(const Status& s, const std::string& fragment) {
  INFO(s.message());
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains(std::string("'") + kIntNodeName + "'"));
  CHECK_THAT(s.message(), Catch::Contains(fragment));
}

}  // namespace hq::testing
