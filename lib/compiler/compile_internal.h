// The compiler's plan, shared by compile.cpp (the pass driver), compile_plan.cpp (layout,
// fusion groups, tiles, DDR and SRAM placement) and emit.cpp (instructions, tokens, packing).
// Internal to lib/compiler.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "compiler/lower.h"
#include "hbm.pb.h"

namespace hq::compile_internal {

/// A tensor as the NPU stores it: NHWC, channels padded to the march's group (one frame).
struct Storage {
  std::string name;
  DType dtype = DType::kUndefined;
  int64_t elem = 1;                     ///< bytes per element
  int64_t h = 1, w = 1, c = 1, cs = 1;  ///< native dims; cs = padded channels (channel stride)
  bool nv12 = false;                    ///< pyramid/resizer input: Y plane then UV plane
  int producer = -1;                    ///< first layer writing it; -1 for a model input
  std::vector<int> writers;             ///< layers writing it (several: an in-place concat)
  std::vector<int> consumers;           ///< layer indices
  bool modelInput = false, modelOutput = false;
  // Placement.
  bool resident = false;    ///< -O3: kept in SRAM (per frame) inside its fusion group
  int64_t sramOffset = 0;   ///< when resident
  uint32_t bufferId = 0;    ///< DDR buffer (when not resident)
  int64_t frameStride = 0;  ///< bytes between frames in the buffer

  int64_t rowBytes() const { return w * cs * elem; }
  int64_t frameBytes() const { return nv12 ? h * w * 3 / 2 : h * rowBytes(); }
};

/// One input of a layer's op.
struct LayerInput {
  enum Kind { kAbsent, kActivation, kConstant } kind = kAbsent;
  int storage = -1;   ///< activation: index into Plan::storages
  Shape shape;        ///< activation: the op's view of it (logical, batch 1)
  bool flat = false;  ///< activation read as [1, H*W*Cs] (QGemm input; weights permuted to match)
  // Activation row window along H (output rows -> input rows).
  bool window = false;  ///< conv/pool window; else the same rows as the output
  int64_t k = 1, s = 1, d = 1, padTop = 0;
  int plane = -1;     ///< NV12 input: 0 = Y plane, 1 = interleaved UV plane (half the rows)
  int constant = -1;  ///< constant: index into Plan::constants
};

struct Constant {
  int layer = 0;
  Tensor data;  ///< as packed (QGemm weights permuted to the NHWC flatten order)
  hbm::WeightRegion::Kind kind = hbm::WeightRegion::WEIGHT;
  int64_t blobOffset = 0;
  int64_t sramOffset = 0;  ///< inside the layer's group weight area
};

/// A row tile of one layer's output.
struct Tile {
  int64_t y0 = 0, y1 = 0;  ///< output rows [y0, y1)
};

struct LayerPlan {
  std::string name;
  std::string opType, domain;
  Attributes attrs;
  std::vector<std::string> sourceNodes, sourceOps;
  hbm::Instruction::Opcode opcode = hbm::Instruction::VECTOR;
  std::vector<LayerInput> inputs;
  int output = -1;  ///< storage index
  /// Output into channels [outChannelOffset, + C) of a wider storage (an in-place channel
  /// concat); outWrittenChannels as hbm Operand.written_channels (0: through the padding).
  int64_t outChannelOffset = 0, outWrittenChannels = 0;
  Shape outShape;  ///< logical output shape (batch 1)
  bool tileable = false;
  bool hasPads = false;
  std::array<int64_t, 4> pads{0, 0, 0, 0};  ///< top, left, bottom, right
  int64_t evenRows = 1;                     ///< tile heights are multiples of this (2 for NV12)
  int64_t macs = 0, vectorOps = 0;
  int group = 0;
  std::vector<Tile> tiles;
  int64_t weightBytes = 0;  ///< SRAM bytes of the constants (aligned)
  // SRAM slots (per stream: activation inputs in order, then the output).
  std::vector<int64_t> slotBytes;  ///< bytes of one slot per stream (0: resident, no slot)
  std::vector<std::array<int64_t, 2>> slotOffsets;
};

struct Group {
  std::vector<int> layers;
  int64_t weightBase = 0, weightBytes = 0;
  int64_t residentBytes = 0;
  int64_t slotBase = 0;
  int64_t sramBytes = 0;  ///< footprint
};

/// Instruction::Engine values are 0..5.
inline constexpr int kEngines = 6;

/// Who last wrote and read each byte range of one address space. A write depends on the last
/// writer and on every reader since (one per engine suffices: engines run in order).
class HazardTracker {
 public:
  void access(int64_t begin, int64_t end, bool write, int inst, int engine,
              std::vector<int>* deps) {
    if (begin >= end) return;
    split(begin);
    split(end);
    // Fill holes with fresh segments.
    int64_t at = begin;
    auto it = segs_.lower_bound(begin);
    std::vector<std::pair<int64_t, int64_t>> holes;
    while (at < end) {
      if (it == segs_.end() || it->first >= end) {
        holes.emplace_back(at, end);
        break;
      }
      if (it->first > at) holes.emplace_back(at, it->first);
      at = it->second.end;
      ++it;
    }
    for (auto [a, b] : holes) segs_[a] = Seg{b};
    for (it = segs_.lower_bound(begin); it != segs_.end() && it->first < end; ++it) {
      Seg& s = it->second;
      if (s.writer >= 0) deps->push_back(s.writer);
      if (write) {
        for (int r : s.readers) {
          if (r >= 0) deps->push_back(r);
        }
        s.writer = inst;
        s.readers.fill(-1);
      } else {
        s.readers[static_cast<size_t>(engine)] =
            std::max(s.readers[static_cast<size_t>(engine)], inst);
      }
    }
  }

