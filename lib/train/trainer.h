// The training loop of hq-qat: epochs over a shuffled dataset, an optimizer and a learning-rate
// schedule, evaluation after each epoch on the exported model (the validation mode: scales and
// statistics frozen, exactly what hq-eval would score), the best model kept, a checkpoint after
// each epoch (and every N steps when asked), exact resume, and a NaN/Inf stop.
//
// Determinism: the batch order of epoch e is permutation(size, combineSeeds(seed, e))
// (data/batch_loader), Dropout masks follow AutogradOptions::seed and the count of training
// forwards, kernels are deterministic for a given thread count; so the same inputs, options,
// seed and threads give the same bytes, and a run resumed from a checkpoint continues exactly
// as the uninterrupted run would have.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/graph.h"
#include "support/json.h"
#include "train/autograd.h"
#include "train/optimizer.h"
#include "train/qat.h"
#include "train/schedule.h"

namespace hq::train {

/// What the trainer trains: a GradGraph and how to turn it into a model file.
class TrainModel {
 public:
  virtual ~TrainModel() = default;
  /// The graph that trains (its initializers are the whole training state).
  virtual GradGraph& grad() = 0;
  /// The model to evaluate and save: QDQ ONNX for QAT (qat.h), the float model in inference
  /// form for float training (toInferenceForm).
  virtual Expected<std::unique_ptr<Graph>> exportModel() = 0;
  /// Freeze BatchNormalization statistics (running stats used, not updated).
  virtual void setBatchNormFrozen(bool frozen) = 0;
  /// "qat" or "float" (printed, and checked when resuming).
  virtual const char* mode() const = 0;
  /// One line about what trains ("24,058 parameters in 8 tensors; 14 quantization points...").
  virtual std::string describe() const = 0;
};

/// Float training/finetuning of a float model (training-mode exports keep
/// BatchNormalization and Dropout; eval-mode exports train too).
Expected<std::unique_ptr<TrainModel>> makeFloatTrainModel(const Graph& model,
                                                          AutogradOptions options = {});
/// Quantization-aware training of a QDQ model from hq-calib (qat.h).
Expected<std::unique_ptr<TrainModel>> makeQatTrainModel(const Graph& qdq, const QatOptions& qat,
                                                        AutogradOptions options = {});

/// A training-mode export made ready for inference: BatchNormalization without
/// training_mode and with one output, Dropout without its training_mode input and mask.
/// Errors: a removed output (batch statistics, a mask) that something still reads.
Status toInferenceForm(Graph& graph);

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t batchSize = 128;
  uint64_t seed = 0;  ///< batch order and Dropout masks
  int threads = 0;    ///< 0 = all cores
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  double clipGradNorm = 0;   ///< > 0: clip the global gradient norm
  double clipGradValue = 0;  ///< > 0: clamp each gradient element
  float labelSmoothing = 0;
  int64_t freezeBnAfter = -1;  ///< freeze BatchNormalization statistics from this epoch on
  int64_t evalBatchSize = 256;
  /// Where the trained model goes (the best by evaluation top-1 when evaluating, else the
  /// last), written atomically after each epoch that improves it.
  std::string outPath;
  /// Written atomically after each epoch (and every checkpointEvery steps); "" = none.
  std::string checkpointPath;
  int64_t checkpointEvery = 0;  ///< steps; 0 = at epoch ends only
  bool progress = true;
  /// Printed result lines (seed style) go here; nullptr = none.
  std::function<void(const std::string& line)> print;
  /// Metadata added to each written model (e.g. "hq.lineage").
  std::map<std::string, std::string> metadata;
  /// The run's identity: options and input digests. Stored in checkpoints; a resume with
  /// a different config is refused naming the first differing key ("epochs" may grow).
  OrderedJson config = OrderedJson::object();
};

struct EpochResult {
  int64_t epoch = 0;  ///< 0-based, as the seed prints
  double lr = 0;      ///< at the epoch's last step
  double trainLoss = 0, trainTop1 = 0, trainTop5 = 0;
  int64_t trainImages = 0;
  double trainSeconds = 0;
  double imagesPerSecond = 0;
  bool evaluated = false;
  double evalTop1 = 0, evalTop5 = 0;
  OrderedJson toJson() const;
  static EpochResult fromJson(const Json& j);
};

struct TrainResult {
  std::vector<EpochResult> epochs;
  int64_t bestEpoch = -1;
  double bestTop1 = -1, bestTop5 = -1;
  double trainSeconds = 0;  ///< training steps only (no evaluation), this process
  int64_t trainImages = 0;  ///< this process
  double imagesPerSecond() const { return trainSeconds > 0 ? trainImages / trainSeconds : 0; }
  int64_t resumedFromEpoch = -1;  ///< epochs done before this process (with --resume)
};

/// Train `model` on `train_data` (labels required; shuffled each epoch) and evaluate on
/// `eval_data` (nullptr: no evaluation) after each epoch. `resume_path`: continue from that
/// checkpoint (made by a run with the same config). A NaN/Inf loss or gradient stops with a
/// kData error naming epoch and step and the last good checkpoint.
Expected<TrainResult> trainModel(TrainModel& model, Dataset& train_data, Dataset* eval_data,
                                 const TrainerOptions& options,
                                 const std::string& resume_path = "");

}  // namespace hq::train
