// Where accuracy is lost: runs the float model, the fake-quant (QDQ) model and the integer
// model side by side on labeled data and compares every integer activation tensor with its
// counterparts (hq-convert --compare). Tensors are matched by name (schemas/int-ops.md
// section 8): the integer tensor "<v>_quantized" is the QDQ model's QuantizeLinear output of
// the same name and the float model's value "<v>".
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/json.h"
#include "support/status.h"

namespace hq {

struct CompareOptions {
  std::string data;          ///< dataset spec path or builtin name (labels needed)
  int64_t limit = 1000;      ///< images (0: all)
  int64_t batch = 100;
  int threads = 0;           ///< 0: all cores
  bool progress = true;      ///< progress bar / lines on stderr
};

/// One integer activation tensor compared with the other two models.
struct LayerComparison {
  std::string tensor;        ///< integer model tensor name
  std::string node;          ///< node that produces it in the integer model
  std::string op;            ///< its op type, e.g. "QConv"
  double scale = 0;          ///< its scale (first channel's for per-channel outputs)
  /// Integer (dequantized) vs fake-quant: cosine similarity, SQNR (dB; +inf when equal),
  /// largest |difference| in LSBs, fraction of elements that differ at all (for a qint32
  /// output, which the QDQ model leaves float: by more than 1/2 LSB).
  double cosineFakeQuant = 1, sqnrFakeQuantDb = 0, maxErrLsb = 0, mismatchFraction = 0;
  /// Integer (dequantized) vs float: cosine similarity and SQNR (dB). NaN when the float
  /// model has no value of that name.
  double cosineFloat = 1, sqnrFloatDb = 0;
};

struct CompareReport {
  int64_t images = 0;
  double top1Float = 0, top1FakeQuant = 0, top1Int = 0;  ///< percent
  /// Fraction of images whose top-1 class differs between fake-quant and integer.
  double top1Disagreement = 0;
  /// Sorted worst first (lowest cosineFloat, then cosineFakeQuant).
  std::vector<LayerComparison> layers;

  /// Deterministic JSON (NaN -> null, infinities -> "inf"/"-inf").
  OrderedJson toJson() const;
  /// A table for people: the three top-1s, the disagreement, then up to `max_rows` layers,
  /// worst first.
  std::string toText(size_t max_rows = 20) const;
  /// Layers whose cosine similarity to the float model (or, without a float model, to the
  /// fake-quant model) is below `min_cosine`: the --fail-below gate.
  std::vector<const LayerComparison*> below(double min_cosine) const;
};

/// Compare the three models on `options.data`. `float_model` may be null (then the float
/// columns are NaN). Errors name the model and tensor that cannot be matched.
Expected<CompareReport> compareModels(const Graph* float_model, const Graph& fake_quant,
                                      const Graph& int_model, const CompareOptions& options);

}  // namespace hq
