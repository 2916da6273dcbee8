// The planning passes of hq-compile: lower, layout (native storage of every tensor, the model's
// boundary, pyramid input), fuse (-O3 groups), tile (row tiles with halos), ddr-plan and
// sram-plan. Emission is in emit.cpp.
#include <algorithm>
#include <set>

#include "compiler/compile_internal.h"
#include "compiler/hbm.h"
#include "compiler/memory_plan.h"
#include "ir/op_registry.h"

namespace hq::compile_internal {

namespace {

constexpr int64_t kSramAlign = 64;
/// -O0/-O1 tile slots stay under this (a fixed, naive tile size); -O2/-O3 search instead.
constexpr int64_t kNaiveSlotBytes = 4 * 1024;
/// The fixed scale of pyramid/resizer input (the seed's 1/128).
constexpr float kPyramidScale = 1.0f / 128.0f;

int64_t alignUp(int64_t x, int64_t a) { return a <= 1 ? x : (x + a - 1) / a * a; }

Shape frameShape(Shape s) {
  if (!s.empty()) s[0] = 1;
  return s;
}

bool isSameRowsOp(const std::string& op) {
  static const std::set<std::string> kOps = {"QAdd",    "QMul",    "QClamp",  "QRescale",
                                             "QLookup", "QConcat", "QSoftmax"};
  return kOps.count(op) != 0;
}

}  // namespace

Status Plan::lower(std::string* note) {
  // From -O2 a channel concat costs nothing where it can: producers write into its slices.
  HQ_ASSIGN_OR_RETURN(lowered_, lowerModel(g_, opt_.optLevel >= 2 ? ConcatLowering::kViewWhenFree
                                                                  : ConcatLowering::kCopy));
  *note = fmt::format("{} layers, {} views", lowered_.layers.size(), lowered_.views.size());
  return Status::ok();
}

int Plan::storageFor(const std::string& name, const Shape& shape, DType dtype) {
  auto it = storageIndex_.find(name);
  if (it != storageIndex_.end()) return it->second;
  Storage s;
  s.name = name;
  s.dtype = dtype;
  s.elem = static_cast<int64_t>(dtypeSize(dtype));
  Expected<NativeLayout> nl = nativeLayout(frameShape(shape), dtype, march_.channelGroup);
  if (nl.isOk()) {
    s.h = nl->height, s.w = nl->width, s.c = nl->channels, s.cs = nl->paddedChannels;
  }
  storages_.push_back(s);
  storageIndex_[name] = static_cast<int>(storages_.size()) - 1;
  return static_cast<int>(storages_.size()) - 1;
}

namespace {

/// The tensor that holds `name`'s bytes after views (a concat view's output holds its own).
std::string resolveView(const LayerGraph& lg, const std::string& name) {
  for (const LayerView& v : lg.views) {
    if (v.output == name && !v.inputs.empty() && v.opType != "QConcat")
      return resolveView(lg, v.inputs[0]);
  }
  return name;
}

bool sameNative(const Storage& s, const Shape& shape, int64_t group) {
  Expected<NativeLayout> nl = nativeLayout(frameShape(shape), s.dtype, group);
  return nl.isOk() && nl->height == s.h && nl->width == s.w && nl->channels == s.c;
}

void setDescLayout(hbm::TensorDesc* d, const Storage& s, int64_t group) {
  d->set_dtype(dtypeToHbm(s.dtype));
  if (s.nv12) {
    d->set_layout(hbm::NV12);
    d->add_padded_shape(1);
    d->add_padded_shape(s.h * 3 / 2);
    d->add_padded_shape(s.w);
    d->set_channel_alignment(1);
  } else {
    const bool flat = d->shape_size() == 2;
    d->set_layout(flat ? hbm::FLAT : hbm::NHWC);
    d->add_padded_shape(1);
    if (!flat) {
      d->add_padded_shape(s.h);
      d->add_padded_shape(s.w);
    }
    d->add_padded_shape(s.cs);
    d->set_channel_alignment(static_cast<uint32_t>(group));
  }
}

}  // namespace

Status Plan::addBoundary() {
  for (const std::string& name : lowered_.boundary) {
    const Node* n = g_.findNode(name);
    if (!n || n->opType != "QuantizeLinear") continue;
    const Value* x = n->input(0);
    const Value* q = n->outputs.empty() ? nullptr : n->outputs[0];
    const Value* scale = n->input(1);
    if (!x || !q || !scale || !scale->isConstant() || scale->constant.numel() != 1)
      return HQ_ERROR(kUnsupported, "{}: expected a per-tensor QuantizeLinear of a model input",
                      n->describe());
    const float s = static_cast<float>(scale->constant.toDouble()[0]);
    const int qi = storageFor(q->name, q->shape, q->dtype);
    hbm::TensorDesc d;
    d.set_name(x->name);
    for (int64_t v : frameShape(q->shape)) d.add_shape(v);
    d.add_scales(s);
    d.add_zero_points(0);
    if (opt_.inputSource == InputSource::kDdr) {
      storages_[qi].modelInput = true;
      d.set_source(hbm::DDR);
      setDescLayout(&d, storages_[qi], march_.channelGroup);
      inputStorages_.push_back(qi);
      inputDescs_.push_back(d);
      continue;
    }
    // Pyramid / resizer: NV12 frames with the fixed scale 1/128, converted on the vector unit.
    const Storage qs = storages_[qi];  // a copy: storages_ grows below
    const char* src = inputSourceName(opt_.inputSource);
    if (q->shape.size() != 4 || (qs.c != 1 && qs.c != 3) || qs.h % 2 != 0 || qs.w % 2 != 0)
      return HQ_ERROR(kUnsupported,
                      "input '{}': {} input needs a 1- or 3-channel image of even height and "
                      "width, found shape {}; compile with --input-source ddr",
                      x->name, src, shapeString(q->shape));
    if (s != kPyramidScale || q->dtype != DType::kInt8)
      return HQ_ERROR(kUnsupported,
                      "input '{}': {} input arrives with the fixed scale 1/128 (int8), the model "
                      "quantizes it with scale {} ({}); calibrate with the input scale fixed at "
                      "1/128, or compile with --input-source ddr",
                      x->name, src, s, dtypeName(q->dtype));
    Storage nv;
    nv.name = "nv12:" + x->name;
    nv.dtype = DType::kUInt8;
    nv.elem = 1;
    nv.h = qs.h, nv.w = qs.w, nv.c = qs.c, nv.cs = 1;
    nv.nv12 = true;
    nv.modelInput = true;
    storages_.push_back(nv);
    const int ni = static_cast<int>(storages_.size()) - 1;
    storageIndex_[nv.name] = ni;
    d.set_source(opt_.inputSource == InputSource::kPyramid ? hbm::PYRAMID : hbm::RESIZER);
    setDescLayout(&d, nv, 1);
    inputStorages_.push_back(ni);
    inputDescs_.push_back(d);

    LayerPlan l;
    l.name = "nv12_to_native:" + x->name;
    l.opType = "Nv12ToNative";
    l.domain = "hq.npu";
    l.attrs.set("channels", Attribute::ofInt(qs.c));
    l.sourceNodes = {n->name};
    l.sourceOps = {"QuantizeLinear"};
    l.opcode = hbm::Instruction::VECTOR;
    l.tileable = true;
    l.evenRows = 2;
    LayerInput y;
    y.kind = LayerInput::kActivation;
    y.storage = ni;
    y.plane = 0;
    l.inputs.push_back(y);
    LayerInput uv = y;
    uv.plane = 1;
    if (qs.c == 3) {
      l.inputs.push_back(uv);
    } else {
      l.inputs.push_back(LayerInput{});
    }
    l.output = qi;
    l.outShape = frameShape(q->shape);
    l.vectorOps = qs.h * qs.w * qs.c;
    storages_[qi].producer = static_cast<int>(layers_.size());
    storages_[ni].consumers.push_back(static_cast<int>(layers_.size()));
    layers_.push_back(std::move(l));
  }
  return Status::ok();
}

Status Plan::addLayer(const Layer& layer) {
  const Node* n = g_.findNode(layer.name);
  if (!n) return HQ_ERROR(kInternal, "layer '{}' names no node", layer.name);
  if (n->outputs.size() != 1 || !n->outputs[0])
    return HQ_ERROR(kUnsupported, "{}: expected one output, found {}", n->describe(),
                    n->outputs.size());
  LayerPlan l;
  l.name = n->name;
  l.opType = n->opType;
  l.domain = n->domain;
  l.attrs = n->attrs;
  for (const auto& [name, a] : l.attrs.all()) {
    if (a.kind == Attribute::Kind::kTensor || a.kind == Attribute::Kind::kStrings)
      return HQ_ERROR(kUnsupported, "{}: attribute '{}' of kind {} cannot go into an .hbm",
                      n->describe(), name, attributeKindName(a.kind));
  }
  l.sourceNodes = layer.nodes;
  for (const std::string& s : layer.nodes) {
    const Node* src = g_.findNode(s);
    l.sourceOps.push_back(src ? (src->domain.empty() ? "" : src->domain + ".") + src->opType : "?");
  }
  switch (layer.kind) {
    case LayerKind::kConv:
    case LayerKind::kDepthwise:
    case LayerKind::kGemm: l.opcode = hbm::Instruction::CONV; break;
    case LayerKind::kPool: l.opcode = hbm::Instruction::POOL; break;
    default: l.opcode = hbm::Instruction::VECTOR;
  }
  l.macs = layer.macsPerFrame;
  l.vectorOps = layer.elementsPerFrame;
  const int li = static_cast<int>(layers_.size());
  const Value* y = n->outputs[0];
  l.outShape = frameShape(y->shape);
  const bool rank4 = l.outShape.size() == 4;

  const bool conv = n->opType == "QConv";
  const bool pool = (n->opType == "QMaxPool" || n->opType == "QAveragePool") &&
                    l.attrs.getInt("ceil_mode", 0) == 0;
  // Ops with a window: absent pads are ONNX's zeros, made explicit (tiles replace them).
  if ((conv || pool) && !l.attrs.has("pads") && l.outShape.size() == 4)
    l.attrs.set("pads", Attribute::ofInts({0, 0, 0, 0}));
  if (l.attrs.has("pads")) {
    std::vector<int64_t> p = l.attrs.getInts("pads");
    if (p.size() == 4) {
      l.hasPads = true;
      l.pads = {p[0], p[1], p[2], p[3]};
    }
  }
  l.tileable = rank4 && (conv || pool || isSameRowsOp(n->opType)) &&
               (conv || pool || n->opType != "QSoftmax" || l.attrs.getInt("axis", -1) == 1);
  if ((conv || pool) && !l.hasPads) l.tileable = false;

  for (size_t i = 0; i < n->inputs.size(); ++i) {
    const Value* v = n->inputs[i];
    LayerInput in;
    if (!v) {
      l.inputs.push_back(in);
      continue;
    }
    if (v->isConstant()) {
      in.kind = LayerInput::kConstant;
      Constant c;
      c.layer = li;
      c.data = v->constant;
      c.kind = i == 1                                         ? hbm::WeightRegion::WEIGHT
               : i == 2 && l.opcode == hbm::Instruction::CONV ? hbm::WeightRegion::BIAS
               : n->opType == "QLookup"                       ? hbm::WeightRegion::TABLE
                                                              : hbm::WeightRegion::WEIGHT;
      in.constant = static_cast<int>(constants_.size());
      constants_.push_back(std::move(c));
      l.inputs.push_back(in);
      continue;
    }
    in.kind = LayerInput::kActivation;
    auto it = storageIndex_.find(resolveView(lowered_, v->name));
    if (it == storageIndex_.end())
      return HQ_ERROR(kUnsupported, "{}: input '{}' is neither a model input nor a layer output",
                      n->describe(), v->name);
    in.storage = it->second;
    in.shape = frameShape(v->shape);
    Storage& s = storages_[static_cast<size_t>(in.storage)];
    if (n->opType == "QGemm" && i == 0) {
      in.flat = true;
    } else if (!sameNative(s, in.shape, march_.channelGroup)) {
      return HQ_ERROR(kUnsupported,
                      "{}: input '{}' ({}) is a view of '{}' that changes the native layout; only "
                      "QGemm reads a flattened tensor",
                      n->describe(), v->name, shapeString(v->shape), s.name);
    }
    if ((conv || pool) && i == 0) {
      std::vector<int64_t> ks = l.attrs.getInts("kernel_shape");
      std::vector<int64_t> st = l.attrs.getInts("strides", {1, 1});
      std::vector<int64_t> dl = l.attrs.getInts("dilations", {1, 1});
      in.window = true;
      in.k = ks.empty() ? 1 : ks[0];
      in.s = st.empty() ? 1 : st[0];
      in.d = dl.empty() ? 1 : dl[0];
      in.padTop = l.pads[0];
    } else if (l.tileable && (in.shape.size() != 4 || in.shape[2] != l.outShape[2] ||
                              in.shape[3] != l.outShape[3])) {
      l.tileable = false;  // broadcasting over rows: one tile
    }
    s.consumers.push_back(li);
    l.inputs.push_back(in);
  }

  // QGemm reads its input in the native (NHWC, padded) order: permute the weight to match.
  if (n->opType == "QGemm") {
    if (l.inputs.size() < 2)
      return HQ_ERROR(kUnsupported, "{}: expected an activation and a weight, found {} inputs",
                      n->describe(), l.inputs.size());
    const LayerInput& x = l.inputs[0];
    LayerInput& wi = l.inputs[1];
    if (x.kind != LayerInput::kActivation || wi.kind != LayerInput::kConstant ||
        x.shape.size() != 2)
      return HQ_ERROR(kUnsupported, "{}: expected an activation [N, K] times a constant weight",
                      n->describe());
    const Storage& s = storages_[static_cast<size_t>(x.storage)];
    const Tensor& w = constants_[static_cast<size_t>(wi.constant)].data;
    const bool trans_b = l.attrs.getInt("transB", 0) != 0;
    const int64_t k = x.shape[1];
    if (w.rank() != 2 || k != s.c * s.h * s.w || w.dim(trans_b ? 1 : 0) != k)
      return HQ_ERROR(kUnsupported, "{}: weight {} does not match input '{}' ({} values)",
                      n->describe(), shapeString(w.shape()), s.name, k);
    const int64_t kp = s.h * s.w * s.cs, m = w.dim(trans_b ? 0 : 1);
    const int64_t e = static_cast<int64_t>(dtypeSize(w.dtype()));
    Tensor wp(w.dtype(), trans_b ? Shape{m, kp} : Shape{kp, m});
    const auto* src = static_cast<const uint8_t*>(w.raw());
    auto* dst = static_cast<uint8_t*>(wp.raw());
    const int64_t hw = s.h * s.w;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int64_t c = kk / hw, pix = kk % hw;
      const int64_t kq = pix * s.cs + c;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t from = trans_b ? j * k + kk : kk * m + j;
        const int64_t to = trans_b ? j * kp + kq : kq * m + j;
        std::copy(src + from * e, src + (from + 1) * e, dst + to * e);
      }
    }
    constants_[static_cast<size_t>(wi.constant)].data = std::move(wp);
  }

  const LayerTensor& lt = layer.outputs.at(0);
  if (lt.storage != y->name) {
    // A slice of an in-place channel concat.
    const Value* whole = g_.findValue(lt.storage);
    if (!whole || !whole->hasShape || whole->dtype != y->dtype || y->shape.size() != 4)
      return HQ_ERROR(kInternal, "{}: concat storage '{}' of '{}' is unusable", n->describe(),
                      lt.storage, y->name);
    l.output = storageFor(lt.storage, whole->shape, whole->dtype);
    const Storage& s = storages_[static_cast<size_t>(l.output)];
    l.outChannelOffset = lt.channelOffset;
    l.outWrittenChannels = lt.channelOffset + y->shape[1] == s.c ? 0 : y->shape[1];
  } else {
    l.output = storageFor(y->name, y->shape, y->dtype);
    if (storages_[static_cast<size_t>(l.output)].producer >= 0)
      return HQ_ERROR(kInternal, "{}: output '{}' has two producers", n->describe(), y->name);
  }
  Storage& os = storages_[static_cast<size_t>(l.output)];
  if (os.producer < 0) os.producer = li;
  os.writers.push_back(li);
  layers_.push_back(std::move(l));
  return Status::ok();
}

