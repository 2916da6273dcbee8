// qconfig resolution: built-in defaults < "default" < overrides in order, field by field;
// globs; graph inputs; unused-selector warnings; dtype ranges.
#include <algorithm>

#include <catch2/catch.hpp>

#include "quant/qconfig.h"
#include "support/json.h"

using namespace hq;

namespace {

QConfig configOf(const std::string& text) {
  auto doc = parseJson(text, "q.json");
  REQUIRE(doc.isOk());
  auto q = QConfig::fromJson(*doc, "q.json");
  INFO(q.status().message());
  REQUIRE(q.isOk());
  return std::move(q).value();
}

}  // namespace

TEST_CASE("glob matching") {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"conv1", "conv1", true},
      {"conv1", "conv10", false},
      {"conv1", "conv", false},
      {"Conv1", "conv1", false},  // case-sensitive
      {"conv*", "conv", true},    // '*' matches the empty run
      {"conv*", "conv_12", true},
      {"*", "", true},
      {"*", "anything/at.all", true},
      {"", "", true},
      {"", "a", false},
      {"?", "", false},
      {"?", "a", true},
      {"conv?", "conv1", true},
      {"conv?", "conv12", false},
      {"*/Conv", "/features/features.0/Conv", true},  // '*' crosses '/' and '.'
      {"/features/*/Conv", "/features/features.0/Conv", true},
      {"/features/*/Conv", "/features/features.0/Relu", false},
      {"*conv*", "my_conv_layer", true},
      {"a*b*c", "abc", true},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false},
      {"a*b*c", "acb", false},
      {"a*bc", "abcbc", true},  // needs backtracking past the first "bc"
      {"*ab", "aab", true},
      {"**x", "x", true},
      {"a?c*", "abcdef", true},
      {"a?c*", "acdef", false},
  };
  for (const auto& c : cases) {
    INFO(c.pattern << " vs " << c.text);
    CHECK(globMatch(c.pattern, c.text) == c.match);
  }
}

TEST_CASE("dtype ranges and names") {
  QuantSpec s;
  CHECK(std::string(qdtypeName(QDType::kInt8)) == "qint8");
  CHECK(std::string(qdtypeName(QDType::kInt16)) == "qint16");
  CHECK(std::string(qdtypeName(QDType::kInt32)) == "qint32");
  CHECK(s.qmin() == -128);
  CHECK(s.qmax() == 127);
  s.dtype = QDType::kInt16;
  CHECK(s.qmin() == -32768);
  CHECK(s.qmax() == 32767);
  s.dtype = QDType::kInt32;
  CHECK(s.qmin() == -2147483648LL);
  CHECK(s.qmax() == 2147483647LL);
}

TEST_CASE("an empty qconfig gives the built-in specs") {
  QConfig q = configOf(R"({"format_version": 1})");
  QuantSpec out = q.outputSpec("conv1", "Conv");
  CHECK(out.dtype == QDType::kInt8);
  CHECK(out.symmetric);
  CHECK_FALSE(out.perChannel);
  CHECK(out.observer == "minmax");
  CHECK_FALSE(out.fixedScale.has_value());
  CHECK(out.params.averagingConstant == 0.01);
  CHECK(out.params.percentile == 99.99);
  CHECK(out.params.bins == 2048);
  QuantSpec w = q.weightSpec("conv1", "Conv");
  CHECK(w.perChannel);  // weights default to per-channel
  CHECK(w.observer == "minmax");
  CHECK(q.inputSpec("input") == out);
  CHECK(q.march().empty());
  CHECK(QConfig().outputSpec("x", "Relu") == out);
}

