// gzip decoding (memory and temp-file paths, corruption), the zip reader, and .npy files.
#include <catch2/catch.hpp>

#include "data/bytes.h"
#include "data/npy.h"
#include "data/zip.h"
#include "data_test_util.h"

using namespace hq;
using namespace hq::testing;

namespace {
std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}
std::string asString(const Bytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data), b.size);
}
const std::string kFixtures = std::string(HQ_TEST_DATA) + "/datasets";
}  // namespace

TEST_CASE("gunzip decodes in memory and through a temp file alike") {
  std::string plain = pattern(300000);
  Bytes gz = bytesFromString(gzipBytes(plain));
  REQUIRE(isGzip(gz));
  auto mem = gunzip(gz, "x.gz");
  REQUIRE(mem.isOk());
  CHECK(asString(*mem) == plain);
  auto spilled = gunzip(gz, "x.gz", /*in_memory_limit=*/1000);  // forces the temp file
  REQUIRE(spilled.isOk());
  CHECK(asString(*spilled) == plain);
}

TEST_CASE("gunzip reads concatenated gzip members as one stream") {
  Bytes gz = bytesFromString(gzipBytes("hello ") + gzipBytes("world"));
  auto out = gunzip(gz, "two.gz");
  REQUIRE(out.isOk());
  CHECK(asString(*out) == "hello world");
}

TEST_CASE("corrupted or truncated gzip gives one clear error naming the file") {
  std::string gz = gzipBytes(pattern(50000));
  SECTION("bad CRC in the trailer") {
    std::string bad = gz;
    bad[bad.size() - 6] ^= 0x01;  // inside CRC-32 (trailer: CRC then ISIZE)
    auto r = gunzip(bytesFromString(bad), "/data/bad.gz");
    REQUIRE_FALSE(r.isOk());
    INFO(r.status().message());
    CHECK(r.status().code() == ErrorCode::kParse);
    CHECK(contains(r.status().message(), "/data/bad.gz"));
    CHECK(contains(r.status().message(), "CRC-32 mismatch"));
  }
  SECTION("truncated stream") {
    auto r = gunzip(bytesFromString(gz.substr(0, gz.size() / 2)), "/data/cut.gz");
    REQUIRE_FALSE(r.isOk());
    INFO(r.status().message());
    CHECK(contains(r.status().message(), "/data/cut.gz"));
    CHECK(contains(r.status().message(), "truncated"));
  }
  SECTION("flipped bytes in the compressed data") {
    std::string bad = gz;
    for (size_t i = 40; i < 400; i += 7) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    auto r = gunzip(bytesFromString(bad), "/data/flipped.gz");
    REQUIRE_FALSE(r.isOk());
    INFO(r.status().message());
    CHECK(contains(r.status().message(), "/data/flipped.gz"));
  }
  SECTION("trailing garbage") {
    auto r = gunzip(bytesFromString(gz + "junk"), "/data/junk.gz");
    REQUIRE_FALSE(r.isOk());
    CHECK(contains(r.status().message(), "trailing garbage"));
  }
  SECTION("not gzip at all") {
    auto r = gunzip(bytesFromString("plain text that is long enough"), "/data/plain.gz");
    REQUIRE_FALSE(r.isOk());
    CHECK(contains(r.status().message(), "not a gzip file"));
  }
}

TEST_CASE("mapFile reports missing files and maps existing ones") {
  auto dir = dataScratch("mapfile");
  auto missing = mapFile((dir / "nope.bin").string());
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  writeBytes(dir / "a.bin", "abcdef");
  auto m = mapFile((dir / "a.bin").string());
  REQUIRE(m.isOk());
  CHECK(asString(*m) == "abcdef");
  CHECK(asString(m->slice(2, 3)) == "cde");
  writeBytes(dir / "empty.bin", "");
  auto e = mapFile((dir / "empty.bin").string());
  REQUIRE(e.isOk());
  CHECK(e->size == 0);
}