Status Plan::layout(std::string* note) {
  HQ_RETURN_IF_ERROR(addBoundary());
  for (const Layer& layer : lowered_.layers) HQ_RETURN_IF_ERROR(addLayer(layer));
  // Model outputs: the DequantizeLinear of each graph output reads a layer's output.
  for (const std::string& name : lowered_.boundary) {
    const Node* n = g_.findNode(name);
    if (!n || n->opType != "DequantizeLinear") continue;
    const Value* v = n->input(0);
    const Value* scale = n->input(1);
    auto it = v ? storageIndex_.find(resolveView(lowered_, v->name)) : storageIndex_.end();
    if (it == storageIndex_.end() || !scale || !scale->isConstant())
      return HQ_ERROR(kUnsupported, "{}: expected the dequantization of a layer output",
                      n->describe());
    Storage& s = storages_[static_cast<size_t>(it->second)];
    if (s.producer < 0 || s.nv12 || !sameNative(s, v->shape, march_.channelGroup))
      return HQ_ERROR(kUnsupported,
                      "{}: output '{}' must be a layer's output in its own layout (found a "
                      "model input or a layout-changing view of '{}')",
                      n->describe(), v->name, s.name);
    s.modelOutput = true;
    hbm::TensorDesc d;
    d.set_name(n->outputs[0]->name);
    for (int64_t x : frameShape(v->shape)) d.add_shape(x);
    for (double x : scale->constant.toDouble()) {
      d.add_scales(static_cast<float>(x));
      d.add_zero_points(0);
    }
    d.set_quant_axis(static_cast<int32_t>(n->attrs.getInt("axis", 1)));
    setDescLayout(&d, s, march_.channelGroup);
    outputStorages_.push_back(it->second);
    outputDescs_.push_back(d);
  }
  if (inputDescs_.empty() || outputDescs_.empty())
    return HQ_ERROR(kUnsupported,
                    "expected an integer model with a QuantizeLinear input and a "
                    "DequantizeLinear output (found {} inputs, {} outputs)",
                    inputDescs_.size(), outputDescs_.size());
  int64_t padded = 0, real = 0;
  for (const Storage& s : storages_) {
    if (s.nv12) continue;
    padded += s.frameBytes();
    real += s.h * s.w * s.c * s.elem;
  }
  *note = fmt::format("{} tensors, {} bytes per frame ({} of them channel padding)",
                      storages_.size(), padded, padded - real);
  return Status::ok();
}

