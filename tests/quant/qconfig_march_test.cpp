// QConfig::checkMarch against the embedded march profiles (configs/marches/*.json): the
// activation and output dtypes a qconfig asks for must be ones the march runs.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "quant/qconfig.h"
#include "support/json.h"

using namespace hq;

namespace {

QConfig parse(const std::string& text) {
  auto q = QConfig::fromJson(Json::parse(text), "test.json");
  REQUIRE(q.isOk());
  return *q;
}

Status check(QConfig q, const std::string& march) {
  q.setMarch(march);
  return q.checkMarch();
}

// The march file read independently of the code under test.
Json marchFile(const std::string& name) {
  std::ifstream in(std::string(HQ_SOURCE_DIR) + "/configs/marches/" + name + ".json");
  REQUIRE(in.good());
  return Json::parse(in);
}

bool lists(const Json& types, const std::string& t) {
  for (const Json& x : types) {
    if (x == t) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("checkMarch: bundled qconfigs on the bundled marches") {
  // bernoulli2's QGemm outputs int32, so the 32-bit classifier output is allowed there too.
  const Json b2 = marchFile("bernoulli2");
  REQUIRE(lists(b2["ops"]["QGemm"]["out_types"], "int32"));
  REQUIRE_FALSE(lists(b2["ops"]["QuantizeLinear"]["out_types"], "int16"));
  for (const char* name : {"default", "default-32bit-out"}) {
    auto q = QConfig::load(name);
    REQUIRE(q.isOk());
    for (const char* march : {"bayes", "bernoulli2"}) {
      INFO(name << " on " << march);
      Status s = check(*q, march);
      CHECK(s.isOk());
      if (!s.isOk()) WARN(s.message());
    }
  }
}

TEST_CASE("checkMarch: qint16 activations only where the march runs them") {
  QConfig q16 = parse(R"({"format_version": 1,
      "default": {"activation": {"dtype": "qint16"}}})");
  CHECK(check(q16, "bayes").isOk());
  Status s = check(q16, "bernoulli2");
  REQUIRE_FALSE(s.isOk());
  CHECK(s.code() == ErrorCode::kUnsupported);
  CHECK_THAT(s.message(), Catch::Contains("qconfig default.activation.dtype qint16: march "
                                          "bernoulli2 runs int8 activations only"));

  QConfig in16 = parse(R"({"format_version": 1, "inputs": {"image": {"dtype": "qint16"}}})");
  CHECK(check(in16, "bayes").isOk());
  s = check(in16, "bernoulli2");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("qconfig inputs['image'].dtype qint16"));
  CHECK_THAT(s.message(), Catch::Contains("march bernoulli2"));
}

TEST_CASE("checkMarch: override output dtypes against the march op") {
  // overrides[1] asks for a qint16 Conv output: bayes' QConv outputs int16, bernoulli2's not.
  QConfig q = parse(R"({"format_version": 1, "overrides": [
      {"op_type": "Gemm", "output": {"dtype": "qint32"}},
      {"op_type": "Conv", "output": {"dtype": "qint16"}}]})");
  CHECK(check(q, "bayes").isOk());
  Status s = check(q, "bernoulli2");
  REQUIRE_FALSE(s.isOk());
  CHECK(s.code() == ErrorCode::kUnsupported);
  CHECK_THAT(s.message(), Catch::Contains("qconfig overrides[1].output.dtype qint16: march "
                                          "bernoulli2 QConv outputs int8, int32 only"));

  // bernoulli2's QAdd outputs int8 only: a qint32 Add output is refused, by op.
  s = check(parse(R"({"format_version": 1, "overrides": [
      {"op_type": "Add", "output": {"dtype": "qint32"}}]})"),
            "bernoulli2");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("overrides[0].output.dtype qint32: march bernoulli2 "
                                          "QAdd outputs int8 only"));

  // A name-only override (or an op the march lists no out_types for) is held to what any
  // op of the march outputs: bernoulli2 outputs int8 and int32, never int16.
  QConfig by_name = parse(R"({"format_version": 1, "overrides": [
      {"name": "fc", "output": {"dtype": "qint32"}},
      {"name": "conv*", "output": {"dtype": "qint16"}}]})");
  CHECK(check(by_name, "bayes").isOk());
  s = check(by_name, "bernoulli2");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("overrides[1].output.dtype qint16: march bernoulli2 "
                                          "outputs int8, int32 only"));
  s = check(parse(R"({"format_version": 1, "overrides": [
      {"op_type": "MaxPool", "output": {"dtype": "qint16"}}]})"),
            "bernoulli2");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("overrides[0].output.dtype qint16"));
}

TEST_CASE("checkMarch: no march, unknown march") {
  QConfig q16 = parse(R"({"format_version": 1,
      "default": {"activation": {"dtype": "qint16"}}})");
  CHECK(q16.checkMarch().isOk());  // no march: nothing to check
  Status s = check(q16, "bernouli2");
  REQUIRE_FALSE(s.isOk());
  CHECK(s.code() == ErrorCode::kNotFound);
  CHECK_THAT(s.message(), Catch::Contains("unknown march 'bernouli2'"));
  CHECK_THAT(s.message(), Catch::Contains("known: bayes, bernoulli2"));
  // The qconfig's own "march" is checked the same way.
  auto own = QConfig::fromJson(Json::parse(R"({"format_version": 1, "march": "bernoulli2",
      "default": {"activation": {"dtype": "qint16"}}})"),
                               "own.json");
  REQUIRE(own.isOk());
  CHECK(own->march() == "bernoulli2");
  CHECK(own->checkMarch().code() == ErrorCode::kUnsupported);
}
