// DOT text of a compiled .hbm: one box per layer with its traffic and its cost from the timing model,
// fused groups as clusters, edges found by following bytes through SRAM and DDR addresses.
#include <algorithm>
#include <map>
#include <set>

#include "compiler/hbm.h"
#include "report/viz.h"
#include "report/viz_internal.h"
#include "sim/timing.h"

namespace hq {

namespace {

using I = hbm::Instruction;

/// Which layers (or model inputs) last wrote each byte range: SRAM addresses as they are,
/// DDR at (1 << 48) + buffer offset + region offset. A partial write (a channel slice or a
/// strided block) adds its writer to earlier partial writers (an in-place concat has
/// several producers); a full write replaces them.
class WriterMap {
 public:
  explicit WriterMap(const hbm::Model& model) {
    for (const hbm::Buffer& b : model.buffers()) bufferBase_[b.id()] = b.offset();
  }

  /// Address range of a region; false for WEIGHTS (constants carry no data flow).
  bool range(const hbm::Region& r, uint64_t* begin, uint64_t* end) const {
    if (r.space() == hbm::Region::SRAM) {
      *begin = r.offset();
    } else if (r.space() == hbm::Region::DDR) {
      auto it = bufferBase_.find(r.buffer_id());
      *begin = kDdrBase + (it == bufferBase_.end() ? 0 : it->second) + r.offset();
    } else {
      return false;
    }
    *end = *begin + std::max<uint64_t>(r.size(), 1);
    return true;
  }

  std::set<int> read(uint64_t b, uint64_t e) const {
    std::set<int> out;
    auto it = segs_.upper_bound(b);
    if (it != segs_.begin()) --it;
    for (; it != segs_.end() && it->first < e; ++it) {
      if (it->second.end <= b) continue;
      out.insert(it->second.writers.begin(), it->second.writers.end());
    }
    return out;
  }

  void write(uint64_t b, uint64_t e, const std::set<int>& writers, bool partial) {
    split(b);
    split(e);
    // Fill gaps so that [b, e) is covered by segments.
    uint64_t pos = b;
    std::vector<std::pair<uint64_t, uint64_t>> gaps;
    for (auto it = segs_.lower_bound(b); it != segs_.end() && it->first < e; ++it) {
      if (it->first > pos) gaps.push_back({pos, it->first});
      pos = it->second.end;
    }
    if (pos < e) gaps.push_back({pos, e});
    for (auto [gb, ge] : gaps) segs_[gb] = Seg{ge, {}, true};
    for (auto it = segs_.lower_bound(b); it != segs_.end() && it->first < e; ++it) {
      Seg& s = it->second;
      if (partial && s.partial) {
        s.writers.insert(writers.begin(), writers.end());
      } else {
        s.writers = writers;
      }
      s.partial = partial;
    }
  }

