// hq-compile's last passes: schedule (instructions per group, frame and tile; dependencies found
// from the bytes each instruction reads and writes, then turned into wait/signal tokens) and
// pack (the hbm::Model: weight blob, layer table, descriptors, lineage, stats).
#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "compiler/compile_internal.h"
#include "compiler/hbm.h"
#include "compiler/mac_cost.h"
#include "support/version.h"

namespace hq::compile_internal {

namespace {

using I = hbm::Instruction;

void setRegion(hbm::Region* r, hbm::Region::Space space, int64_t offset, int64_t size,
               uint32_t buffer = 0) {
  r->set_space(space);
  r->set_offset(static_cast<uint64_t>(offset));
  r->set_size(static_cast<uint64_t>(size));
  if (space == hbm::Region::DDR) r->set_buffer_id(buffer);
}

/// -O2/-O3: the MAC array mapping with the fewest cycles for this tile (compiler/mac_cost.h,
/// the same work the timing model charges).
hbm::TileGeometry::MacMapping macMappingFor(const LayerPlan& l, const hbm::ComputeOp& op,
                                            const March& march) {
  int64_t taps = 1;
  for (int64_t k : l.attrs.getInts("kernel_shape")) taps *= k;
  const MacWork w = macWorkOf(op, l.opType, taps, l.attrs.getInt("group", 1));
  return bestMacMapping(w, march.macRows, march.macColumns);
}

}  // namespace

int Plan::emit(hbm::Instruction inst, std::vector<int> deps) {
  const int index = static_cast<int>(pending_.size());
  const int engine = static_cast<int>(inst.engine());
  auto touch = [&](const hbm::Region& r, bool write) {
    const int64_t off = static_cast<int64_t>(r.offset()), size = static_cast<int64_t>(r.size());
    if (r.space() == hbm::Region::SRAM) {
      sramHazards_.access(off, off + size, write, index, engine, &deps);
    } else if (r.space() == hbm::Region::DDR) {
      const int64_t base = bufferOffset_[r.buffer_id()];
      ddrHazards_.access(base + off, base + off + size, write, index, engine, &deps);
    }
  };
  if (inst.has_dma()) {
    touch(inst.dma().src(), false);
    touch(inst.dma().dst(), true);
  } else if (inst.has_compute()) {
    for (const hbm::Operand& o : inst.compute().inputs()) {
      if (!o.absent()) touch(o.region(), false);
    }
    touch(inst.compute().output().region(), true);
  }
  if (opt_.optLevel == 0 && index > 0) deps.push_back(index - 1);  // -O0: strictly serial
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  const int layer = static_cast<int>(inst.layer());
  if (layer < static_cast<int>(layerSpans_.size())) {
    auto& span = layerSpans_[static_cast<size_t>(layer)];
    if (span.first < 0) span.first = index;
    span.second = index;
  }
  pending_.push_back({std::move(inst), std::move(deps)});
  return index;
}

hbm::Operand Plan::activationOperand(int storage, const Shape& shape, int64_t sram_offset,
                                     int64_t rows) const {
  const Storage& s = storages_[static_cast<size_t>(storage)];
  hbm::Operand o;
  o.set_dtype(dtypeToHbm(s.dtype));
  Shape sh = shape;
  if (sh.size() == 4) sh[2] = rows;
  for (int64_t d : sh) o.add_shape(d);
  o.set_channel_stride(static_cast<uint32_t>(s.cs));
  int64_t elements = s.cs * s.elem;
  for (size_t i = 0; i < sh.size(); ++i) {
    if (i != 1 && i != 0) elements *= sh[i];
  }
  setRegion(o.mutable_region(), hbm::Region::SRAM, sram_offset, elements);
  return o;
}

Status Plan::emitGroup(int gi, int64_t first_frame, int64_t end_frame) {
  const Group& g = groups_[static_cast<size_t>(gi)];
  const int group_start = static_cast<int>(pending_.size());
  auto loadWeights = [&](int li) {
    for (const LayerInput& in : layers_[static_cast<size_t>(li)].inputs) {
      if (in.kind != LayerInput::kConstant) continue;
      const Constant& c = constants_[static_cast<size_t>(in.constant)];
      const int64_t n = static_cast<int64_t>(c.data.nbytes());
      I inst;
      inst.set_opcode(I::DMA_LOAD);
      inst.set_engine(I::DMA_IN);
      inst.set_layer(static_cast<uint32_t>(li));
      setRegion(inst.mutable_dma()->mutable_src(), hbm::Region::WEIGHTS, c.blobOffset, n);
      setRegion(inst.mutable_dma()->mutable_dst(), hbm::Region::SRAM, g.weightBase + c.sramOffset,
                n);
      inst.mutable_dma()->set_dtype(hbm::INT8);
      emit(std::move(inst), {});
    }
  };
  // From -O1 each layer's weights are loaded once, just before its first tile: the DMA brings
  // layer L+1's weights while layer L computes (loading a whole group's weights up front would
  // keep the MAC array idle until the last of them arrived).
  std::set<int> weights_loaded;
  std::map<int, int64_t> tile_counter;
  for (int64_t f = first_frame; f < end_frame; ++f) {
    for (int li : g.layers) {
      const LayerPlan& l = layers_[static_cast<size_t>(li)];
      const Storage& out = storages_[static_cast<size_t>(l.output)];
      for (const Tile& tile : l.tiles) {
        const int64_t t = tile_counter[li]++;
        const size_t slot = slots() == 2 ? static_cast<size_t>(t & 1) : 0;
        if (opt_.optLevel == 0) {
          loadWeights(li);
        } else if (weights_loaded.insert(li).second) {
          loadWeights(li);
        }
        I inst;
        inst.set_opcode(l.opcode);
        inst.set_engine(l.opcode == I::CONV ? I::MAC : I::VEC);
        inst.set_layer(static_cast<uint32_t>(li));
        hbm::ComputeOp* op = inst.mutable_compute();
        hbm::TileGeometry* geo = op->mutable_tile();
        geo->set_out_y(static_cast<uint32_t>(tile.y0));
        geo->set_out_h(static_cast<uint32_t>(tile.y1 - tile.y0));
        geo->set_frame(static_cast<uint32_t>(f));
        if (l.hasPads) {
          geo->set_pad_top(static_cast<uint32_t>(l.pads[0]));
          geo->set_pad_left(static_cast<uint32_t>(l.pads[1]));
          geo->set_pad_bottom(static_cast<uint32_t>(l.pads[2]));
          geo->set_pad_right(static_cast<uint32_t>(l.pads[3]));
        }
        size_t stream = 0;
        for (const LayerInput& in : l.inputs) {
          hbm::Operand* o = op->add_inputs();
          if (in.kind == LayerInput::kAbsent) {
            o->set_absent(true);
            continue;
          }
          if (in.kind == LayerInput::kConstant) {
            const Constant& c = constants_[static_cast<size_t>(in.constant)];
            o->set_dtype(dtypeToHbm(c.data.dtype()));
            for (int64_t d : c.data.shape()) o->add_shape(d);
            setRegion(o->mutable_region(), hbm::Region::SRAM, g.weightBase + c.sramOffset,
                      static_cast<int64_t>(c.data.nbytes()));
            continue;
          }
          const Storage& s = storages_[static_cast<size_t>(in.storage)];
          const int64_t slot_at = l.slotOffsets[stream][slot];
          ++stream;
          int64_t lo, hi, pt, pb;
          inputRows(l, in, tile.y0, tile.y1, &lo, &hi, &pt, &pb);
          if (in.window && l.hasPads) {
            geo->set_pad_top(static_cast<uint32_t>(pt));
            geo->set_pad_bottom(static_cast<uint32_t>(pb));
          }
          // Where the operand's bytes are in DDR (frame f, rows [lo, hi)), and how many.
          int64_t ddr_off = f * s.frameStride, bytes = 0;
          if (in.plane == 0) {
            ddr_off += lo * s.w, bytes = (hi - lo) * s.w;
          } else if (in.plane == 1) {
            ddr_off += s.h * s.w + lo * s.w, bytes = (hi - lo) * s.w;
          } else {
            ddr_off += lo * s.rowBytes(), bytes = (hi - lo) * s.rowBytes();
          }
          int64_t at = slot_at;
          if (s.resident) {
            at = s.sramOffset + lo * s.rowBytes();
          } else {
            I load;
            load.set_opcode(I::DMA_LOAD);
            load.set_engine(I::DMA_IN);
            load.set_layer(static_cast<uint32_t>(li));
            setRegion(load.mutable_dma()->mutable_src(), hbm::Region::DDR, ddr_off, bytes,
                      s.bufferId);
            setRegion(load.mutable_dma()->mutable_dst(), hbm::Region::SRAM, slot_at, bytes);
            load.mutable_dma()->set_dtype(dtypeToHbm(s.dtype));
            emit(std::move(load), {});
          }
          if (in.plane >= 0) {
            o->set_dtype(hbm::UINT8);
            const int64_t rows = hi - lo;
            for (int64_t d : in.plane == 0 ? Shape{1, 1, rows, s.w} : Shape{1, 2, rows, s.w / 2})
              o->add_shape(d);
            o->set_channel_stride(in.plane == 0 ? 1 : 2);
            setRegion(o->mutable_region(), hbm::Region::SRAM, at, bytes);
          } else if (in.flat) {
            o->set_dtype(dtypeToHbm(s.dtype));
            o->add_shape(1);
            o->add_shape(s.h * s.w * s.cs);
            o->set_channel_stride(static_cast<uint32_t>(s.h * s.w * s.cs));
            setRegion(o->mutable_region(), hbm::Region::SRAM, at, bytes);
          } else {
            *o = activationOperand(in.storage, in.shape, at, hi - lo);
          }
        }
        const int64_t rows = tile.y1 - tile.y0;
        const int64_t out_at =
            out.resident ? out.sramOffset + tile.y0 * out.rowBytes() : l.slotOffsets[stream][slot];
        hbm::Operand* y = op->mutable_output();
        Shape out_shape = l.outShape;
        *y = activationOperand(l.output, out_shape, out_at, rows);
        y->set_channel_offset(static_cast<uint32_t>(l.outChannelOffset));
        y->set_written_channels(static_cast<uint32_t>(l.outWrittenChannels));
        if (l.opcode == I::CONV && opt_.optLevel >= 2)
          geo->set_mac_mapping(macMappingFor(l, *op, march_));
        emit(std::move(inst), {});
        if (!out.resident) {
          // Store the bytes the compute wrote: whole rows, or the slice's channels per pixel.
          const int64_t pixels = rows * out.w;
          const int64_t written =
              l.outWrittenChannels > 0 ? l.outWrittenChannels : out.cs - l.outChannelOffset;
          I store;
          store.set_opcode(I::DMA_STORE);
          store.set_engine(I::DMA_OUT);
          store.set_layer(static_cast<uint32_t>(li));
          hbm::Region* src = store.mutable_dma()->mutable_src();
          hbm::Region* dst = store.mutable_dma()->mutable_dst();
          const int64_t first = l.outChannelOffset * out.elem;
          const int64_t span = ((pixels - 1) * out.cs + written) * out.elem;
          setRegion(src, hbm::Region::SRAM, out_at + first, span);
          setRegion(dst, hbm::Region::DDR, f * out.frameStride + tile.y0 * out.rowBytes() + first,
                    span, out.bufferId);
          if (written < out.cs && pixels > 1) {
            for (hbm::Region* r : {src, dst}) {
              r->add_dims(static_cast<uint32_t>(pixels));
              r->add_dims(static_cast<uint32_t>(written));
              r->add_strides(out.cs * out.elem);
              r->add_strides(out.elem);
            }
          }
          store.mutable_dma()->set_dtype(dtypeToHbm(out.dtype));
          emit(std::move(store), {});
        }
      }
    }
  }
  // The group ends with a barrier after the last instruction of every engine.
  std::array<int, kEngines> last;
  last.fill(-1);
  for (int i = group_start; i < static_cast<int>(pending_.size()); ++i)
    last[static_cast<size_t>(pending_[static_cast<size_t>(i)].inst.engine())] = i;
  I barrier;
  barrier.set_opcode(I::BARRIER);
  barrier.set_engine(I::CONTROL);
  barrier.set_layer(static_cast<uint32_t>(g.layers.back()));
  std::vector<int> deps;
  for (int i : last) {
    if (i >= 0) deps.push_back(i);
  }
  emit(std::move(barrier), deps);
  return Status::ok();
}

Status Plan::schedule(std::string* note) {
  for (const hbm::Buffer& b : buffers_) bufferOffset_[b.id()] = static_cast<int64_t>(b.offset());
  layerSpans_.assign(layers_.size(), {-1, -1});
  if (opt_.optLevel <= 1) {
    // Frame by frame, the whole model each time (weights reloaded for every frame).
    for (int64_t f = 0; f < opt_.batch; ++f) {
      for (size_t g = 0; g < groups_.size(); ++g)
        HQ_RETURN_IF_ERROR(emitGroup(static_cast<int>(g), f, f + 1));
    }
  } else {
    // Group by group over the whole batch: each group's weights are loaded once per run.
    for (size_t g = 0; g < groups_.size(); ++g)
      HQ_RETURN_IF_ERROR(emitGroup(static_cast<int>(g), 0, opt_.batch));
  }
  // Dependencies -> tokens. An engine that already synchronized (directly or through the
  // instruction it waited on) with a later instruction of the producer's engine needs no token.
  std::vector<std::array<int, kEngines>> known(pending_.size());
  std::array<std::array<int, kEngines>, kEngines> cur;
  for (auto& row : cur) row.fill(-1);
  uint32_t tokens = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    PendingInstruction& p = pending_[i];
    const size_t e = static_cast<size_t>(p.inst.engine());
    std::array<int, kEngines> k = cur[e];
    for (auto it = p.deps.rbegin(); it != p.deps.rend(); ++it) {
      const int a = *it;
      const size_t ea = static_cast<size_t>(pending_[static_cast<size_t>(a)].inst.engine());
      if (ea == e || k[ea] >= a) continue;
      ++tokens;
      pending_[static_cast<size_t>(a)].inst.add_signals(tokens);
      p.inst.add_waits(tokens);
      for (size_t x = 0; x < kEngines; ++x) k[x] = std::max(k[x], known[static_cast<size_t>(a)][x]);
      k[ea] = std::max(k[ea], a);
    }
    k[e] = static_cast<int>(i);
    known[i] = k;
    cur[e] = k;
  }
  *note = fmt::format("{} instructions, {} tokens", pending_.size(), tokens);
  return Status::ok();
}

