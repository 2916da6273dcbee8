// The simulator's memories (sim/memory.h): byte layouts computed by hand, every error case.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "sim/memory.h"

using namespace hq;

namespace {

March testMarch() {
  March m;
  m.name = "test";
  m.sramBytes = 4096;
  m.sramBanks = 4;
  return m;
}

hbm::Buffer makeBuffer(uint32_t id, const std::string& name, uint64_t offset, uint64_t size,
                       hbm::Buffer::Purpose purpose) {
  hbm::Buffer b;
  b.set_id(id);
  b.set_name(name);
  b.set_offset(offset);
  b.set_size(size);
  b.set_purpose(purpose);
  return b;
}

// DDR: input:x [0, 64), act:a [64, 192), out:y [192, 224); weights = bytes 0..15.
hbm::Model testModel() {
  hbm::Model model;
  *model.add_buffers() = makeBuffer(1, "input:x", 0, 64, hbm::Buffer::INPUT);
  *model.add_buffers() = makeBuffer(2, "act:a", 64, 128, hbm::Buffer::ACTIVATION);
  *model.add_buffers() = makeBuffer(3, "out:y", 192, 32, hbm::Buffer::OUTPUT);
  std::string w;
  for (int i = 0; i < 16; ++i) w.push_back(static_cast<char>(i));
  model.set_weights(w);
  return model;
}

SimMemory makeMemory() {
  auto mem = SimMemory::create(testMarch(), testModel());
  REQUIRE(mem.isOk());
  return std::move(mem).value();
}

hbm::Region region(hbm::Region::Space space, uint64_t offset, uint64_t size,
                   uint32_t buffer_id = 0) {
  hbm::Region r;
  r.set_space(space);
  r.set_offset(offset);
  r.set_size(size);
  r.set_buffer_id(buffer_id);
  return r;
}

hbm::Region strided(hbm::Region r, std::vector<uint32_t> dims, std::vector<int64_t> strides) {
  for (uint32_t d : dims) r.add_dims(d);
  for (int64_t s : strides) r.add_strides(s);
  return r;
}

std::vector<uint8_t> iota(size_t n, uint8_t first = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(first + i);
  return v;
}

}  // namespace

TEST_CASE("SimMemory sizes DDR to the buffers and banks SRAM contiguously", "[sim]") {
  SimMemory mem = makeMemory();
  CHECK(mem.ddr().size() == 224);
  CHECK(mem.sram().size() == 4096);
  CHECK(mem.weights().size() == 16);
  CHECK(mem.bankBytes() == 1024);
  CHECK(mem.bankOf(0) == 0);
  CHECK(mem.bankOf(1023) == 0);
  CHECK(mem.bankOf(1024) == 1);
  CHECK(mem.bankOf(4095) == 3);

  March odd = testMarch();
  odd.sramBytes = 1000;
  odd.sramBanks = 3;  // ceil(1000 / 3) = 334 bytes per bank
  auto m2 = SimMemory::create(odd, testModel());
  REQUIRE(m2.isOk());
  CHECK(m2->bankBytes() == 334);
  CHECK(m2->bankOf(667) == 1);
  CHECK(m2->bankOf(668) == 2);
}

TEST_CASE("SimMemory contiguous write/read round trip", "[sim]") {
  SimMemory mem = makeMemory();
  REQUIRE(mem.write(region(hbm::Region::SRAM, 100, 8), 1, iota(8, 1), "t").isOk());
  auto r = mem.read(region(hbm::Region::SRAM, 100, 8), 1, "t");
  REQUIRE(r.isOk());
  CHECK(*r == iota(8, 1));
  CHECK(mem.sram()[99] == 0);
  CHECK(mem.sram()[100] == 1);
  CHECK(mem.sram()[107] == 8);

  // DDR offsets are relative to the buffer: buffer 2 starts at 64.
  REQUIRE(mem.write(region(hbm::Region::DDR, 4, 3, 2), 1, {7, 8, 9}, "t").isOk());
  CHECK(mem.ddr()[68] == 7);
  CHECK(mem.ddr()[70] == 9);
  auto d = mem.read(region(hbm::Region::DDR, 5, 2, 2), 1, "t");
  REQUIRE(d.isOk());
  CHECK(*d == std::vector<uint8_t>{8, 9});
}

