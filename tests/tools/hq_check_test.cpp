// hq-check as a user runs it: the verdict line and summary, every offending node listed with
// its rule and suggestion, JSON output, QDQ models converted in memory, and exit codes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/json.h"
#include "tools/strict_march.h"
#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::requireCleanError;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {

const std::string kQdq = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

}  // namespace

TEST_CASE("hq-check: supported models print the verdict and the summary", "[tools][hq-check]") {
  fs::path dir = scratchDir("hq_check_ok");
  std::string int_model = (dir / "fmnist.int.onnx").string();
  REQUIRE(runTool("hq-convert", kQdq + " --out " + int_model + " -q").exitCode == 0);

  for (const std::string& model : {int_model, kQdq}) {  // a QDQ model is converted in memory
    auto r = runTool("hq-check", model + " --march bayes");
    INFO(r.out << r.err);
    CHECK(r.exitCode == 0);
    CHECK(r.out.rfind("This model is supported!\n", 0) == 0);
    // fmnist_cnn: 3x3 convs 1->16 @28x28, 16->32 @14x14, 32->64 @7x7, Gemm 64->10.
    CHECK(r.out.find("March bayes: 10 nodes, 23946 parameters, 1919872 MACs per frame\n") !=
          std::string::npos);
    CHECK(r.out.find("QConv                3") != std::string::npos);
  }
  auto j = runTool("hq-check", int_model + " --march bernoulli2 --json");
  REQUIRE(j.exitCode == 0);
  hq::Json doc = hq::Json::parse(j.out);
  CHECK(doc["supported"] == true);
  CHECK(doc["march"] == "bernoulli2");
  CHECK(doc["summary"]["nodes"] == 10);
  CHECK(doc["diagnostics"].empty());
  auto t = runTool("hq-check", int_model + " --march bernoulli2");
  CHECK(t.out.find(std::to_string(doc["summary"]["macs_per_frame"].get<int64_t>()) +
                   " MACs per frame") != std::string::npos);
}

TEST_CASE("hq-check: every offending node is listed, exit 1", "[tools][hq-check]") {
  fs::path dir = scratchDir("hq_check_bad");
  std::string march = hq::testing::writeStrictMarch(dir);
  auto r = runTool("hq-check", kQdq + " --march " + march);
  INFO(r.out << r.err);
  CHECK(r.exitCode == 1);
  CHECK(r.out.rfind("This model is not supported on march 'strict': 5 problem(s)\n", 0) == 0);
  CHECK(r.out.find("(QConv): [conv.kernel] kernel 3x3: expected at most 2 per dim, found 3") !=
        std::string::npos);
  CHECK(r.out.find("/features/features.1/MaxPool (QMaxPool): [op.unsupported]") !=
        std::string::npos);
  int suggestions = 0;
  for (size_t p = r.out.find("suggestion: "); p != std::string::npos;
       p = r.out.find("suggestion: ", p + 1)) {
    ++suggestions;
  }
  CHECK(suggestions == 5);

  auto j = runTool("hq-check", kQdq + " --march " + march + " --json");
  CHECK(j.exitCode == 1);
  hq::Json doc = hq::Json::parse(j.out);
  CHECK(doc["supported"] == false);
  REQUIRE(doc["diagnostics"].size() == 5);
  int kernels = 0, unsupported = 0;
  for (const auto& d : doc["diagnostics"]) {
    kernels += d["rule"] == "conv.kernel";
    unsupported += d["rule"] == "op.unsupported" && d["op"] == "QMaxPool";
    CHECK_FALSE(d["suggestion"].get<std::string>().empty());
  }
  CHECK(kernels == 3);
  CHECK(unsupported == 2);
}

TEST_CASE("hq-check: bad marches and models are one-line errors", "[tools][hq-check]") {
  fs::path dir = scratchDir("hq_check_err");
  requireCleanError(runTool("hq-check", kQdq + " --march turing"), 3,
                    "unknown march 'turing' (known: bayes, bernoulli2");
  requireCleanError(runTool("hq-check", kQdq + " --march " + (dir / "none.json").string()), 3,
                    "none.json: no such march file");
  std::ofstream(dir / "broken.json") << "{\"name\": ";
  requireCleanError(runTool("hq-check", kQdq + " --march " + (dir / "broken.json").string()), 3,
                    "broken.json");
  requireCleanError(runTool("hq-check", (dir / "missing.onnx").string()), 3, "missing.onnx");
  std::ofstream(dir / "junk.onnx") << "not a protobuf";
  auto junk = runTool("hq-check", (dir / "junk.onnx").string());
  CHECK(junk.exitCode == 3);
  CHECK(lineCount(junk.err) == 1);
  CHECK(runTool("hq-check", "").exitCode == 2);  // usage: the model is required
}