Status Plan::pack(hbm::Model* m, CompileStats* stats, std::string* note) {
  m->set_march(march_.name);
  hbm::MarchSummary* mi = m->mutable_march_info();
  mi->set_sha256(march_.sha256);
  mi->set_clock_mhz(march_.clockMhz);
  mi->set_mac_rows(march_.macRows);
  mi->set_mac_columns(march_.macColumns);
  mi->set_int16_rate(march_.int16Rate);
  mi->set_vector_elements_per_cycle(march_.vectorElementsPerCycle);
  mi->set_sram_bytes(march_.sramBytes);
  mi->set_sram_banks(march_.sramBanks);
  mi->set_ddr_bytes_per_s(march_.ddrBytesPerS);
  mi->set_ddr_latency_ns(march_.ddrLatencyNs);
  mi->set_ddr_burst_bytes(march_.ddrBurstBytes);
  mi->set_dma_engines(march_.dmaEngines);
  mi->set_channel_group(march_.channelGroup);
  m->set_batch(static_cast<uint32_t>(opt_.batch));
  for (const hbm::TensorDesc& d : inputDescs_) *m->add_inputs() = d;
  for (const hbm::TensorDesc& d : outputDescs_) *m->add_outputs() = d;
  for (const hbm::Buffer& b : buffers_) *m->add_buffers() = b;
  m->set_ddr_bytes(static_cast<uint64_t>(ddrBytes_));

  // Weights blob and regions.
  std::string blob;
  for (const Constant& c : constants_) {
    const int64_t n = static_cast<int64_t>(c.data.nbytes());
    if (static_cast<int64_t>(blob.size()) != c.blobOffset)
      blob.resize(static_cast<size_t>(c.blobOffset), '\0');
    blob.append(static_cast<const char*>(c.data.raw()), static_cast<size_t>(n));
    hbm::WeightRegion* w = m->add_weight_regions();
    w->set_layer(static_cast<uint32_t>(c.layer));
    w->set_kind(c.kind);
    w->set_offset(static_cast<uint64_t>(c.blobOffset));
    w->set_size(static_cast<uint64_t>(n));
  }
  m->set_weights(std::move(blob));

  // Layer table.
  for (size_t li = 0; li < layers_.size(); ++li) {
    const LayerPlan& l = layers_[li];
    hbm::Layer* hl = m->add_layers();
    hl->set_name(l.name);
    for (const std::string& s : l.sourceNodes) hl->add_source_nodes(s);
    for (const std::string& s : l.sourceOps) hl->add_source_ops(s);
    const auto [first, last] = layerSpans_[li];
    hl->set_first_instruction(static_cast<uint32_t>(std::max(first, 0)));
    hl->set_instruction_count(static_cast<uint32_t>(first < 0 ? 0 : last - first + 1));
    hl->set_macs(static_cast<uint64_t>(l.macs));
    hl->set_vector_ops(static_cast<uint64_t>(l.vectorOps));
    hl->set_group(static_cast<uint32_t>(l.group));
    hbm::LayerOp* op = hl->mutable_op();
    op->set_op_type(l.opType);
    op->set_domain(l.domain);
    for (const auto& [name, a] : l.attrs.all()) {
      hbm::Attribute* ha = op->add_attributes();
      ha->set_name(name);
      switch (a.kind) {
        case Attribute::Kind::kInt: ha->set_kind(hbm::Attribute::INT), ha->set_i(a.i); break;
        case Attribute::Kind::kFloat: ha->set_kind(hbm::Attribute::FLOAT), ha->set_f(a.f); break;
        case Attribute::Kind::kString: ha->set_kind(hbm::Attribute::STRING), ha->set_s(a.s); break;
        case Attribute::Kind::kInts:
          ha->set_kind(hbm::Attribute::INTS);
          for (int64_t v : a.ints) ha->add_ints(v);
          break;
        case Attribute::Kind::kFloats:
          ha->set_kind(hbm::Attribute::FLOATS);
          for (float v : a.floats) ha->add_floats(v);
          break;
        default:
          return HQ_ERROR(kInternal, "layer '{}': attribute '{}' cannot be packed", l.name, name);
      }
    }
  }

  // Instructions and stats.
  *stats = CompileStats{};
  for (PendingInstruction& p : pending_) {
    const I& inst = p.inst;
    switch (inst.opcode()) {
      case I::DMA_LOAD:
        ++stats->dmaInstructions;
        (inst.dma().src().space() == hbm::Region::WEIGHTS ? stats->weightLoadBytes
                                                          : stats->ddrLoadBytes) +=
            dmaPayloadBytes(inst.dma().src(), inst.dma().dtype());
        break;
      case I::DMA_STORE:
        ++stats->dmaInstructions;
        stats->ddrStoreBytes += dmaPayloadBytes(inst.dma().dst(), inst.dma().dtype());
        break;
      case I::BARRIER: ++stats->barriers; break;
      default: ++stats->computeInstructions;
    }
    *m->add_instructions() = std::move(p.inst);
  }
  pending_.clear();
  stats->layers = static_cast<int64_t>(layers_.size());
  stats->instructions = m->instructions_size();
  stats->tiles = stats->computeInstructions;
  for (const Group& g : groups_) stats->fusedGroups += g.layers.size() > 1 ? 1 : 0;
  stats->weightBytes = static_cast<int64_t>(m->weights().size());
  stats->ddrArenaBytes = ddrBytes_;
  stats->sramPeakBytes = sramPeak_;
  stats->batchFrames = opt_.batch;

  m->set_source_model_sha256(opt_.sourceModelSha256);
  hbm::CompilerInfo* ci = m->mutable_compiler();
  ci->set_version(kHqVersion);
  ci->set_opt_level(static_cast<uint32_t>(opt_.optLevel));
  ci->set_input_source(opt_.inputSource == InputSource::kDdr       ? hbm::DDR
                       : opt_.inputSource == InputSource::kPyramid ? hbm::PYRAMID
                                                                   : hbm::RESIZER);
  ci->set_batch(static_cast<uint32_t>(opt_.batch));
  std::map<std::string, std::string> options(opt_.recordedOptions.begin(),
                                             opt_.recordedOptions.end());
  for (const auto& [k, v] : options) {
    hbm::Option* o = ci->add_options();
    o->set_key(k);
    o->set_value(v);
  }
  *note = fmt::format("{} instructions, weights {} bytes", stats->instructions, stats->weightBytes);
  return Status::ok();
}

}  // namespace hq::compile_internal
