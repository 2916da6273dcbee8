// Internal to hq-convert (convert.cpp, convert_ops.cpp, qdq_reader.cpp): the QDQ model read
// back into a float graph plus quantization parameters, and the emitter's state.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "quant/qconfig.h"
#include "quant/rules.h"
#include "support/fixed_point.h"
#include "support/json.h"

namespace hq::convert_detail {

/// An int8 weight (or constant operand) of the QDQ model: DequantizeLinear(int8 constant).
struct WeightParams {
  Tensor q;                   ///< int8 data as in the QDQ model (after a BN fold: requantized)
  std::vector<float> scales;  ///< one per channel along `axis`, or one (axis -1)
  int64_t axis = -1;
  std::string qname;  ///< the int8 initializer's name ("<W>_quantized")
};

/// An activation quantization point of the QDQ model.
struct ActParams {
  QDType dtype = QDType::kInt8;
  float scale = 0;    ///< int8 / int16 (int32 outputs: per channel, computed by the emitter)
  std::string qname;  ///< the integer tensor's name: the QuantizeLinear output "<v>_quantized"
  std::string node;   ///< the QuantizeLinear (or q16 Div) node, for messages
};

/// The QDQ model without its Q/DQ pairs: a float graph whose weights are the dequantized
/// int8 weights, and the parameters keyed by float value name.
struct QdqModel {
  std::unique_ptr<Graph> graph;
  std::map<std::string, ActParams> acts;
  std::map<std::string, WeightParams> weights;
  std::vector<std::string> warnings;
  int64_t foldedBatchNorms = 0;
};

/// Read a QDQ model written by hq-calib / hq-qat (quant/qdq.h). Errors name the node.
Expected<QdqModel> readQdqModel(const Graph& qdq);

/// Integer tensor info: dtype and scale(s) (one per channel for int32 outputs, axis 1).
struct IntInfo {
  DType dtype = DType::kInt8;
  std::vector<float> scales;
};

DType intDType(QDType t);
fxp::IntRange rangeOf(DType t);

/// Builds the integer graph node by node (convert_ops.cpp holds the per-op emitters).
class Emitter {
 public:
  Emitter(QdqModel& model, const QuantPlan& plan);
  Expected<std::unique_ptr<Graph>> run();
  std::vector<std::string>& warnings() { return warnings_; }
  int64_t sourceNodes() const { return sourceNodes_; }
  /// hq.int.scales: integer activation tensor name -> scale (array for int32 outputs).
  const Json& scales() const { return scales_; }

 private:
  // convert.cpp
  Status emitInputs();
  Status emitOutputs();
  Status emitNode(Node* n);
  Status emitCopy(const Node& n, bool same_scale);
  /// The integer tensor of activation `v` (error naming `n` when there is none).
  Expected<Value*> act(const Node& n, const Value* v);
  const IntInfo& info(const Value* int_value) const;
  /// Copy a float-graph constant (shape tensors, Reshape's shape...) by name.
  Value* constant(const Value* v);
  /// The int8 constant of a quantized constant operand (weights map), per-tensor scale.
  Expected<Value*> quantizedConstant(const Node& n, const Value* v, float* scale);
  /// A new integer activation in the integer graph, shaped like `like`.
  Value* newAct(const std::string& name, DType dtype, const Value* like, std::vector<float> scales);
  /// The int output of a point value: its ActParams (error when missing).
  Expected<const ActParams*> pointParams(const Node& n, const Value* v) const;
  /// Name of the integer tensor of same-scale output `v`.
  std::string sameScaleName(const Value* v) const;
  Node* add(const std::string& op, const Node& src, std::vector<Value*> ins, Value* out,
            Attributes attrs, const std::string& domain);
  Status outputParams(const Node& n, const Value* out, DType* dtype, float* scale);

  // convert_ops.cpp
  Status emitUnit(const QuantUnit& unit);
  Status emitMaxPool(const Node& n);
  Status emitClamp(const Node& n);
  Status emitResize(const Node& n, bool requant);
  Status emitAveragePool(const Node& n);
  Status emitAdd(const Node& n);
  Status emitMul(const Node& n);
  Status emitDiv(const Node& n);
  Status emitConcat(const Node& n);
  Status emitLookup(const Node& n);
  Status emitSoftmax(const Node& n);

  QdqModel& model_;
  const Graph& fg_;
  const QuantPlan& plan_;
  std::unique_ptr<Graph> ig_;
  std::unordered_map<const Value*, Value*> intOf_;        ///< float-graph value -> int value
  std::unordered_map<const Value*, IntInfo> infoOf_;      ///< int value -> dtype, scales
  std::unordered_map<const Value*, const QuantUnit*> unitOf_;  ///< anchor node output -> unit
  std::map<std::string, Value*> constants_;               ///< copied constants by name
  std::vector<std::string> warnings_;
  int64_t sourceNodes_ = 0;
  Json scales_;
};

/// Clamp bounds of a Relu / Clip (constant bounds, inputs or old attributes) at scale `s`
/// in the range of `t` (int-ops.md 2.3).
Expected<fxp::IntRange> clampBounds(const Node& act, float s, DType t);

}  // namespace hq::convert_detail
