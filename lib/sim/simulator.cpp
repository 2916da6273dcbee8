// The functional NPU simulator (sim/simulator.h); semantics in schemas/hbm.md, "Execution
// semantics".
#include "sim/simulator.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include "compiler/hbm.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/kernel.h"
#include "sim/host_io.h"
#include "sim/memory.h"

namespace hq {
namespace {

/// The elements [offset, offset + count) of each of `pixels` pixels of `channel_stride`
/// elements, inside activation region `r` (which starts at pixel 0, channel 0).
hbm::Region channelSlice(const hbm::Region& r, int64_t pixels, int64_t channel_stride,
                         int64_t offset, int64_t count, int64_t elem) {
  hbm::Region s = r;
  s.set_offset(r.offset() + static_cast<uint64_t>(offset * elem));
  s.set_size(static_cast<uint64_t>(((pixels - 1) * channel_stride + count) * elem));
  s.clear_dims();
  s.clear_strides();
  if (pixels > 1 && count < channel_stride) {
    s.add_dims(static_cast<uint32_t>(pixels));
    s.add_dims(static_cast<uint32_t>(count));
    s.add_strides(channel_stride * elem);
    s.add_strides(elem);
  }
  return s;
}

}  // namespace

namespace {

using Instr = hbm::Instruction;

/// The NPU's own op domain and its input conversion op (schemas/hbm.md).
constexpr const char* kNpuDomain = "hq.npu";
constexpr const char* kNv12ToNative = "Nv12ToNative";


Attribute attributeFromHbm(const hbm::Attribute& a) {
  switch (a.kind()) {
    case hbm::Attribute::FLOAT: return Attribute::ofFloat(a.f());
    case hbm::Attribute::STRING: return Attribute::ofString(a.s());
    case hbm::Attribute::INTS:
      return Attribute::ofInts(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case hbm::Attribute::FLOATS:
      return Attribute::ofFloats(std::vector<float>(a.floats().begin(), a.floats().end()));
    default: return Attribute::ofInt(a.i());
  }
}

/// Ops whose `pads` the tile geometry replaces (hbm.proto TileGeometry).
bool tilePadsApply(const Node& node) {
  return node.domain == kIntDomain &&
         (node.opType == "QConv" || node.opType == "QMaxPool" || node.opType == "QAveragePool");
}

}  // namespace

March marchFromSummary(const std::string& name, const hbm::MarchSummary& s) {
  March m;
  m.name = name;
  m.source = "hbm march_info";
  m.clockMhz = s.clock_mhz();
  m.macRows = s.mac_rows();
  m.macColumns = s.mac_columns();
  m.int16Rate = s.int16_rate();
  m.vectorElementsPerCycle = s.vector_elements_per_cycle();
  m.sramBytes = s.sram_bytes();
  m.sramBanks = s.sram_banks();
  m.ddrBytesPerS = s.ddr_bytes_per_s();
  m.ddrLatencyNs = s.ddr_latency_ns();
  m.ddrBurstBytes = s.ddr_burst_bytes();
  m.dmaEngines = s.dma_engines();
  m.channelGroup = s.channel_group();
  return m;
}

struct Simulator::Impl {
  hbm::Model model;
  SimOptions options;
  March march;
  SimStats stats;
  /// Values the per-layer nodes point at (runReference needs a node with outputs).
  std::vector<std::unique_ptr<Value>> values;
  std::vector<Node> nodes;  ///< one per layer, built from Layer.op
  std::vector<Value*> inputSlots;
  /// Prepared kernels by (layer, tile shapes, pads): the integer executor's kernels.
  struct CachedKernel {
    Node node;
    std::unique_ptr<PreparedKernel> kernel;
    /// The constant operands (weights, bias) it was prepared with, by input index: a fast
    /// kernel may keep its own copy, so every call checks the bytes read now against these.
    std::vector<std::pair<size_t, Tensor>> constants;
  };
  std::map<std::string, std::unique_ptr<CachedKernel>> kernels;
  std::unique_ptr<SimMemory> memory;  ///< created by the first run()

  std::string where(int i) const {
    const Instr& in = model.instructions(i);
    const std::string op = Instr::Opcode_Name(in.opcode());
    if (in.layer() < static_cast<uint32_t>(model.layers_size()))
      return fmt::format("instruction {} ({}, layer '{}')", i, op, model.layers(in.layer()).name());
    return fmt::format("instruction {} ({})", i, op);
  }
  Status fail(int i, const std::string& what) const {
    return Status(ErrorCode::kInternal, fmt::format("simulator: {}: {}", where(i), what));
  }

