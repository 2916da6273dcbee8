// Lowering step one: integer model -> LayerGraph (see lower.h).
#include "compiler/lower.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "ir/op_registry.h"

namespace hq {

namespace {

bool isViewOp(const Node& n) {
  static const std::set<std::string> kViews = {"Flatten", "Reshape", "Squeeze", "Unsqueeze",
                                               "Identity"};
  return n.domain.empty() && kViews.count(n.opType) != 0;
}

/// QConcat along channels (axis 1, or -3 of a rank-4 tensor) is a view: producers write
/// into the slices.
bool isChannelConcat(const Node& n) {
  if (n.domain != kIntDomain || n.opType != "QConcat" || n.outputs.empty()) return false;
  const Value* y = n.outputs[0];
  int64_t axis = n.attrs.getInt("axis", 1);
  int64_t rank = static_cast<int64_t>(y->shape.size());
  if (axis < 0) axis += rank;
  return axis == 1;
}

bool layerKindOf(const Node& n, LayerKind* kind) {
  static const std::map<std::string, LayerKind> kKinds = {
      {"QConv", LayerKind::kConv},          {"QConvTranspose", LayerKind::kConv},
      {"QGemm", LayerKind::kGemm},          {"QMaxPool", LayerKind::kPool},
      {"QAveragePool", LayerKind::kPool},   {"QGlobalAveragePool", LayerKind::kPool},
      {"QGlobalMaxPool", LayerKind::kPool}, {"QAdd", LayerKind::kEltwise},
      {"QMul", LayerKind::kEltwise},        {"QClamp", LayerKind::kEltwise},
      {"QRescale", LayerKind::kEltwise},    {"QResize", LayerKind::kResize},
      {"QConcat", LayerKind::kConcat},      {"QLookup", LayerKind::kLookup},
      {"QSoftmax", LayerKind::kSoftmax},
  };
  if (n.domain != kIntDomain) return false;
  auto it = kKinds.find(n.opType);
  if (it == kKinds.end()) return false;
  *kind = it->second;
  return true;
}

/// Elements of one frame (dims after the batch); -1 when a frame dim is unknown.
int64_t frameElements(const Value* v) {
  if (!v || !v->hasShape) return -1;
  int64_t n = 1;
  for (size_t i = 1; i < v->shape.size(); ++i) {
    if (v->shape[i] < 0) return -1;
    n *= v->shape[i];
  }
  return n;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

int64_t macsOf(const Node& n) {
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
  if (!w || !w->hasShape) return 0;
  if (n.opType == "QConv") {
    // Each output element: C/group * kH * kW MACs (W is [O, C/group, kH, kW]).
    int64_t per = product(Shape(w->shape.begin() + 1, w->shape.end()));
    return frameElements(y) * per;
  }
  if (n.opType == "QConvTranspose") {
    // Each input element scatters into O/group * kH * kW outputs (W is [C, O/group, kH, kW]).
    int64_t per = product(Shape(w->shape.begin() + 1, w->shape.end()));
    return frameElements(x) * per;
  }
  if (n.opType == "QGemm") {
    bool trans_b = n.attrs.getInt("transB", 0) != 0;
    int64_t k = w->shape.size() == 2 ? w->shape[trans_b ? 1 : 0] : 0;
    return frameElements(y) * k;
  }
  return 0;
}

int64_t tableBytes(const Node& n) {
  int64_t bytes = 0;
  for (const auto& [name, a] : n.attrs.all()) {
    if (a.kind != Attribute::Kind::kInts) continue;
    if (name == "shift") {
      bytes += static_cast<int64_t>(a.ints.size());
    } else if (name == "multiplier" || name == "residual_multiplier" || name == "multiplier_a" ||
               name == "multiplier_b") {
      bytes += 4 * static_cast<int64_t>(a.ints.size());
    }
  }
  for (const Value* v : n.inputs) {
    if (v && v->isConstant()) bytes += static_cast<int64_t>(v->constant.nbytes());
  }
  return bytes;
}

bool isIdentityRescale(int64_t multiplier, int64_t shift) {
  return shift >= 0 && shift < 62 && multiplier == (int64_t{1} << shift);
}

class Lowerer {
 public:
  Lowerer(const Graph& g, ConcatLowering concat) : g_(g), concat_(concat) {}

  Expected<LayerGraph> run() {
    std::vector<Node*> nodes = g_.nodes();
    // Pass 1: views and where each value is stored.
    for (const Node* n : nodes) {
      if (isViewOp(*n)) {
        HQ_RETURN_IF_ERROR(addView(*n));
      } else if (isConcatView(*n)) {
        HQ_RETURN_IF_ERROR(addConcatView(*n));
      }
    }
    // Pass 2: layers in execution order.
    for (const Node* n : nodes) {
      if (isViewOp(*n) || isConcatView(*n)) continue;
      if (n->domain.empty() && (n->opType == "QuantizeLinear" || n->opType == "DequantizeLinear")) {
        HQ_RETURN_IF_ERROR(checkBoundary(*n));
        out_.boundary.push_back(n->name);
        continue;
      }
      LayerKind kind;
      if (!layerKindOf(*n, &kind)) {
        return HQ_ERROR(kUnsupported,
                        "{}: expected an ai.hq integer op, a view (Flatten/Reshape/...) or a "
                        "boundary Quantize/DequantizeLinear; found op '{}' of domain '{}'",
                        n->describe(), n->opType, n->domain);
      }
      HQ_RETURN_IF_ERROR(addLayer(*n, kind));
    }
    return std::move(out_);
  }

 private:
  Status checkShape(const Node& n, const Value* v) {
    if (!v->hasShape) {
      return HQ_ERROR(kUnsupported, "{}: expected a known shape for '{}', found none", n.describe(),
                      v->name);
    }
    return Status::ok();
  }

  Status addView(const Node& n) {
    if (!n.input(0) || n.outputs.size() != 1) {
      return HQ_ERROR(kUnsupported, "{}: expected a view with one data input and one output",
                      n.describe());
    }
    LayerView v;
    v.node = n.name;
    v.opType = n.opType;
    v.inputs = {n.input(0)->name};
    v.output = n.outputs[0]->name;
    viewSource_[v.output] = v.inputs[0];
    out_.views.push_back(std::move(v));
    return Status::ok();
  }

  Status addConcatView(const Node& n) {
    LayerView v;
    v.node = n.name;
    v.opType = n.opType;
    v.output = n.outputs[0]->name;
    std::vector<int64_t> mult = n.attrs.getInts("multiplier");
    std::vector<int64_t> shift = n.attrs.getInts("shift");
    int64_t offset = 0;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value* x = n.inputs[i];
      if (!x) continue;
      HQ_RETURN_IF_ERROR(checkShape(n, x));
      if (x->shape.size() < 2 || x->shape[1] < 0) {
        return HQ_ERROR(kUnsupported, "{}: expected a known channel dim on input '{}', found {}",
                        n.describe(), x->name, shapeString(x->shape));
      }
      v.inputs.push_back(x->name);
      v.channelOffsets.push_back(offset);
      bool rescale = i < mult.size() && i < shift.size() && !isIdentityRescale(mult[i], shift[i]);
      v.rescale.push_back(rescale);
      if (x->isConstant()) {
        return HQ_ERROR(kUnsupported, "{}: expected activations only, input '{}' is a constant",
                        n.describe(), x->name);
      }
      concatSlot_[x->name] = {v.output, offset};
      offset += x->shape[1];
    }
    out_.views.push_back(std::move(v));
    return Status::ok();
  }

  /// Storage of value `name` and the channel offset inside it.
  std::pair<std::string, int64_t> storageOf(const std::string& name) const {
    auto view = viewSource_.find(name);
    if (view != viewSource_.end()) return storageOf(view->second);
    auto slot = concatSlot_.find(name);
    if (slot != concatSlot_.end()) {
      auto [storage, offset] = storageOf(slot->second.first);
      return {storage, offset + slot->second.second};
    }
    return {name, 0};
  }

  LayerTensor tensorOf(const Value* v) const {
    LayerTensor t;
    t.name = v->name;
    t.shape = v->shape;
    t.dtype = v->dtype;
    std::tie(t.storage, t.channelOffset) = storageOf(v->name);
    return t;
  }

  Status checkBoundary(const Node& n) {
    if (n.opType == "QuantizeLinear") {
      const Value* x = n.input(0);
      bool at_input = x && !x->producer && !x->isConstant();
      if (!at_input) {
        return HQ_ERROR(kUnsupported,
                        "{}: expected QuantizeLinear only on a model input, found it on '{}'",
                        n.describe(), x ? x->name : "?");
      }
      return Status::ok();
    }
    for (const Value* y : n.outputs) {
      if (!g_.isGraphOutput(y) || !g_.consumers(y).empty()) {
        return HQ_ERROR(kUnsupported,
                        "{}: expected DequantizeLinear only on a model output, found '{}' "
                        "used inside the model",
                        n.describe(), y->name);
      }
    }
    return Status::ok();
  }

  Status addLayer(const Node& n, LayerKind kind) {
    Layer l;
    l.name = n.name;
    l.kind = kind;
    l.opType = n.opType;
    l.nodes = {n.name};
    for (const Value* v : n.inputs) {
      if (!v || v->isConstant()) continue;
      HQ_RETURN_IF_ERROR(checkShape(n, v));
      l.inputs.push_back(tensorOf(v));
    }
    for (const Value* v : n.outputs) {
      HQ_RETURN_IF_ERROR(checkShape(n, v));
      l.outputs.push_back(tensorOf(v));
    }
    if (n.opType == "QConv") {
      const Value* x = n.input(0);
      int64_t group = n.attrs.getInt("group", 1);
      if (group > 1 && x->shape.size() > 1 && group == x->shape[1]) l.kind = LayerKind::kDepthwise;
    }
    if (kind == LayerKind::kConv || kind == LayerKind::kGemm) {
      l.macsPerFrame = macsOf(n);
      if (l.macsPerFrame < 0) {
        return HQ_ERROR(kUnsupported, "{}: expected known frame dims, found output shape {}",
                        n.describe(), shapeString(n.outputs[0]->shape));
      }
      l.opsPerFrame = 2 * l.macsPerFrame;
    }
    l.elementsPerFrame = 0;
    for (const Value* y : n.outputs) l.elementsPerFrame += std::max<int64_t>(0, frameElements(y));
    l.weightBytes = tableBytes(n);
    out_.layers.push_back(std::move(l));
    return Status::ok();
  }

  /// Is `n` a channel QConcat that lowers to a view (see ConcatLowering)?
  bool isConcatView(const Node& n) const {
    if (concat_ == ConcatLowering::kCopy || !isChannelConcat(n)) return false;
    if (concat_ == ConcatLowering::kView) return true;
    std::vector<int64_t> mult = n.attrs.getInts("multiplier");
    std::vector<int64_t> shift = n.attrs.getInts("shift");
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value* x = n.inputs[i];
      if (!x || !x->producer || x->producer->domain != kIntDomain || g_.isGraphOutput(x) ||
          g_.consumers(x).size() != 1)
        return false;
      if (i < mult.size() && i < shift.size() && !isIdentityRescale(mult[i], shift[i])) return false;
    }
    return true;
  }

