// The timing model (see timing.h for the cost rules).
#include "sim/timing.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include "compiler/hbm.h"
#include "compiler/mac_cost.h"

namespace hq {

namespace {

using I = hbm::Instruction;

int64_t ceilDiv(int64_t a, int64_t b) { return b <= 0 ? a : (a + b - 1) / b; }

/// The attributes of a layer's op the costs need.
struct LayerShape {
  std::string opType;
  int64_t kernelTaps = 1;  ///< kh * kw
  int64_t group = 1;
  std::string mode;  ///< QResize mode
};

LayerShape layerShape(const hbm::Layer& l) {
  LayerShape s;
  s.opType = l.op().op_type();
  for (const hbm::Attribute& a : l.op().attributes()) {
    if (a.name() == "kernel_shape") {
      s.kernelTaps = 1;
      for (int64_t k : a.ints()) s.kernelTaps *= k;
    } else if (a.name() == "group") {
      s.group = std::max<int64_t>(1, a.i());
    } else if (a.name() == "mode") {
      s.mode = a.s();
    }
  }
  return s;
}

/// Elements of an operand's logical shape.
int64_t elements(const hbm::Operand& o) {
  int64_t n = 1;
  for (int64_t d : o.shape()) n *= d;
  return n;
}

/// Pixels (N*H*W) and channels of an activation operand's logical shape.
void pixelsAndChannels(const hbm::Operand& o, int64_t* pixels, int64_t* channels) {
  *channels = o.shape_size() >= 2 ? o.shape(1) : 1;
  *pixels = *channels > 0 ? elements(o) / *channels : 0;
}

class Timer {
 public:
  explicit Timer(const hbm::Model& m) : m_(m) {
    const hbm::MarchSummary& a = m.march_info();
    rows_ = std::max<int64_t>(1, a.mac_rows());
    cols_ = std::max<int64_t>(1, a.mac_columns());
    int16Rate_ = a.int16_rate() > 0 ? a.int16_rate() : 1.0;
    vec_ = std::max<int64_t>(1, a.vector_elements_per_cycle());
    bytesPerCycle_ = a.ddr_bytes_per_s() / (a.clock_mhz() * 1e6);
    latency_ = static_cast<int64_t>(std::llround(a.ddr_latency_ns() * a.clock_mhz() / 1000.0));
    burst_ = std::max<int64_t>(1, a.ddr_burst_bytes());
    for (const hbm::Layer& l : m.layers()) shapes_.push_back(layerShape(l));
  }

  /// DDR bytes a DMA region moves: each contiguous run rounded up to whole bursts.
  int64_t burstBytes(const hbm::Region& r, hbm::DType dtype) const {
    if (r.dims_size() == 0) return ceilDiv(static_cast<int64_t>(r.size()), burst_) * burst_;
    const int64_t e = std::max<int64_t>(1, hbmDTypeBytes(dtype));
    const int n = r.dims_size();
    int64_t run = e, runs = 1;
    int k = n - 1;
    // The innermost dims with contiguous strides form one run.
    if (r.strides(k) == e) {
      run = r.dims(k) * e;
      --k;
      while (k >= 0 && r.strides(k) == run) run *= r.dims(k--);
    }
    for (; k >= 0; --k) runs *= r.dims(k);
    return runs * ceilDiv(run, burst_) * burst_;
  }

  /// Payload bytes of a DMA (what the instruction moves).
  static int64_t payload(const hbm::DmaOp& d) { return dmaPayloadBytes(d.src(), d.dtype()); }

  /// Transfer cycles of a DMA on the DDR channel.
  int64_t transferCycles(const hbm::DmaOp& d, bool load) const {
    const hbm::Region& ddr_side = load ? d.src() : d.dst();
    const int64_t bytes = burstBytes(ddr_side, d.dtype());
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(bytes / bytesPerCycle_)));
  }

  /// The MAC work of a CONV instruction's tile.
  MacWork macWork(const hbm::Instruction& in) const {
    const LayerShape& s = shapes_.at(in.layer());
    return macWorkOf(in.compute(), s.opType, s.kernelTaps, s.group);
  }