TEST_CASE("SimMemory strided views place elements by byte strides", "[sim]") {
  SimMemory mem = makeMemory();
  // 2 x 3 elements of 2 bytes, strides 32 and 4: starts at 16 + {0, 4, 8, 32, 36, 40}.
  hbm::Region view = strided(region(hbm::Region::SRAM, 16, 64), {2, 3}, {32, 4});
  REQUIRE(mem.write(view, 2, iota(12), "t").isOk());
  const auto& s = mem.sram();
  CHECK(s[16] == 0);
  CHECK(s[17] == 1);
  CHECK(s[18] == 0);  // gap, untouched
  CHECK(s[20] == 2);
  CHECK(s[25] == 5);
  CHECK(s[48] == 6);
  CHECK(s[53] == 9);
  CHECK(s[57] == 11);
  auto back = mem.read(view, 2, "t");
  REQUIRE(back.isOk());
  CHECK(*back == iota(12));
  // Another view of the same bytes: the first byte of each element of row 1.
  auto row = mem.read(strided(region(hbm::Region::SRAM, 48, 12), {3}, {4}), 1, "t");
  REQUIRE(row.isOk());
  CHECK(*row == std::vector<uint8_t>{6, 8, 10});
  // The gaps were never written.
  auto gap = mem.read(region(hbm::Region::SRAM, 16, 4), 1, "t");
  REQUIRE(!gap.isOk());
  CHECK_THAT(gap.status().message(), Catch::Contains("byte 18 never written"));

  // Four dims, strides {100, 7, 10, 1} with dims {2, 1, 2, 2}: offsets 0,1,10,11,100,101,110,111.
  hbm::Region v4 = strided(region(hbm::Region::DDR, 0, 112, 2), {2, 1, 2, 2}, {100, 7, 10, 1});
  REQUIRE(mem.write(v4, 1, iota(8, 10), "t").isOk());
  CHECK(mem.ddr()[64 + 0] == 10);
  CHECK(mem.ddr()[64 + 1] == 11);
  CHECK(mem.ddr()[64 + 10] == 12);
  CHECK(mem.ddr()[64 + 11] == 13);
  CHECK(mem.ddr()[64 + 100] == 14);
  CHECK(mem.ddr()[64 + 111] == 17);
  // Stride 0 broadcasts on read.
  auto bc = mem.read(strided(region(hbm::Region::DDR, 10, 1, 2), {3}, {0}), 1, "t");
  REQUIRE(bc.isOk());
  CHECK(*bc == std::vector<uint8_t>{12, 12, 12});
}

