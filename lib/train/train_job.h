// One hq-qat run from its command line's values: open the model and data, build the optimizer,
// schedule and model (QAT or float), record the run's identity and lineage, and train
// (trainer.h). The tool only parses flags and prints; everything else is here, where tests
// reach it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "support/json.h"
#include "train/trainer.h"

namespace hq::train {

/// What hq-qat's flags say, as plain values.
struct TrainJob {
  std::string modelPath;  ///< QDQ model (QAT) or float model (floatMode)
  bool floatMode = false;
  std::string dataSpec, evalSpec;  ///< dataset specs (file or bundled name); evalSpec optional
  int64_t limit = 0, evalLimit = 0;
  std::string outPath;
  std::string checkpointPath;  ///< "" = outPath + ".ckpt"
  std::string resumePath;      ///< "" = a fresh run
  std::string floatBnPath;     ///< QAT: the training-mode float model (Conv+BN units)
  std::string scaleMode;       ///< QAT: "ema", "lsq", "fixed", or "" (the qconfig's)
  // Optimizer: from the JSON file optimizerJson, or these fields.
  std::string optimizer = "adam", optimizerJson;
  double lr = 0;  ///< 0: 1e-4 for QAT, 1e-3 for float training
  double momentum = 0, weightDecay = 0;
  bool nesterov = false;
  std::vector<std::string> frozen;
  // Schedule over steps: from the JSON file scheduleJson, or these fields (cosine: to etaMin
  // at the last step).
  std::string schedule = "constant", scheduleJson;
  int64_t warmup = 0, stepSize = 1;
  double gamma = 0.1, etaMin = 0;
  std::vector<int64_t> milestones;
  bool reference = false;       ///< reference kernels only
  std::set<std::string> given;  ///< flags given on the command line, e.g. "--lr" (conflicts)
  std::string command;          ///< for the lineage: without output paths and --resume
  /// Epochs, batch, seed, threads, clipping, smoothing, BN freezing, progress, print; the
  /// paths, config and metadata are filled by runTrainJob.
  TrainerOptions trainer;
};

struct TrainJobResult {
  std::string mode;  ///< "qat" or "float"
  bool evaluated = false;
  TrainResult result;
  /// The summary hq-qat --json prints (per-epoch results, best epoch, images/s...).
  OrderedJson toJson(const TrainJob& job) const;
};

/// Run the job. Errors: conflicting or invalid options (kInvalidArgument), unreadable or
/// malformed files and data that does not fit the model (named), and the trainer's.
Expected<TrainJobResult> runTrainJob(TrainJob& job);

}  // namespace hq::train