  /// Elements the vector unit processes for a VECTOR/POOL instruction.
  int64_t vectorWork(const hbm::Instruction& in) const {
    const hbm::ComputeOp& c = in.compute();
    const LayerShape& s = shapes_.at(in.layer());
    const int64_t outs = elements(c.output());
    if (in.opcode() == I::POOL) {
      int64_t in_elems = 0;
      for (const hbm::Operand& o : c.inputs()) {
        if (!o.absent() && o.channel_stride() > 0) in_elems += elements(o);
      }
      return s.opType == "QGlobalAveragePool" || s.opType == "QGlobalMaxPool" ? in_elems
                                                                              : outs * s.kernelTaps;
    }
    if (s.opType == "QResize") return s.mode == "linear" ? 4 * outs : outs;
    if (s.opType == "QSoftmax") return 3 * outs;
    int64_t acts = 0;
    for (const hbm::Operand& o : c.inputs()) acts += !o.absent() && o.channel_stride() > 0;
    return outs * std::max<int64_t>(1, acts);
  }

  /// Cycles of a compute instruction.
  Expected<int64_t> computeCycles(int i) const {
    const hbm::Instruction& in = m_.instructions(i);
    if (in.opcode() == I::CONV) {
      if (in.compute().inputs_size() == 0 || in.compute().inputs(0).absent())
        return HQ_ERROR(kInternal, "instruction {}: a CONV without an input", i);
      return macCycles(macWork(in), rows_, cols_, int16Rate_, in.compute().tile().mac_mapping()) +
             kInstructionOverhead;
    }
    return ceilDiv(vectorWork(in), vec_) + kInstructionOverhead;
  }

  Expected<TimingResult> run(const TimingOptions& options) {
    TimingResult r;
    r.clockMhz = m_.march_info().clock_mhz();
    r.batch = std::max<uint32_t>(1, m_.batch());
    const int n = m_.instructions_size();
    r.instructions.assign(static_cast<size_t>(n), {});
    // Per-engine queues in stream order.
    std::array<std::vector<int>, 6> queue;
    for (int i = 0; i < n; ++i)
      queue[static_cast<size_t>(m_.instructions(i).engine())].push_back(i);
    std::array<size_t, 6> next{};
    std::array<int64_t, 6> engineFree{};
    std::map<uint32_t, std::deque<int64_t>> signalled;  // token -> signal times not yet waited
    int64_t channelFree = 0;
    std::vector<int64_t> transfer(static_cast<size_t>(n), 0);
    // The tokens each instruction waits on, with their counts (computed once: the loop
    // below looks at every engine's next instruction many times).
    std::vector<std::vector<std::pair<uint32_t, int64_t>>> need(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::map<uint32_t, int64_t> counts;
      for (uint32_t t : m_.instructions(i).waits()) ++counts[t];
      need[static_cast<size_t>(i)].assign(counts.begin(), counts.end());
    }
    // Event order: of the engines whose next instruction has its tokens, the one that can
    // start earliest goes next (ties: the earlier instruction), so the DDR channel is handed
    // out in time order and no transfer jumps ahead of an earlier one.
    for (int done = 0; done < n; ++done) {
      int best_engine = -1, best_index = 0;
      int64_t best_start = 0;
      for (size_t e = 0; e < queue.size(); ++e) {
        if (next[e] >= queue[e].size()) continue;
        const int i = queue[e][next[e]];
        const hbm::Instruction& in = m_.instructions(i);
        bool ready = true;
        int64_t start = engineFree[e];
        for (const auto& [t, k] : need[static_cast<size_t>(i)]) {
          auto it = signalled.find(t);
          if (it == signalled.end() || static_cast<int64_t>(it->second.size()) < k) {
            ready = false;
            break;
          }
          for (int64_t j = 0; j < k; ++j)
            start = std::max(start, it->second[static_cast<size_t>(j)]);
        }
        if (!ready) continue;
        if (in.opcode() == I::DMA_LOAD || in.opcode() == I::DMA_STORE)
          start = std::max(start, channelFree);
        if (best_engine < 0 || start < best_start || (start == best_start && i < best_index)) {
          best_engine = static_cast<int>(e);
          best_index = i;
          best_start = start;
        }
      }
      if (best_engine < 0)
        return HQ_ERROR(kInternal, "timing: deadlock with {} of {} instructions left", n - done, n);
      const size_t e = static_cast<size_t>(best_engine);
      const int i = best_index;
      const hbm::Instruction& in = m_.instructions(i);
      for (uint32_t t : in.waits()) signalled[t].pop_front();
      int64_t start = best_start, end = best_start;
      switch (in.opcode()) {
        case I::DMA_LOAD:
        case I::DMA_STORE: {
          const int64_t x = transferCycles(in.dma(), in.opcode() == I::DMA_LOAD);
          channelFree = start + x;
          engineFree[e] = start + x;
          end = start + x + latency_;
          transfer[static_cast<size_t>(i)] = x;
          break;
        }
        case I::BARRIER: engineFree[e] = start; break;
        default: {
          HQ_ASSIGN_OR_RETURN(int64_t cycles, computeCycles(i));
          end = start + cycles;
          engineFree[e] = end;
        }
      }
      r.instructions[static_cast<size_t>(i)] = {start, end};
      for (uint32_t t : in.signals()) signalled[t].push_back(end);
      ++next[e];
    }
    for (const InstructionTime& t : r.instructions) r.cycles = std::max(r.cycles, t.end);
    summarize(&r, transfer, options);
    return r;
  }

