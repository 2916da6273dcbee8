// hq-viz's entry points: format and option parsing, shared DOT helpers, rendering with
// libgvc, and reading a model file (ONNX or .hbm by content) into a written picture.
#include "report/viz.h"

#include <gvc.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "compiler/hbm.h"
#include "ir/onnx_import.h"
#include "report/viz_internal.h"
#include "support/atomic_file.h"

namespace hq {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Graphviz reports errors through a global callback; rendering is serialized by a mutex.
std::string* gErrorSink = nullptr;
int collectError(char* message) {
  if (gErrorSink && message) *gErrorSink += message;
  return 0;
}

}  // namespace

Expected<VizFormat> parseVizFormat(const std::string& name) {
  const std::string n = lower(name);
  if (n == "svg") return VizFormat::kSvg;
  if (n == "dot" || n == "gv") return VizFormat::kDot;
  if (n == "png") return VizFormat::kPng;
  return HQ_ERROR(kInvalidArgument, "unknown format '{}': expected svg, dot or png", name);
}

VizFormat vizFormatForPath(const std::string& path) {
  const std::string p = lower(path);
  if (endsWith(p, ".dot") || endsWith(p, ".gv")) return VizFormat::kDot;
  if (endsWith(p, ".png")) return VizFormat::kPng;
  return VizFormat::kSvg;
}

Expected<VizRankDir> parseVizRankDir(const std::string& name) {
  const std::string n = lower(name);
  if (n == "tb") return VizRankDir::kTopBottom;
  if (n == "lr") return VizRankDir::kLeftRight;
  if (n == "auto") return VizRankDir::kAuto;
  return HQ_ERROR(kInvalidArgument, "unknown rank direction '{}': expected TB or LR", name);
}

namespace viz {

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string shortName(const std::string& name) {
  constexpr size_t kMax = 28;
  if (name.size() <= kMax) return name;
  // Path-like names (PyTorch's "/features/features.0/Conv"): keep the last components.
  size_t cut = name.find('/', 1);
  while (cut != std::string::npos && name.size() - cut > kMax - 3) cut = name.find('/', cut + 1);
  if (cut != std::string::npos && cut + 1 < name.size()) return "..." + name.substr(cut);
  return name.substr(0, 12) + "..." + name.substr(name.size() - 13);
}

std::string dimsString(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s;
}

std::string compactCount(double n) {
  char buf[32];
  if (n >= 1e9)
    std::snprintf(buf, sizeof buf, "%.3gG", n / 1e9);
  else if (n >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3gM", n / 1e6);
  else if (n >= 1e3)
    std::snprintf(buf, sizeof buf, "%.3gk", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string compactBytes(double bytes) {
  char buf[32];
  if (bytes >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3g MB", bytes / 1e6);
  else if (bytes >= 1e3)
    std::snprintf(buf, sizeof buf, "%.3g KB", bytes / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  return buf;
}

std::string shortFloat(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

const char* rankDirFor(const VizOptions& options, int64_t nodes) {
  switch (options.rankDir) {
    case VizRankDir::kTopBottom: return "TB";
    case VizRankDir::kLeftRight: return "LR";
    case VizRankDir::kAuto: break;
  }
  return nodes < kVizLeftRightFromNodes ? "TB" : "LR";
}

std::string graphHeader(const std::string& title, const char* rankdir) {
  std::string s = "digraph model {\n";
  s += "  graph [rankdir=" + std::string(rankdir) +
       ", fontname=\"Helvetica\", fontsize=11, labelloc=t, nodesep=0.25, ranksep=0.35, label=" +
       quote(title) + "];\n";
  s += "  node [shape=box, style=filled, fillcolor=\"#ffffff\", fontname=\"Helvetica\", "
       "fontsize=9, margin=\"0.08,0.04\"];\n";
  s += "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\", arrowsize=0.6];\n";
  return s;
}

}  // namespace viz

Expected<std::string> renderDot(const std::string& dot, VizFormat format) {
  if (format == VizFormat::kDot) return dot;
  static std::mutex mutex;  // Graphviz keeps global state
  std::lock_guard<std::mutex> lock(mutex);
  std::string errors;
  gErrorSink = &errors;
  agusererrf previous = agseterrf(collectError);
  GVC_t* gvc = gvContext();
  Agraph_t* g = gvc ? agmemread(dot.c_str()) : nullptr;
  std::string out;
  Status status = Status::ok();
  if (!gvc) {
    status = HQ_ERROR(kInternal, "Graphviz: no context (is libgvc's plugin config installed?)");
  } else if (!g) {
    status = HQ_ERROR(kInternal, "Graphviz could not read the DOT text: {}", errors);
  } else if (gvLayout(gvc, g, "dot") != 0) {
    status = HQ_ERROR(kInternal, "Graphviz layout 'dot' failed: {}", errors);
  } else {
    char* data = nullptr;
    unsigned int length = 0;
    const char* name = format == VizFormat::kPng ? "png" : "svg";
    if (gvRenderData(gvc, g, name, &data, &length) != 0 || !data) {
      status =
          HQ_ERROR(kInternal, "Graphviz could not render {} (plugin missing?): {}", name, errors);
    } else {
      out.assign(data, length);
    }
    if (data) gvFreeRenderData(data);
    gvFreeLayout(gvc, g);
  }
  if (g) agclose(g);
  if (gvc) gvFreeContext(gvc);
  agseterrf(previous);
  gErrorSink = nullptr;
  if (!status.isOk()) return status;
  return out;
}

Expected<VizSummary> visualizeModelFile(const std::string& model_path, const std::string& out_path,
                                        VizFormat format, const VizOptions& options) {
  VizSummary summary;
  std::string dot;
  if (looksLikeHbm(model_path)) {
    HQ_ASSIGN_OR_RETURN(hbm::Model model, readHbm(model_path));
    dot = hbmToDot(model, options, {}, &summary);
  } else {
    HQ_ASSIGN_OR_RETURN(auto graph, importOnnxFile(model_path));
    dot = graphToDot(*graph, options, &summary);
  }
  HQ_ASSIGN_OR_RETURN(std::string bytes, renderDot(dot, format));
  HQ_RETURN_IF_ERROR(writeFileAtomic(out_path, bytes));
  return summary;
}

}  // namespace hq