  Value* slot(size_t k) {
    while (inputSlots.size() <= k) {
      values.push_back(std::make_unique<Value>());
      values.back()->name = fmt::format("in{}", inputSlots.size());
      inputSlots.push_back(values.back().get());
    }
    return inputSlots[k];
  }

  Status execute(int i, SimMemory& mem);
  Status dma(int i, SimMemory& mem);
  Status compute(int i, SimMemory& mem);
  Expected<Tensor> readOperand(int i, const hbm::Operand& o, const SimMemory& mem) const;
  Expected<Tensor> nv12ToNative(int i, const Node& node,
                                const std::vector<const Tensor*>& ins) const;
};

Simulator::Simulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Simulator::~Simulator() = default;
const SimStats& Simulator::stats() const { return impl_->stats; }
const hbm::Model& Simulator::model() const { return impl_->model; }

Expected<std::unique_ptr<Simulator>> Simulator::create(const hbm::Model& model,
                                                       const SimOptions& options) {
  Status valid = validateHbm(model);
  if (!valid.isOk()) return Status(ErrorCode::kInvalidArgument, "invalid .hbm: " + valid.message());
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->options = options;
  impl->march = marchFromSummary(model.march(), model.march_info());
  // Build the memories once to report an unusable march now rather than at run().
  HQ_RETURN_IF_ERROR(SimMemory::create(impl->march, model).status());
  for (const hbm::Layer& layer : model.layers()) {
    Node node;
    node.name = layer.name();
    node.opType = layer.op().op_type();
    node.domain = layer.op().domain();
    for (const hbm::Attribute& a : layer.op().attributes())
      node.attrs.set(a.name(), attributeFromHbm(a));
    impl->values.push_back(std::make_unique<Value>());
    impl->values.back()->name = layer.name() + ":out";
    node.outputs.push_back(impl->values.back().get());
    impl->nodes.push_back(std::move(node));
  }
  return std::unique_ptr<Simulator>(new Simulator(std::move(impl)));
}

Status Simulator::Impl::dma(int i, SimMemory& mem) {
  const hbm::DmaOp& d = model.instructions(i).dma();
  const int64_t elem = d.dtype() == hbm::DTYPE_UNSPECIFIED ? 1 : hbmDTypeBytes(d.dtype());
  if (elem == 0)
    return fail(i, fmt::format("dma.dtype {} is unknown", static_cast<int>(d.dtype())));
  const std::string ctx = where(i);
  HQ_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, mem.read(d.src(), elem, ctx));
  HQ_RETURN_IF_ERROR(mem.write(d.dst(), elem, bytes, ctx));
  const auto n = static_cast<int64_t>(bytes.size());
  if (model.instructions(i).opcode() == Instr::DMA_LOAD) {
    ++stats.dmaLoads;
    (d.src().space() == hbm::Region::WEIGHTS ? stats.weightBytesLoaded : stats.ddrBytesLoaded) += n;
  } else {
    ++stats.dmaStores;
    stats.ddrBytesStored += n;
  }
  return Status::ok();
}

Expected<Tensor> Simulator::Impl::readOperand(int i, const hbm::Operand& o,
                                              const SimMemory& mem) const {
  const DType dtype = dtypeFromHbm(o.dtype());
  const int64_t elem = static_cast<int64_t>(dtypeSize(dtype));
  if (elem == 0)
    return fail(i, fmt::format("operand dtype {} is unknown", static_cast<int>(o.dtype())));
  const Shape shape(o.shape().begin(), o.shape().end());
  Tensor t(dtype, shape);
  if (o.channel_stride() > 0 && o.channel_offset() > 0) {
    // A channel slice of a wider tensor: read only its channels.
    const NativeDims d = nativeDims(shape);
    const hbm::Region r = channelSlice(o.region(), d.h * d.w, o.channel_stride(),
                                       o.channel_offset(), d.c, elem);
    HQ_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, mem.read(r, elem, where(i)));
    if (static_cast<int64_t>(bytes.size()) != d.h * d.w * d.c * elem)
      return fail(i, fmt::format("channel slice operand {} holds {} bytes", shapeString(shape),
                                 bytes.size()));
    auto* dst = static_cast<uint8_t*>(t.raw());
    const int64_t pixels = d.h * d.w;
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t c = 0; c < d.c; ++c)
        std::memcpy(dst + (c * pixels + p) * elem, bytes.data() + (p * d.c + c) * elem,
                    static_cast<size_t>(elem));
    return t;
  }
  HQ_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, mem.read(o.region(), elem, where(i)));
  if (o.channel_stride() == 0) {
    if (bytes.size() != t.nbytes())
      return fail(i, fmt::format("constant operand {} holds {} bytes, expected {}",
                                 shapeString(shape), bytes.size(), t.nbytes()));
    if (!bytes.empty()) std::memcpy(t.raw(), bytes.data(), bytes.size());
    return t;
  }
  const NativeDims d = nativeDims(shape);
  const int64_t cs = o.channel_stride(), pixels = d.h * d.w;
  if (static_cast<int64_t>(bytes.size()) != pixels * cs * elem || cs < d.c)
    return fail(i, fmt::format("activation operand {} with channel_stride {} holds {} bytes, "
                               "expected {}",
                               shapeString(shape), cs, bytes.size(), pixels * cs * elem));
  auto* dst = static_cast<uint8_t*>(t.raw());
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < d.c; ++c)
      std::memcpy(dst + (c * pixels + p) * elem, bytes.data() + (p * cs + c) * elem,
                  static_cast<size_t>(elem));
  return t;
}

