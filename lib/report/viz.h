// Pictures of models (hq-viz): an ONNX graph (float, QDQ or integer) or a compiled .hbm as
// Graphviz DOT text, rendered to SVG or PNG with libgvc (layout "dot"). Deterministic: the
// same model and options give the same bytes.
//
// ONNX: one box per node (op, shortened name, constants folded in as "W 32x16x3x3", output
// shape and dtype, the scale of quantized tensors), filled by op family; ai.hq ops drawn
// bold and rounded. Graph inputs and outputs are house shapes; edges carry tensor shapes.
// .hbm: one box per layer (op, name, output shape, MACs, DDR and weight bytes, a cost
// estimate), filled by whether it is compute- or DDR-bound; fused groups of several layers
// are clusters. Edges follow the data through SRAM and DDR addresses of the instructions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hbm.pb.h"
#include "ir/graph.h"
#include "support/status.h"

namespace hq {

enum class VizFormat { kSvg, kDot, kPng };
/// "svg", "dot", "png"; kInvalidArgument otherwise.
Expected<VizFormat> parseVizFormat(const std::string& name);
/// The format named by the file extension (.svg, .dot/.gv, .png); kSvg otherwise.
VizFormat vizFormatForPath(const std::string& path);

enum class VizRankDir { kAuto, kTopBottom, kLeftRight };
/// "TB", "LR" (any case); kInvalidArgument otherwise.
Expected<VizRankDir> parseVizRankDir(const std::string& name);

/// kAuto lays out top to bottom below this many drawn nodes, left to right from it on
/// (long chains stay readable on a screen).
inline constexpr int64_t kVizLeftRightFromNodes = 40;

struct VizOptions {
  VizRankDir rankDir = VizRankDir::kAuto;
};

/// Cost of one .hbm layer for one run (batch frames), in core clock cycles.
struct LayerCost {
  double computeCycles = 0;  ///< roofline: MAC array + vector unit at peak for its shapes
  double ddrCycles = 0;      ///< roofline: DMA bytes at peak DDR bandwidth
  double cycles = 0;         ///< the layer's time (its share of the simulated run)
  bool ddrBound = false;     ///< ddrCycles > computeCycles
};

/// Per-layer DMA traffic of one run, in bytes (payload: elements x size).
struct LayerTraffic {
  int64_t ddrBytes = 0;     ///< DDR loads + DDR stores
  int64_t weightBytes = 0;  ///< DMA_LOAD from WEIGHTS
};
std::vector<LayerTraffic> layerTraffic(const hbm::Model& model);

/// Per-layer costs from the timing model (lib/sim/timing.h): cycles = the layer's share of the
/// simulated run, computeCycles / ddrCycles = its roofline terms. Empty when timing fails.
std::vector<LayerCost> estimateLayerCosts(const hbm::Model& model);

struct VizSummary {
  bool hbm = false;   ///< the input was a .hbm
  int64_t nodes = 0;  ///< boxes drawn (model nodes or layers, plus inputs and outputs)
  int64_t edges = 0;
  int64_t clusters = 0;  ///< fused groups drawn as clusters (.hbm only)
};

/// DOT text of an ONNX graph; `summary` (optional) receives the counts.
std::string graphToDot(const Graph& graph, const VizOptions& options = {},
                       VizSummary* summary = nullptr);

/// DOT text of a compiled model. `costs` (one per layer) replaces the timing model's
/// (estimateLayerCosts) when not empty.
std::string hbmToDot(const hbm::Model& model, const VizOptions& options = {},
                     const std::vector<LayerCost>& costs = {}, VizSummary* summary = nullptr);

/// Render DOT text (layout "dot") to SVG or PNG bytes; kDot returns the text itself.
/// kInternal with Graphviz's message when the text does not parse or a plugin is missing.
Expected<std::string> renderDot(const std::string& dot, VizFormat format);

/// Read MODEL (ONNX, or .hbm by content), draw it and write `out_path` atomically.
Expected<VizSummary> visualizeModelFile(const std::string& model_path, const std::string& out_path,
                                        VizFormat format, const VizOptions& options = {});

}  // namespace hq
