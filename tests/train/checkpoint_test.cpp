// Checkpoint files: byte-exact round trip, deterministic bytes, and a clear refusal of
// truncated, corrupted, foreign and newer files.
#include <catch2/catch.hpp>

#include "train/checkpoint.h"

using hq::DType;
using hq::Tensor;
using namespace hq::train;

namespace {

Checkpoint sample() {
  Checkpoint ck;
  ck.state["epoch"] = 3;
  ck.state["name"] = "x";
  Tensor f(DType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) f.data<float>()[i] = 0.1f * static_cast<float>(i) - 0.25f;
  ck.tensors.push_back({"model/w", f});
  ck.tensors.push_back({"optim/w/step", Tensor::scalar<int64_t>(42)});
  ck.tensors.push_back({"empty", Tensor(DType::kFloat32, {0})});
  return ck;
}

}  // namespace

TEST_CASE("checkpoint: round trip is byte-exact and deterministic", "[train][checkpoint]") {
  auto bytes = serializeCheckpoint(sample());
  REQUIRE(bytes.isOk());
  CHECK(*serializeCheckpoint(sample()) == *bytes);
  CHECK(bytes->substr(0, 6) == "HQCKPT");
  auto back = parseCheckpoint(*bytes, "x.ckpt");
  REQUIRE(back.isOk());
  CHECK(back->state["epoch"] == 3);
  REQUIRE(back->tensors.size() == 3);
  CHECK(back->tensors[0].name == "model/w");
  CHECK(back->tensors[0].tensor.shape() == hq::Shape{2, 3});
  CHECK(back->tensors[0].tensor.equals(sample().tensors[0].tensor));
  CHECK(back->tensors[1].tensor.dtype() == DType::kInt64);
  CHECK(back->tensors[1].tensor.data<int64_t>()[0] == 42);
  CHECK(back->tensors[2].tensor.numel() == 0);
  // Serializing what was read gives the same bytes again.
  CHECK(*serializeCheckpoint(*back) == *bytes);
}

TEST_CASE("checkpoint: damaged files are refused naming the file", "[train][checkpoint]") {
  std::string bytes = *serializeCheckpoint(sample());
  SECTION("truncated") {
    auto r = parseCheckpoint(bytes.substr(0, bytes.size() - 10), "a.ckpt");
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find("a.ckpt") != std::string::npos);
    CHECK(r.status().message().find("checksum") != std::string::npos);
  }
  SECTION("one byte flipped in the payload") {
    bytes[bytes.size() - 70] ^= 1;
    auto r = parseCheckpoint(bytes, "a.ckpt");
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find("corrupted") != std::string::npos);
  }
  SECTION("foreign file") {
    auto r = parseCheckpoint("PK\x03\x04 not a checkpoint at all", "a.ckpt");
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find("not an hq checkpoint") != std::string::npos);
  }
  SECTION("newer format version") {
    bytes[7] = 2;
    auto r = parseCheckpoint(bytes, "a.ckpt");
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find("version 2 is newer") != std::string::npos);
  }
  SECTION("duplicate names are refused when writing") {
    Checkpoint ck = sample();
    ck.tensors.push_back(ck.tensors[0]);
    CHECK_FALSE(serializeCheckpoint(ck).isOk());
  }
}
