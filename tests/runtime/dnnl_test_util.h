// Helpers for the oneDNN kernel and executor tests: random tensors, single-node graphs,
// and fast-vs-reference comparison.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/kernel.h"

namespace hq::testing {

/// Uniform random f32 tensor in [lo, hi), deterministic per seed.
inline Tensor randomTensor(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(DType::kFloat32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = dist(rng);
  return t;
}

/// Largest |a - b| / max(1, |b|) over all elements (inf when shapes differ).
inline double maxRelDiff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32) {
    return INFINITY;
  }
  double worst = 0;
  const float *ad = a.data<float>(), *bd = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    double d = std::fabs(static_cast<double>(ad[i]) - bd[i]) / std::max(1.0, std::fabs(double(bd[i])));
    if (!(d <= worst)) worst = d;  // NaN propagates as worst
  }
  return worst;
}

/// A graph with one node: runtime inputs (data given in `inputs`, nullptr data marks an
/// omitted optional input) and constants.
struct OneNode {
  Graph graph;
  Node* node = nullptr;
  std::vector<Tensor> data;  ///< per node input; undefined for omitted ones
  std::vector<bool> isConst;

  /// Input i: a runtime input (is_const false) or a constant (is_const true).
  void add(const std::string& name, Tensor t, bool is_const) {
    data.push_back(t);
    isConst.push_back(is_const);
    names.push_back(name);
  }
  void omit() {
    data.emplace_back();
    isConst.push_back(false);
    names.push_back("");
  }
  /// Build the node with `outputs` outputs.
  void build(const std::string& op, Attributes attrs, int outputs = 1) {
    std::vector<Value*> ins;
    for (size_t i = 0; i < data.size(); ++i) {
      if (!data[i].defined()) {
        ins.push_back(nullptr);
      } else if (isConst[i]) {
        ins.push_back(graph.addConstant(names[i], data[i]));
      } else {
        Value* v = graph.addValue(names[i], data[i].dtype(), data[i].shape(), true);
        graph.mutableInputs().push_back(v);
        ins.push_back(v);
      }
    }
    std::vector<Value*> outs;
    for (int i = 0; i < outputs; ++i) outs.push_back(graph.addValue("y" + std::to_string(i)));
    node = graph.addNode(op, op + "_0", ins, outs, std::move(attrs));
    for (Value* o : outs) graph.mutableOutputs().push_back(o);
  }
  std::vector<ValueInfo> inputInfos() const {
    std::vector<ValueInfo> out;
    for (size_t i = 0; i < data.size(); ++i) {
      ValueInfo vi;
      if (data[i].defined()) {
        vi.dtype = data[i].dtype();
        vi.shape = data[i].shape();
        vi.hasShape = true;
        vi.constant = isConst[i] ? &data[i] : nullptr;
      }
      out.push_back(vi);
    }
    return out;
  }
  std::vector<const Tensor*> inputPtrs() const {
    std::vector<const Tensor*> out;
    for (const Tensor& t : data) out.push_back(t.defined() ? &t : nullptr);
    return out;
  }

 private:
  std::vector<std::string> names;
};

}  // namespace hq::testing