TEST_CASE("SimMemory reports out-of-bounds accesses", "[sim]") {
  SimMemory mem = makeMemory();
  auto r = mem.read(region(hbm::Region::SRAM, 4090, 16), 1, "instruction 3 (DMA_LOAD)");
  REQUIRE(!r.isOk());
  CHECK(r.status().code() == ErrorCode::kInternal);
  CHECK(r.status().message() ==
        "simulator: instruction 3 (DMA_LOAD): SRAM read [4090, 4106) is out of bounds (4096 "
        "bytes)");

  // Overflowing offset + size: an error, not a wrap-around.
  const uint64_t big = std::numeric_limits<uint64_t>::max();
  CHECK(!mem.read(region(hbm::Region::SRAM, big - 1, 4), 1, "t").isOk());
  CHECK(!mem.write(region(hbm::Region::SRAM, 8, big), 1, {}, "t").isOk());

  Status w = mem.write(region(hbm::Region::DDR, 30, 4, 3), 1, {1, 2, 3, 4}, "instruction 7");
  REQUIRE(!w.isOk());
  CHECK(w.message() ==
        "simulator: instruction 7: DDR buffer 3 (out:y) write [30, 34) is out of bounds (32 "
        "bytes)");

  auto unknown = mem.read(region(hbm::Region::DDR, 0, 4, 9), 1, "t");
  REQUIRE(!unknown.isOk());
  CHECK_THAT(unknown.status().message(), Catch::Contains("buffer 9, which does not exist"));

  auto nospace = mem.read(region(hbm::Region::SPACE_UNSPECIFIED, 0, 4), 1, "t");
  REQUIRE(!nospace.isOk());
  CHECK_THAT(nospace.status().message(), Catch::Contains("expected DDR, SRAM or WEIGHTS"));

  // Last element [12, 14) pokes out of a 13-byte footprint.
  auto fp = mem.write(strided(region(hbm::Region::SRAM, 0, 13), {4}, {4}), 2, iota(8), "t");
  REQUIRE(!fp.isOk());
  CHECK_THAT(fp.message(), Catch::Contains("reaches bytes [0, 14) relative to the offset, outside "
                                           "its footprint of 13 bytes"));
  // Negative strides reach below the footprint.
  CHECK(!mem.write(strided(region(hbm::Region::SRAM, 64, 16), {2}, {-4}), 1, iota(2), "t").isOk());
  // Huge dims and strides: no overflow, just an error.
  CHECK(!mem.read(strided(region(hbm::Region::SRAM, 0, 16), {0xFFFFFFFFu, 0xFFFFFFFFu},
                          {std::numeric_limits<int64_t>::max(), 1}),
                  1, "t")
             .isOk());
  auto mismatch = mem.read(strided(region(hbm::Region::SRAM, 0, 16), {2, 2}, {4}), 1, "t");
  REQUIRE(!mismatch.isOk());
  CHECK_THAT(mismatch.status().message(), Catch::Contains("2 dims and 1 strides"));
  CHECK(
      !mem.read(strided(region(hbm::Region::SRAM, 0, 16), {1, 1, 1, 1, 1}, {0, 0, 0, 0, 0}), 1, "t")
           .isOk());

  Status size = mem.write(region(hbm::Region::SRAM, 0, 4), 1, iota(3), "t");
  REQUIRE(!size.isOk());
  CHECK_THAT(size.message(), Catch::Contains("3 bytes given; the region holds 4"));
}

TEST_CASE("SimMemory refuses reads before writes", "[sim]") {
  SimMemory mem = makeMemory();
  auto r = mem.read(region(hbm::Region::SRAM, 1024, 1024), 1, "instruction 12 (DMA_LOAD)");
  REQUIRE(!r.isOk());
  CHECK(r.status().code() == ErrorCode::kInternal);
  CHECK(r.status().message() ==
        "simulator: instruction 12 (DMA_LOAD): SRAM read [1024, 2048) before any write (byte "
        "1024 never written)");
  REQUIRE(mem.write(region(hbm::Region::SRAM, 1024, 6), 1, iota(6), "t").isOk());
  auto partial = mem.read(region(hbm::Region::SRAM, 1024, 16), 1, "t");
  REQUIRE(!partial.isOk());
  CHECK_THAT(partial.status().message(), Catch::Contains("byte 1030 never written"));
  CHECK(mem.read(region(hbm::Region::SRAM, 1024, 6), 1, "t").isOk());

  auto d = mem.read(region(hbm::Region::DDR, 0, 8, 3), 1, "instruction 2 (DMA_STORE)");
  REQUIRE(!d.isOk());
  CHECK(d.status().message() ==
        "simulator: instruction 2 (DMA_STORE): DDR buffer 3 (out:y) read [0, 8) before any write "
        "(byte 0 never written)");
}

TEST_CASE("SimMemory WEIGHTS are readable and read-only", "[sim]") {
  SimMemory mem = makeMemory();
  auto w = mem.read(region(hbm::Region::WEIGHTS, 4, 4), 1, "t");
  REQUIRE(w.isOk());
  CHECK(*w == std::vector<uint8_t>{4, 5, 6, 7});
  auto ws = mem.read(strided(region(hbm::Region::WEIGHTS, 1, 15), {2, 2}, {8, 2}), 1, "t");
  REQUIRE(ws.isOk());
  CHECK(*ws == std::vector<uint8_t>{1, 3, 9, 11});

  Status write = mem.write(region(hbm::Region::WEIGHTS, 0, 2), 1, {9, 9}, "instruction 5 (CONV)");
  REQUIRE(!write.isOk());
  CHECK(write.message() ==
        "simulator: instruction 5 (CONV): write to WEIGHTS [0, 2): the weight blob is read-only");
  CHECK(mem.weights()[0] == 0);

  auto oob = mem.read(region(hbm::Region::WEIGHTS, 14, 4), 1, "t");
  REQUIRE(!oob.isOk());
  CHECK_THAT(oob.status().message(), Catch::Contains("WEIGHTS read [14, 18) is out of bounds"));
}