bool Plan::residentCandidate(int si, const std::vector<int>& group_layers) const {
  const Storage& s = storages_[static_cast<size_t>(si)];
  if (s.modelInput || s.modelOutput || s.nv12 || s.producer < 0 || s.consumers.empty())
    return false;
  auto in = [&](int l) {
    return std::find(group_layers.begin(), group_layers.end(), l) != group_layers.end();
  };
  for (int w : s.writers) {
    if (!in(w)) return false;
  }
  for (int c : s.consumers) {
    if (!in(c)) return false;
  }
  return true;
}

int64_t Plan::groupFixedBytes(const Group& g) const {
  int64_t bytes = 0;
  for (int li : g.layers) {
    for (const LayerInput& in : layers_[static_cast<size_t>(li)].inputs) {
      if (in.kind == LayerInput::kConstant)
        bytes += alignUp(
            static_cast<int64_t>(constants_[static_cast<size_t>(in.constant)].data.nbytes()),
            kSramAlign);
    }
  }
  for (size_t si = 0; si < storages_.size(); ++si) {
    if (residentCandidate(static_cast<int>(si), g.layers))
      bytes += alignUp(storages_[si].frameBytes(), kSramAlign);
  }
  return bytes;
}

void Plan::singleLayerGroups() {
  groups_.clear();
  for (size_t i = 0; i < layers_.size(); ++i) {
    Group g;
    g.layers = {static_cast<int>(i)};
    layers_[i].group = static_cast<int>(i);
    groups_.push_back(g);
  }
}