  const Graph& g_;
  ConcatLowering concat_;
  LayerGraph out_;
  std::map<std::string, std::string> viewSource_;                      // view output -> input
  std::map<std::string, std::pair<std::string, int64_t>> concatSlot_;  // input -> (out, offset)
};

}  // namespace

const char* layerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv: return "conv";
    case LayerKind::kDepthwise: return "depthwise";
    case LayerKind::kGemm: return "gemm";
    case LayerKind::kPool: return "pool";
    case LayerKind::kEltwise: return "eltwise";
    case LayerKind::kResize: return "resize";
    case LayerKind::kConcat: return "concat";
    case LayerKind::kLookup: return "lookup";
    case LayerKind::kSoftmax: return "softmax";
    case LayerKind::kView: return "view";
  }
  return "?";
}

int64_t LayerGraph::totalMacsPerFrame() const {
  int64_t s = 0;
  for (const Layer& l : layers) s += l.macsPerFrame;
  return s;
}

int64_t LayerGraph::totalOpsPerFrame() const {
  int64_t s = 0;
  for (const Layer& l : layers) s += l.opsPerFrame;
  return s;
}

int64_t LayerGraph::totalWeightBytes() const {
  int64_t s = 0;
  for (const Layer& l : layers) s += l.weightBytes;
  return s;
}

