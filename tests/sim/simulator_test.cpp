// The functional simulator (sim/simulator.h) on hand-built .hbm models: a row-tiled 3x3 QConv
// (halos, per-tile pads, padded channels) bit-exact with the reference kernel on the whole
// tensor, single- and double-buffered, in both orders; and every error a bad stream must give.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "compiler/hbm.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/kernel.h"
#include "sim/host_io.h"
#include "sim/simulator.h"

using namespace hq;
using hbm::Instruction;
using hbm::Region;

namespace {

// Geometry of the test conv: X [1, 8, 6, 5] -> Y [1, 8, 6, 5], 3x3, pads 1, stride 1.
constexpr int64_t kC = 8, kH = 6, kW = 5, kStride = 16;  // channel_stride (padded channels)
constexpr uint64_t kFrame = kH * kW * kStride;           // bytes of one NHWC frame
// SRAM map: W [0, 576), input slots at 1024 + 512 s, output slots at 2048 + 512 s.
constexpr uint64_t kWBytes = kC * kC * 9, kBiasOffset = kWBytes, kBiasBytes = kC * 8;
constexpr uint64_t kInSlot = 1024, kOutSlot = 2048, kSlotBytes = 512;

enum Token : uint32_t {
  kWeights = 1,
  kLoaded = 10,
  kInFree = 20,
  kOutReady = 30,
  kOutFree = 40,
  kEnd = 50
};

struct ConvData {
  Tensor x, w, b;
  std::vector<int64_t> multiplier, shift;
};

ConvData makeData(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> i8(-128, 127);
  ConvData d;
  d.x = Tensor(DType::kInt8, {1, kC, kH, kW});
  for (int64_t i = 0; i < d.x.numel(); ++i) d.x.data<int8_t>()[i] = static_cast<int8_t>(i8(rng));
  d.w = Tensor(DType::kInt8, {kC, kC, 3, 3});
  for (int64_t i = 0; i < d.w.numel(); ++i) d.w.data<int8_t>()[i] = static_cast<int8_t>(i8(rng));
  d.b = Tensor(DType::kInt64, {kC});
  std::uniform_int_distribution<int64_t> bias(-(int64_t{1} << 38), int64_t{1} << 38);
  std::uniform_int_distribution<int64_t> mult(int64_t{1} << 30, (int64_t{1} << 31) - 1);
  for (int64_t o = 0; o < kC; ++o) {
    d.b.data<int64_t>()[o] = bias(rng);
    d.multiplier.push_back(mult(rng));
    d.shift.push_back(39 + o % 3);
  }
  return d;
}

/// The QConv's attributes, sorted by name, as the .hbm stores them.
std::vector<hbm::Attribute> convAttributes(const ConvData& d) {
  std::vector<hbm::Attribute> out;
  auto ints = [&](const char* name, std::vector<int64_t> v) {
    hbm::Attribute a;
    a.set_name(name);
    a.set_kind(hbm::Attribute::INTS);
    for (int64_t x : v) a.add_ints(x);
    out.push_back(a);
  };
  auto one = [&](const char* name, int64_t v) {
    hbm::Attribute a;
    a.set_name(name);
    a.set_kind(hbm::Attribute::INT);
    a.set_i(v);
    out.push_back(a);
  };
  ints("dilations", {1, 1});
  one("group", 1);
  ints("kernel_shape", {3, 3});
  ints("multiplier", d.multiplier);
  one("out_hi", 127);
  one("out_lo", -128);
  one("out_type", 3);
  ints("pads", {1, 1, 1, 1});
  ints("shift", d.shift);
  ints("strides", {1, 1});
  return out;
}

/// The reference: the same QConv on the whole tensor.
Tensor referenceConv(const ConvData& d) {
  Node node;
  node.name = "conv1";
  node.opType = "QConv";
  node.domain = kIntDomain;
  for (const hbm::Attribute& a : convAttributes(d)) {
    node.attrs.set(a.name(), a.kind() == hbm::Attribute::INT
                                 ? Attribute::ofInt(a.i())
                                 : Attribute::ofInts({a.ints().begin(), a.ints().end()}));
  }
  Value out;
  node.outputs.push_back(&out);
  auto ys = runReference(node, {&d.x, &d.w, &d.b});
  INFO(ys.status().message());
  REQUIRE(ys.isOk());
  return (*ys)[0];
}

void setRegion(Region* r, Region::Space space, uint64_t offset, uint64_t size,
               uint32_t buffer = 0) {
  r->set_space(space);
  r->set_offset(offset);
  r->set_size(size);
  r->set_buffer_id(buffer);
}

void operand(hbm::Operand* o, Region::Space space, uint64_t offset, std::vector<int64_t> shape,
             hbm::DType dtype, uint32_t channel_stride) {
  uint64_t elems = 1;
  for (int64_t v : shape) elems *= static_cast<uint64_t>(v);
  if (channel_stride > 0) elems = elems / static_cast<uint64_t>(shape[1]) * channel_stride;
  const uint64_t elem = dtype == hbm::INT64 ? 8 : 1;
  setRegion(o->mutable_region(), space, offset, elems * elem);
  o->set_dtype(dtype);
  for (int64_t v : shape) o->add_shape(v);
  o->set_channel_stride(channel_stride);
}

hbm::TensorDesc desc(const char* name, uint32_t buffer) {
  hbm::TensorDesc d;
  d.set_name(name);
  for (int64_t v : {int64_t{1}, kC, kH, kW}) d.add_shape(v);
  for (int64_t v : {int64_t{1}, kH, kW, kStride}) d.add_padded_shape(v);
  d.set_dtype(hbm::INT8);
  d.add_scales(1.0f / 128);
  d.add_zero_points(0);
  d.set_layout(hbm::NHWC);
  d.set_channel_alignment(kStride);
  d.set_buffer_id(buffer);
  d.set_frame_stride_bytes(kFrame);
  d.set_source(hbm::DDR);
  return d;
}

/// The conv as `tiles` row tiles (output rows [rows[t], rows[t + 1])) using `slots` SRAM slots
/// for the input and output tiles, synchronized by tokens (see the Token enum): weights are
/// loaded once; tile t loads its rows with halo, convolves with the tile's pads, stores.
hbm::Model makeConvModel(const ConvData& d, const std::vector<int64_t>& rows, int slots) {
  hbm::Model m;
  m.set_march("test");
  hbm::MarchSummary* mi = m.mutable_march_info();
  mi->set_sram_bytes(4096);
  mi->set_sram_banks(4);
  mi->set_channel_group(kStride);
  mi->set_ddr_burst_bytes(64);
  m.set_batch(1);
  for (uint32_t id : {1u, 2u}) {
    hbm::Buffer* b = m.add_buffers();
    b->set_id(id);
    b->set_name(id == 1 ? "input:x" : "output:y");
    b->set_offset(id == 1 ? 0 : 512);
    b->set_size(kFrame);
    b->set_purpose(id == 1 ? hbm::Buffer::INPUT : hbm::Buffer::OUTPUT);
  }
  *m.add_inputs() = desc("x", 1);
  *m.add_outputs() = desc("y", 2);
  m.mutable_outputs(0)->clear_source();
  m.set_ddr_bytes(512 + kFrame);

  std::string blob(reinterpret_cast<const char*>(d.w.raw()), d.w.nbytes());
  blob.append(reinterpret_cast<const char*>(d.b.raw()), d.b.nbytes());
  m.set_weights(blob);

  hbm::Layer* layer = m.add_layers();
  layer->set_name("conv1");
  layer->add_source_nodes("conv1");
  layer->add_source_ops("ai.hq.QConv");
  layer->mutable_op()->set_op_type("QConv");
  layer->mutable_op()->set_domain(kIntDomain);
  for (const hbm::Attribute& a : convAttributes(d)) *layer->mutable_op()->add_attributes() = a;

  const int tiles = static_cast<int>(rows.size()) - 1;
  const uint64_t rowBytes = kW * kStride;
  // Weights: WEIGHTS -> SRAM [0, 576), signalled once per tile.
  Instruction* in = m.add_instructions();
  in->set_opcode(Instruction::DMA_LOAD);
  in->set_engine(Instruction::DMA_IN);
  setRegion(in->mutable_dma()->mutable_src(), Region::WEIGHTS, 0, kWBytes);
  setRegion(in->mutable_dma()->mutable_dst(), Region::SRAM, 0, kWBytes);
  in->mutable_dma()->set_dtype(hbm::INT8);
  for (int t = 0; t < tiles; ++t) in->add_signals(kWeights);

  for (int t = 0; t < tiles; ++t) {
    const uint32_t s = static_cast<uint32_t>(t % slots);
    const bool reused = t >= slots, reusedLater = t + slots < tiles;
    const int64_t y0 = rows[t], y1 = rows[t + 1];
    const int64_t in0 = std::max<int64_t>(0, y0 - 1), in1 = std::min<int64_t>(kH, y1 + 1);
    const uint64_t inSlot = kInSlot + s * kSlotBytes, outSlot = kOutSlot + s * kSlotBytes;
    // Load the input rows [in0, in1) (with halo).
    in = m.add_instructions();
    in->set_opcode(Instruction::DMA_LOAD);
    in->set_engine(Instruction::DMA_IN);
    setRegion(in->mutable_dma()->mutable_src(), Region::DDR, in0 * rowBytes, (in1 - in0) * rowBytes,
              1);
    setRegion(in->mutable_dma()->mutable_dst(), Region::SRAM, inSlot, (in1 - in0) * rowBytes);
    in->mutable_dma()->set_dtype(hbm::INT8);
    if (reused) in->add_waits(kInFree + s);
    in->add_signals(kLoaded + s);
    // Convolve: X from SRAM, W from SRAM, bias straight from WEIGHTS.
    in = m.add_instructions();
    in->set_opcode(Instruction::CONV);
    in->set_engine(Instruction::MAC);
    in->add_waits(kWeights);
    in->add_waits(kLoaded + s);
    if (reused) in->add_waits(kOutFree + s);
    if (reusedLater) in->add_signals(kInFree + s);
    in->add_signals(kOutReady + s);
    hbm::ComputeOp* c = in->mutable_compute();
    operand(c->add_inputs(), Region::SRAM, inSlot, {1, kC, in1 - in0, kW}, hbm::INT8, kStride);
    operand(c->add_inputs(), Region::SRAM, 0, {kC, kC, 3, 3}, hbm::INT8, 0);
    operand(c->add_inputs(), Region::WEIGHTS, kBiasOffset, {kC}, hbm::INT64, 0);
    operand(c->mutable_output(), Region::SRAM, outSlot, {1, kC, y1 - y0, kW}, hbm::INT8, kStride);
    hbm::TileGeometry* g = c->mutable_tile();
    g->set_out_y(static_cast<uint32_t>(y0));
    g->set_out_h(static_cast<uint32_t>(y1 - y0));
    g->set_pad_top(y0 == 0 ? 1 : 0);
    g->set_pad_bottom(y1 == kH ? 1 : 0);
    g->set_pad_left(1);
    g->set_pad_right(1);
    // Store the output rows.
    in = m.add_instructions();
    in->set_opcode(Instruction::DMA_STORE);
    in->set_engine(Instruction::DMA_OUT);
    in->add_waits(kOutReady + s);
    setRegion(in->mutable_dma()->mutable_src(), Region::SRAM, outSlot, (y1 - y0) * rowBytes);
    setRegion(in->mutable_dma()->mutable_dst(), Region::DDR, y0 * rowBytes, (y1 - y0) * rowBytes,
              2);
    in->mutable_dma()->set_dtype(hbm::INT8);
    if (reusedLater) in->add_signals(kOutFree + s);
    if (t == tiles - 1) in->add_signals(kEnd);
  }
  in = m.add_instructions();
  in->set_opcode(Instruction::BARRIER);
  in->set_engine(Instruction::CONTROL);
  in->add_waits(kEnd);
  layer->set_first_instruction(0);
  layer->set_instruction_count(static_cast<uint32_t>(m.instructions_size()));
  REQUIRE(validateHbm(m).isOk());
  return m;
}

Expected<std::vector<Tensor>> simulate(const hbm::Model& m, const Tensor& x,
                                       SimOptions::Order order, SimStats* stats = nullptr) {
  SimOptions opts;
  opts.order = order;
  HQ_ASSIGN_OR_RETURN(std::unique_ptr<Simulator> sim, Simulator::create(m, opts));
  HQ_ASSIGN_OR_RETURN(std::vector<Tensor> ys, sim->run({x}));
  if (stats) *stats = sim->stats();
  return ys;
}

std::string simError(const hbm::Model& m, const Tensor& x, SimOptions::Order order) {
  auto ys = simulate(m, x, order);
  if (ys.isOk()) return "(ran)";
  CHECK(ys.status().code() == ErrorCode::kInternal);
  return ys.status().message();
}

/// Index of the first instruction with `opcode` at or after `from`.
int find(const hbm::Model& m, Instruction::Opcode opcode, int from = 0) {
  for (int i = from; i < m.instructions_size(); ++i)
    if (m.instructions(i).opcode() == opcode) return i;
  FAIL("no such instruction");
  return -1;
}

void removeToken(google::protobuf::RepeatedField<uint32_t>* list, uint32_t token) {
  for (int k = 0; k < list->size(); ++k) {
    if (list->Get(k) == token) {
      list->erase(list->begin() + k);
      return;
    }
  }
  FAIL("token not found");
}

}  // namespace