Status Plan::fuse(std::string* note) {
  groups_.clear();
  Group cur;
  auto slotNeed = [&](const Group& g) {
    // Smallest tiles of each layer, with residency as in `g`.
    int64_t need = 0;
    for (int li : g.layers) {
      for (size_t si = 0; si < storages_.size(); ++si)
        storages_[si].resident = residentCandidate(static_cast<int>(si), g.layers);
      const LayerPlan& l = layers_[static_cast<size_t>(li)];
      std::vector<int64_t> b = streamBytes(l, l.tileable ? l.evenRows : 0);
      int64_t sum = 0;
      for (int64_t x : b) sum += slots() * alignUp(x, kSramAlign);
      need = std::max(need, sum);
    }
    return need;
  };
  for (size_t i = 0; i < layers_.size(); ++i) {
    Group trial = cur;
    trial.layers.push_back(static_cast<int>(i));
    if (cur.layers.empty() || groupFixedBytes(trial) + slotNeed(trial) <= march_.sramBytes) {
      cur = trial;
    } else {
      groups_.push_back(cur);
      cur = Group{};
      cur.layers = {static_cast<int>(i)};
    }
  }
  if (!cur.layers.empty()) groups_.push_back(cur);
  int fused = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (int li : groups_[g].layers) layers_[static_cast<size_t>(li)].group = static_cast<int>(g);
    if (groups_[g].layers.size() > 1) ++fused;
  }
  for (Storage& s : storages_) s.resident = false;
  int resident = 0;
  for (size_t si = 0; si < storages_.size(); ++si) {
    const Storage& s = storages_[si];
    if (s.producer < 0) continue;
    const Group& g = groups_[static_cast<size_t>(layers_[static_cast<size_t>(s.producer)].group)];
    storages_[si].resident = residentCandidate(static_cast<int>(si), g.layers);
    resident += storages_[si].resident ? 1 : 0;
  }
  *note = fmt::format("{} groups ({} with several layers), {} tensors kept in SRAM", groups_.size(),
                      fused, resident);
  return Status::ok();
}

