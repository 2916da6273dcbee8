// hq-convert's driver: read the QDQ model, plan with the rule table, check that the QDQ
// model's points are exactly the plan's, then emit the integer graph node by node (the
// per-op emitters are in convert_ops.cpp) with graph inputs quantized and outputs
// dequantized, names and metadata per schemas/int-ops.md section 8.
#include "quant/convert.h"

#include <filesystem>
#include <set>

#include "ir/op_registry.h"
#include "quant/convert_internal.h"
#include "support/sha256.h"
#include "support/version.h"

namespace hq {
namespace convert_detail {

DType intDType(QDType t) {
  switch (t) {
    case QDType::kInt8: return DType::kInt8;
    case QDType::kInt16: return DType::kInt16;
    case QDType::kInt32: return DType::kInt32;
  }
  return DType::kInt8;
}

fxp::IntRange rangeOf(DType t) {
  if (t == DType::kInt16) return fxp::kInt16Range;
  if (t == DType::kInt32) return fxp::kInt32Range;
  return fxp::kInt8Range;
}

Emitter::Emitter(QdqModel& model, const QuantPlan& plan)
    : model_(model), fg_(*model.graph), plan_(plan), ig_(std::make_unique<Graph>()) {
  for (const QuantUnit& u : plan_.units) unitOf_[u.anchor->outputs[0]] = &u;
}

const IntInfo& Emitter::info(const Value* int_value) const { return infoOf_.at(int_value); }

Value* Emitter::newAct(const std::string& name, DType dtype, const Value* like,
                       std::vector<float> scales) {
  Value* v = ig_->addValue(name, dtype, like ? like->shape : Shape{}, like && like->hasShape);
  if (like) v->dimParams = like->dimParams;
  infoOf_[v] = IntInfo{dtype, std::move(scales)};
  return v;
}

Value* Emitter::constant(const Value* v) {
  auto it = constants_.find(v->name);
  if (it != constants_.end()) return it->second;
  Value* c = ig_->addConstant(v->name, v->constant);
  constants_[v->name] = c;
  return c;
}

Expected<Value*> Emitter::act(const Node& n, const Value* v) {
  auto it = intOf_.find(v);
  if (it == intOf_.end()) {
    return HQ_ERROR(kUnsupported, "node {}: its input '{}' is not quantized (no QuantizeLinear "
                    "before it: a float value between quantization points)", n.describe(),
                    v ? v->name : "");
  }
  return it->second;
}

Expected<Value*> Emitter::quantizedConstant(const Node& n, const Value* v, float* scale) {
  auto it = model_.weights.find(v->name);
  if (it == model_.weights.end()) {
    return HQ_ERROR(kUnsupported, "node {}: constant input '{}' is not quantized (expected a "
                    "DequantizeLinear of an int8 initializer)", n.describe(), v->name);
  }
  const WeightParams& w = it->second;
  if (w.scales.size() != 1) {
    return HQ_ERROR(kUnsupported, "node {}: constant input '{}' has {} scales; {} takes one "
                    "per-tensor scale", n.describe(), v->name, w.scales.size(), n.opType);
  }
  *scale = w.scales[0];
  auto c = constants_.find(w.qname);
  if (c != constants_.end()) return c->second;
  Value* q = ig_->addConstant(w.qname, w.q);
  constants_[w.qname] = q;
  infoOf_[q] = IntInfo{DType::kInt8, {w.scales[0]}};
  return q;
}

Expected<const ActParams*> Emitter::pointParams(const Node& n, const Value* v) const {
  auto it = model_.acts.find(v->name);
  if (it == model_.acts.end()) {
    return HQ_ERROR(kUnsupported, "node {}: output '{}' has no QuantizeLinear (missing scale; "
                    "{} is a {} op: its output needs its own scale)", n.describe(), v->name,
                    n.opType, quantRuleName(quantRuleOf(fg_, n)));
  }
  return &it->second;
}

Status Emitter::outputParams(const Node& n, const Value* out, DType* dtype, float* scale) {
  HQ_ASSIGN_OR_RETURN(const ActParams* p, pointParams(n, out));
  if (p->dtype == QDType::kInt32) {
    return HQ_ERROR(kUnsupported, "node {}: qint32 output '{}' is only allowed for Conv/Gemm",
                    n.describe(), out->name);
  }
  *dtype = intDType(p->dtype);
  *scale = p->scale;
  return Status::ok();
}

std::string Emitter::sameScaleName(const Value* v) const {
  return fg_.isGraphOutput(v) ? v->name + "_quantized" : v->name;
}

Node* Emitter::add(const std::string& op, const Node& src, std::vector<Value*> ins, Value* out,
                   Attributes attrs, const std::string& domain) {
  return ig_->addNode(op, ig_->uniqueName(src.name.empty() ? op : src.name), std::move(ins), {out},
                      std::move(attrs), domain);
}

Status Emitter::emitInputs() {
  for (const Value* in : fg_.inputs()) {
    Value* v = ig_->addValue(in->name, in->dtype, in->shape, in->hasShape);
    v->dimParams = in->dimParams;
    ig_->mutableInputs().push_back(v);
    if (in->dtype != DType::kFloat32) {
      intOf_[in] = v;
      continue;
    }
    auto it = model_.acts.find(in->name);
    if (it == model_.acts.end()) {
      return HQ_ERROR(kUnsupported, "graph input '{}' has no QuantizeLinear (missing scale)",
                      in->name);
    }
    const ActParams& p = it->second;
    if (p.dtype != QDType::kInt8) {
      return HQ_ERROR(kUnsupported, "graph input '{}' is {}; only qint8 graph inputs have an "
                      "integer form (QuantizeLinear) in version 1", in->name, qdtypeName(p.dtype));
    }
    Value* s = ig_->addConstant(in->name + "_scale", Tensor::scalar<float>(p.scale));
    Value* z = ig_->addConstant(in->name + "_zero_point", Tensor::scalar<int8_t>(0));
    Value* q = newAct(p.qname, DType::kInt8, in, {p.scale});
    ig_->addNode("QuantizeLinear", ig_->uniqueName(in->name + "_QuantizeLinear"), {v, s, z}, {q});
    intOf_[in] = q;
  }
  return Status::ok();
}

Status Emitter::emitOutputs() {
  for (const Value* out : fg_.outputs()) {
    auto it = intOf_.find(out);
    if (it == intOf_.end()) {
      return HQ_ERROR(kInternal, "graph output '{}' was not converted", out->name);
    }
    Value* q = it->second;
    if (out->dtype != DType::kFloat32) {
      ig_->mutableOutputs().push_back(q);
      continue;
    }
    const IntInfo& in = info(q);
    Value* y = ig_->addValue(out->name, DType::kFloat32, out->shape, out->hasShape);
    y->dimParams = out->dimParams;
    Attributes attrs;
    Value *s = nullptr, *z = nullptr;
    if (in.dtype == DType::kInt8) {
      s = ig_->addConstant(out->name + "_scale", Tensor::scalar<float>(in.scales.at(0)));
      z = ig_->addConstant(out->name + "_zero_point", Tensor::scalar<int8_t>(0));
    } else if (in.dtype == DType::kInt32) {
      int64_t c = static_cast<int64_t>(in.scales.size());
      if (!q->hasShape || q->shape.size() < 2 || q->shape[1] != c) {
        return HQ_ERROR(kUnsupported, "graph output '{}': the int32 output {} must keep its {} "
                        "channels on axis 1 to be dequantized per channel", out->name,
                        shapeString(q->shape), c);
      }
      s = ig_->addConstant(out->name + "_scale", Tensor::fromVector<float>({c}, in.scales));
      z = ig_->addConstant(out->name + "_zero_point",
                           Tensor::fromVector<int32_t>({c}, std::vector<int32_t>(c, 0)));
      attrs.set("axis", Attribute::ofInt(1));
    } else {
      return HQ_ERROR(kUnsupported, "graph output '{}' is {}: DequantizeLinear (opset < 21) "
                      "takes int8 or int32 only", out->name, dtypeName(in.dtype));
    }
    ig_->addNode("DequantizeLinear", ig_->uniqueName(out->name + "_DequantizeLinear"), {q, s, z},
                 {y}, attrs);
    ig_->mutableOutputs().push_back(y);
  }
  return Status::ok();
}

/// Same-scale data movement (Reshape, Flatten, ...) and shape ops: the ONNX op on the
/// integer tensor; constants copied; outputs keep their name (int dtype, input's scale).
Status Emitter::emitCopy(const Node& n, bool same_scale) {
  std::vector<Value*> ins;
  const IntInfo* src = nullptr;
  for (const Value* v : n.inputs) {
    if (!v) {
      ins.push_back(nullptr);
    } else if (v->isConstant()) {
      ins.push_back(constant(v));
    } else {
      HQ_ASSIGN_OR_RETURN(Value * iv, act(n, v));
      if (!src && infoOf_.count(iv)) src = &info(iv);
      ins.push_back(iv);
    }
  }
  std::vector<Value*> outs;
  for (const Value* o : n.outputs) {
    if (!o) {
      outs.push_back(nullptr);
      continue;
    }
    Value* io;
    if (same_scale && o->dtype == DType::kFloat32) {
      if (!src) return HQ_ERROR(kInternal, "node {}: no quantized input", n.describe());
      io = newAct(sameScaleName(o), src->dtype, o, src->scales);
    } else {
      io = ig_->addValue(o->name, o->dtype, o->shape, o->hasShape);
      io->dimParams = o->dimParams;
    }
    intOf_[o] = io;
    outs.push_back(io);
  }
  if (src && src->dtype == DType::kInt32 && n.opType != "Reshape" && n.opType != "Flatten" &&
      n.opType != "Squeeze" && n.opType != "Identity") {
    return HQ_ERROR(kUnsupported, "node {}: {} of an int32 (per-channel) output has no integer "
                    "form in version 1", n.describe(), n.opType);
  }
  ig_->addNode(n.opType, ig_->uniqueName(n.name.empty() ? n.opType : n.name), ins, outs, n.attrs,
               n.domain);
  return Status::ok();
}

Status Emitter::emitNode(Node* n) {
  QuantRule rule = quantRuleOf(fg_, *n);
  const std::string& op = n->opType;
  switch (rule) {
    case QuantRule::kShape:
      return emitCopy(*n, false);
    case QuantRule::kFloatOnly:
      return HQ_ERROR(kUnsupported, "node {}: {} has no integer form in hq", n->describe(), op);
    case QuantRule::kCompute: {
      auto it = unitOf_.find(n->outputs[0]);
      if (it == unitOf_.end()) return HQ_ERROR(kInternal, "node {}: no unit", n->describe());
      return emitUnit(*it->second);
    }
    case QuantRule::kSameScale:
      if (op == "Dropout" || op == "Identity") {
        HQ_ASSIGN_OR_RETURN(Value * x, act(*n, n->input(0)));
        if (n->outputs.size() > 1 && n->outputs[1] &&
            (!fg_.consumers(n->outputs[1]).empty() || fg_.isGraphOutput(n->outputs[1]))) {
          return HQ_ERROR(kUnsupported, "node {}: its mask output is used", n->describe());
        }
        intOf_[n->outputs[0]] = x;
        return Status::ok();
      }
      if (op == "MaxPool" || op == "GlobalMaxPool") return emitMaxPool(*n);
      if (op == "Relu" || op == "Clip") return emitClamp(*n);
      if (op == "Resize" || op == "Upsample") return emitResize(*n, false);
      return emitCopy(*n, true);
    case QuantRule::kRequant:
      if (op == "AveragePool" || op == "GlobalAveragePool") return emitAveragePool(*n);
      if (op == "Add" || op == "Sub") return emitAdd(*n);
      if (op == "Mul") return emitMul(*n);
      if (op == "Div") return emitDiv(*n);
      if (op == "Concat") return emitConcat(*n);
      if (op == "Resize" || op == "Upsample") return emitResize(*n, true);
      if (op == "Softmax") return emitSoftmax(*n);
      return emitLookup(*n);
  }
  return HQ_ERROR(kInternal, "node {}: unknown rule", n->describe());
}

Expected<std::unique_ptr<Graph>> Emitter::run() {
  ig_->name = fg_.name;
  ig_->opsetVersion = std::max<int64_t>(13, fg_.opsetVersion);
  ig_->extraOpsets[kIntDomain] = kIntDomainVersion;
  ig_->producerName = "hq";
  ig_->producerVersion = kHqVersion;
  HQ_RETURN_IF_ERROR(emitInputs());
  std::set<const Node*> absorbed;
  for (const QuantUnit& u : plan_.units) {
    for (size_t i = 1; i < u.nodes.size(); ++i) absorbed.insert(u.nodes[i]);
  }
  for (Node* n : fg_.nodes()) {
    ++sourceNodes_;
    if (absorbed.count(n)) continue;
    HQ_RETURN_IF_ERROR(emitNode(n));
  }
  HQ_RETURN_IF_ERROR(emitOutputs());
  ig_->removeDeadValues();
  scales_ = Json::object();
  for (const Value* v : ig_->values()) {
    auto it = infoOf_.find(v);
    if (v->isConstant() || it == infoOf_.end()) continue;
    if (it->second.dtype == DType::kInt32) {
      scales_[v->name] = it->second.scales;
    } else {
      scales_[v->name] = it->second.scales.at(0);
    }
  }
  return std::move(ig_);
}

namespace {

/// Every activation point of the plan has parameters; every parameter of the QDQ model is
/// a point of the plan (or a same-scale value quantized again with the same scale).
Status checkPoints(const QdqModel& m, const QuantPlan& plan, const Graph& fg) {
  std::set<std::string> planned;
  for (const QuantPoint& p : plan.points) {
    const std::string& name = p.value->name;
    if (p.kind == QuantPoint::Kind::kWeight) {
      if (!m.weights.count(name)) {
        return HQ_ERROR(kUnsupported, "node {}: weight '{}' is not quantized (expected a "
                        "DequantizeLinear of an int8 initializer)", p.owner->describe(), name);
      }
      continue;
    }
    planned.insert(name);
    if (m.acts.count(name)) continue;
    if (!p.owner) {
      return HQ_ERROR(kUnsupported, "graph input '{}' has no QuantizeLinear (missing scale)", name);
    }
    const Node* producer = p.value->producer ? p.value->producer : p.owner;
    return HQ_ERROR(kUnsupported, "node {}: output '{}' has no QuantizeLinear (missing scale; "
                    "the rule table quantizes the output of {} here)", producer->describe(), name,
                    p.owner->describe());
  }
  for (const auto& [name, a] : m.acts) {
    if (planned.count(name)) continue;
    const Value* v = fg.findValue(name);
    const QuantPoint* src = v ? plan.pointFor(v) : nullptr;
    if (src && m.acts.count(src->value->name)) {
      const ActParams& s = m.acts.at(src->value->name);
      if (s.dtype == a.dtype && s.scale == a.scale) continue;  // requantized identically
    }
    std::string where = v && v->producer ? "node " + v->producer->describe() + ": output" : "value";
    return HQ_ERROR(kUnsupported, "{} '{}' is quantized ({}), but the rule table puts no "
                    "quantization point there (inside a fused unit, or a same-scale op's output "
                    "with another scale): the model was not quantized with hq's rule table",
                    where, name, a.node);
  }
  return Status::ok();
}

/// Clearer messages than the rule table's for what the converter cannot take.
Status precheck(const Graph& fg) {
  for (const Node* n : fg.nodes()) {
    if (!n->domain.empty()) continue;
    const std::string& op = n->opType;
    if (op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul") {
      if (op == "Gemm" && n->attrs.getInt("transA", 0) != 0) {
        return HQ_ERROR(kUnsupported, "node {}: Gemm with transA = 1 has no integer form in "
                        "version 1", n->describe());
      }
      const Value* w = n->input(1);
      if (w && !w->isConstant()) {
        return HQ_ERROR(kUnsupported, "node {}: weight '{}' is not a constant (a DequantizeLinear "
                        "of an int8 initializer); compute ops need constant weights",
                        n->describe(), w->name);
      }
    }
  }
  return Status::ok();
}

}  // namespace
}  // namespace convert_detail

Expected<ConvertResult> convertModel(const Graph& qdq, const ConvertOptions& options) {
  using namespace convert_detail;
  HQ_ASSIGN_OR_RETURN(QdqModel m, readQdqModel(qdq));
  QConfig qconfig = QConfig::defaults();
  if (auto it = qdq.metadata.find("hq.qconfig"); it != qdq.metadata.end()) {
    auto doc = parseJson(it->second, "metadata hq.qconfig");
    if (doc.isOk()) {
      if (auto q = QConfig::fromJson(*doc, "metadata hq.qconfig"); q.isOk()) qconfig = *q;
    }
  }
  HQ_RETURN_IF_ERROR(precheck(*m.graph));
  HQ_ASSIGN_OR_RETURN(QuantPlan plan, planQuantization(*m.graph, qconfig));
  HQ_RETURN_IF_ERROR(checkPoints(m, plan, *m.graph));
  Emitter e(m, plan);
  HQ_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g, e.run());

