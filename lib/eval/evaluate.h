// Accuracy of a model on a labeled dataset: top-1, top-5, count and throughput.
// The same entry point serves float, QDQ and (later) integer models and .hbm files.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/graph.h"
#include "support/json.h"

namespace hq {

struct EvalOptions {
  int64_t batchSize = 256;
  int threads = 0;             ///< 0 = all cores
  bool referenceOnly = false;  ///< reference kernels only (slow; the oracle)
  bool progress = true;        ///< progress bar / lines on stderr
  std::string progressLabel = "eval";
  /// Named in errors the model raises while running (a kernel's error names the node; this
  /// adds the file), e.g. the model's path. "" adds nothing.
  std::string modelName;
  /// Write all logits, [count, classes] float32, to this .npy file.
  std::string dumpOutputs;
  /// Intermediate tensors to write, by tensor name or node name (its first output): each
  /// to `dumpDir`/<name>.npy (characters other than [A-Za-z0-9._-] become '_'), all
  /// evaluated images along axis 0, in the tensor's own dtype (int8 / int16 / int32 in
  /// integer models: dequantize with the model's "hq.int.scales" metadata).
  std::vector<std::string> dumpTensors;
  std::string dumpDir = ".";
};

/// The file name a dumped tensor gets: `name` with every character outside
/// [A-Za-z0-9._-] replaced by '_', plus ".npy".
std::string dumpFileName(const std::string& name);

struct EvalResult {
  int64_t count = 0;
  int64_t correct1 = 0;
  int64_t correct5 = 0;
  double top1 = 0;  ///< percent
  double top5 = 0;  ///< percent
  double seconds = 0;
  double imagesPerSecond = 0;

  OrderedJson toJson() const;
};

/// Rank of the true class `label` in one row of `classes` logits: how many classes score
/// strictly higher, ties counting for the lower index first (as torch.topk on CPU). A top-k
/// hit is rank < k.
int64_t trueClassRank(const float* row, int64_t classes, int64_t label);

class Progress;

/// The scoring half of an evaluation, shared by evaluateModel and the .hbm evaluation
/// (sim/evaluate_hbm.h): rows of logits against labels (top-1 / top-5, the errors for a label
/// outside the classes and NaN outputs), the --dump-outputs rows, the progress bar and the
/// timing of the run.
class AccuracyTally {
 public:
  /// Starts the clock and, with options.progress, the progress bar.
  AccuracyTally(const Dataset& dataset, const EvalOptions& options);
  ~AccuracyTally();
  /// `rows` samples starting at dataset index `first`: logits [rows, classes] row-major,
  /// their labels.
  Status add(const float* logits, int64_t rows, int64_t classes, const int64_t* labels,
             int64_t first);
  /// After the last rows: percentages, seconds and img/s; writes options.dumpOutputs.
  Expected<EvalResult> finish();

 private:
  const Dataset& dataset_;
  const EvalOptions& options_;
  EvalResult r_;
  Tensor dump_;
  std::unique_ptr<Progress> progress_;
  std::chrono::steady_clock::time_point start_;
};

/// Does `dataset` fit `graph`: one float32 NCHW input whose dims match the samples, labels
/// present when `need_labels`. The error names both shapes.
Status checkModelFitsData(const Graph& graph, const Dataset& dataset, bool need_labels = true);

/// Run `graph` (one input NCHW float32, one output [N, classes]) over `dataset`.
/// Errors: unlabeled data, sample shape that does not fit the model input, NaN outputs.
Expected<EvalResult> evaluateModel(const Graph& graph, Dataset& dataset,
                                   const EvalOptions& options);

}  // namespace hq