void Plan::inputRows(const LayerPlan& l, const LayerInput& in, int64_t y0, int64_t y1, int64_t* lo,
                     int64_t* hi, int64_t* pad_top, int64_t* pad_bottom) const {
  const Storage& s = storages_[static_cast<size_t>(in.storage)];
  *pad_top = *pad_bottom = 0;
  if (in.plane == 1) {  // NV12 chroma: half the rows
    *lo = y0 / 2, *hi = y1 / 2;
    return;
  }
  if (in.flat || !l.tileable) {
    *lo = 0, *hi = s.h;
    if (in.window) *pad_top = l.pads[0], *pad_bottom = l.pads[2];
    return;
  }
  if (!in.window) {
    *lo = y0, *hi = y1;
    return;
  }
  const int64_t a = y0 * in.s - in.padTop;
  const int64_t b = (y1 - 1) * in.s - in.padTop + (in.k - 1) * in.d + 1;
  *lo = std::max<int64_t>(a, 0);
  *hi = std::max<int64_t>(*lo, std::min<int64_t>(b, s.h));  // empty, never negative
  *pad_top = *lo - a;
  *pad_bottom = b - *hi;
}

std::vector<int64_t> Plan::streamBytes(const LayerPlan& l, int64_t rows) const {
  std::vector<int64_t> out;
  const int64_t out_h = l.outShape.size() == 4 ? l.outShape[2] : 1;
  if (!l.tileable || rows <= 0) rows = out_h;
  for (const LayerInput& in : l.inputs) {
    if (in.kind != LayerInput::kActivation) continue;
    const Storage& s = storages_[static_cast<size_t>(in.storage)];
    if (s.resident) {
      out.push_back(0);
      continue;
    }
    if (in.plane >= 0) {
      out.push_back(in.plane == 0 ? rows * s.w : rows / 2 * s.w);
      continue;
    }
    if (in.flat || !l.tileable) {
      out.push_back(s.frameBytes());
      continue;
    }
    // Worst tile: a full window band.
    int64_t band = in.window ? (rows - 1) * in.s + (in.k - 1) * in.d + 1 : rows;
    out.push_back(std::min(band, s.h) * s.rowBytes());
  }
  const Storage& o = storages_[static_cast<size_t>(l.output)];
  out.push_back(o.resident ? 0 : (l.tileable ? rows * o.rowBytes() : o.frameBytes()));
  return out;
}