TEST_CASE("SimMemory input marking and buffer invalidation", "[sim]") {
  SimMemory mem = makeMemory();
  CHECK(!mem.read(region(hbm::Region::DDR, 0, 64, 1), 1, "t").isOk());
  mem.markInputsWritten();
  auto in = mem.read(region(hbm::Region::DDR, 0, 64, 1), 1, "t");
  REQUIRE(in.isOk());
  CHECK(*in == std::vector<uint8_t>(64, 0));
  // Only INPUT buffers were marked.
  CHECK(!mem.read(region(hbm::Region::DDR, 0, 1, 2), 1, "t").isOk());
  REQUIRE(mem.markBufferWritten(2).isOk());
  CHECK(mem.read(region(hbm::Region::DDR, 0, 128, 2), 1, "t").isOk());
  CHECK(!mem.read(region(hbm::Region::DDR, 0, 1, 3), 1, "t").isOk());
  REQUIRE(mem.invalidateBuffer(2).isOk());
  CHECK(!mem.read(region(hbm::Region::DDR, 127, 1, 2), 1, "t").isOk());
  CHECK(mem.read(region(hbm::Region::DDR, 63, 1, 1), 1, "t").isOk());  // neighbour untouched
  CHECK(!mem.markBufferWritten(9).isOk());
  CHECK(!mem.invalidateBuffer(9).isOk());
}

TEST_CASE("SimMemory::create rejects bad memories", "[sim]") {
  hbm::Model dup = testModel();
  *dup.add_buffers() = makeBuffer(2, "again", 300, 4, hbm::Buffer::SCRATCH);
  auto a = SimMemory::create(testMarch(), dup);
  REQUIRE(!a.isOk());
  CHECK_THAT(a.status().message(), Catch::Contains("buffer id 2 (again) appears twice"));

  March nobanks = testMarch();
  nobanks.sramBanks = 0;
  CHECK(!SimMemory::create(nobanks, testModel()).isOk());

  hbm::Model huge = testModel();
  *huge.add_buffers() =
      makeBuffer(7, "huge", std::numeric_limits<uint64_t>::max() - 2, 16, hbm::Buffer::SCRATCH);
  auto h = SimMemory::create(testMarch(), huge);
  REQUIRE(!h.isOk());
  CHECK_THAT(h.status().message(), Catch::Contains("buffer 7 (huge)"));
}

TEST_CASE("checkBufferOverlap finds buffers live together in the same bytes", "[sim]") {
  std::vector<hbm::Buffer> buffers = {
      makeBuffer(1, "input:x", 0, 64, hbm::Buffer::INPUT),
      makeBuffer(2, "act:a", 64, 128, hbm::Buffer::ACTIVATION),
      makeBuffer(4, "act:b", 32, 64, hbm::Buffer::ACTIVATION),
  };
  // 1 and 2 are live together but only touch at 64; 4 overlaps both in bytes, never in time.
  CHECK(checkBufferOverlap(buffers, {{1, 0, 3}, {2, 2, 5}, {4, 6, 8}}).isOk());
  CHECK(checkBufferOverlap(buffers, {{1, 0, 1}, {4, 2, 8}, {2, 9, 9}}).isOk());

  Status s = checkBufferOverlap(buffers, {{1, 0, 3}, {2, 2, 5}, {4, 5, 8}});
  REQUIRE(!s.isOk());
  CHECK(s.code() == ErrorCode::kInternal);
  CHECK(s.message() ==
        "simulator: buffers 2 (act:a) DDR [64, 192) and 4 (act:b) DDR [32, 96) overlap while both "
        "are live at step 5 (a memory planner bug)");

  Status unknown = checkBufferOverlap(buffers, {{3, 0, 1}});
  REQUIRE(!unknown.isOk());
  CHECK_THAT(unknown.message(), Catch::Contains("names buffer 3, which does not exist"));
  CHECK(!checkBufferOverlap(buffers, {{1, 4, 3}}).isOk());
}
