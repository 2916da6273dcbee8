// hq-check's rules: one table (kRules), each rule a small function over the facts of one node
// and the march's limits for its op. Rule ids are "<family>.<check>" ("conv.kernel").
#include "compiler/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "ir/op_registry.h"

namespace hq {
namespace {

std::string joinInts(const std::vector<int64_t>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + std::to_string(v[i]);
  return out;
}
std::string joinStrs(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}
int64_t maxOf(const std::vector<int64_t>& v) {
  int64_t m = 0;
  for (int64_t x : v) m = std::max(m, x);
  return m;
}
bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// One frame's elements of a value (dim 0 is the batch); -1 when a dim is unknown.
int64_t frameElements(const Value* v) {
  if (!v || !v->hasShape || v->shape.empty()) return -1;
  int64_t n = 1;
  for (size_t d = 1; d < v->shape.size(); ++d) {
    if (v->shape[d] < 0) return -1;
    n *= v->shape[d];
  }
  return n;
}
int64_t dim(const Value* v, size_t d) {
  return v && v->hasShape && d < v->shape.size() ? v->shape[d] : -1;
}

/// What the rules look at for one node, computed once.
struct Facts {
  const Node* node = nullptr;
  const OpLimits* lim = nullptr;
  std::string op;      ///< "QConv", "QuantizeLinear", ...
  std::string family;  ///< rule-id prefix: "conv", "maxpool", "quantizelinear", ...
  std::vector<int64_t> kernel, strides, dilations, pads;
  int64_t group = 1, inChannels = -1, outChannels = -1;
  bool hasResidual = false;
  std::vector<const Value*> activations;  ///< non-constant inputs
  const Graph* graph = nullptr;
};

using Report = std::vector<Diagnostic>;
void add(const Facts& f, Report* r, const char* check, std::string message,
         std::string suggestion) {
  r->push_back(
      {f.node->name, f.op, f.family + "." + check, std::move(message), std::move(suggestion)});
}

bool isPool(const Facts& f) { return f.op == "QMaxPool" || f.op == "QAveragePool"; }

// ---- the rules

void ruleBoundary(const Facts& f, Report* r) {
  if (f.lim->boundary == "input") {
    const Value* x = f.node->input(0);
    bool at_input = x && !x->producer && !x->isConstant();
    if (!at_input) {
      add(f, r, "boundary",
          fmt::format("expected {} only on a model input, found it on '{}'", f.op,
                      x ? x->name : "?"),
          "quantize once at the model input: calibrate the whole model so no float op "
          "remains between quantized ops");
    }
  } else if (f.lim->boundary == "output") {
    const Value* y = f.node->outputs.empty() ? nullptr : f.node->outputs[0];
    if (!y || !f.graph->isGraphOutput(y) || !f.graph->consumers(y).empty()) {
      add(f, r, "boundary",
          fmt::format("expected {} only on a model output, found it on '{}'", f.op,
                      y ? y->name : "?"),
          "dequantize only at the model outputs: calibrate the whole model so no float op "
          "remains between quantized ops");
    }
  }
}

void ruleKernel(const Facts& f, Report* r) {
  if (!f.lim->maxKernel || f.kernel.empty() || maxOf(f.kernel) <= *f.lim->maxKernel) return;
  int64_t k = maxOf(f.kernel), m = *f.lim->maxKernel;
  std::string suggestion;
  if (isPool(f)) {
    suggestion = fmt::format("use two stacked pools with kernels of at most {}x{}", m, m);
  } else {
    int64_t n = k / 2;  // = ceil((k - 1) / 2): each stacked 3x3 conv widens the field by 2
    suggestion = fmt::format("split the {} conv into {} stacked 3x3 convs (same receptive field)",
                             joinInts(f.kernel, "x"), std::max<int64_t>(n, 2));
  }
  add(f, r, "kernel",
      fmt::format("kernel {}: expected at most {} per dim, found {}", joinInts(f.kernel, "x"), m,
                  k),
      suggestion);
}

void ruleStride(const Facts& f, Report* r) {
  if (!f.lim->maxStride || f.strides.empty() || maxOf(f.strides) <= *f.lim->maxStride) return;
  int64_t s = maxOf(f.strides), m = *f.lim->maxStride;
  std::string suggestion =
      s % m == 0
          ? fmt::format(
                "use stride {} and a second stride-{} op (conv or pool) instead of "
                "stride {}",
                m, s / m, s)
          : fmt::format("use strides of at most {} in consecutive ops instead of stride {}", m, s);
  add(f, r, "stride",
      fmt::format("strides {}: expected at most {} per dim, found {}", joinInts(f.strides, "x"), m,
                  s),
      suggestion);
}

void ruleDilation(const Facts& f, Report* r) {
  if (!f.lim->maxDilation || f.dilations.empty() || maxOf(f.dilations) <= *f.lim->maxDilation) {
    return;
  }
  int64_t d = maxOf(f.dilations), k = f.kernel.empty() ? 1 : maxOf(f.kernel);
  add(f, r, "dilation",
      fmt::format("dilations {}: expected at most {}, found {}", joinInts(f.dilations, "x"),
                  *f.lim->maxDilation, d),
      fmt::format("use dilation 1: a dense {}x{} kernel covers the same field, or stack 3x3 "
                  "convs",
                  (k - 1) * d + 1, (k - 1) * d + 1));
}

void rulePad(const Facts& f, Report* r) {
  if (!f.lim->maxPad || f.pads.empty() || maxOf(f.pads) <= *f.lim->maxPad) return;
  add(f, r, "pad",
      fmt::format("pads {}: expected at most {} per side, found {}", joinInts(f.pads, ","),
                  *f.lim->maxPad, maxOf(f.pads)),
      fmt::format("use at most {} padding per side (a smaller kernel needs less)", *f.lim->maxPad));
}

void ruleGroup(const Facts& f, Report* r) {
  if (f.group <= 1) return;
  bool depthwise = f.group == f.inChannels;
  if (depthwise && !f.lim->depthwise) {
    add(f, r, "depthwise",
        fmt::format("expected group 1 (no depthwise conv on this march), found group {}", f.group),
        "use a regular conv (group 1), or a pointwise-only block");
  } else if (!depthwise && !f.lim->groupConv) {
    add(f, r, "group",
        fmt::format("expected group 1 or depthwise (group = {} input channels), found group {}",
                    f.inChannels, f.group),
        fmt::format("split the conv into {} convs over channel slices and concatenate them, or "
                    "use a depthwise conv",
                    f.group));
  }
}

void ruleResidual(const Facts& f, Report* r) {
  if (!f.hasResidual || f.lim->residual) return;
  add(f, r, "residual", fmt::format("expected no fused residual input on {}, found one", f.op),
      "keep the residual Add as its own QAdd node (quantize the conv's output separately)");
}

void ruleChannels(const Facts& f, Report* r) {
  if (f.lim->maxInChannels && f.inChannels > *f.lim->maxInChannels) {
    add(f, r, "in_channels",
        fmt::format("expected at most {} input channels, found {}", *f.lim->maxInChannels,
                    f.inChannels),
        fmt::format("split the input channels into groups of at most {} and add the partial "
                    "results",
                    *f.lim->maxInChannels));
  }
  if (f.lim->maxOutChannels && f.outChannels > *f.lim->maxOutChannels) {
    add(f, r, "out_channels",
        fmt::format("expected at most {} output channels, found {}", *f.lim->maxOutChannels,
                    f.outChannels),
        fmt::format("split the op into ops of at most {} output channels and concatenate them",
                    *f.lim->maxOutChannels));
  }
}

void ruleTypes(const Facts& f, Report* r) {
  if (!f.lim->inTypes.empty()) {
    for (const Value* v : f.activations) {
      std::string t = dtypeName(v->dtype);
      if (contains(f.lim->inTypes, t)) continue;
      add(f, r, "in_type",
          fmt::format("input '{}': expected {}, found {}", v->name, joinStrs(f.lim->inTypes), t),
          "quantize the producer's output to int8 (qconfig dtype qint8)");
    }
  }
  if (!f.lim->outTypes.empty()) {
    for (const Value* v : f.node->outputs) {
      std::string t = dtypeName(v->dtype);
      if (contains(f.lim->outTypes, t)) continue;
      add(f, r, "out_type",
          fmt::format("output '{}': expected {}, found {}", v->name, joinStrs(f.lim->outTypes), t),
          "quantize this op's output to int8 (qconfig dtype qint8)");
    }
  }
}

void ruleTensorSize(const Facts& f, Report* r) {
  if (!f.lim->maxTensorBytes) return;
  std::vector<const Value*> tensors = f.activations;
  for (const Value* v : f.node->outputs) tensors.push_back(v);
  for (const Value* v : tensors) {
    int64_t n = frameElements(v);
    if (n < 0) continue;
    int64_t bytes = n * static_cast<int64_t>(dtypeSize(v->dtype));
    if (bytes <= *f.lim->maxTensorBytes) continue;
    add(f, r, "tensor_size",
        fmt::format("tensor '{}' {}: expected at most {} bytes per frame, found {}", v->name,
                    shapeString(v->shape), *f.lim->maxTensorBytes, bytes),
        "lower the input resolution, downsample earlier, or use fewer channels here");
  }
}

void ruleResize(const Facts& f, Report* r) {
  if (f.op != "QResize") return;
  std::string mode = f.node->attrs.getString("mode", "nearest");
  if (!f.lim->resizeModes.empty() && !contains(f.lim->resizeModes, mode)) {
    add(f, r, "mode", fmt::format("expected mode {}, found {}", joinStrs(f.lim->resizeModes), mode),
        "use nearest resize (optionally followed by a 3x3 conv to smooth)");
  }
  if (f.lim->resizeFactors.empty()) return;
  const Value* x = f.node->input(0);
  const Value* y = f.node->outputs.empty() ? nullptr : f.node->outputs[0];
  for (size_t d = 2; d < 4; ++d) {
    int64_t in = dim(x, d), out = dim(y, d);
    if (in <= 0 || out <= 0) continue;
    bool integer = out % in == 0;
    int64_t factor = integer ? out / in : 0;
    if (integer && std::find(f.lim->resizeFactors.begin(), f.lim->resizeFactors.end(), factor) !=
                       f.lim->resizeFactors.end()) {
      continue;
    }
    std::string found = integer ? std::to_string(factor) : fmt::format("{}/{}", out, in);
    add(f, r, "factor",
        fmt::format("axis {} ({} -> {}): expected an up-scaling factor of {}, found {}", d, in, out,
                    joinInts(f.lim->resizeFactors, " or "), found),
        fmt::format("use factor-{} resizes (chain them for larger factors)",
                    f.lim->resizeFactors.front()));
    return;
  }
}

void ruleAxis(const Facts& f, Report* r) {
  const Attribute* a = f.node->attrs.find("axis");
  if (f.lim->axes.empty() || !a) return;
  int64_t axis = f.node->attrs.getInt("axis", 1);
  const Value* y = f.node->outputs.empty() ? nullptr : f.node->outputs[0];
  if (axis < 0 && y && y->hasShape) axis += static_cast<int64_t>(y->shape.size());
  if (std::find(f.lim->axes.begin(), f.lim->axes.end(), axis) != f.lim->axes.end()) return;
  add(f, r, "axis", fmt::format("expected axis {}, found {}", joinInts(f.lim->axes, " or "), axis),
      fmt::format("{} along the channels (axis {}) instead",
                  f.op == "QConcat" ? "concatenate" : "run it", f.lim->axes.front()));
}

/// THE rule table: every supported node goes through each rule in order.
struct Rule {
  const char* name;
  void (*check)(const Facts&, Report*);
};
const Rule kRules[] = {
    {"boundary", ruleBoundary},      {"kernel", ruleKernel},     {"stride", ruleStride},
    {"dilation", ruleDilation},      {"pad", rulePad},           {"group", ruleGroup},
    {"residual", ruleResidual},      {"channels", ruleChannels}, {"types", ruleTypes},
    {"tensor_size", ruleTensorSize}, {"resize", ruleResize},     {"axis", ruleAxis},
};

std::string unsupportedSuggestion(const std::string& op, const March& march) {
  if (op == "QSoftmax")
    return "drop the final softmax from the model (argmax needs no softmax) "
           "or run it on the host after DequantizeLinear";
  if (op == "QLookup")
    return "replace the activation with Relu/Clip (QClamp), or run it on the "
           "host";
  if (op == "QConvTranspose") return "use a nearest QResize followed by a QConv";
  if (op == "QMul")
    return "fold the multiplication into the neighbouring conv, or run it on "
           "the host";
  std::vector<std::string> ops;
  for (const auto& [name, lim] : march.ops) ops.push_back(name);
  return fmt::format("replace it with ops the march runs ({})", joinStrs(ops));
}

Facts factsOf(const Graph& g, const Node& n, const OpLimits& lim, const std::string& op) {
  Facts f;
  f.graph = &g;
  f.node = &n;
  f.lim = &lim;
  f.op = op;
  f.family = op;
  if (n.domain == kIntDomain && f.family.size() > 1 && f.family[0] == 'Q') f.family.erase(0, 1);
  std::transform(f.family.begin(), f.family.end(), f.family.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const Value* v : n.inputs) {
    if (v && !v->isConstant()) f.activations.push_back(v);
  }
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
  f.kernel = n.attrs.getInts("kernel_shape");
  if (f.kernel.empty() && (op == "QConv" || op == "QConvTranspose") && w && w->hasShape) {
    f.kernel.assign(w->shape.begin() + std::min<size_t>(2, w->shape.size()), w->shape.end());
  }
  size_t spatial = f.kernel.size();
  f.strides = n.attrs.getInts("strides", std::vector<int64_t>(spatial, 1));
  f.dilations = n.attrs.getInts("dilations", std::vector<int64_t>(spatial, 1));
  f.pads = n.attrs.getInts("pads", std::vector<int64_t>(2 * spatial, 0));
  f.group = n.attrs.getInt("group", 1);
  f.inChannels = dim(x, 1);
  f.outChannels = dim(y, 1);
  if (op == "QGemm") {
    bool trans_b = n.attrs.getInt("transB", 0) != 0;
    f.inChannels = dim(w, trans_b ? 1 : 0);
    f.outChannels = dim(w, trans_b ? 0 : 1);
  }
  f.hasResidual = (op == "QConv" || op == "QConvTranspose" || op == "QGemm") && n.input(3);
  return f;
}

int64_t macsOf(const Facts& f) {
  const Value* y = f.node->outputs.empty() ? nullptr : f.node->outputs[0];
  int64_t k = 1;
  for (int64_t d : f.kernel) k *= d;
  if (f.op == "QConv") {
    int64_t out = frameElements(y);
    return out < 0 || f.inChannels < 0 ? 0
                                       : out * (f.inChannels / std::max<int64_t>(f.group, 1)) * k;
  }
  if (f.op == "QConvTranspose") {
    int64_t in = frameElements(f.node->input(0));
    return in < 0 || f.outChannels < 0 ? 0
                                       : in * (f.outChannels / std::max<int64_t>(f.group, 1)) * k;
  }
  if (f.op == "QGemm") {
    int64_t out = frameElements(y);
    return out < 0 || f.inChannels < 0 ? 0 : out * f.inChannels;
  }
  return 0;
}

}  // namespace

bool isIntegerModel(const Graph& graph) {
  for (const Node* n : graph.nodes()) {
    if (n->domain == kIntDomain) return true;
  }
  return false;
}

Expected<CheckReport> checkModel(const Graph& int_model, const March& march) {
  CheckReport report;
  report.march = march.name;
  for (const Node* n : int_model.nodes()) {
    const std::string op = n->opType;
    report.summary.opCounts[op]++;
    report.summary.nodes++;
    bool known_domain = n->domain.empty() || n->domain == kIntDomain;
    const OpLimits* lim = known_domain ? march.limits(op) : nullptr;
    if (!lim) {
      std::string what = n->domain.empty() || n->domain == kIntDomain ? op : n->domain + "." + op;
      report.diagnostics.push_back(
          {n->name, op, "op.unsupported",
           fmt::format("expected an op that march '{}' runs, found {}{}", march.name, what,
                       n->domain.empty() && op[0] != 'Q' && op != "Flatten" && op != "Reshape"
                           ? " (a float op: the integer model keeps none inside)"
                           : ""),
           unsupportedSuggestion(op, march)});
    }
    OpLimits none;
    Facts f = factsOf(int_model, *n, lim ? *lim : none, op);
    if (n->domain == kIntDomain) {
      for (const Value* v : n->inputs) {
        if (v && v->isConstant()) report.summary.parameters += shapeNumel(v->constant.shape());
      }
      report.summary.macsPerFrame += macsOf(f);
    }
    if (!lim) continue;
    for (const Rule& rule : kRules) rule.check(f, &report.diagnostics);
  }
  report.supported = report.diagnostics.empty();
  return report;
}

OrderedJson CheckReport::toJson() const {
  OrderedJson j;
  j["march"] = march;
  j["supported"] = supported;
  OrderedJson s;
  s["nodes"] = summary.nodes;
  s["parameters"] = summary.parameters;
  s["macs_per_frame"] = summary.macsPerFrame;
  s["ops"] = OrderedJson::object();
  for (const auto& [op, count] : summary.opCounts) s["ops"][op] = count;
  j["summary"] = s;
  j["diagnostics"] = OrderedJson::array();
  for (const Diagnostic& d : diagnostics) {
    OrderedJson dj;
    dj["node"] = d.node;
    dj["op"] = d.op;
    dj["rule"] = d.rule;
    dj["message"] = d.message;
    dj["suggestion"] = d.suggestion;
    j["diagnostics"].push_back(dj);
  }
  return j;
}

}  // namespace hq
