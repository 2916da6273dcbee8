// DOT text of an ONNX graph (float, QDQ or integer): one box per node, constants folded
// into their consumer's label, graph inputs and outputs as house shapes.
#include <map>
#include <set>

#include "ir/graph.h"
#include "report/viz.h"
#include "report/viz_internal.h"

namespace hq {

namespace {

// Fill colors per op family (ColorBrewer pastels).
constexpr const char* kCompute = "#9ecae1";      // conv / gemm / matmul
constexpr const char* kPooling = "#a1d99b";      // pools
constexpr const char* kElementwise = "#fdd0a2";  // activations, add/mul, rescale, lookup
constexpr const char* kQuant = "#dadaeb";        // Quantize/DequantizeLinear
constexpr const char* kView = "#eeeeee";         // reshape, concat, resize, ...
constexpr const char* kOther = "#ffffff";

const char* familyColor(const std::string& op) {
  static const std::set<std::string> compute = {"Conv",  "ConvTranspose",  "Gemm", "MatMul",
                                                "QConv", "QConvTranspose", "QGemm"};
  static const std::set<std::string> quant = {"QuantizeLinear", "DequantizeLinear"};
  static const std::set<std::string> view = {
      "Reshape",  "Flatten",  "Transpose", "Squeeze", "Unsqueeze", "Concat",
      "QConcat",  "Slice",    "Split",     "Pad",     "Resize",    "QResize",
      "Upsample", "Identity", "Shape",     "Gather",  "Expand",    "Tile"};
  if (compute.count(op)) return kCompute;
  if (quant.count(op)) return kQuant;
  if (view.count(op)) return kView;
  if (op.find("Pool") != std::string::npos) return kPooling;
  static const std::set<std::string> elementwise = {"Relu",
                                                    "Clip",
                                                    "Sigmoid",
                                                    "Tanh",
                                                    "LeakyRelu",
                                                    "HardSigmoid",
                                                    "HardSwish",
                                                    "Add",
                                                    "Sub",
                                                    "Mul",
                                                    "Div",
                                                    "Softmax",
                                                    "BatchNormalization",
                                                    "QAdd",
                                                    "QMul",
                                                    "QClamp",
                                                    "QRescale",
                                                    "QLookup",
                                                    "QSoftmax",
                                                    "Exp",
                                                    "Sqrt",
                                                    "Neg",
                                                    "Abs",
                                                    "Max",
                                                    "Min"};
  return elementwise.count(op) ? kElementwise : kOther;
}

bool hasWeights(const std::string& op) { return familyColor(op) == kCompute; }

std::string valueShape(const Value* v) {
  return v->hasShape ? viz::dimsString(v->shape) : std::string("?");
}

/// One label line per constant input: "W 32x16x3x3", "B 32", small int constants by value.
std::string constantLine(const Node& node, size_t index, const Value* v) {
  const Tensor& t = v->constant;
  std::string tag;
  if (hasWeights(node.opType) && index == 1)
    tag = "W";
  else if (hasWeights(node.opType) && index == 2)
    tag = "B";
  else if (index == 0)
    tag = "const";  // e.g. a weight's DequantizeLinear
  else
    tag = "c" + std::to_string(index);
  const bool integral = t.dtype() == DType::kInt64 || t.dtype() == DType::kInt32;
  if (integral && t.numel() >= 1 && t.numel() <= 4) {
    std::string values;
    for (int64_t x : t.toInt64()) values += (values.empty() ? "" : ",") + std::to_string(x);
    return tag + " [" + values + "]";
  }
  return tag + " " + viz::dimsString(t.shape());
}

/// The scale line of a quantized tensor, "" when there is none.
std::string scaleLine(const Node& node) {
  if (node.opType == "QuantizeLinear" || node.opType == "DequantizeLinear") {
    const Value* s = node.input(1);
    if (!s || !s->isConstant()) return "";
    if (s->constant.numel() == 1) return "scale " + viz::shortFloat(s->constant.toDouble()[0]);
    return "scale per-channel (" + std::to_string(s->constant.numel()) + ")";
  }
  if (const Attribute* a = node.attrs.find("out_scale"); a && a->kind == Attribute::Kind::kFloat)
    return "scale " + viz::shortFloat(a->f);
  return "";
}

}  // namespace

std::string graphToDot(const Graph& graph, const VizOptions& options, VizSummary* summary) {
  const std::vector<Node*> nodes = graph.nodes();
  const int64_t drawn =
      static_cast<int64_t>(nodes.size() + graph.inputs().size() + graph.outputs().size());
  std::string title = graph.name.empty() ? std::string("model") : graph.name;
  title += " (" + std::to_string(nodes.size()) + " nodes)";
  std::string dot = viz::graphHeader(title, viz::rankDirFor(options, drawn));

  // Ids: inputs "i<k>", nodes "n<k>", outputs "o<k>"; producers of values by pointer.
  std::map<const Value*, std::string> source;
  int64_t edges = 0;
  for (size_t k = 0; k < graph.inputs().size(); ++k) {
    const Value* v = graph.inputs()[k];
    const std::string id = "i" + std::to_string(k);
    source[v] = id;
    dot += "  " + id + " [shape=invhouse, fillcolor=\"#c7e9c0\", label=" +
           viz::quote("input " + viz::shortName(v->name) + "\n" + valueShape(v) + " " +
                      dtypeName(v->dtype)) +
           "];\n";
  }
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Node& n = *nodes[k];
    const std::string id = "n" + std::to_string(k);
    std::string label = n.opType;
    if (!n.name.empty() && n.name != n.opType) label += "\n" + viz::shortName(n.name);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value* in = n.inputs[i];
      if (!in || !in->isConstant()) continue;
      // Q/DQ scale and zero point are shown as the scale line.
      if ((n.opType == "QuantizeLinear" || n.opType == "DequantizeLinear") && i >= 1) continue;
      label += "\n" + constantLine(n, i, in);
    }
    for (const Value* out : n.outputs) {
      if (out) label += "\n" + valueShape(out) + " " + dtypeName(out->dtype);
    }
    if (std::string s = scaleLine(n); !s.empty()) label += "\n" + s;
    const bool own_domain = !n.domain.empty() && n.domain != "ai.onnx";
    dot += "  " + id + " [fillcolor=\"" + familyColor(n.opType) + "\"" +
           (own_domain ? ", style=\"filled,rounded,bold\", penwidth=1.6" : "") +
           ", label=" + viz::quote(label) + "];\n";
    for (const Value* in : n.inputs) {
      if (!in || in->isConstant()) continue;
      auto it = source.find(in);
      if (it == source.end()) continue;
      dot += "  " + it->second + " -> " + id + " [label=" + viz::quote(valueShape(in)) + "];\n";
      ++edges;
    }
    for (const Value* out : n.outputs) {
      if (out) source[out] = id;
    }
  }
  for (size_t k = 0; k < graph.outputs().size(); ++k) {
    const Value* v = graph.outputs()[k];
    const std::string id = "o" + std::to_string(k);
    dot += "  " + id + " [shape=house, fillcolor=\"#fcbba1\", label=" +
           viz::quote("output " + viz::shortName(v->name) + "\n" + valueShape(v) + " " +
                      dtypeName(v->dtype)) +
           "];\n";
    if (auto it = source.find(v); it != source.end()) {
      dot += "  " + it->second + " -> " + id + " [label=" + viz::quote(valueShape(v)) + "];\n";
      ++edges;
    }
  }
  dot += "}\n";
  if (summary) {
    *summary = VizSummary{};
    summary->nodes = drawn;
    summary->edges = edges;
  }
  return dot;
}

}  // namespace hq
