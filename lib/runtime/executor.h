// Runs a float (later: QDQ and integer) graph. For each distinct set of input shapes it
// builds a plan once: a copy of the graph with concrete shapes, constants folded,
// prepared kernels (oneDNN where it applies) and an arena for intermediates sized by
// the memory planner, so peak memory stays near the largest live set.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"

namespace hq {

/// A value handed to ExecutorOptions::onObserve right after the step that produces it,
/// while its buffer is still live (and warm in cache). The buffer is the executor's: it is
/// valid only during the callback, and may be in a oneDNN blocked layout (e.g. nChw16c),
/// whose order differs from row-major and whose padding (channels rounded up to the
/// block) holds +0.0. Order-independent statistics (min / max / histograms) can read
/// `data` directly and subtract `paddingZeros` zeros; order-dependent ones call toPlain().
struct ObservedTensor {
  const float* data = nullptr;  ///< physical buffer: `n` float32 elements
  int64_t n = 0;                ///< physical elements, padding included
  int64_t paddingZeros = 0;     ///< elements of `data` that are layout padding (all +0.0)
  bool plain = true;            ///< row-major order (then paddingZeros == 0)
  const Shape* shape = nullptr;  ///< logical shape (numel = n - paddingZeros)
  /// The values in row-major order under `shape`: a view of `data` when plain, else a
  /// reorder into a scratch buffer the executor owns. Valid only during the callback.
  std::function<Tensor()> toPlain;
};

/// Called for each observed value; a non-ok status aborts run() with that status.
using ObserveFn = std::function<Status(const std::string& name, const ObservedTensor& tensor)>;

struct ExecutorOptions {
  KernelOptions kernels;
  /// Worker threads for kernels (OpenMP / oneDNN); 0 = all cores.
  int threads = 0;
  /// Names of intermediate values to keep and return from run() (for --dump-tensors).
  /// Kept values are plain, in fresh buffers, and so keep their producer from writing
  /// a blocked layout or summing in place: slow; prefer `observe` where it fits.
  std::vector<std::string> keep;
  /// Names of float32 values to hand to `onObserve` during run(), right after the step
  /// that produces each (graph inputs and constants: before the first step), in step
  /// order. Observed values stay materialized (no pass removes them) but keep their
  /// layout and arena buffer, so observing does not change what the kernels do.
  std::vector<std::string> observe;
  ObserveFn onObserve;
  /// Time every step of run() (for benches); see Executor::profile().
  bool profile = false;
};

/// Accumulated time of one plan step (with ExecutorOptions::profile).
struct StepProfile {
  std::string node;    ///< node description, e.g. "Conv 'conv1'"
  std::string kernel;  ///< kernel name, e.g. "dnnl:conv+Relu"
  double seconds = 0;  ///< summed over runs of the most recent plan
  int64_t runs = 0;
};

class Executor {
 public:
  /// The graph is copied; the caller may drop it afterwards.
  static Expected<std::unique_ptr<Executor>> create(const Graph& graph,
                                                    const ExecutorOptions& options = {});
  ~Executor();

  /// Inputs in graph-input order; outputs in graph-output order. Errors name the node
  /// or the input whose dtype/shape does not fit the model.
  Expected<std::vector<Tensor>> run(const std::vector<Tensor>& inputs);
  /// Values listed in options.keep, by name, from the last run().
  const std::map<std::string, Tensor>& kept() const { return kept_; }

  const Graph& graph() const { return *graph_; }
  /// Arena bytes of the most recently used plan (for tests and benches).
  size_t arenaBytes() const;
  /// Names of the kernels chosen per node in the most recent plan, in node order.
  std::vector<std::string> kernelNames() const;
  /// Per-step times of the most recent plan (empty unless options.profile).
  std::vector<StepProfile> profile() const;

 private:
  struct Plan;
  Executor() = default;
  Expected<Plan*> planFor(const std::vector<Tensor>& inputs);
  Expected<std::unique_ptr<Plan>> buildPlan(const std::vector<Tensor>& inputs);
  /// Hand the values observed at plan.observeAt[at] to options_.onObserve.
  Status notifyObservers(Plan& plan, size_t at);

  std::unique_ptr<Graph> graph_;
  ExecutorOptions options_;
  std::map<std::vector<Shape>, std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;
  std::map<std::string, Tensor> kept_;
};

/// Fold every node whose inputs are all constants into a constant (reference kernels).
Status foldConstants(Graph& graph);

}  // namespace hq
