// Quantization-aware training of a QDQ model (hq-calib output): the model made trainable
// (QatModel::create), its quantization scales moving during training, and the trained graph
// written back as a QDQ model that hq-eval and hq-convert take unchanged (exportQdq).
//
// Points: every hq.FakeQuant of the rewritten graph (rewriteQdqForTraining, autograd.h):
// activations (a QuantizeLinear -> DequantizeLinear pair; the FakeQuant has the Q's name) and
// weights (an int8 "<W>_quantized" -> DequantizeLinear becomes the float parameter "<W>" ->
// FakeQuant with the DQ's name). Each point's spec comes from the metadata "hq.quant.points"
// (hq-calib, matched by scale initializer name), else from the qconfig in "hq.qconfig" (else
// the built-in default): graph inputs by the input rule, weights by their consumer, outputs by
// their producer. Only symmetric qint8 points train (zero point 0). Modes (QuantSpec::qatScale):
//  - fixed: a fixed observer (e.g. the input at 1/128) or qat.scale "fixed": never moves,
//    whatever QatOptions::scaleMode says.
//  - ema (default), as PyTorch's FakeQuantize with MovingAverageMinMaxObserver: in each
//    TRAINING forward the batch min/max of the point's input (per channel for per-channel
//    weights) is folded into a running range, running = (1 - c) * running + c * batch (the
//    range starts at the calibration's [-scale * qmax, scale * qmax]), the scale becomes
//    rangeToScale (quant/observer.h: amax / qmax; a zero range gives 1), then the input is
//    fake-quantized with that new scale. c: QuantSpec::qatAveragingConstant (activations
//    0.01, weights 1 = the current weights' own range, unless the qconfig says otherwise).
//  - lsq: the scale initializer is a trained parameter (appended to the parameter list) with
//    the LSQ gradient, gradient scale 1 / sqrt(N * qmax) (train/fake_quant.h); a training
//    forward first clamps it to >= FLT_EPSILON (as torch's learnable fake quantize).
// Evaluation forwards (training = false: the seed's validation mode) never change anything.
// The seed's FakeQuantState maps to: CALIBRATION = hq-calib (observers only), QAT = a
// training forward here, VALIDATION = an evaluation forward here, or the exported QDQ model
// in the Executor (what hq-qat's per-epoch evaluation runs: the same numbers).
//
// Checkpoint contract: everything of the QAT state that must survive a restart lives as
// float32 initializers of grad().graph() — the float weights and biases, every point's
// scale ("<scale>"), the EMA running range of every EMA point ("<scale>_qat_min" /
// "<scale>_qat_max", per channel for per-channel weights), BatchNormalization running
// statistics. Saving them all by name and writing them back into grad().initializer(name)
// before the next forward restores the QAT model exactly.
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
  /// weights re-quantized (fxp::quantizeLinear) from the float parameters with the current
  /// (per-channel) scales, float biases, activation scales as they are now (every float32
  /// initializer of the input model takes the training graph's value of the same name and
  /// shape). Conv+BN units are folded back with their running statistics first
  /// (foldConvBnForExport). Metadata "hq.stage" becomes "qat" (hq.lineage is the caller's);
  /// apart from that, an untrained model exports to the input model's very bytes.
  /// Deterministic.
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