 private:
  static int unitOf(const hbm::Instruction& in) {
    switch (in.opcode()) {
      case I::DMA_LOAD: return static_cast<int>(TimingUnit::kDmaIn);
      case I::DMA_STORE: return static_cast<int>(TimingUnit::kDmaOut);
      case I::CONV: return static_cast<int>(TimingUnit::kMac);
      case I::VECTOR:
      case I::POOL: return static_cast<int>(TimingUnit::kVec);
      default: return -1;
    }
  }

  void summarize(TimingResult* r, const std::vector<int64_t>& transfer,
                 const TimingOptions& options) const {
    const int n = m_.instructions_size();
    const double batch = static_cast<double>(r->batch);
    // Layers: costs, bytes, roofline.
    r->layers.resize(static_cast<size_t>(m_.layers_size()));
    for (int li = 0; li < m_.layers_size(); ++li) {
      LayerTiming& lt = r->layers[static_cast<size_t>(li)];
      const hbm::Layer& l = m_.layers(li);
      lt.name = l.name();
      lt.opType = l.op().op_type();
      lt.macsPerFrame = static_cast<int64_t>(l.macs());
      lt.vectorOpsPerFrame = static_cast<int64_t>(l.vector_ops());
      lt.peakComputeCycles = batch * static_cast<double>(l.macs()) / (rows_ * cols_);
    }
    // Compute bound per layer: one frame's whole work in the best mapping (the shapes'
    // alignment waste included: no schedule avoids it), at peak, times the batch.
    std::vector<MacWork> frame_work(static_cast<size_t>(m_.layers_size()));
    std::vector<int64_t> pixels(static_cast<size_t>(m_.layers_size()), 0);
    std::vector<int64_t> vec_work(static_cast<size_t>(m_.layers_size()), 0);
    std::vector<bool> has_mac(static_cast<size_t>(m_.layers_size()), false);
    for (int i = 0; i < n; ++i) {
      const hbm::Instruction& in = m_.instructions(i);
      if (in.layer() >= static_cast<uint32_t>(m_.layers_size())) continue;
      const size_t li = in.layer();
      if (in.opcode() == I::CONV && in.compute().inputs_size() > 0) {
        const MacWork w = macWork(in);
        if (!has_mac[li]) frame_work[li] = w;
        has_mac[li] = true;
        pixels[li] += w.outPixels;
      } else if (in.opcode() == I::VECTOR || in.opcode() == I::POOL) {
        vec_work[li] += vectorWork(in);
      }
    }
    for (size_t li = 0; li < r->layers.size(); ++li) {
      double bound = static_cast<double>(vec_work[li]) / static_cast<double>(vec_);
      if (has_mac[li]) {
        MacWork w = frame_work[li];
        w.outPixels = pixels[li] / r->batch;
        bound += batch * static_cast<double>(macCycles(w, rows_, cols_, int16Rate_,
                                                       bestMacMapping(w, rows_, cols_)));
      }
      r->layers[li].computeBoundCycles = bound;
    }
    for (int i = 0; i < n; ++i) {
      const hbm::Instruction& in = m_.instructions(i);
      if (in.layer() >= static_cast<uint32_t>(m_.layers_size())) continue;
      LayerTiming& lt = r->layers[in.layer()];
      const InstructionTime& t = r->instructions[static_cast<size_t>(i)];
      const int64_t d = t.end - t.start;
      if (in.opcode() == I::DMA_LOAD) {
        lt.loadCycles += d;
        const int64_t b = payload(in.dma());
        (in.dma().src().space() == hbm::Region::WEIGHTS ? lt.weightBytes : lt.loadedBytes) += b;
      } else if (in.opcode() == I::DMA_STORE) {
        lt.storeCycles += d;
        lt.storedBytes += payload(in.dma());
      } else if (in.opcode() != I::BARRIER) {
        lt.computeCycles += d;
      }
    }
    for (LayerTiming& lt : r->layers) {
      lt.ddrBoundCycles =
          static_cast<double>(lt.loadedBytes + lt.storedBytes + lt.weightBytes) / bytesPerCycle_;
      r->loadedBytes += lt.loadedBytes;
      r->storedBytes += lt.storedBytes;
      r->weightBytes += lt.weightBytes;
      r->computeBoundCycles += lt.computeBoundCycles;
      r->peakComputeCycles += lt.peakComputeCycles;
      r->ddrBoundCycles += lt.ddrBoundCycles;
    }
    attributeLatency(r);

    // Intervals: busy time per unit (DMA: its transfer on the channel) and bytes moved.
    const int64_t count = std::max<int64_t>(1, std::min<int64_t>(options.intervals, r->cycles));
    r->intervalCycles = std::max<int64_t>(1, ceilDiv(r->cycles, count));
    const int64_t slots = std::max<int64_t>(1, ceilDiv(r->cycles, r->intervalCycles));
    r->intervals.assign(static_cast<size_t>(slots), {});
    std::vector<std::array<int64_t, kTimingUnits>> busy(static_cast<size_t>(slots));
    for (int i = 0; i < n; ++i) {
      const hbm::Instruction& in = m_.instructions(i);
      const int unit = unitOf(in);
      if (unit < 0) continue;
      const InstructionTime& t = r->instructions[static_cast<size_t>(i)];
      const bool dma = in.opcode() == I::DMA_LOAD || in.opcode() == I::DMA_STORE;
      const int64_t b0 = t.start, b1 = dma ? t.start + transfer[static_cast<size_t>(i)] : t.end;
      r->busyCycles[static_cast<size_t>(unit)] += b1 - b0;
      const int64_t bytes = dma ? payload(in.dma()) : 0;
      for (int64_t s = b0 / r->intervalCycles; s < slots && s * r->intervalCycles < b1; ++s) {
        const int64_t lo = std::max(b0, s * r->intervalCycles);
        const int64_t hi = std::min(b1, (s + 1) * r->intervalCycles);
        if (hi <= lo) continue;
        busy[static_cast<size_t>(s)][static_cast<size_t>(unit)] += hi - lo;
        if (dma && b1 > b0) {
          // Bytes in proportion to the transfer time inside the interval (integer, exact sum).
          const int64_t before = bytes * (lo - b0) / (b1 - b0);
          const int64_t upto = bytes * (hi - b0) / (b1 - b0);
          (in.opcode() == I::DMA_LOAD ? r->intervals[static_cast<size_t>(s)].loadedBytes
                                      : r->intervals[static_cast<size_t>(s)].storedBytes) +=
              upto - before;
        }
      }
    }
    for (int64_t s = 0; s < slots; ++s) {
      const int64_t len = std::min(r->intervalCycles, r->cycles - s * r->intervalCycles);
      for (int u = 0; u < kTimingUnits; ++u)
        r->intervals[static_cast<size_t>(s)].busy[static_cast<size_t>(u)] =
            len > 0
                ? static_cast<double>(busy[static_cast<size_t>(s)][static_cast<size_t>(u)]) / len
                : 0.0;
    }
  }

