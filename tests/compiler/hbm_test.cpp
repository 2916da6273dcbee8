// The .hbm container (schemas/hbm.md) and payload validation: round trip, determinism, and
// every way a file is refused (truncated, corrupted, foreign, newer, inconsistent).
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>
#include <string>

#include <unistd.h>

#include "compiler/hbm.h"
#include "support/atomic_file.h"
#include "support/sha256.h"

namespace {

using hq::hbm::Instruction;
using hq::hbm::Region;

void setRegion(Region* r, Region::Space space, uint64_t offset, uint64_t size,
               uint32_t buffer = 0) {
  r->set_space(space);
  r->set_offset(offset);
  r->set_size(size);
  r->set_buffer_id(buffer);
}

/// A one-layer model: 1x8x4x4 int8 input (NHWC, 8 channels), a 1x1 conv with 8 outputs + ReLU,
/// batch 2. Weight blob (192 bytes): weights [0,64), bias int64 [64,128), multiplier int32
/// [128,160), shift int32 [160,192).
hq::hbm::Model makeModel() {
  hq::hbm::Model m;
  m.set_march("bayes");
  hq::hbm::MarchSummary* mi = m.mutable_march_info();
  mi->set_sha256(std::string(64, 'a'));
  mi->set_clock_mhz(1000);
  mi->set_mac_rows(32);
  mi->set_mac_columns(32);
  mi->set_sram_bytes(1024);
  mi->set_sram_banks(4);
  mi->set_channel_group(8);
  mi->set_ddr_burst_bytes(64);
  m.set_batch(2);

  auto addBuffer = [&](uint32_t id, const char* name, uint64_t off, uint64_t size,
                       hq::hbm::Buffer::Purpose p) {
    hq::hbm::Buffer* b = m.add_buffers();
    b->set_id(id);
    b->set_name(name);
    b->set_offset(off);
    b->set_size(size);
    b->set_purpose(p);
  };
  addBuffer(1, "input:x", 0, 256, hq::hbm::Buffer::INPUT);
  addBuffer(2, "output:y", 256, 256, hq::hbm::Buffer::OUTPUT);
  addBuffer(7, "act:scratch", 512, 512, hq::hbm::Buffer::SCRATCH);

  auto addDesc = [](hq::hbm::TensorDesc* d, const char* name, uint32_t buffer) {
    d->set_name(name);
    for (int64_t v : {1, 8, 4, 4}) d->add_shape(v);
    for (int64_t v : {1, 4, 4, 8}) d->add_padded_shape(v);
    d->set_dtype(hq::hbm::INT8);
    d->add_scales(1.0f / 128);
    d->add_zero_points(0);
    d->set_layout(hq::hbm::NHWC);
    d->set_channel_alignment(8);
    d->set_buffer_id(buffer);
    d->set_frame_stride_bytes(128);
  };
  addDesc(m.add_inputs(), "x", 1);
  m.mutable_inputs(0)->set_source(hq::hbm::PYRAMID);
  addDesc(m.add_outputs(), "y", 2);

  std::string blob(192, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7 + 3);
  m.set_weights(blob);
  hq::hbm::Layer* layer = m.add_layers();
  layer->set_name("conv1");
  layer->add_source_nodes("conv1");
  layer->add_source_nodes("relu1");
  layer->add_source_ops("ai.hq.QConv");
  layer->add_source_ops("Relu");
  layer->set_first_instruction(0);
  layer->set_instruction_count(5);
  layer->set_macs(8 * 8 * 16);
  const hq::hbm::WeightRegion::Kind kinds[] = {
      hq::hbm::WeightRegion::WEIGHT, hq::hbm::WeightRegion::BIAS, hq::hbm::WeightRegion::MULTIPLIER,
      hq::hbm::WeightRegion::SHIFT};
  const uint64_t offs[] = {0, 64, 128, 160}, sizes[] = {64, 64, 32, 32};
  for (int k = 0; k < 4; ++k) {
    hq::hbm::WeightRegion* w = m.add_weight_regions();
    w->set_layer(0);
    w->set_kind(kinds[k]);
    w->set_offset(offs[k]);
    w->set_size(sizes[k]);
  }

  // 0: input frame -> SRAM [0,128), as a 4x4x8 strided block.
  Instruction* in = m.add_instructions();
  in->set_opcode(Instruction::DMA_LOAD);
  in->set_engine(Instruction::DMA_IN);
  setRegion(in->mutable_dma()->mutable_src(), Region::DDR, 0, 128, 1);
  for (uint32_t d : {4, 4, 8}) in->mutable_dma()->mutable_src()->add_dims(d);
  for (int64_t s : {32, 8, 1}) in->mutable_dma()->mutable_src()->add_strides(s);
  setRegion(in->mutable_dma()->mutable_dst(), Region::SRAM, 0, 128);
  in->mutable_dma()->set_dtype(hq::hbm::INT8);
  in->add_signals(1);
  // 1: weights -> SRAM [128,192).
  in = m.add_instructions();
  in->set_opcode(Instruction::DMA_LOAD);
  in->set_engine(Instruction::DMA_IN);
  setRegion(in->mutable_dma()->mutable_src(), Region::WEIGHTS, 0, 64);
  setRegion(in->mutable_dma()->mutable_dst(), Region::SRAM, 128, 64);
  in->add_signals(1);
  // 2: conv + relu into SRAM [256,384).
  in = m.add_instructions();
  in->set_opcode(Instruction::CONV);
  in->set_engine(Instruction::MAC);
  in->add_waits(1);
  in->add_waits(1);
  in->add_signals(2);
  hq::hbm::ComputeOp* c = in->mutable_compute();
  const auto operand = [](hq::hbm::Operand* o, Region::Space space, uint64_t off, uint64_t size,
                          std::vector<int64_t> shape, uint32_t channel_stride) {
    setRegion(o->mutable_region(), space, off, size);
    o->set_dtype(hq::hbm::INT8);
    for (int64_t d : shape) o->add_shape(d);
    o->set_channel_stride(channel_stride);
  };
  operand(c->add_inputs(), Region::SRAM, 0, 128, {1, 8, 4, 4}, 8);
  operand(c->add_inputs(), Region::SRAM, 128, 64, {8, 8, 1, 1}, 0);  // dense constant
  c->add_inputs()->set_absent(true);
  operand(c->mutable_output(), Region::SRAM, 256, 128, {1, 8, 4, 4}, 8);
  c->mutable_tile()->set_out_h(4);
  // 3: store into the output buffer.
  in = m.add_instructions();
  in->set_opcode(Instruction::DMA_STORE);
  in->set_engine(Instruction::DMA_OUT);
  in->add_waits(2);
  setRegion(in->mutable_dma()->mutable_src(), Region::SRAM, 256, 128);
  setRegion(in->mutable_dma()->mutable_dst(), Region::DDR, 0, 128, 2);
  in->add_signals(3);
  // 4: barrier at the end of the frame.
  in = m.add_instructions();
  in->set_opcode(Instruction::BARRIER);
  in->set_engine(Instruction::CONTROL);
  in->add_waits(3);

  m.set_source_model_sha256(std::string(64, 'b'));
  m.set_ddr_bytes(1024);
  hq::hbm::CompilerInfo* ci = m.mutable_compiler();
  ci->set_version("0.1.0");
  ci->set_opt_level(1);
  ci->set_input_source(hq::hbm::PYRAMID);
  ci->set_batch(2);
  hq::hbm::Option* o = ci->add_options();
  o->set_key("march");
  o->set_value("bayes");
  ci->add_passes("legalize");
  return m;
}

std::string mustSerialize(const hq::hbm::Model& m) {
  hq::Expected<std::string> bytes = hq::serializeHbm(m);
  INFO(bytes.status().message());
  REQUIRE(bytes.isOk());
  return *bytes;
}

/// Wrap `payload` in a container by hand (the format of schemas/hbm.md), bypassing
/// serializeHbm's validation.
std::string container(const std::string& payload, uint8_t major = 1, uint8_t minor = 0) {
  std::string out("HQHBM\0", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(static_cast<char>(minor));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  out += payload;
  hq::Sha256 sha;
  sha.update(out);
  const auto d = sha.digest();
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out;
}

std::string parseError(const std::string& bytes) {
  hq::Expected<hq::hbm::Model> m = hq::parseHbm(bytes, "m.hbm");
  if (m.isOk()) return "(parsed)";
  return m.status().message();
}

std::string tempPath(const char* name) {
  return std::string("/tmp/hq_hbm_test_") + std::to_string(::getpid()) + "_" + name;
}

}  // namespace

TEST_CASE("hbm: container layout, round trip, byte-identical re-serialization", "[hbm]") {
  const hq::hbm::Model m = makeModel();
  const std::string bytes = mustSerialize(m);
  std::string payload;
  REQUIRE(m.SerializeToString(&payload));
  // Header: magic + version 1.0, payload length LE, payload, SHA-256 of all before it.
  REQUIRE(bytes.size() == 16 + payload.size() + 32);
  CHECK(bytes.substr(0, 8) == std::string("HQHBM\0\x01\x00", 8));
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= uint64_t(uint8_t(bytes[8 + i])) << (8 * i);
  CHECK(len == payload.size());
  CHECK(bytes == container(payload));

  hq::Expected<hq::hbm::Model> back = hq::parseHbm(bytes, "m.hbm");
  INFO(back.status().message());
  REQUIRE(back.isOk());
  CHECK(back->march() == "bayes");
  CHECK(back->batch() == 2);
  REQUIRE(back->instructions_size() == 5);
  CHECK(back->instructions(2).compute().output().channel_stride() == 8);
  CHECK(back->instructions(2).compute().inputs(2).absent());
  CHECK(back->instructions(0).dma().src().strides(0) == 32);
  CHECK(back->inputs(0).source() == hq::hbm::PYRAMID);
  CHECK(back->weights() == m.weights());
  CHECK(back->layers(0).source_nodes(1) == "relu1");
  // Same model, same bytes, however often and from whichever copy.
  CHECK(mustSerialize(*back) == bytes);
  CHECK(mustSerialize(m) == bytes);

  // Through a file, and the magic sniff.
  const std::string path = tempPath("rt.hbm");
  REQUIRE(hq::writeHbm(path, m).isOk());
  hq::Expected<std::string> onDisk = hq::readFile(path);
  REQUIRE(onDisk.isOk());
  CHECK(*onDisk == bytes);
  hq::Expected<hq::hbm::Model> fromFile = hq::readHbm(path);
  REQUIRE(fromFile.isOk());
  CHECK(fromFile->layers(0).name() == "conv1");
  CHECK(hq::looksLikeHbm(path));
  const std::string other = tempPath("other.onnx");
  REQUIRE(hq::writeFileAtomic(other, std::string("\x08\x07\x12\x04onnx", 8)).isOk());
  CHECK_FALSE(hq::looksLikeHbm(other));
  CHECK_FALSE(hq::looksLikeHbm(tempPath("missing.hbm")));
  hq::Expected<hq::hbm::Model> foreign = hq::readHbm(other);
  REQUIRE_FALSE(foreign.isOk());
  CHECK(foreign.status().message() == other + ": not an .hbm file (no HQHBM magic at the start)");
  std::remove(path.c_str());
  std::remove(other.c_str());
}

TEST_CASE("hbm: truncated files are refused at every cut", "[hbm]") {
  const std::string bytes = mustSerialize(makeModel());
  CHECK(parseError("") == "m.hbm: not an .hbm file (it is empty)");
  for (size_t cut : {size_t(3), size_t(7), size_t(8), size_t(12), size_t(15)}) {
    INFO("cut at " << cut);
    CHECK(parseError(bytes.substr(0, cut)) ==
          "m.hbm: truncated .hbm file: " + std::to_string(cut) + " bytes, the header alone is 16");
  }
  const std::string total = std::to_string(bytes.size());
  for (size_t cut :
       {size_t(16), size_t(17), bytes.size() / 2, bytes.size() - 32, bytes.size() - 1}) {
    INFO("cut at " << cut);
    const std::string e = parseError(bytes.substr(0, cut));
    CHECK(e.rfind("m.hbm: truncated .hbm file: " + std::to_string(cut) +
                      " bytes, the header "
                      "announces a " +
                      std::to_string(bytes.size() - 48) + "-byte payload (" + total + " bytes",
                  0) == 0);
  }
  // Extra bytes after the checksum are refused too.
  CHECK(parseError(bytes + "x") == "m.hbm: 1 unexpected bytes after the .hbm checksum");
}

TEST_CASE("hbm: corrupted, foreign, newer and mislabelled files are refused", "[hbm]") {
  const std::string bytes = mustSerialize(makeModel());
  const std::string kCorrupt = "m.hbm: corrupted .hbm file: SHA-256 checksum mismatch";
  for (size_t at : {size_t(20), bytes.size() / 2, bytes.size() - 33, bytes.size() - 1}) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x01);
    INFO("flipped byte " << at);
    CHECK(parseError(b) == kCorrupt);
  }
  std::string wrong = bytes;
  wrong[0] = 'X';
  CHECK(parseError(wrong) == "m.hbm: not an .hbm file (no HQHBM magic at the start)");
  CHECK(parseError("PK\x03\x04 a zip file") ==
        "m.hbm: not an .hbm file (no HQHBM magic at the start)");

  std::string payload;
  REQUIRE(makeModel().SerializeToString(&payload));
  // A newer major is refused before anything else is read (its layout may differ).
  CHECK(parseError(container(payload, 2, 3)) ==
        "m.hbm: was written by a newer hq (format 2, this hq reads 1)");
  CHECK(parseError(std::string("HQHBM\0\x07", 7)) ==
        "m.hbm: was written by a newer hq (format 7, this hq reads 1)");
  // A newer minor of the same major is read (unknown fields are skipped).
  CHECK(parseError(container(payload + std::string("\xa8\x06\x05", 3), 1, 9)) == "(parsed)");
  CHECK(parseError(container(payload, 0, 1)) == "m.hbm: bad .hbm format version 0");

  // A payload length beyond the file (checksum not even reached).
  std::string longer = bytes;
  longer[8] = static_cast<char>(uint8_t(longer[8]) + 1);
  CHECK(parseError(longer).find("truncated .hbm file") != std::string::npos);
  std::string huge = bytes;
  for (int i = 8; i < 16; ++i) huge[i] = '\xff';
  CHECK(parseError(huge).find("announces a 18446744073709551615-byte payload (more than 2^64") !=
        std::string::npos);
  // A valid container whose payload is not a Model.
  CHECK(parseError(container("\xff\xff\xff")) ==
        "m.hbm: the .hbm payload is not a valid hq.hbm.Model message");
}

