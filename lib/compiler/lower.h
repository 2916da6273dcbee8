// Lowering, step one ("legalize and fuse"): an integer model (ai.hq ops, schemas/int-ops.md)
// becomes a LayerGraph, the list of layers the NPU runs in execution order. One layer is one
// instruction group: a QConv (its BN, residual Add and clamp already fused by hq-convert), a
// QGemm, a pool, an elementwise op, ... Views (Flatten/Reshape/Squeeze/Unsqueeze/Identity, and
// QConcat along channels) make no layer of their own: they are recorded in LayerGraph::views
// and tensors that pass through them name their storage. The graph input's QuantizeLinear and
// the graph output's DequantizeLinear are the model's boundary, not layers.
//
// Also the native layout of the march: NHWC with channels padded up to March::channelGroup.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq {

/// What kind of instruction group a layer is.
enum class LayerKind {
  kConv,       ///< QConv / QConvTranspose with group 1 (or grouped, not depthwise)
  kDepthwise,  ///< QConv with group == input channels > 1
  kGemm,       ///< QGemm
  kPool,       ///< QMaxPool, QAveragePool, QGlobalAveragePool, QGlobalMaxPool
  kEltwise,    ///< QAdd, QMul, QClamp, QRescale
  kResize,     ///< QResize
  kConcat,     ///< QConcat along an axis other than channels (a real copy)
  kLookup,     ///< QLookup
  kSoftmax,    ///< QSoftmax
  kView,       ///< only in LayerGraph::views: no instructions
};

/// "conv", "depthwise", "gemm", "pool", "eltwise", "resize", "concat", "lookup", "softmax", "view".
const char* layerKindName(LayerKind kind);

/// A tensor a layer reads or writes.
struct LayerTensor {
  std::string name;  ///< the graph value the node reads/writes
  Shape shape;       ///< as in the graph (NCHW or [N, K]); dim 0 is the batch, maybe -1
  DType dtype = DType::kUndefined;
  /// The tensor that holds the bytes after views are resolved: a Flatten's output is stored
  /// in its input; a channel-concat input is stored in the concat's output.
  std::string storage;
  int64_t channelOffset = 0;  ///< first channel of this tensor inside `storage`
};

/// One instruction group of the NPU.
struct Layer {
  std::string name;  ///< the anchor node's name (e.g. the QConv's)
  LayerKind kind = LayerKind::kConv;
  std::string opType;               ///< the anchor node's op ("QConv", ...)
  std::vector<std::string> nodes;   ///< the source nodes, anchor first
  std::vector<LayerTensor> inputs;  ///< activations only (no initializers), in node order
  std::vector<LayerTensor> outputs;
  int64_t macsPerFrame = 0;  ///< int8/int16 multiply-accumulates, one frame (conv/gemm only)
  /// Operations per frame as the seed's perf report counts them: 2 x MACs for conv/gemm,
  /// 0 for the other layers (they run on the vector unit; see elementsPerFrame).
  int64_t opsPerFrame = 0;
  int64_t elementsPerFrame = 0;  ///< output elements per frame (vector-unit work)
  /// Constant bytes the layer loads: every initializer input at its dtype (int8 weights,
  /// int64/int32 bias, int8 constants, lookup tables) + per-channel requant tables
  /// (multiplier, residual_multiplier, multiplier_a/_b: 4 bytes each entry; shift: 1 byte).
  int64_t weightBytes = 0;
};

/// A node that lowers to no instructions.
struct LayerView {
  std::string node;    ///< node name
  std::string opType;  ///< "Flatten", "QConcat", ...
  std::vector<std::string> inputs;
  std::string output;
  /// QConcat along channels: the first channel of each input in the output (producers
  /// write into these slices). Empty for the other views.
  std::vector<int64_t> channelOffsets;
  /// QConcat: per input, whether its (multiplier, shift) is not the identity, i.e. the
  /// producer must requantize when writing its slice.
  std::vector<bool> rescale;
};

/// The lowered model: layers in execution order.
struct LayerGraph {
  std::vector<Layer> layers;
  std::vector<LayerView> views;
  /// Boundary nodes that are not layers: the input QuantizeLinear(s), output DequantizeLinear(s).
  std::vector<std::string> boundary;

  int64_t totalMacsPerFrame() const;
  int64_t totalOpsPerFrame() const;
  int64_t totalWeightBytes() const;
  /// The layer whose name is `name`, nullptr if none.
  const Layer* find(const std::string& name) const;
};

/// Lower an integer model. Errors (kUnsupported) name the node: an op that is not an ai.hq
/// op or a view, a Quantize/DequantizeLinear away from the model's boundary, a value without
/// a known shape.
///
/// `concat`: what a QConcat along channels becomes. kView: always a view (the compiler must
/// requantize where LayerView::rescale says so). kCopy: a layer (kConcat, a copy on the vector
/// unit) like any other QConcat. kViewWhenFree: a view only when it costs nothing — every input
/// has an identity rescale, is produced by an ai.hq node, and is read by the concat alone (and
/// is no graph output) — else a copy layer.
enum class ConcatLowering { kView, kCopy, kViewWhenFree };
Expected<LayerGraph> lowerModel(const Graph& graph, ConcatLowering concat = ConcatLowering::kView);

/// A tensor in the march's native layout: NHWC (frame dims only: H, W, C) with the channel
/// dim padded up to a multiple of the channel group. Rank-2 [N, K] is H = W = 1, C = K;
/// rank-3 [N, C, L] is H = 1, W = L; rank 1 or 0 is one channel vector.
struct NativeLayout {
  int64_t height = 1, width = 1;
  int64_t channels = 0;        ///< C
  int64_t paddedChannels = 0;  ///< C rounded up to the channel group
  int64_t bytes = 0;           ///< H * W * C * element size, one frame
  int64_t paddedBytes = 0;     ///< H * W * paddedChannels * element size, one frame
  int64_t padBytes() const { return paddedBytes - bytes; }
};

/// The native layout of one frame of a tensor with `shape` (dim 0 = batch, ignored) and
/// `dtype`. kInvalidArgument for channel_group < 1, an unsized dtype or a negative frame dim.
Expected<NativeLayout> nativeLayout(const Shape& shape, DType dtype, int64_t channel_group);

}  // namespace hq
