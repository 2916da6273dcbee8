// March profiles: both bundled marches load and validate, typed fields carry the file's
// numbers, bad files name the file and the JSON path; plus the .hbm payload round-trip.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "compiler/march.h"
#include "hbm.pb.h"
#include "support/json.h"

namespace fs = std::filesystem;

namespace {

std::string writeTemp(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / ("hq_march_test_" + std::to_string(::getpid()));
  fs::create_directories(p);
  p /= name;
  std::ofstream(p) << text;
  return p.string();
}

/// bayes.json with one edit applied at a JSON pointer.
std::string bayesWith(const std::string& pointer, const hq::Json& value) {
  const std::string* text = hq::embeddedFile("configs/marches/bayes.json");
  REQUIRE(text);
  hq::Json doc = hq::Json::parse(*text);
  doc[hq::Json::json_pointer(pointer)] = value;
  return doc.dump();
}

}  // namespace

TEST_CASE("compiler: the .hbm payload message round-trips", "[compiler]") {
  hq::hbm::Model m;
  m.set_march("bayes");
  std::string bytes;
  REQUIRE(m.SerializeToString(&bytes));
  hq::hbm::Model back;
  REQUIRE(back.ParseFromString(bytes));
  CHECK(back.march() == "bayes");
  CHECK_FALSE(back.ParseFromString(std::string("\xff\xff\xff", 3)));
}

TEST_CASE("march: bundled names are bayes and bernoulli2", "[compiler][march]") {
  CHECK(hq::builtinMarchNames() == std::vector<std::string>{"bayes", "bernoulli2"});
}

TEST_CASE("march: bayes loads with the file's numbers", "[compiler][march]") {
  auto m = hq::loadMarch("bayes");
  REQUIRE(m.isOk());
  CHECK(m->name == "bayes");
  CHECK(m->source == "configs/marches/bayes.json");
  CHECK(m->clockMhz == 1000);
  CHECK(m->int8MacsPerCycle() == 64 * 64);
  CHECK(m->int16Rate == 0.25);
  CHECK(m->vectorElementsPerCycle == 64);
  CHECK(m->sramBytes == 4 * 1024 * 1024);
  CHECK(m->sramBanks == 16);
  CHECK(m->ddrBytesPerS == 12.8e9);
  CHECK(m->ddrLatencyNs == 100);
  CHECK(m->ddrBurstBytes == 64);
  CHECK(m->dmaEngines == 4);
  CHECK(m->channelGroup == 16);
  const hq::OpLimits* conv = m->limits("QConv");
  REQUIRE(conv);
  CHECK(*conv->maxKernel == 7);
  CHECK(*conv->maxStride == 4);
  CHECK(conv->outTypes == std::vector<std::string>{"int8", "int16", "int32"});
  REQUIRE(m->limits("QSoftmax"));
  REQUIRE(m->limits("QuantizeLinear"));
  CHECK(m->limits("QuantizeLinear")->boundary == "input");
  CHECK(m->limits("Relu") == nullptr);
  // Plausibility for the seed's mobilenetv2 perf report (configs/marches/README.md):
  // 5723 frames/s x 1.339 MB/frame of DDR traffic must fit the DDR bandwidth.
  CHECK(5723 * 1.339e6 < m->ddrBytesPerS);
}

TEST_CASE("march: bernoulli2 is smaller and stricter than bayes", "[compiler][march]") {
  auto b = hq::loadMarch("bernoulli2");
  auto a = hq::loadMarch("bayes");
  REQUIRE(b.isOk());
  REQUIRE(a.isOk());
  CHECK(b->name == "bernoulli2");
  CHECK(b->int8MacsPerCycle() == 32 * 32);
  CHECK(b->sramBytes < a->sramBytes);
  CHECK(b->ddrBytesPerS < a->ddrBytesPerS);
  CHECK(b->channelGroup == 8);
  CHECK(b->limits("QSoftmax") == nullptr);
  CHECK(b->limits("QLookup") == nullptr);
  const hq::OpLimits* conv = b->limits("QConv");
  REQUIRE(conv);
  CHECK(*conv->maxKernel == 5);
  CHECK(*conv->maxStride == 2);
  CHECK(*conv->maxDilation == 1);
  CHECK_FALSE(conv->groupConv);
  CHECK(conv->depthwise);
  CHECK(b->limits("QResize")->resizeModes == std::vector<std::string>{"nearest"});
  for (const auto& [op, lim] : b->ops) {
    INFO(op);
    CHECK(a->limits(op) != nullptr);  // every bernoulli2 op runs on bayes too
  }
}

TEST_CASE("march: a user file loads; bad files name the file and JSON path", "[compiler][march]") {
  SECTION("a valid copy under another name") {
    std::string path = writeTemp("mine.json", bayesWith("/name", "mine"));
    auto m = hq::loadMarch(path);
    REQUIRE(m.isOk());
    CHECK(m->name == "mine");
    CHECK(m->source == path);
  }
  SECTION("a field of the wrong type") {
    std::string path = writeTemp("bad_rows.json", bayesWith("/mac_array/rows", "many"));
    auto m = hq::loadMarch(path);
    REQUIRE_FALSE(m.isOk());
    INFO(m.status().message());
    CHECK(m.status().message().find(path) != std::string::npos);
    CHECK(m.status().message().find("/mac_array/rows") != std::string::npos);
  }
  SECTION("an op limit the schema does not know") {
    std::string path = writeTemp("bad_op.json", bayesWith("/ops/QConv/max_kernal", 3));
    auto m = hq::loadMarch(path);
    REQUIRE_FALSE(m.isOk());
    INFO(m.status().message());
    CHECK(m.status().message().find("/ops/QConv") != std::string::npos);
  }
  SECTION("an op that is not an integer-model op") {
    std::string path = writeTemp("bad_opname.json", bayesWith("/ops/Relu", hq::Json::object()));
    auto m = hq::loadMarch(path);
    REQUIRE_FALSE(m.isOk());
    INFO(m.status().message());
    CHECK(m.status().message().find("at /ops/Relu: not an op of integer models") !=
          std::string::npos);
  }
  SECTION("SRAM that does not split into its banks") {
    std::string path = writeTemp("bad_sram.json", bayesWith("/sram/bytes", 1000));
    auto m = hq::loadMarch(path);
    REQUIRE_FALSE(m.isOk());
    CHECK(m.status().message().find("/sram/bytes") != std::string::npos);
  }
  SECTION("malformed JSON") {
    std::string path = writeTemp("broken.json", "{\"name\": ");
    auto m = hq::loadMarch(path);
    REQUIRE_FALSE(m.isOk());
    CHECK(m.status().code() == hq::ErrorCode::kParse);
    CHECK(m.status().message().find(path) != std::string::npos);
  }
  SECTION("a missing file and an unknown name") {
    auto f = hq::loadMarch("/nonexistent/dir/m.json");
    REQUIRE_FALSE(f.isOk());
    CHECK(f.status().code() == hq::ErrorCode::kNotFound);
    CHECK(f.status().message().find("/nonexistent/dir/m.json") != std::string::npos);
    auto n = hq::loadMarch("turing");
    REQUIRE_FALSE(n.isOk());
    CHECK(n.status().code() == hq::ErrorCode::kNotFound);
    CHECK(n.status().message().find("bayes, bernoulli2") != std::string::npos);
  }
}