Expected<Tensor> Simulator::Impl::nv12ToNative(int i, const Node& node,
                                               const std::vector<const Tensor*>& ins) const {
  const int64_t channels = node.attrs.getInt("channels", 3);
  if (channels != 1 && channels != 3)
    return fail(i, fmt::format("Nv12ToNative: channels {}; expected 1 or 3", channels));
  const Tensor* y = ins.empty() ? nullptr : ins[0];
  const Tensor* uv = ins.size() > 1 ? ins[1] : nullptr;
  if (!y || y->dtype() != DType::kUInt8 || y->rank() != 4 || y->dim(0) != 1 || y->dim(1) != 1)
    return fail(i, "Nv12ToNative: inputs[0] must be the uint8 Y tile [1, 1, h, W]");
  const int64_t h = y->dim(2), w = y->dim(3);
  if (channels == 3) {
    const Shape want = {1, 2, h / 2, w / 2};
    if (h % 2 != 0 || w % 2 != 0 || !uv || uv->dtype() != DType::kUInt8 || uv->shape() != want)
      return fail(i, fmt::format("Nv12ToNative: inputs[1] must be the uint8 UV tile {} for a Y "
                                 "tile of {} rows (h and W even)",
                                 shapeString(want), h));
  }
  // The UV tile is logically NCHW [1, 2, h/2, W/2]; the planes want it interleaved.
  std::vector<uint8_t> interleaved;
  if (channels == 3) {
    const int64_t half = (h / 2) * (w / 2);
    interleaved.resize(static_cast<size_t>(2 * half));
    const uint8_t* u = uv->data<uint8_t>();
    for (int64_t p = 0; p < half; ++p) {
      interleaved[2 * p] = u[p];
      interleaved[2 * p + 1] = u[half + p];
    }
  }
  Tensor out(DType::kInt8, {1, channels, h, w});
  nv12PlanesToInt8(y->data<uint8_t>(), interleaved.empty() ? nullptr : interleaved.data(), h, w,
                   channels, out.data<int8_t>());
  return out;
}

