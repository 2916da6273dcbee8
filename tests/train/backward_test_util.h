// Helpers of the backward tests (backward_*_test.cpp): build one node, run its backward
// directly with chosen output gradients (for goldens and error cases), and make random
// inputs that stay away from an op's kinks.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/elementwise_test_util.h"
#include "train/backward.h"
#include "train/grad_check.h"

namespace hq::train::testing {

using hq::testing::floats;
using hq::testing::int64s;
using hq::testing::OneNode;
using hq::testing::values;

/// A node of `op` whose inputs are present where `inputs[i]` is defined.
inline OneNode makeNode(const std::string& op, const std::vector<Tensor>& inputs,
                        Attributes attrs = {}, size_t num_outputs = 1) {
  std::vector<bool> present;
  for (const Tensor& t : inputs) present.push_back(t.defined());
  return OneNode(op, inputs.size(), num_outputs, std::move(attrs), present);
}

/// Result of one backward call: its status and the gradients (undefined where not asked).
struct BackwardRun {
  Status status;
  std::vector<Tensor> grads;
};

/// Run the forward (reference) and then the backward of `node` with output gradients
/// `grad_outs` (undefined: none), asking for the gradients of inputs `want`, allocated with
/// the inputs' shapes (or `grad_shapes[i]` when given, to test shape errors).
inline BackwardRun runBackward(const Node& node, const std::vector<Tensor>& inputs,
                               const std::vector<Tensor>& grad_outs, std::vector<size_t> want,
                               std::vector<Shape> grad_shapes = {}) {
  std::vector<const Tensor*> in;
  for (const Tensor& t : inputs) in.push_back(t.defined() ? &t : nullptr);
  auto outs = runReference(node, in);
  REQUIRE(outs.isOk());
  BackwardRun r;
  r.grads.resize(inputs.size());
  BackwardCall call{node, in, {}, {}, {}};
  for (const Tensor& o : *outs) call.outputs.push_back(o.defined() ? &o : nullptr);
  for (const Tensor& g : grad_outs) call.gradOutputs.push_back(g.defined() ? &g : nullptr);
  call.gradInputs.assign(inputs.size(), nullptr);
  for (size_t k = 0; k < want.size(); ++k) {
    const size_t i = want[k];
    Shape s = k < grad_shapes.size() ? grad_shapes[k] : inputs[i].shape();
    r.grads[i] = Tensor(DType::kFloat32, s);
    call.gradInputs[i] = &r.grads[i];
  }
  BackwardFn fn = findBackward(node.opType);
  REQUIRE(fn != nullptr);
  r.status = fn(call);
  return r;
}

/// Random floats in [lo, hi] whose distance to every kink is at least `margin`.
inline Tensor awayFrom(Shape shape, float lo, float hi, std::vector<float> kinks, float margin,
                       std::mt19937& rng) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::uniform_real_distribution<float> d(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    bool ok = false;
    while (!ok) {
      p[i] = d(rng);
      ok = true;
      for (float k : kinks) ok = ok && std::fabs(p[i] - k) >= margin;
    }
  }
  return t;
}

/// Check that a failed backward's message names the node and says `what`.
inline void checkNamedError(const BackwardRun& r, const std::string& what) {
  INFO(r.status.message());
  CHECK_FALSE(r.status.isOk());
  CHECK(r.status.message().find("'n'") != std::string::npos);
  CHECK(r.status.message().find(what) != std::string::npos);
}

}  // namespace hq::train::testing
