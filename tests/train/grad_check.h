// Finite-difference gradient checks for backward kernels (train/backward.h).
// For a node and float inputs, the loss is L = sum(y_k * r_k) over every output with a
// fixed random r (so dL/dy = r); the analytical dL/dx from the backward is compared with the
// central difference (L(x + eps) - L(x - eps)) / (2 eps), element by element, computed with
// the reference forward kernel (runReference). Float32 forward kernels make the numeric
// side noisy: inputs should stay away from kinks (Relu at 0, max-pool ties, clip bounds).
#pragma once

#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <random>
#include <sstream>

#include "runtime/kernel.h"
#include "train/backward.h"

namespace hq::train::testing {

inline Tensor randomFloats(Shape shape, float lo, float hi, std::mt19937& rng) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::uniform_real_distribution<float> d(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = d(rng);
  return t;
}

struct GradCheckOptions {
  double eps = 1e-2;
  double relTol = 2e-2;  ///< |analytic - numeric| <= absTol + relTol * |numeric|
  double absTol = 2e-3;
  std::vector<size_t> inputs;  ///< which inputs to check (empty: every float input)
  unsigned seed = 7;
};

namespace detail {
inline double lossOf(const Node& node, const std::vector<const Tensor*>& in,
                     const std::vector<Tensor>& r) {
  auto outs = runReference(node, in);
  REQUIRE(outs.isOk());
  double l = 0;
  for (size_t k = 0; k < r.size() && k < outs->size(); ++k) {
    if (!r[k].defined() || !(*outs)[k].defined()) continue;
    const float* y = (*outs)[k].data<float>();
    const float* w = r[k].data<float>();
    for (int64_t i = 0; i < r[k].numel(); ++i) l += static_cast<double>(y[i]) * w[i];
  }
  return l;
}
}  // namespace detail

/// Check the backward of `node` at `inputs` (nullptr for omitted optional inputs).
inline void checkGradients(const Node& node, std::vector<Tensor> inputs,
                           GradCheckOptions opt = {}) {
  // Hundreds of forward runs on tiny tensors: one OpenMP thread (a parallel region per run
  // costs more than the work, and much more on a loaded machine).
  struct OneThread {
    int before = omp_get_max_threads();
    OneThread() { omp_set_num_threads(1); }
    ~OneThread() { omp_set_num_threads(before); }
  } one_thread;
  std::mt19937 rng(opt.seed);
  std::vector<const Tensor*> in;
  for (const Tensor& t : inputs) in.push_back(t.defined() ? &t : nullptr);
  auto outs = runReference(node, in);
  REQUIRE(outs.isOk());
  std::vector<Tensor> r;
  for (const Tensor& o : *outs) {
    r.push_back(o.defined() && o.dtype() == DType::kFloat32 ? randomFloats(o.shape(), -1, 1, rng)
                                                            : Tensor());
  }
  if (opt.inputs.empty()) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].defined() && inputs[i].dtype() == DType::kFloat32) opt.inputs.push_back(i);
    }
  }
  BackwardFn fn = findBackward(node.opType);
  REQUIRE(fn != nullptr);
  std::vector<Tensor> grads(inputs.size());
  BackwardCall call{node, in, {}, {}, {}};
  for (const Tensor& o : *outs) call.outputs.push_back(o.defined() ? &o : nullptr);
  for (const Tensor& g : r) call.gradOutputs.push_back(g.defined() ? &g : nullptr);
  call.gradInputs.assign(inputs.size(), nullptr);
  for (size_t i : opt.inputs) {
    grads[i] = Tensor(DType::kFloat32, inputs[i].shape());
    call.gradInputs[i] = &grads[i];
  }
  Status s = fn(call);
  INFO(s.message());
  REQUIRE(s.isOk());
  for (size_t i : opt.inputs) {
    Tensor& x = inputs[i];
    float* p = x.data<float>();
    const float* g = grads[i].data<float>();
    for (int64_t e = 0; e < x.numel(); ++e) {
      const float keep = p[e];
      p[e] = keep + static_cast<float>(opt.eps);
      const double up = detail::lossOf(node, in, r);
      p[e] = keep - static_cast<float>(opt.eps);
      const double down = detail::lossOf(node, in, r);
      p[e] = keep;
      const double numeric = (up - down) / (2 * opt.eps);
      INFO(node.describe() << " input " << i << " element " << e << ": analytic " << g[e]
                           << " numeric " << numeric);
      CHECK(std::fabs(g[e] - numeric) <= opt.absTol + opt.relTol * std::fabs(numeric));
    }
  }
}

}  // namespace hq::train::testing