  // Metadata (int-ops.md section 8).
  g->metadata["hq.version"] = kHqVersion;
  g->metadata["hq.stage"] = "int";
  if (auto it = qdq.metadata.find("hq.qconfig"); it != qdq.metadata.end()) {
    g->metadata["hq.qconfig"] = it->second;
  }
  g->metadata["hq.int.scales"] = e.scales().dump();
  OrderedJson lineage;
  lineage["tool"] = options.toolName;
  lineage["version"] = kHqVersion;
  lineage["command"] = options.commandLine;
  lineage["inputs"] = options.inputDigests;
  if (auto it = qdq.metadata.find("hq.lineage"); it != qdq.metadata.end()) {
    auto parent = parseJson(it->second, "metadata hq.lineage");
    if (parent.isOk()) lineage["parent"] = *parent;
  }
  g->metadata["hq.lineage"] = lineage.dump();
  if (options.inferShapes) {
    HQ_RETURN_IF_ERROR(inferShapes(*g));
  }
  HQ_RETURN_IF_ERROR(g->verify());

  ConvertResult r;
  for (const std::string& w : m.warnings) r.warnings.push_back(w);
  for (const std::string& w : e.warnings()) r.warnings.push_back(w);
  r.sourceNodes = e.sourceNodes();
  r.fusedUnits = static_cast<int64_t>(plan.units.size());
  for (const Node* n : g->nodes()) {
    ++r.nodesPerOp[n->domain.empty() ? n->opType : n->domain + "." + n->opType];
  }
  r.model = std::move(g);
  return r;
}