TEST_CASE("sim: marchFromSummary copies the numbers", "[sim]") {
  hbm::MarchSummary s;
  s.set_sram_bytes(4096);
  s.set_sram_banks(4);
  s.set_mac_rows(16);
  s.set_mac_columns(32);
  s.set_channel_group(8);
  s.set_ddr_burst_bytes(64);
  s.set_clock_mhz(800);
  const March m = marchFromSummary("x", s);
  CHECK(m.name == "x");
  CHECK(m.sramBytes == 4096);
  CHECK(m.sramBanks == 4);
  CHECK(m.int8MacsPerCycle() == 512);
  CHECK(m.channelGroup == 8);
  CHECK(m.ddrBurstBytes == 64);
  CHECK(m.clockMhz == 800);
  CHECK(m.ops.empty());
}

TEST_CASE("sim: row-tiled QConv is bit-exact with the reference on the whole tensor", "[sim]") {
  const ConvData d = makeData(7);
  const Tensor want = referenceConv(d);
  struct Case {
    std::vector<int64_t> rows;
    int slots;
  };
  for (const Case& k :
       {Case{{0, 3, 6}, 1}, Case{{0, 2, 4, 6}, 2}, Case{{0, 1, 3, 4, 6}, 2}, Case{{0, 6}, 1}}) {
    const hbm::Model m = makeConvModel(d, k.rows, k.slots);
    for (auto order : {SimOptions::Order::kEager, SimOptions::Order::kStream}) {
      INFO("tiles " << k.rows.size() - 1 << ", slots " << k.slots << ", order "
                    << (order == SimOptions::Order::kEager ? "eager" : "stream"));
      SimStats stats;
      auto ys = simulate(m, d.x, order, &stats);
      INFO(ys.status().message());
      REQUIRE(ys.isOk());
      REQUIRE(ys->size() == 1);
      CHECK((*ys)[0].shape() == Shape{1, kC, kH, kW});
      CHECK((*ys)[0].equals(want));
      const int64_t tiles = static_cast<int64_t>(k.rows.size()) - 1;
      CHECK(stats.instructions == 2 + 3 * tiles);
      CHECK(stats.computes == tiles);
      CHECK(stats.dmaLoads == 1 + tiles);
      CHECK(stats.dmaStores == tiles);
      CHECK(stats.barriers == 1);
      CHECK(stats.weightBytesLoaded == static_cast<int64_t>(kWBytes));
      CHECK(stats.ddrBytesStored == static_cast<int64_t>(kFrame));
      // Halo rows are loaded twice: rows + 2 per interior boundary.
      CHECK(stats.ddrBytesLoaded == (kH + 2 * (tiles - 1)) * kW * kStride);
    }
  }
  // The simulator really reads the data: another input gives another (still exact) output.
  const ConvData d2 = makeData(8);
  auto ys = simulate(makeConvModel(d2, {0, 3, 6}, 1), d2.x, SimOptions::Order::kEager);
  REQUIRE(ys.isOk());
  CHECK((*ys)[0].equals(referenceConv(d2)));
  CHECK_FALSE((*ys)[0].equals(want));
}

