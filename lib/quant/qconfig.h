// qconfig: how each quantization point is quantized. JSON validated against
// schemas/qconfig.schema.json; defaults ship in configs/qconfig/ (the seed's
// default_calib_8bit_fake_quant_qconfig and its 32-bit-output variant).
//
// {
//   "format_version": 1,
//   "march": "bayes",                        // optional; constrains choices (see checkMarch)
//   "default": {                             // every quantization point
//     "activation": {"dtype": "qint8", "observer": "minmax"},
//     "weight": {"dtype": "qint8", "per_channel": true, "observer": "minmax"}
//   },
//   "inputs": {"input": {"fixed_scale": 0.0078125}},    // graph inputs by name ("*" = all)
//   "share_concat_scale": true,              // Concat inputs and output share one scale
//   "overrides": [                           // later entries win
//     {"op_type": "Gemm", "output": {"dtype": "qint32"}},
//     {"name": "classifier*", "weight": {"observer": "mse"}},
//     {"op_type": "Conv", "output": {"qat": {"scale": "lsq"}}}   // hq-qat: learned scale
//   ]
// }
// Roles: "activation" (default for every activation quantization point), "input" (the
// graph inputs, by name under "inputs"), "output" (the output of the matched node's fused
// unit), "weight" (the matched node's weight).
//
// Resolution: the built-in QuantSpec defaults (weights: per-channel), then "default", then
// each matching override in file order; every partial spec changes only the fields it sets.
// Graph inputs: default.activation, then inputs[name] if present, else inputs["*"].
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "support/json.h"
#include "support/status.h"

namespace hq {

enum class QDType { kInt8, kInt16, kInt32 };
/// "qint8", "qint16", "qint32".
const char* qdtypeName(QDType t);

/// Observer parameters; which fields matter depends on `observer`.
struct ObserverParams {
  double averagingConstant = 0.01;  ///< ema_minmax: new = (1-c)*old + c*batch
  double percentile = 99.99;        ///< percentile: clip at this percentile of |x| (percent)
  int bins = 2048;                  ///< histogram bins (percentile, kl, mse)

  bool operator==(const ObserverParams& o) const;
  bool operator!=(const ObserverParams& o) const { return !(*this == o); }
};

/// How a point's scale moves in quantization-aware training (hq-qat; the spec's "qat" object).
struct QatParams {
  /// "ema" (running min/max of the training batches), "lsq" (a learned scale), "fixed", or
  /// "" (not given: see QuantSpec::qatScale).
  std::string scale;
  /// EMA: running = (1 - c) * running + c * batch; unset: see QuantSpec::qatAveragingConstant.
  std::optional<double> averagingConstant;

  bool operator==(const QatParams& o) const {
    return scale == o.scale && averagingConstant == o.averagingConstant;
  }
  bool operator!=(const QatParams& o) const { return !(*this == o); }
};

/// How one tensor is quantized.
struct QuantSpec {
  QDType dtype = QDType::kInt8;
  bool symmetric = true;    ///< zero point 0 (hardware default); false = affine
  bool perChannel = false;  ///< one scale per output channel (weights)
  /// "minmax", "ema_minmax", "percentile", "kl", "mse", "fixed", or "all" (pick the best).
  std::string observer = "minmax";
  ObserverParams params;
  /// Set exactly when observer is "fixed": the scale used as is (e.g. 1/128 for pyramid input).
  std::optional<double> fixedScale;
  /// Quantization-aware training of this point.
  QatParams qat;

  /// The QAT scale mode: "fixed" for a fixed observer (a fixed scale never moves), else
  /// qat.scale, else "ema".
  std::string qatScale() const;
  /// The QAT EMA constant: qat.averagingConstant, else the observer's averaging_constant
  /// when the observer is ema_minmax, else 1 for weights (the current weights' own range,
  /// what hq-convert deploys) and 0.01 for activations.
  double qatAveragingConstant(bool weight) const;

  /// Integer range of the dtype: qint8 [-128, 127], qint16 [-32768, 32767], qint32 full.
  /// Symmetric scales map the largest magnitude to qmax (scale = amax / 127 for qint8).
  int64_t qmin() const;
  int64_t qmax() const;

  /// One line for logs and reports, e.g. "qint8 symmetric per-channel minmax" or
  /// "qint8 symmetric fixed(scale=0.0078125)"; observer parameters appear where they matter,
  /// and the "qat" object where given (" qat=lsq", " qat=ema(c=0.05)").
  std::string describe() const;

  bool operator==(const QuantSpec& o) const;
  bool operator!=(const QuantSpec& o) const { return !(*this == o); }
};

/// A parsed, validated qconfig.
class QConfig {
 public:
  /// Built-in defaults only (no "default", "inputs" or "overrides"); see defaults().
  QConfig() = default;