 private:
  static constexpr uint64_t kDdrBase = uint64_t{1} << 48;
  struct Seg {
    uint64_t end = 0;
    std::set<int> writers;
    bool partial = false;
  };
  void split(uint64_t pos) {
    auto it = segs_.upper_bound(pos);
    if (it == segs_.begin()) return;
    --it;
    if (it->first < pos && pos < it->second.end) {
      Seg tail = it->second;
      it->second.end = pos;
      segs_[pos] = tail;
    }
  }
  std::map<uint64_t, Seg> segs_;
  std::map<uint32_t, uint64_t> bufferBase_;
};

/// Layer -> layer edges (writer ids >= layer count are model inputs; `outputs` gets, per
/// model output, the layers that stored it).
std::set<std::pair<int, int>> dataEdges(const hbm::Model& model,
                                        std::vector<std::set<int>>* outputs) {
  const int layers = model.layers_size();
  WriterMap map(model);
  std::set<std::pair<int, int>> edges;
  uint64_t b = 0, e = 0;
  const uint64_t frames = std::max<uint32_t>(model.batch(), 1);
  for (int k = 0; k < model.inputs_size(); ++k) {
    const hbm::TensorDesc& d = model.inputs(k);
    hbm::Region r;
    r.set_space(hbm::Region::DDR);
    r.set_buffer_id(d.buffer_id());
    r.set_offset(d.offset());
    r.set_size(d.frame_stride_bytes() * frames);
    if (map.range(r, &b, &e)) map.write(b, e, {layers + k}, false);
  }
  for (const I& inst : model.instructions()) {
    const int layer = static_cast<int>(inst.layer());
    if (inst.has_dma()) {
      const hbm::DmaOp& dma = inst.dma();
      std::set<int> writers;
      if (map.range(dma.src(), &b, &e)) writers = map.read(b, e);
      if (dma.src().space() == hbm::Region::WEIGHTS) writers = {layer};
      if (map.range(dma.dst(), &b, &e)) map.write(b, e, writers, dma.dst().dims_size() > 0);
    } else if (inst.has_compute()) {
      const hbm::ComputeOp& c = inst.compute();
      for (const hbm::Operand& in : c.inputs()) {
        if (in.absent() || !map.range(in.region(), &b, &e)) continue;
        for (int w : map.read(b, e)) {
          if (w != layer) edges.insert({w, layer});
        }
      }
      const hbm::Operand& out = c.output();
      const bool partial =
          out.channel_offset() != 0 ||
          (out.written_channels() != 0 && out.written_channels() < out.channel_stride());
      if (map.range(out.region(), &b, &e)) map.write(b, e, {layer}, partial);
    }
  }
  outputs->assign(static_cast<size_t>(model.outputs_size()), {});
  for (int k = 0; k < model.outputs_size(); ++k) {
    const hbm::TensorDesc& d = model.outputs(k);
    hbm::Region r;
    r.set_space(hbm::Region::DDR);
    r.set_buffer_id(d.buffer_id());
    r.set_offset(d.offset());
    r.set_size(std::max<uint64_t>(d.frame_stride_bytes(), 1));
    if (map.range(r, &b, &e)) (*outputs)[static_cast<size_t>(k)] = map.read(b, e);
  }
  return edges;
}

/// The layer's output shape for one frame: a compute output of frame 0 with H the tiles' span.
std::vector<int64_t> layerOutputShape(const hbm::Model& model, int layer) {
  std::vector<int64_t> shape;
  uint32_t rows = 0;
  bool tiled = false;
  for (const I& inst : model.instructions()) {
    if (static_cast<int>(inst.layer()) != layer || !inst.has_compute()) continue;
    const hbm::ComputeOp& c = inst.compute();
    if (c.tile().frame() != 0) continue;
    if (shape.empty()) shape.assign(c.output().shape().begin(), c.output().shape().end());
    if (c.tile().out_h() > 0) {
      tiled = true;
      rows = std::max(rows, c.tile().out_y() + c.tile().out_h());
    }
  }
  if (tiled && shape.size() == 4) shape[2] = rows;
  return shape;
}

}  // namespace

std::vector<LayerTraffic> layerTraffic(const hbm::Model& model) {
  std::vector<LayerTraffic> out(static_cast<size_t>(model.layers_size()));
  for (const I& inst : model.instructions()) {
    if (!inst.has_dma() || inst.layer() >= out.size()) continue;
    LayerTraffic& t = out[inst.layer()];
    const hbm::DmaOp& dma = inst.dma();
    if (inst.opcode() == I::DMA_LOAD && dma.src().space() == hbm::Region::WEIGHTS) {
      t.weightBytes += dmaPayloadBytes(dma.src(), dma.dtype());
    } else if (inst.opcode() == I::DMA_LOAD) {
      t.ddrBytes += dmaPayloadBytes(dma.src(), dma.dtype());
    } else if (inst.opcode() == I::DMA_STORE) {
      t.ddrBytes += dmaPayloadBytes(dma.dst(), dma.dtype());
    }
  }
  return out;
}

// Per-layer costs from the timing model (sim/timing.h), the numbers hq-perf reports: the
// layer's share of the simulated run and its roofline terms. Empty if the timing fails (the
// picture then has no costs).
std::vector<LayerCost> estimateLayerCosts(const hbm::Model& model) {
  Expected<TimingResult> t = simulateTiming(model);
  if (!t.isOk()) return {};
  std::vector<LayerCost> costs(t->layers.size());
  for (size_t k = 0; k < costs.size(); ++k) {
    const LayerTiming& l = t->layers[k];
    costs[k].computeCycles = l.computeBoundCycles;
    costs[k].ddrCycles = l.ddrBoundCycles;
    costs[k].cycles = l.latencyCycles;
    costs[k].ddrBound = l.ddrBoundCycles > l.computeBoundCycles;
  }
  return costs;
}

std::string hbmToDot(const hbm::Model& model, const VizOptions& options,
                     const std::vector<LayerCost>& costs_in, VizSummary* summary) {
  const int layers = model.layers_size();
  const std::vector<LayerCost> costs =
      costs_in.size() == static_cast<size_t>(layers) ? costs_in : estimateLayerCosts(model);
  const std::vector<LayerTraffic> traffic = layerTraffic(model);
  const double clock_mhz =
      model.march_info().clock_mhz() > 0 ? model.march_info().clock_mhz() : 1000;
  auto micros = [&](double cycles) { return "~" + viz::shortFloat(cycles / clock_mhz) + " us"; };
  const int64_t drawn = layers + model.inputs_size() + model.outputs_size();

  double total = 0;
  for (const LayerCost& c : costs) total += c.cycles;
  std::string title = "march " + model.march() + ", -O" +
                      std::to_string(model.compiler().opt_level()) + ", batch " +
                      std::to_string(std::max<uint32_t>(model.batch(), 1)) + ": " +
                      std::to_string(layers) + " layers, " + micros(total) + " per run\n(" +
                      (costs_in.empty() ? "timing model" : "given costs") +
                      "; blue: compute-bound, orange: DDR-bound)";
  std::string dot = viz::graphHeader(title, viz::rankDirFor(options, drawn));

  for (int k = 0; k < model.inputs_size(); ++k) {
    const hbm::TensorDesc& d = model.inputs(k);
    dot += "  i" + std::to_string(k) + " [shape=invhouse, fillcolor=\"#c7e9c0\", label=" +
           viz::quote("input " + viz::shortName(d.name()) + "\n" +
                      viz::dimsString({d.shape().begin(), d.shape().end()}) + " " +
                      hbm::DType_Name(d.dtype())) +
           "];\n";
  }
  // Groups in order of first appearance; groups of several layers become clusters.
  std::vector<uint32_t> group_order;
  std::map<uint32_t, std::vector<int>> groups;
  for (int k = 0; k < layers; ++k) {
    const uint32_t g = model.layers(k).group();
    if (!groups.count(g)) group_order.push_back(g);
    groups[g].push_back(k);
  }
  int64_t clusters = 0;
  for (uint32_t g : group_order) {
    const std::vector<int>& members = groups[g];
    const bool cluster = members.size() > 1;
    std::string indent = "  ";
    if (cluster) {
      double cycles = 0;
      for (int k : members) cycles += costs[static_cast<size_t>(k)].cycles;
      dot += "  subgraph cluster_g" + std::to_string(g) + " {\n    style=\"dashed,rounded\"; " +
             "color=\"#666666\"; label=" +
             viz::quote("group " + std::to_string(g) + ": " + micros(cycles)) + ";\n";
      indent = "    ";
      ++clusters;
    }
    for (int k : members) {
      const hbm::Layer& l = model.layers(k);
      const LayerCost& c = costs[static_cast<size_t>(k)];
      const LayerTraffic& t = traffic[static_cast<size_t>(k)];
      std::string label = l.op().op_type();
      if (!l.name().empty()) label += "\n" + viz::shortName(l.name());
      if (l.source_nodes_size() > 1)
        label += " (+" + std::to_string(l.source_nodes_size() - 1) + " fused)";
      const std::vector<int64_t> shape = layerOutputShape(model, k);
      if (!shape.empty()) label += "\n" + viz::dimsString(shape);
      if (l.macs() > 0) label += "\nMACs " + viz::compactCount(double(l.macs()));
      label += "\nDDR " + viz::compactBytes(double(t.ddrBytes));
      if (t.weightBytes > 0) label += ", W " + viz::compactBytes(double(t.weightBytes));
      label += "\n" + micros(c.cycles) + (c.ddrBound ? ", DDR-bound" : ", compute-bound");
      const bool own_domain = l.op().domain() == "ai.hq";
      dot += indent + "L" + std::to_string(k) + " [fillcolor=\"" +
             (c.ddrBound ? "#fdae6b" : "#9ecae1") + "\"" +
             (own_domain ? "" : ", style=\"filled,rounded\"") + ", label=" + viz::quote(label) +
             "];\n";
    }
    if (cluster) dot += "  }\n";
  }
  for (int k = 0; k < model.outputs_size(); ++k) {
    const hbm::TensorDesc& d = model.outputs(k);
    dot += "  o" + std::to_string(k) + " [shape=house, fillcolor=\"#fcbba1\", label=" +
           viz::quote("output " + viz::shortName(d.name()) + "\n" +
                      viz::dimsString({d.shape().begin(), d.shape().end()}) + " " +
                      hbm::DType_Name(d.dtype())) +
           "];\n";
  }
  std::vector<std::set<int>> outputs;
  const std::set<std::pair<int, int>> edges = dataEdges(model, &outputs);
  auto id = [&](int w) {
    return w < layers ? "L" + std::to_string(w) : "i" + std::to_string(w - layers);
  };
  int64_t edge_count = 0;
  for (auto [from, to] : edges) {
    dot += "  " + id(from) + " -> L" + std::to_string(to) + ";\n";
    ++edge_count;
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    for (int w : outputs[k]) {
      dot += "  " + id(w) + " -> o" + std::to_string(k) + ";\n";
      ++edge_count;
    }
  }
  dot += "}\n";
  if (summary) {
    *summary = VizSummary{};
    summary->hbm = true;
    summary->nodes = drawn;
    summary->edges = edge_count;
    summary->clusters = clusters;
  }
  return dot;
}

}  // namespace hq