TEST_CASE("npy round trip through writeNpy and readNpy") {
  auto dir = dataScratch("npy");
  Tensor f = Tensor::fromVector<float>({2, 3}, {1.5f, -2.f, 3.25f, 0.f, 1e-3f, -7.f});
  Tensor u = Tensor::fromVector<uint8_t>({4}, {0, 1, 254, 255});
  Tensor i = Tensor::fromVector<int64_t>({1, 2, 1}, {-5, 1ll << 40});
  Tensor s = Tensor::scalar<int32_t>(42);
  for (const Tensor* t : {&f, &u, &i, &s}) {
    std::string path = (dir / "t.npy").string();
    REQUIRE(writeNpy(path, *t).isOk());
    auto back = readNpy(path);
    REQUIRE(back.isOk());
    CHECK(back->equals(*t));
  }
}

TEST_CASE("npy header problems are reported with the file name") {
  Tensor f = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
  std::string bytes = encodeNpy(f);
  auto truncated = decodeNpy(bytes.substr(0, bytes.size() - 4), "t.npy");
  REQUIRE_FALSE(truncated.isOk());
  CHECK(contains(truncated.status().message(), "t.npy"));
  CHECK(contains(truncated.status().message(), "truncated"));
  auto not_npy = decodeNpy("hello, world", "h.npy");
  REQUIRE_FALSE(not_npy.isOk());
  CHECK(contains(not_npy.status().message(), "not an .npy file"));
  std::string fortran = bytes;
  auto pos = fortran.find("False");
  fortran.replace(pos, 5, "True ");
  auto f_order = decodeNpy(fortran, "f.npy");
  REQUIRE_FALSE(f_order.isOk());
  CHECK(f_order.status().code() == ErrorCode::kUnsupported);
  std::string big = bytes;
  big.replace(big.find("<f4"), 3, ">f4");
  auto big_endian = decodeNpy(big, "b.npy");
  REQUIRE_FALSE(big_endian.isOk());
  CHECK(contains(big_endian.status().message(), ">f4"));
}

TEST_CASE("zip reader reads numpy's stored and deflated .npz members") {
  // Written by tests/fixtures/datasets/make_fixtures.py with np.savez / np.savez_compressed.
  auto stored = ZipArchive::open(kFixtures + "/tiny.npz");
  REQUIRE(stored.isOk());
  REQUIRE(stored->entries().size() == 2);
  const auto* e = stored->find("images.npy");
  REQUIRE(e);
  CHECK(e->method == 0);
  auto bytes = stored->extract(*e);
  REQUIRE(bytes.isOk());
  auto t = decodeNpy(asString(*bytes), "images.npy");
  REQUIRE(t.isOk());
  CHECK(t->dtype() == DType::kUInt8);
  CHECK(t->shape() == Shape{4, 2, 3, 3});
  CHECK(t->data<uint8_t>()[71] == 71);

  auto deflated = ZipArchive::open(kFixtures + "/tiny_compressed.npz");
  REQUIRE(deflated.isOk());
  const auto* x = deflated->find("x.npy");
  REQUIRE(x);
  CHECK(x->method == 8);
  for (size_t limit : {kDecompressInMemoryLimit, size_t{16}}) {  // memory and temp file
    auto xb = deflated->extract(*x, limit);
    REQUIRE(xb.isOk());
    auto xt = decodeNpy(asString(*xb), "x.npy");
    REQUIRE(xt.isOk());
    CHECK(xt->shape() == Shape{4, 3, 2, 3});
    CHECK(xt->data<float>()[71] == 35.5f);
  }
}

TEST_CASE("corrupted .npz members fail their CRC check") {
  auto dir = dataScratch("zipbad");
  std::string zip = readBytes(kFixtures + "/tiny.npz");
  // Flip the last element byte of images.npy: the first member's data ends before the
  // second member's local header ("PK\3\4").
  size_t second = zip.find(std::string("PK\x03\x04", 4), 4);
  REQUIRE(second != std::string::npos);
  zip[second - 1] ^= 0x40;
  writeBytes(dir / "bad.npz", zip);
  auto z = ZipArchive::open((dir / "bad.npz").string());
  REQUIRE(z.isOk());
  auto r = z->extract(*z->find("images.npy"));
  REQUIRE_FALSE(r.isOk());
  INFO(r.status().message());
  CHECK(contains(r.status().message(), "bad.npz:images.npy"));
  CHECK(contains(r.status().message(), "CRC-32 mismatch"));

  writeBytes(dir / "cut.npz", zip.substr(0, zip.size() / 2));
  auto cut = ZipArchive::open((dir / "cut.npz").string());
  REQUIRE_FALSE(cut.isOk());
  CHECK(contains(cut.status().message(), "cut.npz"));
}