TEST_CASE("hbm: validation names the instruction and the field", "[hbm]") {
  SECTION("operand in a missing buffer, refused when writing and when reading") {
    hq::hbm::Model m = makeModel();
    m.mutable_instructions(3)->mutable_dma()->mutable_dst()->set_buffer_id(99);
    hq::Expected<std::string> s = hq::serializeHbm(m);
    REQUIRE_FALSE(s.isOk());
    CHECK(s.status().message() ==
          "invalid .hbm model: instruction 3 (DMA_STORE, layer 'conv1'): "
          "dma.dst: buffer_id 99 names no buffer");
    std::string payload;
    REQUIRE(m.SerializeToString(&payload));
    CHECK(parseError(container(payload)) ==
          "m.hbm: invalid .hbm: instruction 3 (DMA_STORE, layer 'conv1'): dma.dst: buffer_id 99 "
          "names no buffer");
  }
  SECTION("weight offset beyond the blob") {
    hq::hbm::Model m = makeModel();
    m.mutable_instructions(1)->mutable_dma()->mutable_src()->set_offset(180);
    std::string payload;
    REQUIRE(m.SerializeToString(&payload));
    CHECK(parseError(container(payload)) ==
          "m.hbm: invalid .hbm: instruction 1 (DMA_LOAD, layer 'conv1'): dma.src: offset 180 + "
          "size 64 is beyond the weight blob (192 bytes)");
  }
  SECTION("compute operands: size against shape, space, channel stride") {
    hq::hbm::Model m = makeModel();
    m.mutable_instructions(2)->mutable_compute()->mutable_inputs(1)->mutable_region()->set_size(
        63);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 2 (CONV, layer 'conv1'): compute.inputs[1]: region holds 63 bytes, the "
          "operand 64");
    m = makeModel();
    m.mutable_instructions(2)->mutable_compute()->mutable_output()->set_channel_stride(4);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 2 (CONV, layer 'conv1'): compute.output: channel_stride 4 < 8 channels");
    m = makeModel();
    setRegion(m.mutable_instructions(2)->mutable_compute()->mutable_output()->mutable_region(),
              Region::WEIGHTS, 0, 128);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 2 (CONV, layer 'conv1'): compute.output: an activation (channel_stride > "
          "0) must be in SRAM");
  }
  SECTION("offset past the end of a DDR buffer, SRAM, strided view") {
    hq::hbm::Model m = makeModel();
    m.mutable_instructions(3)->mutable_dma()->mutable_dst()->set_offset(129);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 3 (DMA_STORE, layer 'conv1'): dma.dst: offset 129 + size 128 is beyond "
          "buffer 2 'output:y' (256 bytes)");
    m = makeModel();
    m.mutable_instructions(2)->mutable_compute()->mutable_output()->mutable_region()->set_offset(
        960);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 2 (CONV, layer 'conv1'): compute.output: offset 960 + size 128 is beyond "
          "SRAM (1024 bytes)");
    m = makeModel();
    m.mutable_instructions(0)->mutable_dma()->mutable_src()->set_strides(0, 33);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 0 (DMA_LOAD, layer 'conv1'): dma.src: the strided view reaches byte 130 "
          "of a 128-byte region");
  }
  SECTION("wrong operand kind, direction, layer, descriptors, buffers") {
    hq::hbm::Model m = makeModel();
    m.mutable_instructions(4)->set_opcode(Instruction::POOL);
    m.mutable_instructions(4)->set_engine(Instruction::VEC);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 4 (POOL, layer 'conv1'): expected `compute` operands");
    m = makeModel();
    *m.mutable_instructions(0)->mutable_dma()->mutable_dst() = m.instructions(0).dma().src();
    CHECK(hq::validateHbm(m).message() ==
          "instruction 0 (DMA_LOAD, layer 'conv1'): dma.dst: space DDR is not allowed here "
          "(expected SRAM)");
    m = makeModel();
    m.mutable_instructions(2)->set_layer(3);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 2 (CONV): layer 3 does not exist (1 layers)");
    m = makeModel();
    m.mutable_outputs(0)->clear_shape();
    CHECK(hq::validateHbm(m).message() == "outputs[0] 'y': shape is empty");
    m = makeModel();
    m.mutable_inputs(0)->set_frame_stride_bytes(129);
    CHECK(hq::validateHbm(m).message() ==
          "inputs[0] 'x': offset 0 + 2 frames x 129 bytes is outside buffer 1 (256 bytes)");
    m = makeModel();
    m.mutable_buffers(2)->set_id(1);
    CHECK(hq::validateHbm(m).message() ==
          "buffers[2] 'act:scratch': id 1 is used by an earlier buffer");
    m = makeModel();
    m.mutable_instructions(2)->set_engine(Instruction::VEC);
    CHECK(hq::validateHbm(m).message() ==
          "instruction 2 (CONV, layer 'conv1'): engine VEC does not run it (expected MAC)");
    m = makeModel();
    m.mutable_buffers(1)->set_offset(300);
    CHECK(hq::validateHbm(m).message() ==
          "buffers[1] 'output:y': offset 300 is not a multiple of the march's DDR burst 64 bytes");
    m = makeModel();
    m.mutable_weight_regions(3)->set_size(64);
    CHECK(hq::validateHbm(m).message() ==
          "weight_regions[3]: offset 160 + size 64 is beyond the weight blob (192 bytes)");
  }
}