 private:
  struct Seg {
    int64_t end = 0;
    int writer = -1;
    std::array<int, kEngines> readers{-1, -1, -1, -1, -1, -1};
  };
  void split(int64_t at) {
    auto it = segs_.upper_bound(at);
    if (it == segs_.begin()) return;
    --it;
    if (it->first < at && at < it->second.end) {
      Seg right = it->second;
      it->second.end = at;
      segs_[at] = right;
    }
  }
  std::map<int64_t, Seg> segs_;
};

/// One instruction before tokens: dependencies are instruction indices.
struct PendingInstruction {
  hbm::Instruction inst;
  std::vector<int> deps;
};

class Plan {
 public:
  Plan(const Graph& g, const March& m, const CompileOptions& o) : g_(g), march_(m), opt_(o) {}

  Status lower(std::string* note);
  Status layout(std::string* note);
  Status fuse(std::string* note);
  void singleLayerGroups();
  Status tile(std::string* note);
  Status planDdr(std::string* note);
  Status planSram(std::string* note);
  Status schedule(std::string* note);
  Status pack(hbm::Model* model, CompileStats* stats, std::string* note);

 private:
  // compile_plan.cpp
  Status addLayer(const Layer& layer);
  Status addBoundary();
  int storageFor(const std::string& name, const Shape& shape, DType dtype);
  int64_t slots() const { return opt_.optLevel >= 1 ? 2 : 1; }
  /// Input rows [lo, hi) and the tile's top/bottom zero padding for output rows [y0, y1).
  void inputRows(const LayerPlan& l, const LayerInput& in, int64_t y0, int64_t y1, int64_t* lo,
                 int64_t* hi, int64_t* pad_top, int64_t* pad_bottom) const;
  /// Slot bytes per stream for tiles of `rows` output rows.
  std::vector<int64_t> streamBytes(const LayerPlan& l, int64_t rows) const;
  int64_t ddrBytesFor(const LayerPlan& l, int64_t rows) const;
  /// Does every tile of `rows` output rows read at least one input row of each window input?
  bool bandsNonEmpty(const LayerPlan& l, int64_t rows) const;
  int64_t groupFixedBytes(const Group& g) const;
  bool residentCandidate(int s, const std::vector<int>& group_layers) const;

  // emit.cpp
  int emit(hbm::Instruction inst, std::vector<int> deps);
  /// Instructions of group `gi` for frames [first_frame, end_frame), then a barrier.
  Status emitGroup(int gi, int64_t first_frame, int64_t end_frame);
  hbm::Operand activationOperand(int storage, const Shape& shape, int64_t sram_offset,
                                 int64_t rows) const;

 public:
  const Graph& g_;
  const March& march_;
  const CompileOptions& opt_;
  LayerGraph lowered_;
  std::vector<Storage> storages_;
  std::map<std::string, int> storageIndex_;
  std::vector<LayerPlan> layers_;
  std::vector<Constant> constants_;
  std::vector<Group> groups_;
  std::vector<hbm::TensorDesc> inputDescs_, outputDescs_;
  std::vector<int> inputStorages_, outputStorages_;
  std::vector<hbm::Buffer> buffers_;
  int64_t ddrBytes_ = 0;
  std::vector<PendingInstruction> pending_;
  HazardTracker sramHazards_, ddrHazards_;       ///< SRAM, and DDR by absolute address
  std::map<uint32_t, int64_t> bufferOffset_;     ///< DDR buffer id -> offset
  std::vector<std::pair<int, int>> layerSpans_;  ///< per layer: first, last instruction
  int64_t sramPeak_ = 0;
};


}  // namespace hq::compile_internal
