// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight
// Equalization and Bias Correction", the empirical variant; AIMET and Intel Neural
// Compressor ship it too). Quantizing a compute unit's weight W to W_q shifts the mean of
// its output by E[op(x, W_q - W)], because rounding errors of a channel's weights do not
// cancel against inputs whose mean is not zero (after a Relu it never is). Subtracting
// that shift from the float bias removes the bias of the error; what is left has mean
// zero over the calibration data.
//
// Modes (measured on Fashion-MNIST in the issue 3 notes):
//  weights  b -= E[op(x, W_q)] - E[op(x, W)] with the float input x: the weight error's
//           mean shift. Exact for the calibration data: a Conv is linear, so
//             E[conv(x, W)][o] = 1/(OH*OW) * sum_{c,i,j} W[o,c,i,j] * P[c,i,j]
//           where P[c,i,j] sums the per-pixel mean input m = E_batch[x] over the pixels
//           kernel tap (i,j) reads across all output positions (padding reads zeros).
//           Only m ([C, H, W] per unit input) is collected in the calibration pass.
//  local    b -= E[op(Q(x), W_q)] - E[op(x, W)]: also the mean shift that quantizing the
//           unit's own input (with its chosen scale) causes, e.g. rounding the many small
//           values after a Relu. Costs one more float pass over (part of) the calibration
//           data once the activation scales are known. Errors carried in from upstream
//           units are not corrected (that needs one pass per unit, Nagel's sequential form).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/qdq.h"
#include "quant/rules.h"
#include "support/json.h"

namespace hq {

enum class BiasCorrectionMode { kOff, kWeights, kLocal };

/// "off", "weights", "local".
const char* biasCorrectionModeName(BiasCorrectionMode m);
/// Parse a mode name; error names the accepted values.
Expected<BiasCorrectionMode> parseBiasCorrectionMode(const std::string& name);

/// Streaming mean over the batch dim of float32 tensors [N, sample...] (double sums, so
/// the result does not depend on how the data is split into batches).
class BatchMean {
 public:
  /// Add a batch. Error when the per-sample shape differs from earlier batches.
  Status add(const Tensor& batch);
  int64_t count() const { return count_; }
  const Shape& sampleShape() const { return sampleShape_; }
  /// The per-element mean (empty before the first batch).
  std::vector<double> mean() const;
  void reset() { *this = BatchMean(); }

 private:
  Shape sampleShape_;
  std::vector<double> sum_;
  int64_t count_ = 0;
};

/// Per-output-channel mean of conv(x, w) without bias over the data and all output
/// positions, from the mean input sample `mean_input` ([C, spatial...] = E_batch[x]);
/// padding reads zeros. `conv` gives the attributes; `w` is [O, C/group, kernel...].
/// 1-D and 2-D convs.
Expected<std::vector<double>> convOutputMean(const Node& conv, const Tensor& w,
                                             const std::vector<double>& mean_input,
                                             const Shape& input_sample_shape);

/// Per-column mean of alpha * A * B' without C for a Gemm with transA = 0, from the mean
/// row of A (`mean_input`, K values).
Expected<std::vector<double>> gemmOutputMean(const Node& gemm, const Tensor& w,
                                             const std::vector<double>& mean_input);

/// `w` quantized with `params` (QuantizeLinear semantics) and dequantized again: the
/// weight the QDQ model computes with.
Tensor fakeQuantizeWeight(const Tensor& w, const QuantParams& params, int64_t qmin, int64_t qmax);

/// Collects the mean input of every Conv / Gemm unit during calibration and sets the
/// units' biases. Units of other ops (ConvTranspose, MatMul, Gemm with transA) are left
/// as they are.
class BiasCorrector {
 public:
  /// `plan` refers to `graph` (the prepared, BN-folded float graph calibration runs);
  /// the units' float biases are remembered here.
  static Expected<BiasCorrector> create(const Graph& graph, const QuantPlan& plan);

  /// Unit inputs of `graph` that are not graph inputs: the executor must keep them.
  std::vector<std::string> valuesToKeep(const Graph& graph) const;
  /// Observe one batch of the float graph: `inputs` are the run's graph inputs, `kept`
  /// the executor's kept values. Without `local`, E[x]; with it (a later pass, on the
  /// graph and plan whose points have `params`), E[x] again and E[Q(x)] on the same
  /// images, Q being the fake quantization of x's point.
  Status observe(const Graph& graph, const std::vector<Tensor>& inputs,
                 const std::map<std::string, Tensor>& kept);
  /// The same as observe(), fed piecewise while the executor runs: `plain` is the value
  /// named `value` ([N, ...], row-major), handed over right after its step, so nothing
  /// needs to be copied and read back cold. observeGraphInputs covers units that read a
  /// graph input.
  Status observeValue(const Graph& graph, const std::string& value, const Tensor& plain);
  Status observeGraphInputs(const Graph& graph, const std::vector<Tensor>& inputs);
  Status observeLocal(const Graph& graph, const QuantPlan& plan,
                      const std::vector<QuantParams>& params, const std::vector<Tensor>& inputs,
                      const std::map<std::string, Tensor>& kept);
  /// Forget what observe / observeLocal saw (before a local pass).
  void reset();

  /// Set each unit's bias to b_float - (E[op(x_q, W_q)] - E[op(x, W)]); a Conv or Gemm
  /// without a bias gets one. x_q is x (kWeights) or Q(x) from observeLocal (kLocal).
  /// `params`: the plan's point params (only the weights' are read).
  /// Returns per unit the node and the largest |bias change| from the float bias.
  Expected<OrderedJson> apply(Graph& graph, const QuantPlan& plan,
                              const std::vector<QuantParams>& params, BiasCorrectionMode mode);

  size_t units() const { return units_.size(); }

 private:
  struct Unit {
    std::string node;        ///< anchor node name
    std::vector<double> b0;  ///< float bias (zeros when it had none)
    BatchMean floatMean;     ///< E[x], the unit's float input
    BatchMean quantMean;     ///< E[Q(x)] (observeLocal)
  };
  std::vector<Unit> units_;
};

}  // namespace hq