  /// Shares the run's cycles among layers: each stretch between consecutive start/end events
  /// is split evenly among the instructions running in it; an idle stretch goes to the
  /// instruction that starts next.
  void attributeLatency(TimingResult* r) const {
    struct Event {
      int64_t time;
      int delta;  // +1 start, -1 end
      int layer;
    };
    std::vector<Event> events;
    for (int i = 0; i < m_.instructions_size(); ++i) {
      const InstructionTime& t = r->instructions[static_cast<size_t>(i)];
      const int layer = static_cast<int>(m_.instructions(i).layer());
      if (t.end <= t.start || layer >= m_.layers_size()) continue;
      events.push_back({t.start, +1, layer});
      events.push_back({t.end, -1, layer});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return a.time != b.time ? a.time < b.time : a.delta < b.delta;
    });
    std::map<int, int> active;  // layer -> running instructions
    int running = 0;
    int64_t prev = 0;
    double idle = 0;
    for (size_t k = 0; k < events.size(); ++k) {
      const Event& ev = events[k];
      const int64_t len = ev.time - prev;
      if (len > 0) {
        if (running == 0) {
          idle += static_cast<double>(len);
        } else {
          for (const auto& [layer, count] : active)
            r->layers[static_cast<size_t>(layer)].latencyCycles +=
                static_cast<double>(len) * count / running;
        }
      }
      if (ev.delta > 0 && idle > 0) {
        r->layers[static_cast<size_t>(ev.layer)].latencyCycles += idle;
        idle = 0;
      }
      prev = ev.time;
      if (ev.delta > 0) {
        ++active[ev.layer];
        ++running;
      } else if (--active[ev.layer] == 0) {
        active.erase(ev.layer);
        --running;
      } else {
        --running;
      }
    }
  }

  const hbm::Model& m_;
  int64_t rows_ = 1, cols_ = 1, vec_ = 1, latency_ = 0, burst_ = 1;
  double int16Rate_ = 1, bytesPerCycle_ = 1;
  std::vector<LayerShape> shapes_;
};

}  // namespace