int64_t Plan::ddrBytesFor(const LayerPlan& l, int64_t rows) const {
  const int64_t out_h = l.outShape.size() == 4 ? l.outShape[2] : 1;
  if (!l.tileable) rows = out_h;
  int64_t bytes = 0, weights = 0;
  for (const LayerInput& in : l.inputs) {
    if (in.kind == LayerInput::kConstant)
      weights += static_cast<int64_t>(constants_[static_cast<size_t>(in.constant)].data.nbytes());
  }
  for (int64_t y0 = 0; y0 < out_h; y0 += rows) {
    const int64_t y1 = std::min(out_h, y0 + rows);
    for (const LayerInput& in : l.inputs) {
      if (in.kind != LayerInput::kActivation) continue;
      const Storage& s = storages_[static_cast<size_t>(in.storage)];
      if (s.resident) continue;
      int64_t lo, hi, pt, pb;
      inputRows(l, in, y0, y1, &lo, &hi, &pt, &pb);
      bytes +=
          in.plane >= 0 ? (hi - lo) * s.w : (in.flat ? s.frameBytes() : (hi - lo) * s.rowBytes());
    }
    const Storage& o = storages_[static_cast<size_t>(l.output)];
    if (!o.resident) bytes += l.tileable ? (y1 - y0) * o.rowBytes() : o.frameBytes();
    if (opt_.optLevel == 0) bytes += weights;
  }
  return bytes;
}

bool Plan::bandsNonEmpty(const LayerPlan& l, int64_t rows) const {
  const int64_t out_h = l.outShape.size() == 4 ? l.outShape[2] : 1;
  for (int64_t y0 = 0; y0 < out_h; y0 += rows) {
    for (const LayerInput& in : l.inputs) {
      if (in.kind != LayerInput::kActivation || !in.window) continue;
      int64_t lo, hi, pt, pb;
      inputRows(l, in, y0, std::min(out_h, y0 + rows), &lo, &hi, &pt, &pb);
      if (hi <= lo) return false;
    }
  }
  return true;
}

