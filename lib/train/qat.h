// Quantization-aware training of a QDQ model (hq-calib output): the model made trainable
// (QatModel::create), its quantization scales moving during training (fixed / EMA / LSQ, per
// point, from the qconfig), and the trained graph written back as a QDQ model that hq-eval
// and hq-convert take unchanged (QatModel::exportQdq).
//
// Checkpoint contract: everything of the QAT state that must survive a restart lives as
// float32 initializers of grad().graph() — the float weights and biases, every point's
// scale ("<scale>"), the EMA running range of every EMA point ("<scale>_qat_min" /
// "<scale>_qat_max", per channel for per-channel weights), BatchNormalization running
// statistics. Saving and restoring all initializers by name restores the QAT model exactly.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"
#include "train/autograd.h"

namespace hq::train {

/// How a quantization point's scale moves during training.
enum class QatScaleMode {
  kFixed,  ///< never moves (e.g. the graph input at 1/128)
  kEma,    ///< running min/max (EMA) of the training batches, scale = amax / qmax
  kLsq,    ///< a trainable parameter (LSQ gradient)
};

/// "fixed", "ema", "lsq".
const char* qatScaleModeName(QatScaleMode m);
/// The inverse of qatScaleModeName; kInvalidArgument naming the accepted values.
Expected<QatScaleMode> parseQatScaleMode(const std::string& s);

struct QatOptions {
  /// Overrides the qconfig's mode for every point that is not fixed (hq-qat --scale-mode).
  std::optional<QatScaleMode> scaleMode;
  /// The training-mode float export the calibrated model came from (BatchNormalization kept):
  /// its Conv+BN pairs train as PyTorch's ConvBn QAT modules (see conv_bn_qat.h). nullptr: none.
  const Graph* bnModel = nullptr;
};

/// A QDQ model (hq-calib output) made trainable.
class QatModel {
 public:
  /// `base`: kernels, seed... (fakeQuantQdq, forwardOf, backwardOf, parameters are set here).
  static Expected<std::unique_ptr<QatModel>> create(const Graph& qdq, const QatOptions& options,
                                                    AutogradOptions base = {});
  ~QatModel();

  GradGraph& grad();
  /// Freeze BatchNormalization statistics (Conv+BN units / BN nodes: running stats in
  /// training, no more updates) — forwards to GradGraph.
  void setBatchNormFrozen(bool frozen);
  /// The trained model as QDQ ONNX: the input model's very structure (node names, value names,
  /// graph outputs, metadata incl. hq.qconfig and hq.quant.*) with the trained numbers: int8
  /// weights re-quantized from the float parameters with the current (per-channel) scales,
  /// float biases, activation scales as they are now. Deterministic.
  Expected<std::unique_ptr<Graph>> exportQdq() const;
  /// One line: "14 points: 9 activations (ema), 4 weights (ema, per-channel), 1 fixed input".
  std::string describe() const;

  /// Internal: one quantization point (qat.cpp).
  struct Point;

 private:
  QatModel();
  std::unique_ptr<Graph> original_;  // the QDQ model as given (export writes into a copy)
  std::unique_ptr<GradGraph> grad_;
  std::vector<Point> points_;               // one per hq.FakeQuant, graph order
  std::map<std::string, size_t> index_;     // FakeQuant node name -> points_ index
  std::vector<std::string> expandedConvs_;  // Conv+BN units (expandConvBnForQat)
};

}  // namespace hq::train