TEST_CASE("sim: the output padding channels are written as zeros", "[sim]") {
  const ConvData d = makeData(3);
  hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
  // Make the output descriptor read the raw padded bytes: 16 "channels" of which 8 are padding.
  hbm::TensorDesc* y = m.mutable_outputs(0);
  y->set_shape(1, kStride);
  auto sim = Simulator::create(m);
  REQUIRE(sim.isOk());
  auto ys = (*sim)->run({d.x});
  INFO(ys.status().message());
  REQUIRE(ys.isOk());
  const Tensor& raw = (*ys)[0];
  REQUIRE(raw.shape() == Shape{1, kStride, kH, kW});
  const Tensor want = referenceConv(d);
  const int64_t plane = kH * kW;
  for (int64_t i = 0; i < kC * plane; ++i) CHECK(raw.data<int8_t>()[i] == want.data<int8_t>()[i]);
  for (int64_t i = kC * plane; i < kStride * plane; ++i) CHECK(raw.data<int8_t>()[i] == 0);
}

TEST_CASE("sim: a missing wait shows up in eager order", "[sim]") {
  const ConvData d = makeData(11);
  const Tensor want = referenceConv(d);
  SECTION("load of tile 1 does not wait for the conv of tile 0: wrong data, no error") {
    // One slot: the load of tile 1 overwrites tile 0's input before tile 0's conv runs.
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    const int load1 = find(m, Instruction::DMA_LOAD, find(m, Instruction::CONV));
    const int conv0 = find(m, Instruction::CONV);
    removeToken(m.mutable_instructions(load1)->mutable_waits(), kInFree);
    removeToken(m.mutable_instructions(conv0)->mutable_signals(), kInFree);
    auto eager = simulate(m, d.x, SimOptions::Order::kEager);
    INFO(eager.status().message());
    REQUIRE(eager.isOk());
    CHECK_FALSE((*eager)[0].equals(want));
    // Stream order hides the bug.
    auto stream = simulate(m, d.x, SimOptions::Order::kStream);
    REQUIRE(stream.isOk());
    CHECK((*stream)[0].equals(want));
  }
  SECTION("store does not wait for its conv: read before write") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    const int conv0 = find(m, Instruction::CONV);
    const int store0 = find(m, Instruction::DMA_STORE);
    removeToken(m.mutable_instructions(store0)->mutable_waits(), kOutReady);
    removeToken(m.mutable_instructions(conv0)->mutable_signals(), kOutReady);
    const std::string e = simError(m, d.x, SimOptions::Order::kEager);
    CHECK_THAT(e, Catch::Contains(fmt::format("simulator: instruction {} (DMA_STORE, layer "
                                              "'conv1'): SRAM read",
                                              store0)));
    CHECK_THAT(e, Catch::Contains("before any write"));
    REQUIRE(simulate(m, d.x, SimOptions::Order::kStream).isOk());
  }
}

