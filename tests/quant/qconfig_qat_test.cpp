// The qconfig's "qat" object (hq-qat: how each point's scale moves in training): parsing,
// resolution with defaults and overrides, errors with their JSON path, the spec <-> JSON
// round trip that hq-calib's per-point metadata "hq.quant.points" uses.
#include <catch2/catch.hpp>

#include "quant/qconfig.h"
#include "support/json.h"

using namespace hq;

namespace {

Expected<QConfig> fromText(const std::string& text) {
  auto doc = parseJson(text, "q.json");
  REQUIRE(doc.isOk());
  return QConfig::fromJson(*doc, "q.json");
}

std::string errorOf(const std::string& text) {
  auto q = fromText(text);
  REQUIRE_FALSE(q.isOk());
  return q.status().message();
}

TEST_CASE("qconfig qat: modes and EMA constants resolve per point", "[qconfig]") {
  auto q = fromText(R"({"format_version": 1,
    "default": {"activation": {"observer": "percentile", "qat": {"scale": "ema"}},
                "weight": {"qat": {"scale": "lsq"}}},
    "inputs": {"*": {"fixed_scale": 0.0078125}},
    "overrides": [{"op_type": "Gemm", "output": {"qat": {"averaging_constant": 0.05}}},
                  {"name": "conv2", "output": {"observer": "ema_minmax",
                                               "averaging_constant": 0.2}}]})");
  INFO(q.status().message());
  REQUIRE(q.isOk());
  const QuantSpec conv = q->outputSpec("conv1", "Conv");
  CHECK(conv.qat.scale == "ema");
  CHECK(conv.qatScale() == "ema");
  CHECK(conv.qatAveragingConstant(false) == 0.01);
  const QuantSpec fc = q->outputSpec("fc", "Gemm");
  CHECK(fc.qatScale() == "ema");
  CHECK(fc.qatAveragingConstant(false) == 0.05);
  CHECK(fc.describe() == "qint8 symmetric percentile(p=99.99, bins=2048) qat=ema(c=0.05)");
  // An ema_minmax observer lends its constant to QAT.
  CHECK(q->outputSpec("conv2", "Conv").qatAveragingConstant(false) == 0.2);
  const QuantSpec w = q->weightSpec("conv1", "Conv");
  CHECK(w.qatScale() == "lsq");
  CHECK(w.qatAveragingConstant(true) == 1.0);  // weights: their own range
  // A fixed input never moves, whatever the default activation says.
  const QuantSpec in = q->inputSpec("input");
  CHECK(in.qat.scale == "ema");
  CHECK(in.qatScale() == "fixed");
  CHECK(in != conv);
}

TEST_CASE("qconfig qat: the bundled configs leave QAT at its defaults", "[qconfig]") {
  for (const std::string name : {"default", "default-32bit-out"}) {
    auto q = QConfig::load(name);
    REQUIRE(q.isOk());
    const QuantSpec a = q->outputSpec("x", "Conv");
    CHECK(a.qat == QatParams{});
    CHECK(a.qatScale() == "ema");
    CHECK(a.describe().find("qat") == std::string::npos);
    CHECK(q->inputSpec("input").qatScale() == "fixed");
  }
}

TEST_CASE("qconfig qat: bad values are errors naming the JSON path", "[qconfig]") {
  CHECK_THAT(errorOf(R"({"format_version": 1,
                         "default": {"activation": {"qat": {"scale": "learned"}}}})"),
             Catch::Contains("q.json: at /default/activation/qat/scale: unknown QAT scale mode "
                             "'learned' (expected one of: ema, lsq, fixed)"));
  CHECK_THAT(errorOf(R"({"format_version": 1, "overrides": [{"name": "fc",
                         "weight": {"qat": {"averaging_constant": 0}}}]})"),
             Catch::Contains("/overrides/0/weight/qat/averaging_constant"));
  CHECK_THAT(errorOf(R"({"format_version": 1,
                         "default": {"weight": {"qat": {"scale": "ema", "speed": 2}}}})"),
             Catch::Contains("/default/weight/qat"));
  CHECK_THAT(errorOf(R"({"format_version": 1, "inputs": {"input":
                         {"fixed_scale": 0.0078125, "qat": {"scale": "lsq"}}}})"),
             Catch::Contains("at /inputs/input/qat/scale: a fixed_scale point never moves"));
  CHECK(fromText(R"({"format_version": 1, "inputs": {"input":
                     {"fixed_scale": 0.0078125, "qat": {"scale": "fixed"}}}})")
            .isOk());
}

TEST_CASE("qconfig qat: specToJson / specFromJson round trip", "[qconfig]") {
  QuantSpec s;
  s.perChannel = true;
  s.observer = "ema_minmax";
  s.params.averagingConstant = 0.3;
  s.qat.scale = "lsq";
  s.qat.averagingConstant = 0.02;
  const OrderedJson j = QConfig::specToJson(s);
  CHECK(j.dump() ==
        R"({"dtype":"qint8","symmetric":true,"per_channel":true,"observer":"ema_minmax",)"
        R"("averaging_constant":0.3,"percentile":99.99,"bins":2048,)"
        R"("qat":{"scale":"lsq","averaging_constant":0.02}})");
  auto back = QConfig::specFromJson(Json::parse(j.dump()), "spec");
  REQUIRE(back.isOk());
  CHECK(*back == s);
  QuantSpec f;
  f.observer = "fixed";
  f.fixedScale = 0.0078125;
  auto fb = QConfig::specFromJson(Json::parse(QConfig::specToJson(f).dump()), "spec");
  REQUIRE(fb.isOk());
  CHECK(*fb == f);
  auto bad = QConfig::specFromJson(Json::parse(R"({"symmetric": "yes"})"), "points[2].spec");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("points[2].spec"));
}

}  // namespace