TEST_CASE("resolution order: default < op_type override < later name override, field by field") {
  QConfig q = configOf(R"({"format_version": 1,
    "default": {"activation": {"dtype": "qint8", "observer": "percentile", "percentile": 99.9},
                "weight": {"observer": "minmax"}},
    "overrides": [
      {"op_type": "Conv", "output": {"dtype": "qint16", "symmetric": false},
       "weight": {"per_channel": false}},
      {"name": "conv2*", "output": {"observer": "kl", "bins": 512},
       "weight": {"per_channel": true, "dtype": "qint16"}},
      {"name": "conv2b", "op_type": "Gemm", "output": {"dtype": "qint32"}},
      {"name": "conv2b", "output": {"symmetric": true}}
    ]})");

  // Only the default applies.
  QuantSpec relu = q.outputSpec("relu1", "Relu");
  CHECK(relu.dtype == QDType::kInt8);
  CHECK(relu.symmetric);
  CHECK(relu.observer == "percentile");
  CHECK(relu.params.percentile == 99.9);
  CHECK(relu.params.bins == 2048);

  // The op_type override changes dtype and symmetric, keeps the default's observer.
  QuantSpec c1 = q.outputSpec("conv1", "Conv");
  CHECK(c1.dtype == QDType::kInt16);
  CHECK_FALSE(c1.symmetric);
  CHECK(c1.observer == "percentile");
  CHECK(c1.params.percentile == 99.9);
  CHECK_FALSE(q.weightSpec("conv1", "Conv").perChannel);

  // The later name override wins over the op_type one where both set a field.
  QuantSpec c2 = q.outputSpec("conv2a", "Conv");
  CHECK(c2.dtype == QDType::kInt16);  // from the op_type override
  CHECK_FALSE(c2.symmetric);          // from the op_type override
  CHECK(c2.observer == "kl");         // from the name override
  CHECK(c2.params.bins == 512);
  CHECK(c2.params.percentile == 99.9);  // from default, still there
  QuantSpec w2 = q.weightSpec("conv2a", "Conv");
  CHECK(w2.perChannel);
  CHECK(w2.dtype == QDType::kInt16);
  CHECK(w2.observer == "minmax");

  // name + op_type must both match: conv2b is a Conv, so the Gemm entry does not apply.
  QuantSpec c2b = q.outputSpec("conv2b", "Conv");
  CHECK(c2b.dtype == QDType::kInt16);
  CHECK(c2b.symmetric);  // the last entry
  CHECK(q.outputSpec("conv2b", "Gemm").dtype == QDType::kInt32);
  // A name override matches any op type; the op_type one did not match this Gemm.
  QuantSpec g = q.outputSpec("conv2x", "Gemm");
  CHECK(g.dtype == QDType::kInt8);
  CHECK(g.symmetric);
  CHECK(g.observer == "kl");
}

TEST_CASE("output and weight overrides are independent") {
  QConfig q = configOf(R"({"format_version": 1,
    "overrides": [{"name": "fc", "weight": {"dtype": "qint16"}},
                  {"name": "fc", "output": {"dtype": "qint32"}}]})");
  CHECK(q.outputSpec("fc", "Gemm").dtype == QDType::kInt32);
  CHECK(q.weightSpec("fc", "Gemm").dtype == QDType::kInt16);
  CHECK(q.weightSpec("fc", "Gemm").perChannel);
}

TEST_CASE("fixed scales and observers replace each other") {
  QConfig q = configOf(R"({"format_version": 1,
    "default": {"activation": {"fixed_scale": 0.25}},
    "overrides": [
      {"name": "a", "output": {"observer": "mse"}},
      {"name": "b", "output": {"dtype": "qint16"}},
      {"name": "c", "output": {"observer": "fixed", "fixed_scale": 0.5}},
      {"name": "c", "output": {"observer": "ema_minmax", "averaging_constant": 0.2}}
    ]})");
  QuantSpec x = q.outputSpec("x", "Relu");
  CHECK(x.observer == "fixed");
  CHECK(x.fixedScale == std::optional<double>(0.25));
  CHECK(x.describe() == "qint8 symmetric fixed(scale=0.25)");

  QuantSpec a = q.outputSpec("a", "Relu");  // another observer drops the fixed scale
  CHECK(a.observer == "mse");
  CHECK_FALSE(a.fixedScale.has_value());

  QuantSpec b = q.outputSpec("b", "Relu");  // other fields keep it
  CHECK(b.observer == "fixed");
  CHECK(b.fixedScale == std::optional<double>(0.25));
  CHECK(b.dtype == QDType::kInt16);

  QuantSpec c = q.outputSpec("c", "Relu");
  CHECK(c.observer == "ema_minmax");
  CHECK_FALSE(c.fixedScale.has_value());
  CHECK(c.params.averagingConstant == 0.2);
  CHECK(c.describe() == "qint8 symmetric ema_minmax(c=0.2)");
}