  /// Parse and validate a qconfig: a JSON file path, or the name of a built-in one
  /// (configs/qconfig/<name>.json, embedded; see builtinQConfigNames()). Errors name the
  /// file and the JSON path of the offending key.
  static Expected<QConfig> load(const std::string& path_or_builtin_name);
  /// Validate and parse a document; `what` names it in messages (a file path).
  static Expected<QConfig> fromJson(const Json& doc, const std::string& what);
  /// The built-in default (configs/qconfig/default.json).
  static QConfig defaults();

  /// A resolved spec as a qconfig spec object (every field written, fixed key order: dtype,
  /// symmetric, per_channel, observer, observer parameters, fixed_scale, qat), e.g. for the
  /// per-point metadata "hq.quant.points" that hq-calib writes and hq-qat reads.
  static OrderedJson specToJson(const QuantSpec& spec);
  /// The inverse: the built-in defaults changed by the fields `spec` sets (a partial spec
  /// gives the rest their defaults). Errors (kParse) name `what` and the offending key.
  static Expected<QuantSpec> specFromJson(const Json& spec, const std::string& what);

  /// Spec of the output of the unit whose anchor node is `node_name` / `op_type`.
  QuantSpec outputSpec(const std::string& node_name, const std::string& op_type) const;
  /// Spec of the weight of that node.
  QuantSpec weightSpec(const std::string& node_name, const std::string& op_type) const;
  /// Spec of graph input `input_name`.
  QuantSpec inputSpec(const std::string& input_name) const;

  /// Selectors that match nothing, one warning line each, naming their place in the file:
  ///   "overrides[1].name 'clasifier*' matches no node"
  ///   "overrides[0].op_type 'Gemm' matches no node"
  ///   "overrides[2] name 'fc*' with op_type 'Conv' matches no node (each matches alone)"
  ///   "inputs 'image' matches no graph input (graph inputs: input)"
  /// `node_names` and `op_types` are parallel: op_types[i] is the op type of node i. (If
  /// their sizes differ, name and op type are only checked separately.)
  std::vector<std::string> unusedSelectors(const std::vector<std::string>& node_names,
                                           const std::vector<std::string>& op_types,
                                           const std::vector<std::string>& input_names) const;

  /// The target march: from the qconfig's "march", or setMarch; "" = none given.
  const std::string& march() const { return march_; }
  /// hq-calib's --march takes precedence over the qconfig's "march".
  void setMarch(const std::string& march) { march_ = march; }
  /// The march hook: checks march() against the march profiles embedded from
  /// configs/marches/ (an unknown name is kNotFound, listing the known ones; while no
  /// profile is embedded, any march passes), then the dtypes the specs ask for (kUnsupported,
  /// naming the qconfig JSON path and the march):
  ///  - default.activation (qint8 when unset) and each inputs[name] dtype must be among the
  ///    march's ops.QuantizeLinear.out_types (the dtypes activations run in);
  ///  - an override's output dtype must be among ops.Q<op_type>.out_types where the march
  ///    lists them ("Conv" -> QConv), else among the out_types of any march op.
  /// Weight dtypes and other constraints (e.g. power-of-two scales) are not checked here.
  Status checkMarch() const;

  /// "share_concat_scale" (default true, as PyTorch's backend config for torch.cat): every
  /// Concat's activation inputs and its output are one quantization group with one range
  /// (one observer fed with all of them), so the integer QConcat is a copy (identity
  /// rescales) that the compiler can do in place. false: each keeps its own observer.
  bool shareConcatScale() const { return shareConcatScale_; }
  void setShareConcatScale(bool share) { shareConcatScale_ = share; }

  /// The config as given (stored in the model's metadata for lineage).
  const Json& source() const { return source_; }

 private:
  /// A partial spec as written in the file: unset fields leave the spec unchanged.
  struct Partial {
    std::optional<QDType> dtype;
    std::optional<bool> symmetric, perChannel;
    std::optional<std::string> observer;
    std::optional<double> averagingConstant, percentile;
    std::optional<int> bins;
    std::optional<double> fixedScale;
    std::optional<std::string> qatScale;
    std::optional<double> qatAveragingConstant;
    void applyTo(QuantSpec* spec) const;
  };
  struct Override {
    std::string name;    ///< glob on node names ("" = any)
    std::string opType;  ///< exact op type ("" = any)
    std::optional<Partial> output, weight;
    bool matches(const std::string& node_name, const std::string& op_type) const;
  };
  static Partial parsePartial(const Json& spec);

  std::optional<Partial> defaultActivation_, defaultWeight_;
  std::map<std::string, Partial> inputs_;  ///< graph input name or "*" -> partial spec
  std::vector<Override> overrides_;
  std::string march_;
  bool shareConcatScale_ = true;
  Json source_;
};

/// Names of the built-in qconfigs (configs/qconfig/*.json), sorted: "default", ...
std::vector<std::string> builtinQConfigNames();

/// Shell-style glob match ('*' any run, '?' one char) used for node-name selectors. The
/// whole text must match; there are no character classes or escapes; case-sensitive.
bool globMatch(const std::string& pattern, const std::string& text);

}  // namespace hq
