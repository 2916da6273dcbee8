// Optimizers with PyTorch's update rules (torch.optim.SGD, Adam, AdamW; single-tensor path),
// frozen parameters by name, and gradient clipping (torch.nn.utils.clip_grad_norm_/value_).
//
// An Optimizer keeps its per-parameter state keyed by parameter name, so the state survives a
// re-planned graph or a reordered parameter list. State is exported as a list of named float32 /
// int64 tensors (see Optimizer::saveState) that a checkpoint writer stores byte-exactly;
// loadState then continuing gives bitwise the same result as an uninterrupted run.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "support/json.h"
#include "support/status.h"

namespace hq::train {

/// One trainable parameter: `value` (float32, updated in place by step()) and its gradient
/// `grad` (float32, same shape; nullptr = no gradient this step: the parameter is skipped, as
/// PyTorch skips parameters whose .grad is None).
struct ParamRef {
  std::string name;
  Tensor* value = nullptr;
  const Tensor* grad = nullptr;
};

/// A named tensor of optimizer state, e.g. {"conv1.weight/exp_avg", float32 tensor}.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

enum class OptimizerKind { kSgd, kAdam, kAdamW };

/// "sgd", "adam", "adamw".
const char* optimizerKindName(OptimizerKind kind);
/// Parse "sgd" / "adam" / "adamw" (case-sensitive); kInvalidArgument lists the choices.
Expected<OptimizerKind> parseOptimizerKind(const std::string& name);

/// Optimizer hyper-parameters (the learning rate is passed to each step(), from a Schedule).
/// Defaults are PyTorch's, except betas/eps which only Adam/AdamW read.
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kSgd;
  double momentum = 0.0;   ///< SGD momentum factor, >= 0 (0 = plain SGD, no state)
  double dampening = 0.0;  ///< SGD dampening for momentum, >= 0
  bool nesterov = false;   ///< SGD Nesterov momentum; needs momentum > 0 and dampening == 0
  double beta1 = 0.9;      ///< Adam/AdamW first-moment decay, in [0, 1)
  double beta2 = 0.999;    ///< Adam/AdamW second-moment decay, in [0, 1)
  double eps = 1e-8;       ///< Adam/AdamW denominator term, > 0
  /// SGD and Adam: L2 penalty added to the gradient (g += wd * p, PyTorch's Adam style);
  /// AdamW: decoupled decay (p *= 1 - lr * wd before the Adam update). >= 0.
  double weight_decay = 0.0;
  /// Glob patterns ('*' any run of characters, '?' one character) over parameter names;
  /// matching parameters are never updated and get no state (e.g. "*.bias", "features.0.*").
  std::vector<std::string> frozen;
};

/// Check the options; errors name the option, the value and the allowed range.
Status validateOptimizerOptions(const OptimizerOptions& options);

/// Parse options from JSON, e.g. {"kind": "adamw", "weight_decay": 0.01, "betas": [0.9, 0.999],
/// "eps": 1e-8, "frozen": ["*.bias"]} or {"kind": "sgd", "momentum": 0.9, "nesterov": true}.
/// Unknown keys are errors; `what` names the origin (file path) in messages. Validated.
Expected<OptimizerOptions> optimizerOptionsFromJson(const Json& doc, const std::string& what);

/// The options as JSON in the form optimizerOptionsFromJson reads, every key written, in a fixed
/// order (for checkpoints and logs): kind, momentum, dampening, nesterov, betas, eps,
/// weight_decay, frozen.
OrderedJson optimizerOptionsToJson(const OptimizerOptions& options);

/// True when `name` matches the glob `pattern` ('*' and '?').
bool globMatch(const std::string& pattern, const std::string& name);

/// Per-parameter optimizer state and the update rule. Copies share state buffers (Tensor
/// copies share storage): use saveState()/loadState() for an independent copy.
class Optimizer {
 public:
  /// Validates the options.
  static Expected<Optimizer> create(const OptimizerOptions& options);

  const OptimizerOptions& options() const { return options_; }

  /// True when a frozen pattern matches `name`.
  bool isFrozen(const std::string& name) const;

  /// One update of every non-frozen parameter with a gradient, at learning rate `lr` (>= 0,
  /// finite). Checks all parameters first (float32, grad shape == value shape, state shape,
  /// unique names) and changes nothing when one is bad.
  Status step(const std::vector<ParamRef>& params, double lr);

  /// The state as named tensors sorted by name: "<param>/momentum_buffer" (SGD with
  /// momentum), "<param>/exp_avg", "<param>/exp_avg_sq" (float32, the parameter's shape) and
  /// "<param>/step" (int64 scalar: steps taken by that parameter; Adam/AdamW). Deep copies.
  std::vector<NamedTensor> saveState() const;

  /// Replace the state by a saveState() list (of an optimizer of the same kind). Names must be
  /// "<param>/<field>" with a field this kind uses, with the right dtype; shapes are checked
  /// against the parameters at the next step().
  Status loadState(const std::vector<NamedTensor>& state);

 private:
  explicit Optimizer(OptimizerOptions options) : options_(std::move(options)) {}

  struct ParamState {
    Tensor momentum_buffer;  ///< SGD (undefined until the first step, as in PyTorch)
    Tensor exp_avg;          ///< Adam/AdamW
    Tensor exp_avg_sq;       ///< Adam/AdamW
    int64_t step = 0;        ///< Adam/AdamW
  };
  Status checkParam(const ParamRef& p) const;
  void stepSgd(const ParamRef& p, ParamState& s, double lr);
  void stepAdam(const ParamRef& p, ParamState& s, double lr);

  OptimizerOptions options_;
  std::map<std::string, ParamState> state_;
};

/// Scale all gradients by min(1, max_norm / (total_norm + 1e-6)), total_norm being the L2 norm
/// of all gradients together (torch.nn.utils.clip_grad_norm_). Pass the gradients of the
/// trainable (non-frozen) parameters; nullptr entries are skipped. Returns total_norm. A NaN/Inf
/// norm is a kData error and leaves the gradients unchanged; max_norm must be > 0.
Expected<double> clipGradNorm(const std::vector<Tensor*>& grads, double max_norm);

/// Clamp every gradient element to [-clip_value, clip_value] (clip_grad_value_); clip_value > 0.
Status clipGradValue(const std::vector<Tensor*>& grads, double clip_value);

}  // namespace hq::train