Status Simulator::Impl::compute(int i, SimMemory& mem) {
  const Instr& in = model.instructions(i);
  const hbm::ComputeOp& c = in.compute();
  if (in.layer() >= nodes.size())
    return fail(i, fmt::format("layer {} does not exist ({} layers)", in.layer(), nodes.size()));
  Node node = nodes[in.layer()];
  std::vector<Tensor> tensors(static_cast<size_t>(c.inputs_size()));
  std::vector<const Tensor*> ins;
  node.inputs.clear();
  for (int k = 0; k < c.inputs_size(); ++k) {
    if (c.inputs(k).absent()) {
      ins.push_back(nullptr);
      node.inputs.push_back(nullptr);
      continue;
    }
    HQ_ASSIGN_OR_RETURN(tensors[k], readOperand(i, c.inputs(k), mem));
    ins.push_back(&tensors[k]);
    node.inputs.push_back(slot(static_cast<size_t>(k)));
  }
  Tensor result;
  if (node.domain == kNpuDomain && node.opType == kNv12ToNative) {
    HQ_ASSIGN_OR_RETURN(result, nv12ToNative(i, node, ins));
  } else {
    if (tilePadsApply(node)) {
      const hbm::TileGeometry& t = c.tile();
      std::vector<int64_t> old = node.attrs.getInts("pads");
      if (old.size() == 2)  // 1-D op: only the width pads exist
        node.attrs.set("pads", Attribute::ofInts({t.pad_left(), t.pad_right()}));
      else
        node.attrs.set(
            "pads", Attribute::ofInts({t.pad_top(), t.pad_left(), t.pad_bottom(), t.pad_right()}));
    }
    // The integer executor's kernel for this node and these tile shapes (prepared once).
    const hbm::Operand& o = c.output();
    const Shape want(o.shape().begin(), o.shape().end());
    std::string key = fmt::format("{}|{}", in.layer(), shapeString(want));
    for (const Attribute* a = node.attrs.find("pads"); a; a = nullptr)
      for (int64_t p : a->ints) key += fmt::format(",{}", p);
    for (const Tensor* t : ins) key += "|" + (t ? shapeString(t->shape()) : std::string("-"));
    auto it = kernels.find(key);
    if (it == kernels.end()) {
      auto entry = std::make_unique<CachedKernel>();
      entry->node = node;
      std::vector<ValueInfo> in_info;
      for (const Tensor* t : ins) {
        ValueInfo v;
        if (t) {
          v.dtype = t->dtype(), v.shape = t->shape(), v.hasShape = true;
          // Constants (weights, bias) stay constants for the kernel's preparation.
        }
        in_info.push_back(v);
      }
      entry->constants.reserve(ins.size());  // pointers into it are handed out below
      for (size_t k = 0; k < ins.size() && k < static_cast<size_t>(c.inputs_size()); ++k) {
        if (ins[k] && c.inputs(static_cast<int>(k)).channel_stride() == 0) {
          entry->constants.emplace_back(k, ins[k]->clone());
          in_info[k].constant = &entry->constants.back().second;
        }
      }
      ValueInfo out_info;
      out_info.dtype = dtypeFromHbm(o.dtype()), out_info.shape = want, out_info.hasShape = true;
      Expected<std::unique_ptr<PreparedKernel>> k =
          prepareKernel(entry->node, in_info, {out_info}, KernelOptions{});
      if (!k.isOk()) return fail(i, k.status().message());
      entry->kernel = std::move(*k);
      it = kernels.emplace(key, std::move(entry)).first;
    }
    for (const auto& [k, prepared] : it->second->constants) {
      if (!ins[k] || !ins[k]->equals(prepared))
        return fail(i, fmt::format("constant operand {} ({} bytes) differs from the bytes this "
                                   "layer's kernel was prepared with (weights overwritten?)",
                                   k, prepared.nbytes()));
    }
    result = Tensor(dtypeFromHbm(o.dtype()), want);
    KernelCall call{it->second->node, ins, {&result}};
    Status st = it->second->kernel->run(call);
    if (!st.isOk()) return fail(i, st.message());
  }
  const hbm::Operand& o = c.output();
  const Shape want(o.shape().begin(), o.shape().end());
  if (result.shape() != want)
    return fail(i, fmt::format("the kernel's output is {}, the output operand is {}",
                               shapeString(result.shape()), shapeString(want)));
  if (result.dtype() != dtypeFromHbm(o.dtype()))
    return fail(i, fmt::format("the kernel's output is {}, the output operand is {}",
                               dtypeName(result.dtype()), hbm::DType_Name(o.dtype())));
  const int64_t elem = static_cast<int64_t>(dtypeSize(result.dtype()));
  std::vector<uint8_t> bytes;
  if (o.channel_stride() == 0) {
    bytes.resize(result.nbytes());
    if (!bytes.empty()) std::memcpy(bytes.data(), result.raw(), bytes.size());
  } else if (o.channel_offset() > 0 || o.written_channels() > 0) {
    // A channel slice: its channels then zeros, [offset, offset + written) of each pixel.
    const NativeDims d = nativeDims(want);
    const int64_t cs = o.channel_stride(), pixels = d.h * d.w;
    const int64_t written = o.written_channels() > 0 ? o.written_channels() : cs - o.channel_offset();
    bytes.assign(static_cast<size_t>(pixels * written * elem), 0);
    const auto* src = static_cast<const uint8_t*>(result.raw());
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t ch = 0; ch < d.c; ++ch)
        std::memcpy(bytes.data() + (p * written + ch) * elem, src + (ch * pixels + p) * elem,
                    static_cast<size_t>(elem));
    const hbm::Region r =
        channelSlice(o.region(), pixels, cs, o.channel_offset(), written, elem);
    HQ_RETURN_IF_ERROR(mem.write(r, elem, bytes, where(i)));
    ++stats.computes;
    return Status::ok();
  } else {
    const NativeDims d = nativeDims(want);
    const int64_t cs = o.channel_stride(), pixels = d.h * d.w;
    bytes.assign(static_cast<size_t>(pixels * cs * elem), 0);
    const auto* src = static_cast<const uint8_t*>(result.raw());
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t ch = 0; ch < d.c; ++ch)
        std::memcpy(bytes.data() + (p * cs + ch) * elem, src + (ch * pixels + p) * elem,
                    static_cast<size_t>(elem));
  }
  HQ_RETURN_IF_ERROR(mem.write(o.region(), elem, bytes, where(i)));
  ++stats.computes;
  return Status::ok();
}

