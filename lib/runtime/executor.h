// Runs a float (later: QDQ and integer) graph. For each distinct set of input shapes it
// builds a plan once: a copy of the graph with concrete shapes, constants folded,
// prepared kernels (oneDNN where it applies) and an arena for intermediates sized by
// the memory planner, so peak memory stays near the largest live set.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"

namespace hq {

struct ExecutorOptions {
  KernelOptions kernels;
  /// Worker threads for kernels (OpenMP / oneDNN); 0 = all cores.
  int threads = 0;
  /// Names of intermediate values to keep and return from run() (for --dump-tensors).
  std::vector<std::string> keep;
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

  std::unique_ptr<Graph> graph_;
  ExecutorOptions options_;
  std::map<std::vector<Shape>, std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;
  std::map<std::string, Tensor> kept_;
};

/// Fold every node whose inputs are all constants into a constant (reference kernels).
Status foldConstants(Graph& graph);

}  // namespace hq