const char* timingUnitName(TimingUnit unit) {
  switch (unit) {
    case TimingUnit::kDmaIn: return "dma_in";
    case TimingUnit::kDmaOut: return "dma_out";
    case TimingUnit::kMac: return "mac";
    case TimingUnit::kVec: return "vector";
  }
  return "?";
}

Expected<TimingResult> simulateTiming(const hbm::Model& model, const TimingOptions& options) {
  HQ_RETURN_IF_ERROR(validateHbm(model).addContext("timing"));
  if (model.march_info().clock_mhz() <= 0 || model.march_info().ddr_bytes_per_s() <= 0)
    return HQ_ERROR(kInvalidArgument, "timing: the .hbm's march has no clock or DDR bandwidth");
  return Timer(model).run(options);
}

Expected<int64_t> instructionCycles(const hbm::Model& model, int index) {
  if (index < 0 || index >= model.instructions_size())
    return HQ_ERROR(kInvalidArgument, "instruction {} does not exist", index);
  Timer t(model);
  const hbm::Instruction& in = model.instructions(index);
  if (in.opcode() == I::DMA_LOAD || in.opcode() == I::DMA_STORE) {
    const hbm::MarchSummary& a = model.march_info();
    return t.transferCycles(in.dma(), in.opcode() == I::DMA_LOAD) +
           static_cast<int64_t>(std::llround(a.ddr_latency_ns() * a.clock_mhz() / 1000.0));
  }
  if (in.opcode() == I::BARRIER) return int64_t{0};
  return t.computeCycles(index);
}

}  // namespace hq
