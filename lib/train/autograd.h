// Reverse-mode differentiation over the graph IR: the core of hq-qat's training engine.
// A GradGraph owns a copy of a float graph whose trainable parameters (float initializers)
// it updates in place. forward() runs every node with the best prepared kernel (oneDNN where
// it applies, else the reference kernel) and keeps exactly the tensors that later backward
// steps read; backward() walks the nodes in reverse topological order calling each op's
// backward (train/backward.h), sums the gradients of values with several consumers, skips
// nodes no parameter gradient flows through, and frees each saved tensor right after its
// last reader (counted when the graph is loaded).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "train/backward.h"
#include "train/loss.h"

namespace hq::train {

class TensorPool;

/// The backward of one node; may hold state shared with the node's forward kernel.
using NodeBackward = std::function<Status(const BackwardCall& call)>;

/// Finds the backward of a node (called once per node by create()); empty when it has none.
using BackwardLookup = std::function<NodeBackward(const Node& node)>;

/// A training-specific forward kernel for a node (BatchNormalization with batch statistics,
/// seeded Dropout, fake quantization...), or nullptr to use prepareKernel's. `outputs`
/// holds the shape function's result when the op registry knows the op (else it is empty)
/// and may be filled or changed. `training` is forward()'s flag. Called once per node and
/// batch shape and mode; the kernel is reused across batches (never re-prepared).
using ForwardLookup = std::function<Expected<std::unique_ptr<PreparedKernel>>(
    const Node& node, const std::vector<ValueInfo>& inputs, std::vector<ValueInfo>& outputs,
    bool training)>;

/// The default lookup: findBackward(op) for default-domain ops, empty for other domains.
/// Ops with a training-only backward (fake quantization, BatchNormalization in training
/// mode) plug in by wrapping this in AutogradOptions::backwardOf.
NodeBackward defaultBackwardOf(const Node& node);
/// findBackward(op) alone (the reference loops): the default with KernelOptions::referenceOnly.
/// defaultBackwardOf prefers the fast backward (train/backward/dnnl_backward.h) where one
/// exists.
NodeBackward referenceBackwardOf(const Node& node);

struct AutogradOptions {
  KernelOptions kernels;
  /// Names of the trainable float initializers; empty: defaultParameters(graph).
  std::vector<std::string> parameters;
  /// The value the loss reads (the logits); "": the first graph output.
  std::string output;
  /// Backward of each node; empty: defaultBackwardOf (referenceBackwardOf with
  /// kernels.referenceOnly).
  BackwardLookup backwardOf;
  /// Training forwards of some nodes; empty (or returning nullptr for a node): the
  /// built-in training forwards below, else prepareKernel.
  ForwardLookup forwardOf;
  /// Seed of the Dropout masks. The mask of node k in the s-th training forward (counted
  /// from 0 since create) uses seed combineSeeds(combineSeeds(seed, s), k) (data/random.h):
  /// steps differ, runs with the same seed repeat.
  uint64_t seed = 0;
  /// Rewrite QDQ models for QAT when the graph is copied (see GradGraph::create).
  bool fakeQuantQdq = true;
  /// Time every node's forward and backward (GradGraph::profile(), for benches).
  bool profile = false;
};

/// Wall time spent in one node's kernels since create or resetProfile (AutogradOptions::profile).
struct NodeProfile {
  std::string node;    ///< node.describe()
  std::string kernel;  ///< the forward kernel's name in the last plan
  double forwardSeconds = 0, backwardSeconds = 0;
};

/// Every float32 initializer that is the weight or bias of a Conv, ConvTranspose, Gemm or
/// MatMul (inputs 1 and 2; MatMul: either input), the slope of a PRelu, or the scale or
/// bias of a BatchNormalization, in graph order. A slot fed by an hq.FakeQuant of a float32
/// initializer (a QAT weight) names that initializer.
std::vector<std::string> defaultParameters(const Graph& graph);

/// The QDQ rewrite of GradGraph::create with AutogradOptions::fakeQuantQdq (see GradGraph),
/// in place; for callers that edit the rewritten graph before training it (train/qat.h).
/// Node names are kept: a weight's hq.FakeQuant has its DequantizeLinear's name, an
/// activation's has its QuantizeLinear's name; scale values keep their names.
Status rewriteQdqForTraining(Graph& graph);

/// Parameter gradients dL/dp by parameter name (float32, the parameter's shape).
using Gradients = std::map<std::string, Tensor>;

/// The result of one training step.
struct StepResult {
  double loss = 0;
  Tensor output;  ///< the value the loss read (logits), float32
  Gradients grads;
};

/// Computes the loss and dL/doutput from the output of forward().
using LossFn = std::function<Expected<LossResult>(const Tensor& output)>;

/// Built-in training behaviour (used where AutogradOptions::forwardOf gives no kernel and
/// backwardOf gives no backward):
/// - BatchNormalization: a training forward uses the batch statistics (whatever its
///   training_mode) and updates the running mean / variance initializers in place
///   (momentum, unbiased variance, as PyTorch; see initializer()); its backward is the
///   training-mode one with the forward's statistics. An evaluation forward uses the running
///   statistics (the reference kernel in inference mode).
/// - Dropout: the seeded mask (train/dropout.h, AutogradOptions::seed) in a training
///   forward, whatever its training_mode input; the identity in evaluation.
/// - hq.FakeQuant (runtime/passes/fake_quant.h): the executor's kernels forward, the STE
///   backward (train/fake_quant.h; zero points must be 0).
/// With AutogradOptions::fakeQuantQdq (default), create() first rewrites the copy of a QDQ
/// model (hq-calib): each DequantizeLinear of an int8/uint8 initializer "<W>_quantized"
/// becomes a float32 initializer "<W>" (a fresh name if taken) holding the dequantized
/// values, followed by an hq.FakeQuant with the same scale, zero point and axis (so QAT
/// trains float weights and the fake quant sees them; the forward is unchanged); a
/// DequantizeLinear of an int32 initializer (a bias) becomes a float32 initializer; each
/// QuantizeLinear -> DequantizeLinear pair on a float activation becomes an hq.FakeQuant.
class GradGraph {
 public:
  /// Copies `graph` (every initializer gets its own buffer). Errors: a parameter that
  /// is not a float32 initializer, an unknown output, or a node on a gradient path (from a
  /// parameter to the output) whose op has no backward (the message names the node).
  static Expected<std::unique_ptr<GradGraph>> create(const Graph& graph,
                                                     AutogradOptions options = {});
  ~GradGraph();