const Layer* LayerGraph::find(const std::string& name) const {
  for (const Layer& l : layers) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

Expected<LayerGraph> lowerModel(const Graph& graph, ConcatLowering concat) {
  return Lowerer(graph, concat).run();
}

Expected<NativeLayout> nativeLayout(const Shape& shape, DType dtype, int64_t channel_group) {
  if (channel_group < 1) {
    return HQ_ERROR(kInvalidArgument, "native layout: expected a channel group >= 1, found {}",
                    channel_group);
  }
  int64_t elem = static_cast<int64_t>(dtypeSize(dtype));
  if (elem <= 0) {
    return HQ_ERROR(kInvalidArgument, "native layout: expected a sized dtype, found {}",
                    dtypeName(dtype));
  }
  for (size_t i = 1; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return HQ_ERROR(kInvalidArgument, "native layout: expected known frame dims, found {}",
                      shapeString(shape));
    }
  }
  NativeLayout l;
  switch (shape.size()) {
    case 0: l.channels = 1; break;
    case 1: l.channels = shape[0] < 0 ? 1 : shape[0]; break;
    case 2: l.channels = shape[1]; break;
    case 3:
      l.channels = shape[1];
      l.width = shape[2];
      break;
    default:
      l.channels = shape[1];
      l.height = shape[2];
      l.width = 1;
      for (size_t i = 3; i < shape.size(); ++i) l.width *= shape[i];
  }
  l.paddedChannels = (l.channels + channel_group - 1) / channel_group * channel_group;
  l.bytes = l.height * l.width * l.channels * elem;
  l.paddedBytes = l.height * l.width * l.paddedChannels * elem;
  return l;
}

}  // namespace hq