Status Plan::tile(std::string* note) {
  int64_t tiles = 0;
  for (Group& g : groups_) {
    const int64_t budget = march_.sramBytes - groupFixedBytes(g);
    for (int li : g.layers) {
      LayerPlan& l = layers_[static_cast<size_t>(li)];
      const int64_t out_h = l.outShape.size() == 4 ? l.outShape[2] : 1;
      auto need = [&](int64_t rows) {
        int64_t sum = 0;
        for (int64_t b : streamBytes(l, rows)) sum += slots() * alignUp(b, kSramAlign);
        return sum;
      };
      int64_t rows = out_h;
      if (l.tileable) {
        // Tile heights whose every tile reads at least one real input row (a tile all in the
        // padding, e.g. a 1x1 conv with pads, would have nothing to load).
        std::vector<int64_t> candidates;
        for (int64_t r = l.evenRows; r < out_h; r += l.evenRows) {
          if (bandsNonEmpty(l, r)) candidates.push_back(r);
        }
        candidates.push_back(out_h);
        bool all_resident = true;
        for (int64_t b : streamBytes(l, 1)) all_resident = all_resident && b == 0;
        if (all_resident) {
          rows = out_h;
        } else if (opt_.optLevel <= 1) {
          // Naive: the tallest tile whose largest slot stays under a fixed size.
          rows = candidates.front();
          for (int64_t r : candidates) {
            std::vector<int64_t> b = streamBytes(l, r);
            if (*std::max_element(b.begin(), b.end()) <= kNaiveSlotBytes) rows = r;
          }
          while (need(rows) > budget && rows > l.evenRows) rows -= l.evenRows;
        } else {
          // Search: fewest DDR bytes, then fewest tiles, among the tile heights that fit.
          int64_t best = -1, best_bytes = 0;
          for (int64_t r : candidates) {
            if (need(r) > budget) continue;
            const int64_t bytes = ddrBytesFor(l, r);
            if (best < 0 || bytes < best_bytes || (bytes == best_bytes && r > best)) {
              best = r;
              best_bytes = bytes;
            }
          }
          rows = best < 0 ? candidates.front() : best;
        }
      }
      if (need(rows) > budget)
        return HQ_ERROR(kUnsupported,
                        "layer '{}' ({}): its smallest tile needs {} bytes of SRAM next to {} "
                        "bytes of weights and resident tensors; march '{}' has {} (splitting "
                        "channels is not implemented)",
                        l.name, l.opType, need(rows), march_.sramBytes - budget, march_.name,
                        march_.sramBytes);
      l.tiles.clear();
      for (int64_t y0 = 0; y0 < out_h; y0 += rows)
        l.tiles.push_back({y0, std::min(out_h, y0 + rows)});
      tiles += static_cast<int64_t>(l.tiles.size());
    }
  }
  *note = fmt::format("{} tiles per frame", tiles);
  return Status::ok();
}

