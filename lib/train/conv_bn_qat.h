// Conv + BatchNormalization during quantization-aware training, in the form of PyTorch's
// ConvBn QAT modules: hq-calib folds every BatchNormalization of a training-mode export into
// the preceding Conv before inserting QDQ; for QAT the BN is put back (expandConvBnForQat) so
// that it trains with batch statistics while the weight fake quant sees the folded weight,
// and folded again with the running statistics for export (foldConvBnForExport).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq::train {

/// In a QAT training graph (QatModel's rewrite of a QDQ model), re-insert the BatchNormalization
/// that hq-calib folded into each Conv, from `bn_model` (the training-mode float export the QDQ
/// model was calibrated from; Conv nodes matched by node name, weight shape as a cross-check),
/// in PyTorch ConvBn QAT form: the weight parameter becomes the UNFOLDED float W from bn_model,
/// the weight FakeQuant sees W * f (f = gamma / sqrt(running_var + eps), gamma trainable,
/// running stats BN initializers), the Conv output is divided by f, the conv bias added back,
/// then a BatchNormalization (training mode via GradGraph's built-in BN training kernel) with
/// gamma, beta, running mean/var from bn_model. beta absorbs the difference between the
/// calibrated Conv bias and the fold of bn_model ((b - mean) * f + beta; hq-calib's bias
/// correction), so that the evaluation forward equals the calibrated model's (the weight too
/// when its scale quantizes W * f as hq-calib's fold did). Convs of bn_model without a
/// BatchNormalization right after them are left alone. Names the convs expanded in `expanded`.
/// Errors (named node): a Conv of bn_model whose BN cannot be matched, shape mismatches.
Status expandConvBnForQat(Graph& training_graph, const Graph& bn_model,
                          std::vector<std::string>* expanded);

/// The inverse for export: each expanded unit folded back with the RUNNING statistics into a
/// float weight W*f -> FakeQuant -> Conv with bias (b - mean) * f + beta, leaving exactly the
/// structure of the training graph before expansion (so the QDQ export writes the same node and
/// value names as the calibrated model). The FakeQuant's per-channel scale is kept as is (it
/// already quantizes W*f).
Status foldConvBnForExport(Graph& graph);

}  // namespace hq::train