TEST_CASE("hbm: validation of the header fields that keep files deterministic", "[hbm]") {
  hq::hbm::Model m = makeModel();
  m.set_batch(0);
  CHECK(hq::validateHbm(m).message() == "batch is 0, expected >= 1 frames per run");
  m = makeModel();
  m.set_source_model_sha256("ABC");
  CHECK(hq::validateHbm(m).message() ==
        "source_model_sha256: 'ABC' is not 64 lower-case hex digits");
  m = makeModel();
  hq::hbm::Option* o = m.mutable_compiler()->add_options();
  o->set_key("batch");
  o->set_value("2");
  CHECK(hq::validateHbm(m).message() ==
        "compiler.options[1]: key 'batch' after 'march', expected keys sorted and unique");
  m = makeModel();
  m.clear_march();
  CHECK(hq::validateHbm(m).message() == "march: the march name is empty");
}

TEST_CASE("hbm: random payload damage with a valid checksum never crashes", "[hbm]") {
  std::string payload;
  REQUIRE(makeModel().SerializeToString(&payload));
  std::mt19937 rng(6);
  int refused = 0;
  for (int it = 0; it < 300; ++it) {
    std::string p = payload;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) p[rng() % p.size()] = static_cast<char>(rng() & 0xff);
    if (it % 3 == 0) p.resize(rng() % p.size());
    hq::Expected<hq::hbm::Model> m = hq::parseHbm(container(p), "fuzz.hbm");
    if (!m.isOk()) {
      ++refused;
      CHECK(m.status().message().rfind("fuzz.hbm: ", 0) == 0);
    } else {
      CHECK(hq::validateHbm(*m).isOk());
    }
  }
  CHECK(refused > 100);  // most damage is caught by protobuf or the validator
}