Status Plan::planDdr(std::string* note) {
  const int64_t align = std::max<int64_t>(1, march_.ddrBurstBytes);
  uint32_t next_id = 1;
  int64_t offset = 0;
  auto place = [&](int si, hbm::Buffer::Purpose purpose, const std::string& label) {
    Storage& s = storages_[static_cast<size_t>(si)];
    s.frameStride = alignUp(s.frameBytes(), align);
    s.bufferId = next_id++;
    hbm::Buffer b;
    b.set_id(s.bufferId);
    b.set_name(label + s.name);
    b.set_offset(static_cast<uint64_t>(offset));
    b.set_size(static_cast<uint64_t>(s.frameStride * opt_.batch));
    b.set_purpose(purpose);
    offset += alignUp(s.frameStride * opt_.batch, align);
    buffers_.push_back(b);
  };
  for (size_t i = 0; i < inputStorages_.size(); ++i) {
    place(inputStorages_[i], hbm::Buffer::INPUT, "input:");
    inputDescs_[i].set_buffer_id(storages_[static_cast<size_t>(inputStorages_[i])].bufferId);
    inputDescs_[i].set_frame_stride_bytes(
        static_cast<uint64_t>(storages_[static_cast<size_t>(inputStorages_[i])].frameStride));
  }
  for (size_t i = 0; i < outputStorages_.size(); ++i) {
    Storage& s = storages_[static_cast<size_t>(outputStorages_[i])];
    if (s.bufferId == 0) place(outputStorages_[i], hbm::Buffer::OUTPUT, "output:");
    outputDescs_[i].set_buffer_id(s.bufferId);
    outputDescs_[i].set_frame_stride_bytes(static_cast<uint64_t>(s.frameStride));
  }
  // Activations: one arena, bytes shared by buffers whose group ranges are disjoint.
  MemoryPlanner planner(align);
  std::vector<int> planned;
  for (size_t si = 0; si < storages_.size(); ++si) {
    Storage& s = storages_[si];
    if (s.resident || s.modelInput || s.modelOutput) continue;
    s.frameStride = alignUp(s.frameBytes(), align);
    const int64_t first = layers_[static_cast<size_t>(s.producer)].group;
    int64_t last = first;
    for (int c : s.consumers) last = std::max<int64_t>(last, layers_[static_cast<size_t>(c)].group);
    planner.addBuffer(static_cast<int64_t>(si), s.frameStride * opt_.batch, first, last);
    planned.push_back(static_cast<int>(si));
  }
  int64_t arena = 0, bound = 0;
  if (!planned.empty()) {
    HQ_ASSIGN_OR_RETURN(MemoryPlan mp, planner.plan());
    for (size_t k = 0; k < planned.size(); ++k) {
      Storage& s = storages_[static_cast<size_t>(planned[k])];
      s.bufferId = next_id++;
      hbm::Buffer b;
      b.set_id(s.bufferId);
      b.set_name("act:" + s.name);
      b.set_offset(static_cast<uint64_t>(offset + mp.offsets[k]));
      b.set_size(static_cast<uint64_t>(s.frameStride * opt_.batch));
      b.set_purpose(hbm::Buffer::ACTIVATION);
      buffers_.push_back(b);
    }
    arena = mp.totalBytes;
    bound = mp.lowerBoundBytes;
  }
  ddrBytes_ = offset + arena;
  *note = fmt::format("{} buffers, DDR {} bytes (activation arena {}, lower bound {})",
                      buffers_.size(), ddrBytes_, arena, bound);
  return Status::ok();
}

Status Plan::planSram(std::string* note) {
  int64_t blob = 0;
  for (Group& g : groups_) {
    int64_t at = 0;
    for (int li : g.layers) {
      for (const LayerInput& in : layers_[static_cast<size_t>(li)].inputs) {
        if (in.kind != LayerInput::kConstant) continue;
        Constant& c = constants_[static_cast<size_t>(in.constant)];
        const int64_t n = static_cast<int64_t>(c.data.nbytes());
        c.blobOffset = blob;
        blob += alignUp(n, kSramAlign);
        c.sramOffset = at;
        at += alignUp(n, kSramAlign);
      }
    }
    g.weightBytes = at;
    for (size_t si = 0; si < storages_.size(); ++si) {
      Storage& s = storages_[si];
      if (!s.resident || layers_[static_cast<size_t>(s.producer)].group !=
                             layers_[static_cast<size_t>(g.layers[0])].group)
        continue;
      s.sramOffset = at;
      at += alignUp(s.frameBytes(), kSramAlign);
    }
    g.residentBytes = at - g.weightBytes;
    g.slotBase = at;
    int64_t slot_area = 0;
    for (int li : g.layers) {
      LayerPlan& l = layers_[static_cast<size_t>(li)];
      const int64_t rows = l.tiles.empty() ? 0 : l.tiles[0].y1 - l.tiles[0].y0;
      l.slotBytes = streamBytes(l, rows);
      l.slotOffsets.clear();
      int64_t off = g.slotBase;
      for (int64_t b : l.slotBytes) {
        std::array<int64_t, 2> o{off, off};
        off += alignUp(b, kSramAlign);
        if (slots() == 2) {
          o[1] = off;
          off += alignUp(b, kSramAlign);
        }
        l.slotOffsets.push_back(o);
      }
      slot_area = std::max(slot_area, off - g.slotBase);
    }
    g.sramBytes = g.slotBase + slot_area;
    if (g.sramBytes > march_.sramBytes)
      return HQ_ERROR(kInternal, "group of layer '{}' needs {} bytes of SRAM, march has {}",
                      layers_[static_cast<size_t>(g.layers[0])].name, g.sramBytes,
                      march_.sramBytes);
    sramPeak_ = std::max(sramPeak_, g.sramBytes);
  }
  *note = fmt::format("peak SRAM {} of {} bytes, weight blob {} bytes", sramPeak_, march_.sramBytes,
                      blob);
  return Status::ok();
}

}  // namespace hq::compile_internal
