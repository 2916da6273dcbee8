#include "quant/rules.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_map>

#include "runtime/passes/passes.h"
#include "support/log.h"

namespace hq {

const char* quantRuleName(QuantRule r) {
  switch (r) {
    case QuantRule::kCompute: return "compute";
    case QuantRule::kSameScale: return "same_scale";
    case QuantRule::kRequant: return "requant";
    case QuantRule::kShape: return "shape";
    case QuantRule::kFloatOnly: return "float_only";
  }
  return "?";
}

namespace {

bool isFloat(const Value* v) { return v && v->dtype == DType::kFloat32; }
bool isConst(const Value* v) { return v && v->isConstant(); }

bool anyFloatOutput(const Node& n) {
  return std::any_of(n.outputs.begin(), n.outputs.end(), [](const Value* v) { return isFloat(v); });
}

const std::set<std::string> kSameScale = {"MaxPool",  "GlobalMaxPool", "Relu",    "Reshape",
                                          "Flatten",  "Transpose",     "Squeeze", "Unsqueeze",
                                          "Slice",    "Split",         "Identity", "Dropout"};
const std::set<std::string> kRequant = {"AveragePool", "GlobalAveragePool", "Add",   "Sub",
                                        "Mul",         "Concat",            "Sigmoid", "Tanh",
                                        "HardSigmoid", "HardSwish",         "LeakyRelu", "PRelu",
                                        "Softmax"};

}  // namespace

QuantRule quantRuleOf(const Graph& g, const Node& n) {
  const std::string& op = n.opType;
  if (!n.domain.empty()) return QuantRule::kFloatOnly;
  if (!anyFloatOutput(n)) return QuantRule::kShape;
  if (op == "Shape" || op == "Gather" || op == "Cast" || op == "Constant") return QuantRule::kShape;
  if (op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul") {
    return isConst(n.input(1)) ? QuantRule::kCompute : QuantRule::kFloatOnly;
  }
  if (op == "Clip") {
    bool const_bounds = (!n.input(1) || isConst(n.input(1))) && (!n.input(2) || isConst(n.input(2)));
    return const_bounds ? QuantRule::kSameScale : QuantRule::kFloatOnly;
  }
  if (op == "Resize" || op == "Upsample") {
    std::string mode = n.attrs.getString("mode", "nearest");
    if (mode == "nearest") return QuantRule::kSameScale;
    return mode == "linear" ? QuantRule::kRequant : QuantRule::kFloatOnly;  // no integer cubic
  }
  if (op == "Div") return isConst(n.input(1)) ? QuantRule::kRequant : QuantRule::kFloatOnly;
  if (kSameScale.count(op)) return QuantRule::kSameScale;
  if (kRequant.count(op)) return QuantRule::kRequant;
  return QuantRule::kFloatOnly;
}

const QuantPoint* QuantPlan::pointFor(const Value* v) const {
  for (const auto& p : points) {
    if (p.value == v && p.kind != QuantPoint::Kind::kWeight) return &p;
  }
  for (const auto& [value, source] : sharedScale) {
    if (value == v) return pointFor(source);
  }
  return nullptr;
}

Status prepareForQuantization(Graph& graph) {
  passes::PassContext ctx;
  for (Value* o : graph.outputs()) ctx.protect.insert(o);
  HQ_ASSIGN_OR_RETURN(int folded, passes::foldBatchNormIntoConv(graph, ctx));
  (void)folded;
  graph.removeDeadNodes();
  return Status::ok();
}

namespace {

/// The only consumer of v (and v is not a graph output), else nullptr.
Node* soleConsumer(const Graph& g, const Value* v) {
  if (g.isGraphOutput(v)) return nullptr;
  auto users = g.consumers(v);
  if (users.size() != 1) return nullptr;
  int uses = 0;
  for (const Value* in : users[0]->inputs) uses += in == v;
  return uses == 1 ? users[0] : nullptr;
}

bool isActivationClamp(const Graph& g, const Node* n) {
  if (n->opType == "Relu") return true;
  return n->opType == "Clip" && quantRuleOf(g, *n) == QuantRule::kSameScale;
}

/// Weight channel axis of a compute op: Conv [O, I/g, k...] -> 0; ConvTranspose
/// [I, O/g, k...] -> 1; Gemm B [K, N] -> 1 or [N, K] (transB) -> 0; MatMul B [K, N] -> 1.
int64_t weightChannelAxis(const Node& n) {
  if (n.opType == "Conv") return 0;
  if (n.opType == "ConvTranspose") return 1;
  if (n.opType == "Gemm") return n.attrs.getInt("transB", 0) ? 0 : 1;
  return 1;  // MatMul
}

/// Does every path from v reach graph outputs through same_scale ops only?
bool onlyFeedsOutputs(const Graph& g, const Value* v) {
  for (const Node* user : g.consumers(v)) {
    if (quantRuleOf(g, *user) != QuantRule::kSameScale) return false;
    for (const Value* o : user->outputs) {
      if (o && !onlyFeedsOutputs(g, o)) return false;
    }
  }
  return true;
}

/// A Concat seen while planning: its output point and the points its activation inputs'
/// scales come from.
struct ConcatGroup {
  const Node* node = nullptr;
  size_t output = 0;
  std::vector<size_t> inputs;
};

/// Union the points of each Concat (share_concat_scale) into plan.scaleGroup. A group's
/// representative is a member with a fixed scale if any, else the latest Concat output
/// joined. Concats whose members cannot share (dtype, symmetry, two different fixed scales)
/// are left alone and logged.
void shareConcatScales(QuantPlan& plan, const std::vector<ConcatGroup>& concats) {
  std::vector<size_t> parent(plan.points.size());
  std::iota(parent.begin(), parent.end(), size_t{0});
  auto find = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const ConcatGroup& c : concats) {
    const QuantSpec& out = plan.points[c.output].spec;
    std::set<size_t> roots = {find(c.output)};
    std::string why;
    for (size_t i : c.inputs) {
      const QuantSpec& s = plan.points[i].spec;
      if (s.dtype != out.dtype || s.symmetric != out.symmetric) {
        why = "input '" + plan.points[i].value->name + "' is " + s.describe() + ", output " +
              out.describe();
      }
      roots.insert(find(i));
    }
    std::set<double> fixed;
    for (size_t i = 0; i < plan.points.size(); ++i) {
      if (roots.count(find(i)) && plan.points[i].spec.fixedScale) {
        fixed.insert(*plan.points[i].spec.fixedScale);
      }
    }
    if (why.empty() && fixed.size() > 1) why = "it would join two different fixed scales";
    if (!why.empty()) {
      logVerbose("node {}: Concat inputs keep their own scales ({})", c.node->describe(), why);
      continue;
    }
    size_t root = find(c.output);
    for (size_t r : roots) parent[r] = root;
    ++plan.sharedConcats;
  }
  plan.scaleGroup.resize(plan.points.size());
  std::vector<size_t> rep(plan.points.size(), SIZE_MAX);
  for (size_t i = 0; i < plan.points.size(); ++i) {  // a fixed member leads its group
    size_t r = find(i);
    if (plan.points[i].spec.fixedScale && rep[r] == SIZE_MAX) rep[r] = i;
  }
  for (size_t i = 0; i < plan.points.size(); ++i) {
    size_t r = find(i);
    plan.scaleGroup[i] = rep[r] == SIZE_MAX ? r : rep[r];
  }
}

}  // namespace

