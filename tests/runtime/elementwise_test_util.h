// Helpers for the op tests (elementwise_*_test.cpp, tensor_ops_*_test.cpp): run one
// node's shape function or reference kernel on given tensors.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/kernel.h"

namespace hq::testing {

/// A graph with one node of `op` reading `num_inputs` values (absent ones where
/// `present[i]` is false) and writing `num_outputs` values.
struct OneNode {
  Graph graph;
  Node* node = nullptr;

  OneNode(const std::string& op, size_t num_inputs, size_t num_outputs, Attributes attrs = {},
          std::vector<bool> present = {}) {
    std::vector<Value*> ins, outs;
    for (size_t i = 0; i < num_inputs; ++i) {
      bool here = present.empty() || present[i];
      ins.push_back(here ? graph.addValue("in" + std::to_string(i)) : nullptr);
    }
    for (size_t i = 0; i < num_outputs; ++i)
      outs.push_back(graph.addValue("out" + std::to_string(i)));
    node = graph.addNode(op, "n", ins, outs, std::move(attrs));
  }
};

/// Run the reference kernel of `op` on `inputs` (nullptr = omitted optional input).
inline Expected<std::vector<Tensor>> runOp(const std::string& op,
                                           const std::vector<const Tensor*>& inputs,
                                           Attributes attrs = {}, size_t num_outputs = 1) {
  std::vector<bool> present;
  for (const Tensor* t : inputs) present.push_back(t != nullptr);
  OneNode n(op, inputs.size(), num_outputs, std::move(attrs), present);
  return runReference(*n.node, inputs);
}

/// Run the shape function of `op` on value infos.
inline Expected<std::vector<ValueInfo>> inferOp(const std::string& op,
                                                const std::vector<ValueInfo>& inputs,
                                                Attributes attrs = {}, size_t num_outputs = 1) {
  std::vector<bool> present;
  for (const ValueInfo& v : inputs) present.push_back(v.dtype != DType::kUndefined);
  OneNode n(op, inputs.size(), num_outputs, std::move(attrs), present);
  return inferNode(*n.node, inputs);
}

/// A value info of known dtype and shape (dims may be -1), optionally constant.
inline ValueInfo info(DType t, Shape s, const Tensor* constant = nullptr) {
  ValueInfo v;
  v.dtype = t;
  v.shape = std::move(s);
  v.hasShape = true;
  v.constant = constant;
  return v;
}

inline Tensor floats(Shape s, std::vector<float> v) {
  return Tensor::fromVector<float>(std::move(s), v);
}
inline Tensor int64s(Shape s, std::vector<int64_t> v) {
  return Tensor::fromVector<int64_t>(std::move(s), v);
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

/// Elementwise |got - want| <= atol + rtol * |want| (NaN equals NaN).
inline void checkClose(const Tensor& got, const Shape& shape, const std::vector<float>& want,
                       double rtol = 1e-5, double atol = 1e-6) {
  REQUIRE(got.dtype() == DType::kFloat32);
  REQUIRE(shapeString(got.shape()) == shapeString(shape));
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  const float* g = got.data<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
    if (std::isnan(want[i])) {
      CHECK(std::isnan(g[i]));
    } else {
      CHECK(std::fabs(g[i] - want[i]) <= atol + rtol * std::fabs(want[i]));
    }
  }
}

inline Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

}  // namespace hq::testing
