// Post-training quantization: run calibration data through the float model, let the
// observers of every quantization point choose its scale, and write a QDQ model
// (hq-calib; the seed's prepare_qat_fx + FakeQuantState.CALIBRATION).
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"
#include "ir/graph.h"
#include "quant/bias_correction.h"
#include "quant/qconfig.h"
#include "support/json.h"

namespace hq {

struct CalibOptions {
  int64_t batchSize = 256;
  int threads = 0;
  /// Replace every non-fixed activation observer by this method ("" = as the qconfig
  /// says; "all" = try minmax, percentile, kl and mse and keep the best on held-out data).
  std::string observer;
  /// With observer "all": fraction of the calibration data held out to choose the method.
  double holdoutFraction = 0.25;
  /// Empirical bias correction of the Conv/Gemm units (quant/bias_correction.h): for
  /// the weights' quantization (default), also for each unit's input quantization
  /// (local: one more float pass), or off.
  BiasCorrectionMode biasCorrection = BiasCorrectionMode::kWeights;
  /// With kLocal: images of the extra pass (the first ones observed).
  int64_t biasCorrectionImages = 512;
  bool progress = true;
  /// Lineage: recorded in the output model's metadata.
  std::string toolName = "hq-calib";
  std::map<std::string, std::string> inputDigests;  ///< "model" -> sha256, ...
  std::string commandLine;
};

struct CalibResult {
  std::unique_ptr<Graph> model;  ///< the QDQ model
  OrderedJson report;            ///< per point and summary (schema: --report)
  std::string chosenObserver;    ///< with observer "all": the winner
  int64_t images = 0;
  double seconds = 0;
};

/// Calibrate `float_model` on `data`. Errors: a node that cannot be quantized (named),
/// data whose shape does not fit the model, NaN/Inf in the data or activations.
Expected<CalibResult> calibrate(const Graph& float_model, Dataset& data, const QConfig& qconfig,
                                const CalibOptions& options);

}  // namespace hq