Expected<QuantPlan> planQuantization(Graph& graph, const QConfig& qconfig) {
  QuantPlan plan;
  std::unordered_map<const Value*, const Value*> scale_source;  // value -> point value
  auto add_point = [&](QuantPoint::Kind kind, Value* v, Node* owner, QuantSpec spec) {
    QuantPoint p;
    p.kind = kind;
    p.value = v;
    p.owner = owner;
    p.spec = std::move(spec);
    if (kind == QuantPoint::Kind::kWeight && owner) p.channelAxis = weightChannelAxis(*owner);
    plan.points.push_back(std::move(p));
    if (kind != QuantPoint::Kind::kWeight) scale_source[v] = v;
  };

  for (Value* in : graph.inputs()) {
    if (isFloat(in)) add_point(QuantPoint::Kind::kInput, in, nullptr, qconfig.inputSpec(in->name));
  }

  std::set<const Node*> absorbed;
  std::vector<ConcatGroup> concats;
  auto point_index = [&](const Value* v) -> std::optional<size_t> {
    for (size_t i = 0; i < plan.points.size(); ++i) {
      if (plan.points[i].value == v && plan.points[i].kind != QuantPoint::Kind::kWeight) return i;
    }
    return std::nullopt;
  };
  for (Node* n : graph.nodes()) {
    if (absorbed.count(n)) continue;
    QuantRule rule = quantRuleOf(graph, *n);
    switch (rule) {
      case QuantRule::kShape:
        break;
      case QuantRule::kFloatOnly:
        return HQ_ERROR(kUnsupported,
                        "node {}: cannot be quantized ({} has no integer form in hq{})",
                        n->describe(), n->opType,
                        n->opType == "BatchNormalization" ? "; only BatchNormalization right "
                                                            "after a Conv is folded"
                                                          : "");
      case QuantRule::kSameScale: {
        const Value* src = nullptr;
        for (const Value* in : n->inputs) {
          if (in && isFloat(in) && !in->isConstant()) {
            auto it = scale_source.find(in);
            if (it != scale_source.end()) src = it->second;
            break;
          }
        }
        if (!src) {
          return HQ_ERROR(kInternal, "node {}: its input has no quantization point",
                          n->describe());
        }
        for (Value* o : n->outputs) {
          if (!o || !isFloat(o)) continue;
          scale_source[o] = src;
          plan.sharedScale.push_back({o, const_cast<Value*>(src)});
        }
        break;
      }
      case QuantRule::kCompute: {
        QuantUnit unit;
        unit.anchor = n;
        unit.nodes.push_back(n);
        Value* out = n->outputs[0];
        if (Node* next = soleConsumer(graph, out); next && next->opType == "Add" &&
                                                   next->domain.empty()) {
          Value* other = next->input(0) == out ? next->input(1) : next->input(0);
          if (isFloat(other) && !other->isConstant() && scale_source.count(other) &&
              other->hasShape && out->hasShape && other->shape == out->shape) {
            unit.residualAdd = next;
            unit.nodes.push_back(next);
            out = next->outputs[0];
          }
        }
        if (Node* next = soleConsumer(graph, out); next && isActivationClamp(graph, next)) {
          unit.activation = next;
          unit.nodes.push_back(next);
          out = next->outputs[0];
        }
        unit.output = out;
        for (Node* part : unit.nodes) absorbed.insert(part);
        QuantSpec w = qconfig.weightSpec(n->name, n->opType);
        add_point(QuantPoint::Kind::kWeight, n->inputs[1], n, w);
        QuantSpec o = qconfig.outputSpec(n->name, n->opType);
        if (o.dtype == QDType::kInt32 && !onlyFeedsOutputs(graph, out)) {
          return HQ_ERROR(kInvalidArgument,
                          "node {}: qint32 output is only allowed for a final Conv/Gemm whose "
                          "output is a model output (it feeds other compute)",
                          n->describe());
        }
        add_point(QuantPoint::Kind::kOutput, out, n, o);
        plan.units.push_back(std::move(unit));
        break;
      }
      case QuantRule::kRequant: {
        // Constant operands are quantized; Resize's roi and scales are parameters.
        const bool resize = n->opType == "Resize" || n->opType == "Upsample";
        for (Value* in : n->inputs) {
          if (in && isFloat(in) && in->isConstant() && !resize) {
            QuantSpec w = qconfig.weightSpec(n->name, n->opType);
            w.perChannel = false;
            add_point(QuantPoint::Kind::kWeight, in, n, w);
          }
        }
        QuantSpec o = qconfig.outputSpec(n->name, n->opType);
        if (o.dtype == QDType::kInt32) {
          return HQ_ERROR(kInvalidArgument, "node {}: qint32 output is only allowed for Conv/Gemm",
                          n->describe());
        }
        add_point(QuantPoint::Kind::kOutput, n->outputs[0], n, o);
        if (n->opType == "Concat" && qconfig.shareConcatScale()) {
          ConcatGroup c;
          c.node = n;
          c.output = plan.points.size() - 1;
          for (const Value* in : n->inputs) {
            if (!in || !isFloat(in) || in->isConstant()) continue;
            auto src = scale_source.find(in);
            if (src == scale_source.end()) continue;
            if (auto idx = point_index(src->second)) c.inputs.push_back(*idx);
          }
          concats.push_back(std::move(c));
        }
        break;
      }
    }
  }
  shareConcatScales(plan, concats);
  return plan;
}

}  // namespace hq