TEST_CASE("describe names the fields that matter") {
  QuantSpec s;
  s.symmetric = false;
  s.observer = "percentile";
  s.params.percentile = 99.5;
  s.params.bins = 1024;
  CHECK(s.describe() == "qint8 affine percentile(p=99.5, bins=1024)");
  s.observer = "kl";
  CHECK(s.describe() == "qint8 affine kl(bins=1024)");
  s.observer = "all";
  s.dtype = QDType::kInt16;
  CHECK(s.describe() == "qint16 affine all(c=0.01, p=99.5, bins=1024)");
}

TEST_CASE("graph inputs: exact name, else '*', else the default activation") {
  QConfig q = configOf(R"({"format_version": 1,
    "default": {"activation": {"dtype": "qint16", "observer": "kl"}},
    "inputs": {"*": {"fixed_scale": 0.0078125},
               "depth": {"symmetric": false}},
    "overrides": [{"name": "*", "output": {"dtype": "qint8"}}]})");
  QuantSpec img = q.inputSpec("image");
  CHECK(img.observer == "fixed");
  CHECK(img.fixedScale == std::optional<double>(0.0078125));
  CHECK(img.dtype == QDType::kInt16);  // default activation; overrides are for nodes only

  QuantSpec depth = q.inputSpec("depth");  // its own entry replaces "*"
  CHECK(depth.observer == "kl");
  CHECK_FALSE(depth.fixedScale.has_value());
  CHECK_FALSE(depth.symmetric);
  CHECK(depth.dtype == QDType::kInt16);

  QConfig none = configOf(R"({"format_version": 1,
    "default": {"activation": {"observer": "mse"}}, "inputs": {"x": {"dtype": "qint16"}}})");
  CHECK(none.inputSpec("y").observer == "mse");
  CHECK(none.inputSpec("y").dtype == QDType::kInt8);
  CHECK(none.inputSpec("x").dtype == QDType::kInt16);
  CHECK(none.inputSpec("x").observer == "mse");
}

TEST_CASE("unused selectors are reported with their place in the file") {
  QConfig q = configOf(R"({"format_version": 1,
    "inputs": {"*": {"fixed_scale": 0.0078125}, "imgae": {"dtype": "qint16"},
               "input": {"dtype": "qint8"}},
    "overrides": [
      {"name": "classifier*", "output": {"dtype": "qint32"}},
      {"name": "clasifier*", "output": {"dtype": "qint32"}},
      {"op_type": "MatMul", "weight": {"dtype": "qint16"}},
      {"name": "conv?", "op_type": "Gemm", "output": {"dtype": "qint16"}},
      {"name": "nothing", "op_type": "Sigmoid", "output": {"dtype": "qint16"}},
      {"name": "conv1", "op_type": "Conv", "weight": {"dtype": "qint16"}}
    ]})");
  const std::vector<std::string> nodes = {"conv1", "relu1", "conv2", "classifier.fc"};
  const std::vector<std::string> ops = {"Conv", "Relu", "Conv", "Gemm"};
  auto unused = q.unusedSelectors(nodes, ops, {"input"});
  const std::vector<std::string> expected = {
      "overrides[1].name 'clasifier*' matches no node",
      "overrides[2].op_type 'MatMul' matches no node",
      "overrides[3] name 'conv?' with op_type 'Gemm' matches no node (each matches alone)",
      "overrides[4].name 'nothing' matches no node",
      "overrides[4].op_type 'Sigmoid' matches no node",
      "inputs 'imgae' matches no graph input (graph inputs: input)",
  };
  CHECK(unused == expected);

  // Sizes that differ: names and op types are only checked separately.
  auto loose = q.unusedSelectors(nodes, {"Conv", "Gemm"}, {});
  CHECK(std::find(loose.begin(), loose.end(),
                  "overrides[3] name 'conv?' with op_type 'Gemm' matches no node (each "
                  "matches alone)") == loose.end());
  CHECK(std::find(loose.begin(), loose.end(),
                  "inputs 'input' matches no graph input (graph inputs: none)") != loose.end());
}