TEST_CASE("sim: token errors: deadlock, leftover count, unsatisfied wait in stream order",
          "[sim]") {
  const ConvData d = makeData(5);
  SECTION("deadlock names every blocked engine") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    const int conv0 = find(m, Instruction::CONV);
    m.mutable_instructions(conv0)->add_waits(99);
    const std::string e = simError(m, d.x, SimOptions::Order::kEager);
    CHECK_THAT(e, Catch::Contains("simulator: deadlock"));
    CHECK_THAT(
        e, Catch::Contains(fmt::format("MAC: instruction {} waits on token 99 (count 0)", conv0)));
    CHECK_THAT(e, Catch::Contains(fmt::format("DMA_OUT: instruction {} waits on token {}",
                                              find(m, Instruction::DMA_STORE), kOutReady)));
    CHECK_THAT(simError(m, d.x, SimOptions::Order::kStream),
               Catch::Contains(fmt::format("instruction {} (CONV, layer 'conv1'): waits on token "
                                           "99 (count 0)",
                                           conv0)));
  }
  SECTION("a signal nobody waits for") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    m.mutable_instructions(m.instructions_size() - 1)->add_signals(77);
    for (auto order : {SimOptions::Order::kEager, SimOptions::Order::kStream})
      CHECK_THAT(simError(m, d.x, order), Catch::Contains("token 77 has count 1 at the end"));
  }
  SECTION("stream order refuses a wait that comes before its signal") {
    hbm::Model m = makeConvModel(d, {0, 6}, 1);
    // Move the store (instruction 3) before the conv (instruction 2).
    m.mutable_instructions()->SwapElements(2, 3);
    REQUIRE(validateHbm(m).isOk());
    CHECK_THAT(simError(m, d.x, SimOptions::Order::kStream),
               Catch::Contains(fmt::format("instruction 2 (DMA_STORE, layer 'conv1'): waits on "
                                           "token {} (count 0)",
                                           kOutReady)));
    auto ys = simulate(m, d.x, SimOptions::Order::kEager);
    REQUIRE(ys.isOk());
    CHECK((*ys)[0].equals(referenceConv(d)));
  }
}

