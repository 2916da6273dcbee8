// The timing model: how long one run of an .hbm takes on its march, derived from the same
// instruction stream the functional simulator executes. Each engine (DMA in, DMA out, MAC array,
// vector unit, control) runs its instructions in stream order; an instruction starts when its
// engine is free and every token it waits on has been signalled (the k-th wait on a token is
// met by the k-th signal, at that instruction's end). Costs, from the march numbers in the
// .hbm (MarchSummary), in cycles of the core clock:
//
//   DMA      the transfer occupies the one DDR channel (shared by both DMA engines and weight
//            loads) for bytes / (DDR bytes per cycle), each contiguous run rounded up to whole
//            bursts; the data lands ddr_latency later. An engine may issue its next transfer
//            as soon as the channel is done with this one (requests pipeline).
//   CONV     compiler/mac_cost.h's macCycles for the tile and its TileGeometry.mac_mapping
//            (alignment waste included), plus kInstructionOverhead.
//   VECTOR/  elements processed / vector_elements_per_cycle (outputs x taps for pooling, x
//   POOL     inputs for elementwise, x 4 for bilinear resize, x 3 for softmax), plus overhead.
//   BARRIER  no time.
//
// Also the roofline of each layer and of the model: max(compute bound, DDR bytes at peak
// bandwidth). The compute bound is the layer's whole work per frame on the MAC array in the
// best mapping (compiler/mac_cost.h), with no overhead, times the batch, plus its vector work
// at the vector unit's rate: the alignment waste of the model's channel counts is in it (no
// schedule avoids that), what the compiler decides is not (tiling, mapping, overlap, DDR
// traffic). peakComputeCycles, MACs / (rows x columns), shows the shapes' waste separately.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/mac_cost.h"
#include "hbm.pb.h"
#include "support/status.h"

namespace hq {

/// Fixed cycles every CONV/VECTOR/POOL instruction costs on top of its work (pipeline fill).
inline constexpr int64_t kInstructionOverhead = 16;

/// The units whose utilization is reported over time.
enum class TimingUnit { kDmaIn = 0, kDmaOut = 1, kMac = 2, kVec = 3 };
inline constexpr int kTimingUnits = 4;
/// "dma_in", "dma_out", "mac", "vector".
const char* timingUnitName(TimingUnit unit);

struct TimingOptions {
  /// The run is cut into this many intervals of equal length for the utilization and
  /// bandwidth series (fewer when the run has fewer cycles).
  int64_t intervals = 100;
};

struct InstructionTime {
  int64_t start = 0, end = 0;  ///< cycles from the start of the run
};

/// One layer of the .hbm (hbm::Layer, same order).
struct LayerTiming {
  std::string name;
  std::string opType;
  int64_t macsPerFrame = 0, vectorOpsPerFrame = 0;
  int64_t computeCycles = 0;  ///< summed durations of its CONV/VECTOR/POOL instructions (no DDR)
  int64_t loadCycles = 0;     ///< summed durations of its DMA loads (activations and weights)
  int64_t storeCycles = 0;    ///< summed durations of its DMA stores
  int64_t loadedBytes = 0;    ///< DDR -> SRAM activation bytes per run
  int64_t storedBytes = 0;    ///< SRAM -> DDR bytes per run
  int64_t weightBytes = 0;    ///< weight bytes loaded per run
  /// Cycles of the run attributed to this layer: every stretch of time is shared by the
  /// instructions running then (idle stretches go to the next instruction to start), so the
  /// layers' shares sum to the run's cycles.
  double latencyCycles = 0;
  double computeBoundCycles = 0;  ///< its work at peak rates for its shapes, per run
  double peakComputeCycles = 0;   ///< its MACs / (rows x columns), per run (no alignment waste)
  double ddrBoundCycles = 0;      ///< its DDR bytes at peak bandwidth, per run
  double rooflineCycles() const {
    return computeBoundCycles > ddrBoundCycles ? computeBoundCycles : ddrBoundCycles;
  }
};

/// One interval of the run.
struct TimingInterval {
  std::array<double, kTimingUnits> busy{};  ///< fraction of the interval each unit worked
  int64_t loadedBytes = 0;                  ///< DDR -> SRAM bytes (activations + weights)
  int64_t storedBytes = 0;                  ///< SRAM -> DDR bytes
};

struct TimingResult {
  int64_t cycles = 0;  ///< one run (all frames of the batch)
  double clockMhz = 0;
  int64_t batch = 1;
  std::vector<InstructionTime> instructions;  ///< same order as the stream
  std::vector<LayerTiming> layers;
  int64_t intervalCycles = 0;
  std::vector<TimingInterval> intervals;
  int64_t loadedBytes = 0, storedBytes = 0, weightBytes = 0;  ///< per run
  double computeBoundCycles = 0, ddrBoundCycles = 0;          ///< model roofline terms, per run
  double peakComputeCycles = 0;                               ///< MACs / (rows x columns), per run
  std::array<int64_t, kTimingUnits> busyCycles{};             ///< per unit, per run

  double latencyUs() const { return static_cast<double>(cycles) / clockMhz; }
  double fps() const {
    return cycles > 0 ? batch * clockMhz * 1e6 / static_cast<double>(cycles) : 0;
  }
  double rooflineCycles() const {
    return computeBoundCycles > ddrBoundCycles ? computeBoundCycles : ddrBoundCycles;
  }
  /// rooflineCycles / cycles: how close the schedule gets to the bound (<= 1).
  double rooflineFraction() const {
    return cycles > 0 ? rooflineCycles() / static_cast<double>(cycles) : 0;
  }
  double ddrBytesPerFrame() const {
    return static_cast<double>(loadedBytes + storedBytes + weightBytes) /
           static_cast<double>(batch);
  }
};

/// Time one run of `model` (validated first). Errors: an invalid model, a token wait that is
/// never met (deadlock), an instruction whose cost cannot be derived (naming it).
Expected<TimingResult> simulateTiming(const hbm::Model& model, const TimingOptions& options = {});

/// Cycles of one instruction (its engine time; DMA: transfer plus latency), as simulateTiming
/// charges it with the DDR channel free. For tests and reports.
Expected<int64_t> instructionCycles(const hbm::Model& model, int index);

}  // namespace hq