Status Simulator::Impl::execute(int i, SimMemory& mem) {
  ++stats.instructions;
  switch (model.instructions(i).opcode()) {
    case Instr::DMA_LOAD:
    case Instr::DMA_STORE: return dma(i, mem);
    case Instr::CONV:
    case Instr::VECTOR:
    case Instr::POOL: return compute(i, mem);
    case Instr::BARRIER: ++stats.barriers; return Status::ok();
    default: return fail(i, "unknown opcode");
  }
}

namespace {

/// Counting semaphores keyed by token id.
struct Tokens {
  std::map<uint32_t, int64_t> count;

  /// The first token of `waits` whose count is below the number of waits on it, or -1.
  int64_t blocking(const Instr& in) const {
    std::map<uint32_t, int64_t> need;
    for (uint32_t t : in.waits()) ++need[t];
    for (const auto& [t, n] : need) {
      auto it = count.find(t);
      if ((it == count.end() ? 0 : it->second) < n) return t;
    }
    return -1;
  }
  void start(const Instr& in) {
    for (uint32_t t : in.waits()) --count[t];
  }
  void finish(const Instr& in) {
    for (uint32_t t : in.signals()) ++count[t];
  }
};

}  // namespace

namespace {
/// Kernels on simulator tiles are small: OpenMP threads would only spin. One thread while
/// the simulator runs, restored after.
class SingleThreadScope {
 public:
  SingleThreadScope() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadScope() { omp_set_num_threads(saved_); }
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int saved_;
};
}  // namespace