TEST_CASE("sim: compute errors name the instruction", "[sim]") {
  const ConvData d = makeData(9);
  SECTION("kernel output shape differs from the output operand") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    const int conv0 = find(m, Instruction::CONV);
    hbm::Operand* o = m.mutable_instructions(conv0)->mutable_compute()->mutable_output();
    o->set_shape(2, 2);
    o->mutable_region()->set_size(2 * kW * kStride);
    REQUIRE(validateHbm(m).isOk());
    CHECK_THAT(simError(m, d.x, SimOptions::Order::kEager),
               Catch::Contains(fmt::format("simulator: instruction {} (CONV, layer 'conv1'): "
                                           "ai.hq.QConv 'conv1': output buffer is int8 [1, 8, 2, "
                                           "5]; expected int8 [1, 8, 3, 5]",
                                           conv0)));
  }
  SECTION("wrong tile pads change the kernel's output shape") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    const int conv0 = find(m, Instruction::CONV);
    m.mutable_instructions(conv0)->mutable_compute()->mutable_tile()->set_pad_top(0);
    CHECK_THAT(simError(m, d.x, SimOptions::Order::kEager),
               Catch::Contains("output buffer is int8 [1, 8, 3, 5]; expected int8 [1, 8, 2, 5]"));
  }
  SECTION("a kernel error gets the instruction as context") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    const int conv0 = find(m, Instruction::CONV);
    // Weight as uint8: the QConv kernel refuses it.
    m.mutable_instructions(conv0)->mutable_compute()->mutable_inputs(1)->set_dtype(hbm::UINT8);
    const std::string e = simError(m, d.x, SimOptions::Order::kEager);
    CHECK_THAT(e, Catch::StartsWith(
                      fmt::format("simulator: instruction {} (CONV, layer 'conv1'): ", conv0)));
    CHECK_THAT(e, Catch::Contains("expected int8"));
  }
  SECTION("out of bounds and invalid models") {
    hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
    m.mutable_instructions(0)->mutable_dma()->mutable_dst()->set_offset(4000);
    auto sim = Simulator::create(m);
    REQUIRE_FALSE(sim.isOk());
    CHECK(sim.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(sim.status().message(), Catch::Contains("instruction 0 (DMA_LOAD"));
  }
  SECTION("inputs that do not fit the descriptor") {
    auto sim = Simulator::create(makeConvModel(d, {0, 3, 6}, 1));
    REQUIRE(sim.isOk());
    auto ys = (*sim)->run({Tensor(DType::kInt8, {1, kC, kH, kW + 1})});
    REQUIRE_FALSE(ys.isOk());
    CHECK(ys.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(ys.status().message(), Catch::Contains("input 'x'"));
    CHECK_FALSE((*sim)->run({}).isOk());
  }
}

namespace {

/// The pyramid input: NV12 frames [batch 2, 4 x 4] -> Nv12ToNative (channels 1 or 3) in two
/// row tiles per frame -> the int8 output [2, channels, 4, 4] in NHWC with 8-channel pixels.
hbm::Model makeNv12Model(int64_t channels) {
  constexpr uint64_t kInStride = 32, kOutFrame = 4 * 4 * 8;
  hbm::Model m;
  m.set_march("test");
  m.mutable_march_info()->set_sram_bytes(4096);
  m.mutable_march_info()->set_sram_banks(2);
  m.set_batch(2);
  for (uint32_t id : {1u, 2u}) {
    hbm::Buffer* b = m.add_buffers();
    b->set_id(id);
    b->set_name(id == 1 ? "input:image" : "output:y");
    b->set_offset(id == 1 ? 0 : 1024);
    b->set_size(id == 1 ? 2 * kInStride : 2 * kOutFrame);
    b->set_purpose(id == 1 ? hbm::Buffer::INPUT : hbm::Buffer::OUTPUT);
  }
  hbm::TensorDesc* in = m.add_inputs();
  in->set_name("image");
  for (int64_t v : {int64_t{1}, channels, int64_t{4}, int64_t{4}}) in->add_shape(v);
  in->set_dtype(hbm::UINT8);
  in->add_scales(1.0f / 128);
  in->set_layout(hbm::NV12);
  in->set_buffer_id(1);
  in->set_frame_stride_bytes(kInStride);
  in->set_source(hbm::PYRAMID);
  hbm::TensorDesc* out = m.add_outputs();
  out->set_name("y");
  for (int64_t v : {int64_t{1}, channels, int64_t{4}, int64_t{4}}) out->add_shape(v);
  for (int64_t v : {1, 4, 4, 8}) out->add_padded_shape(v);
  out->set_dtype(hbm::INT8);
  out->add_scales(1.0f / 128);
  out->set_layout(hbm::NHWC);
  out->set_channel_alignment(8);
  out->set_buffer_id(2);
  out->set_frame_stride_bytes(kOutFrame);
  hbm::Layer* layer = m.add_layers();
  layer->set_name("input_conversion");
  layer->mutable_op()->set_op_type("Nv12ToNative");
  layer->mutable_op()->set_domain("hq.npu");
  hbm::Attribute* a = layer->mutable_op()->add_attributes();
  a->set_name("channels");
  a->set_kind(hbm::Attribute::INT);
  a->set_i(channels);

  auto dma = [&](Instruction::Opcode op, Region::Space from, uint64_t src, uint32_t src_buffer,
                 Region::Space to, uint64_t dst, uint32_t dst_buffer, uint64_t size) {
    Instruction* i = m.add_instructions();
    i->set_opcode(op);
    i->set_engine(op == Instruction::DMA_LOAD ? Instruction::DMA_IN : Instruction::DMA_OUT);
    setRegion(i->mutable_dma()->mutable_src(), from, src, size, src_buffer);
    setRegion(i->mutable_dma()->mutable_dst(), to, dst, size, dst_buffer);
    i->mutable_dma()->set_dtype(hbm::UINT8);
    return i;
  };
  for (uint32_t f = 0; f < 2; ++f) {
    for (uint32_t t = 0; t < 2; ++t) {
      const uint32_t tok = 100 + 10 * (2 * f + t);
      const uint64_t sram = 512 * (2 * f + t);
      // Y rows [2t, 2t + 2): 8 bytes; the UV row t: 4 bytes (2 pixels x U, V).
      dma(Instruction::DMA_LOAD, Region::DDR, f * kInStride + 8 * t, 1, Region::SRAM, sram, 0, 8)
          ->add_signals(tok);
      if (channels == 3)
        dma(Instruction::DMA_LOAD, Region::DDR, f * kInStride + 16 + 4 * t, 1, Region::SRAM,
            sram + 64, 0, 4)
            ->add_signals(tok);
      Instruction* v = m.add_instructions();
      v->set_opcode(Instruction::VECTOR);
      v->set_engine(Instruction::VEC);
      for (int64_t k = 0; k < (channels == 3 ? 2 : 1); ++k) v->add_waits(tok);
      v->add_signals(tok + 1);
      hbm::ComputeOp* c = v->mutable_compute();
      operand(c->add_inputs(), Region::SRAM, sram, {1, 1, 2, 4}, hbm::UINT8, 1);
      if (channels == 3)
        operand(c->add_inputs(), Region::SRAM, sram + 64, {1, 2, 1, 2}, hbm::UINT8, 2);
      else
        c->add_inputs()->set_absent(true);
      operand(c->mutable_output(), Region::SRAM, sram + 128, {1, channels, 2, 4}, hbm::INT8, 8);
      c->mutable_tile()->set_out_y(2 * t);
      c->mutable_tile()->set_out_h(2);
      c->mutable_tile()->set_frame(f);
      dma(Instruction::DMA_STORE, Region::SRAM, sram + 128, 0, Region::DDR, f * kOutFrame + 64 * t,
          2, 64)
          ->add_waits(tok + 1);
    }
  }
  layer->set_instruction_count(static_cast<uint32_t>(m.instructions_size()));
  REQUIRE(validateHbm(m).isOk());
  return m;
}

}  // namespace

TEST_CASE("sim: Nv12ToNative tiles equal nv12ToInt8 of the whole frames", "[sim]") {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> byte(0, 255);
  Tensor frames(DType::kUInt8, {2, 6, 4});
  for (int64_t i = 0; i < frames.numel(); ++i)
    frames.data<uint8_t>()[i] = static_cast<uint8_t>(byte(rng));
  for (int64_t channels : {1, 3}) {
    INFO("channels " << channels);
    auto want = nv12ToInt8(frames, channels);
    REQUIRE(want.isOk());
    for (auto order : {SimOptions::Order::kEager, SimOptions::Order::kStream}) {
      SimStats stats;
      auto ys = simulate(makeNv12Model(channels), frames, order, &stats);
      INFO(ys.status().message());
      REQUIRE(ys.isOk());
      CHECK((*ys)[0].shape() == Shape{2, channels, 4, 4});
      CHECK((*ys)[0].equals(*want));
      CHECK(stats.computes == 4);
      CHECK(stats.ddrBytesLoaded == 2 * (channels == 3 ? 24 : 16));
      CHECK(stats.ddrBytesStored == 2 * 128);
    }
  }
  // A frame whose output tile is never stored is an error, not zeros.
  hbm::Model m = makeNv12Model(1);
  m.mutable_instructions()->RemoveLast();  // frame 1's second store
  m.mutable_instructions(m.instructions_size() - 1)->clear_signals();
  m.mutable_layers(0)->set_instruction_count(static_cast<uint32_t>(m.instructions_size()));
  auto ys = simulate(m, frames, SimOptions::Order::kEager);
  REQUIRE_FALSE(ys.isOk());
  CHECK_THAT(ys.status().message(), Catch::Contains("output 'y' frame 1"));
  CHECK_THAT(ys.status().message(), Catch::Contains("before any write"));
}

TEST_CASE("sim: stores may skip the channel padding of an output", "[sim]") {
  const ConvData d = makeData(13);
  hbm::Model m = makeConvModel(d, {0, 3, 6}, 1);
  for (int i = 0; i < m.instructions_size(); ++i) {
    if (m.instructions(i).opcode() != Instruction::DMA_STORE) continue;
    hbm::DmaOp* dma = m.mutable_instructions(i)->mutable_dma();
    const uint32_t pixels = static_cast<uint32_t>(dma->src().size() / kStride);
    for (Region* r : {dma->mutable_src(), dma->mutable_dst()}) {
      r->add_dims(pixels);
      r->add_dims(kC);
      r->add_strides(kStride);
      r->add_strides(1);
    }
  }
  REQUIRE(validateHbm(m).isOk());
  SimStats stats;
  auto ys = simulate(m, d.x, SimOptions::Order::kEager, &stats);
  INFO(ys.status().message());
  REQUIRE(ys.isOk());
  CHECK((*ys)[0].equals(referenceConv(d)));
  CHECK(stats.ddrBytesStored == kH * kW * kC);  // payload only
}