  /// Runs the graph on `inputs` (graph-input order, concrete shapes) and returns the output.
  /// `training`: keeps what backward() needs, and tells forwardOf kernels to train (batch
  /// statistics, dropout); else (evaluation) frees every tensor after its last forward reader.
  Expected<Tensor> forward(const std::vector<Tensor>& inputs, bool training = true);

  /// Gradients of every parameter given dL/doutput (the output's shape), after
  /// forward(..., true). Parameters that no gradient reaches get zeros. Frees what forward kept.
  Expected<Gradients> backward(const Tensor& grad_output);

  /// forward, loss, backward.
  Expected<StepResult> step(const std::vector<Tensor>& inputs, const LossFn& loss);

  /// Trainable parameter names, in AutogradOptions::parameters order (default: graph order).
  const std::vector<std::string>& parameterNames() const { return paramNames_; }
  /// The parameter's tensor, to update in place (e.g. by an optimizer); nullptr if unknown.
  /// Updates are seen by the next forward().
  Tensor* parameter(const std::string& name);
  /// Any initializer of the graph copy (e.g. BatchNormalization running statistics, which a
  /// training forward kernel updates: kernels see initializers in these very buffers);
  /// nullptr if unknown.
  Tensor* initializer(const std::string& name);
  /// The graph copy, whose initializers hold the current parameter values (for export).
  const Graph& graph() const { return *graph_; }

  /// Bytes of forward tensors alive now / at most since create (graph inputs included,
  /// initializers and gradients excluded): for memory-planning tests.
  size_t liveBytes() const { return liveBytes_; }
  size_t peakBytes() const { return peakBytes_; }
  /// Names of the kernels used by the last forward(), in node order.
  std::vector<std::string> kernelNames() const;

  /// Training forwards run since create (the Dropout mask counter, AutogradOptions::seed);
  /// a checkpoint saves it and setTrainForwards restores it so that a resumed run draws
  /// the same masks as an uninterrupted one.
  uint64_t trainForwards() const { return trainForwards_; }
  void setTrainForwards(uint64_t n) { trainForwards_ = n; }

  /// Freeze BatchNormalization statistics (e.g. after N epochs of QAT): a training forward
  /// then normalizes with the running statistics and no longer updates them, and the
  /// backward is the affine one (dx = dy * gamma / sqrt(var + eps), dgamma, dbeta).
  void setBatchNormFrozen(bool frozen) { bnFrozen_ = frozen; }
  bool batchNormFrozen() const { return bnFrozen_; }

  /// Per-node times in node order (empty unless AutogradOptions::profile).
  std::vector<NodeProfile> profile() const;
  void resetProfile();

 private:
  struct NodeInfo;
  struct PlanStep;
  struct Plan;
  GradGraph() = default;
  Status analyze();
  Expected<std::unique_ptr<PreparedKernel>> builtinForward(const NodeInfo& n,
                                                           const std::vector<ValueInfo>& inputs,
                                                           std::vector<ValueInfo>& outputs,
                                                           bool training);
  Plan* planFor(const std::vector<Tensor>& inputs, bool training);
  std::vector<ValueInfo> infosFor(const NodeInfo& n) const;
  Status prepareStep(const NodeInfo& n, PlanStep& step, bool training);
  void setSlot(int v, Tensor t);
  void freeSlot(int v);

  std::unique_ptr<Graph> graph_;
  std::shared_ptr<TensorPool> pool_;  // per-step forward outputs and gradients (reused)
  AutogradOptions options_;
  std::vector<std::string> paramNames_;
  std::vector<Value*> values_;  // by id
  std::map<const Value*, int> id_;
  std::vector<NodeInfo> nodes_;  // topological order
  int outputId_ = -1;
  std::vector<bool> isParam_, requiresGrad_, reachesOutput_;
  std::vector<int> fwdReaders_, bwdReaders_;  // static counts per value
  // Per run.
  std::vector<Tensor> slots_;
  std::vector<int> fwdLeft_, bwdLeft_;
  bool saved_ = false;
  size_t liveBytes_ = 0, peakBytes_ = 0;
  std::map<std::pair<std::vector<Shape>, bool>, std::unique_ptr<Plan>> plans_;
  uint64_t trainForwards_ = 0;  // training forwards run so far (Dropout seeds)
  bool bnFrozen_ = false;       // setBatchNormFrozen
  Plan* last_ = nullptr;
  std::vector<double> fwdSeconds_, bwdSeconds_;  // per node, with AutogradOptions::profile
};

}  // namespace hq::train