Expected<std::vector<Tensor>> Simulator::run(const std::vector<Tensor>& inputs) {
  SingleThreadScope single_thread;
  Impl& s = *impl_;
  const hbm::Model& m = s.model;
  s.stats = SimStats{};
  const int64_t batch = std::max<int64_t>(1, m.batch());
  if (static_cast<int>(inputs.size()) != m.inputs_size())
    return HQ_ERROR(kInvalidArgument, "simulator: {} input tensors given; the model has {} inputs",
                    inputs.size(), m.inputs_size());
  // One set of memories per simulator, reused run after run (every write forgotten).
  if (!s.memory) {
    HQ_ASSIGN_OR_RETURN(SimMemory created, SimMemory::create(s.march, m));
    s.memory = std::make_unique<SimMemory>(std::move(created));
  } else {
    s.memory->forgetWrites();
  }
  SimMemory& mem = *s.memory;
  for (int k = 0; k < m.inputs_size(); ++k) {
    const hbm::TensorDesc& desc = m.inputs(k);
    HQ_ASSIGN_OR_RETURN(std::string bytes, packInput(desc, inputs[k], batch));
    hbm::Region r;
    r.set_space(hbm::Region::DDR);
    r.set_buffer_id(desc.buffer_id());
    r.set_offset(desc.offset());
    r.set_size(bytes.size());
    HQ_RETURN_IF_ERROR(mem.write(r, 1, std::vector<uint8_t>(bytes.begin(), bytes.end()),
                                 fmt::format("host write of input '{}'", desc.name())));
  }

  // Each engine's instructions in stream order.
  static constexpr std::array<Instr::Engine, 5> kPriority = {
      Instr::DMA_IN, Instr::DMA_OUT, Instr::VEC, Instr::MAC, Instr::CONTROL};
  std::map<int, std::vector<int>> queue;
  for (int i = 0; i < m.instructions_size(); ++i) queue[m.instructions(i).engine()].push_back(i);
  std::map<int, size_t> next;
  Tokens tokens;
  const auto runOne = [&](int i) -> Status {
    const Instr& in = m.instructions(i);
    tokens.start(in);
    HQ_RETURN_IF_ERROR(s.execute(i, mem));
    tokens.finish(in);
    return Status::ok();
  };

  if (s.options.order == SimOptions::Order::kStream) {
    for (int i = 0; i < m.instructions_size(); ++i) {
      int64_t t = tokens.blocking(m.instructions(i));
      if (t >= 0)
        return s.fail(i, fmt::format("waits on token {} (count {}), which is not signalled at "
                                     "this point of the stream order",
                                     t, tokens.count[static_cast<uint32_t>(t)]));
      HQ_RETURN_IF_ERROR(runOne(i));
    }
  } else {
    int64_t left = m.instructions_size();
    while (left > 0) {
      bool ran = false;
      for (Instr::Engine e : kPriority) {
        const std::vector<int>& q = queue[e];
        size_t& pos = next[e];
        if (pos >= q.size() || tokens.blocking(m.instructions(q[pos])) >= 0) continue;
        HQ_RETURN_IF_ERROR(runOne(q[pos]));
        ++pos;
        --left;
        ran = true;
        break;
      }
      if (ran) continue;
      std::string stuck;
      for (Instr::Engine e : kPriority) {
        const std::vector<int>& q = queue[e];
        size_t pos = next[e];
        if (pos >= q.size()) continue;
        int64_t t = tokens.blocking(m.instructions(q[pos]));
        stuck += fmt::format("{}{}: instruction {} waits on token {} (count {})",
                             stuck.empty() ? "" : "; ", Instr::Engine_Name(e), q[pos], t,
                             tokens.count[static_cast<uint32_t>(t)]);
      }
      return HQ_ERROR(kInternal, "simulator: deadlock with {} instructions left: {}", left, stuck);
    }
  }
  for (const auto& [t, n] : tokens.count) {
    if (n != 0)
      return HQ_ERROR(kInternal,
                      "simulator: token {} has count {} at the end of the run; expected 0 (every "
                      "signal must be matched by one wait)",
                      t, n);
  }

  std::vector<Tensor> outputs;
  for (const hbm::TensorDesc& desc : m.outputs()) {
    const hbm::Buffer* buffer = nullptr;
    for (const hbm::Buffer& b : m.buffers())
      if (b.id() == desc.buffer_id()) buffer = &b;
    Expected<int64_t> frame = descFrameBytes(desc);
    if (buffer == nullptr || !frame.isOk())
      return HQ_ERROR(kInternal, "simulator: output '{}': {}", desc.name(),
                      buffer == nullptr ? fmt::format("buffer {} does not exist", desc.buffer_id())
                                        : frame.status().message());
    // Every real element of every frame must have been stored (read through SimMemory, so a
    // tile never stored is an error, not zeros); channel padding and gaps are not checked.
    const NativeDims d = nativeDims({desc.shape().begin(), desc.shape().end()});
    const int64_t elem = static_cast<int64_t>(dtypeSize(dtypeFromHbm(desc.dtype())));
    const int64_t pixels = d.h * d.w;
    const int64_t pixelBytes = *frame / pixels;  // channel_stride x elem (NCHW: C x elem)
    for (int64_t f = 0; f < batch; ++f) {
      hbm::Region r;
      r.set_space(hbm::Region::DDR);
      r.set_buffer_id(buffer->id());
      r.set_offset(desc.offset() + static_cast<uint64_t>(f) * desc.frame_stride_bytes());
      r.set_size(static_cast<uint64_t>(*frame));
      r.add_dims(static_cast<uint32_t>(pixels));
      r.add_dims(static_cast<uint32_t>(d.c));
      r.add_strides(pixelBytes);
      r.add_strides(elem);
      HQ_RETURN_IF_ERROR(
          mem.read(r, elem, fmt::format("host read of output '{}' frame {}", desc.name(), f))
              .status());
    }
    const std::vector<uint8_t>& ddr = mem.ddr();
    const std::string bytes(ddr.begin() + static_cast<int64_t>(buffer->offset()),
                            ddr.begin() + static_cast<int64_t>(buffer->offset() + buffer->size()));
    Expected<Tensor> t = unpackOutput(desc, bytes, batch);
    if (!t.isOk()) return Status(ErrorCode::kInternal, "simulator: " + t.status().message());
    outputs.push_back(std::move(*t));
  }
  return outputs;
}

}  // namespace hq