Expected<std::unique_ptr<Graph>> convertToInteger(const Graph& qdq, const ConvertOptions& options) {
  HQ_ASSIGN_OR_RETURN(ConvertResult r, convertModel(qdq, options));
  return std::move(r.model);
}

std::string floatModelFromLineage(const Graph& qdq, const std::string& qdq_dir) {
  auto it = qdq.metadata.find("hq.lineage");
  if (it == qdq.metadata.end()) return "";
  auto doc = parseJson(it->second, "metadata hq.lineage");
  if (!doc.isOk() || !doc->is_object()) return "";
  const Json& j = *doc;
  if (!j.contains("command") || !j["command"].is_string() || !j.contains("inputs") ||
      !j["inputs"].is_object() || !j["inputs"].contains("model") ||
      !j["inputs"]["model"].is_string()) {
    return "";
  }
  std::string digest = j["inputs"]["model"].get<std::string>();
  std::string command = j["command"].get<std::string>();
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < command.size()) {
    size_t end = command.find(' ', pos);
    if (end == std::string::npos) end = command.size();
    if (end > pos) words.push_back(command.substr(pos, end - pos));
    pos = end + 1;
  }
  namespace fs = std::filesystem;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.empty() || w[0] == '-' || w.size() < 5 || w.compare(w.size() - 5, 5, ".onnx") != 0) {
      continue;
    }
    std::vector<fs::path> candidates = {fs::path(w)};
    if (!qdq_dir.empty() && fs::path(w).is_relative()) candidates.push_back(fs::path(qdq_dir) / w);
    for (const fs::path& c : candidates) {
      std::error_code ec;
      if (!fs::is_regular_file(c, ec)) continue;
      auto d = sha256File(c.string());
      if (d.isOk() && *d == digest) return c.string();
    }
  }
  return "";
}

}  // namespace hq
