// THE rule table of quantization: how each op behaves when the model runs in integers,
// and so where quantization points go. hq-calib, hq-qat and hq-convert all use it, so
// what is calibrated is what is trained is what is deployed.
//
//   compute     Conv, ConvTranspose, Gemm, MatMul with a constant weight: int8 x int8 ->
//               int32 accumulate, requantized once at the end of its fused unit. A unit is
//               the compute op, then optionally (each at most once, in this order, while
//               the value has a single consumer): BatchNormalization (folded), a residual
//               Add of another quantized activation (the seed's `generated_add` convs),
//               Relu or Clip with constant bounds (clamp bounds of the requantization).
//               One quantization point: the unit's output. Weight: per-channel int8.
//   same_scale  the integer op is exact on the input's grid, so the output keeps the
//               input's scale: MaxPool, GlobalMaxPool, Relu, Clip (constant bounds),
//               Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Split, Identity,
//               Dropout, Resize (nearest). No quantization point of its own.
//   requant     integer op with its own output scale (multiplier + shift, or a table):
//               AveragePool, GlobalAveragePool (1/N folded into the multiplier), Add, Sub,
//               Mul (each input rescaled), Concat (per-input rescale; free when scales
//               match, which qconfig share_concat_scale (default) arranges: the Concat's
//               activation inputs' points and its output point form one group), Resize (linear), Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu,
//               PRelu, Softmax (int8 lookup tables). One point: the output.
//   shape       integer shape arithmetic, never quantized: Shape, Gather, Cast, Constant.
//   float_only  no integer form in hq (Div of two activations, BatchNormalization that is
//               not after a compute op): calibration refuses the model, naming the node.
// Graph inputs (float) get a quantization point; graph outputs are dequantized.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/qconfig.h"

namespace hq {

enum class QuantRule { kCompute, kSameScale, kRequant, kShape, kFloatOnly };

const char* quantRuleName(QuantRule r);
/// The rule of a node (looks at constant-ness of inputs: Div by a constant is a requant
/// Mul; Clip with non-constant bounds is float_only).
QuantRule quantRuleOf(const Graph& g, const Node& n);

/// A quantization point: a float value that is quantized (fake-quant in QDQ models).
struct QuantPoint {
  enum class Kind { kInput, kOutput, kWeight };
  Kind kind = Kind::kOutput;
  Value* value = nullptr;  ///< the float tensor
  /// The node whose output or weight this is (the unit's anchor for compute units);
  /// nullptr for graph inputs.
  Node* owner = nullptr;
  /// For weights: the axis of output channels in the weight tensor.
  int64_t channelAxis = 0;
  QuantSpec spec;
};

/// A fused compute unit (compute rule): anchor op and what it absorbed, in order.
struct QuantUnit {
  Node* anchor = nullptr;
  std::vector<Node*> nodes;  ///< anchor first
  Node* residualAdd = nullptr;
  Node* activation = nullptr;
  Value* output = nullptr;   ///< the unit's (quantized) output
};

/// Where the points go in a graph (BatchNormalization after compute ops must already be
/// folded: see prepareForQuantization).
struct QuantPlan {
  std::vector<QuantUnit> units;
  std::vector<QuantPoint> points;
  /// For each same_scale value: the activation point whose scale it carries.
  std::vector<std::pair<Value*, Value*>> sharedScale;
  /// For each point (parallel to `points`): the index of the point whose observer and spec
  /// set its range; itself unless it is in a shared-scale group (a Concat's activation
  /// inputs and output under qconfig share_concat_scale). Every member of a group gets the
  /// same scale and zero point.
  std::vector<size_t> scaleGroup;
  /// Concats whose inputs and output share one scale (share_concat_scale).
  int sharedConcats = 0;

  /// scaleGroup[i], or i for a plan built without groups.
  size_t groupOf(size_t i) const { return i < scaleGroup.size() ? scaleGroup[i] : i; }

  const QuantPoint* pointFor(const Value* v) const;
};

/// Fold BatchNormalization into preceding convs and remove what inference does not need,
/// so the graph is shaped as the hardware runs it. Works on a copy the caller owns.
Status prepareForQuantization(Graph& graph);

/// Find units and quantization points, and resolve each point's spec from `qconfig`.
/// Errors name the node that cannot be quantized and why.
Expected<QuantPlan> planQuantization(Graph& graph, const QConfig& qconfig);

}  // namespace hq
