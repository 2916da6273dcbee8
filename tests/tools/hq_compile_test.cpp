// hq-compile as a user runs it: every -O level and input source gives an .hbm the reader
// accepts, the same options give the same bytes, refused models list hq-check's diagnostics
// (exit 4), bad options are one-line usage errors (exit 2), and --json carries the stats.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "support/atomic_file.h"
#include "support/json.h"
#include "support/sha256.h"
#include "tools/strict_march.h"
#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {

const std::string kQdq = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

/// fmnist_cnn as an integer model, converted once per test run.
std::string intModel() {
  static const std::string path = [] {
    // One folder per process: ctest runs the test cases as parallel processes.
    fs::path dir = scratchDir("hq_compile_model_" + std::to_string(::getpid()));
    std::string p = (dir / "fmnist.int.onnx").string();
    auto r = runTool("hq-convert", kQdq + " --out " + p + " -q");
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return p;
  }();
  return path;
}

std::string slurp(const std::string& path) {
  auto bytes = hq::readFile(path);
  REQUIRE(bytes.isOk());
  return *bytes;
}

}  // namespace

TEST_CASE("hq-compile: every -O level and input source writes a valid .hbm",
          "[tools][hq-compile]") {
  fs::path dir = scratchDir("hq_compile_levels");
  const std::string model = intModel();
  const std::pair<const char*, hq::hbm::InputSource> sources[] = {
      {"ddr", hq::hbm::DDR}, {"pyramid", hq::hbm::PYRAMID}, {"resizer", hq::hbm::RESIZER}};
  for (int level = 0; level <= 3; ++level) {
    for (const auto& [source, proto_source] : sources) {
      const std::string out = (dir / fmt::format("m{}_{}.hbm", level, source)).string();
      auto r = runTool("hq-compile", fmt::format("{} --march bayes -O{} --input-source {} --out {}",
                                                 model, level, source, out));
      INFO("-O" << level << " " << source << "\n" << r.out << r.err);
      REQUIRE(r.exitCode == 0);
      CHECK(r.err.empty());
      CHECK(lineCount(r.out) == 1);
      CHECK(r.out.rfind(fmt::format("hq-compile: {} -> {}: bayes -O{}, {} input, batch 1, ", model,
                                    out, level, source),
                        0) == 0);
      auto m = hq::readHbm(out);
      INFO(m.status().message());
      REQUIRE(m.isOk());
      CHECK(m->march() == "bayes");
      CHECK(m->batch() == 1);
      CHECK(m->compiler().opt_level() == static_cast<uint32_t>(level));
      REQUIRE(m->inputs_size() == 1);
      CHECK(m->inputs(0).source() == proto_source);
      CHECK(m->source_model_sha256() == *hq::sha256File(model));
      // The options the user gave, sorted by key.
      std::vector<std::pair<std::string, std::string>> opts;
      for (const auto& o : m->compiler().options()) opts.emplace_back(o.key(), o.value());
      CHECK(opts == std::vector<std::pair<std::string, std::string>>{{"O", std::to_string(level)},
                                                                     {"input-source", source},
                                                                     {"march", "bayes"}});
    }
  }
}

TEST_CASE("hq-compile: same inputs and options, same bytes; QDQ converted in memory",
          "[tools][hq-compile]") {
  fs::path dir = scratchDir("hq_compile_det");
  const std::string a = (dir / "a.hbm").string(), b = (dir / "b.hbm").string();
  const std::string opts = " -O3 --input-source pyramid --batch 4 -q --out ";
  auto ra = runTool("hq-compile", intModel() + opts + a);
  auto rb = runTool("hq-compile", intModel() + opts + b);
  INFO(ra.err << rb.err);
  REQUIRE(ra.exitCode == 0);
  REQUIRE(rb.exitCode == 0);
  CHECK(ra.out.empty());  // -q: nothing but errors
  CHECK(slurp(a) == slurp(b));
  auto m = hq::readHbm(a);
  REQUIRE(m.isOk());
  CHECK(m->batch() == 4);
  CHECK(m->compiler().batch() == 4);

  // A QDQ model compiles too (converted as hq-check converts it); its own SHA-256 is recorded.
  const std::string q = (dir / "q.hbm").string();
  auto rq = runTool("hq-compile", kQdq + " -O1 --out " + q);
  INFO(rq.err);
  REQUIRE(rq.exitCode == 0);
  auto mq = hq::readHbm(q);
  REQUIRE(mq.isOk());
  CHECK(mq->source_model_sha256() == *hq::sha256File(kQdq));
  CHECK(mq->compiler().opt_level() == 1);
  // Default: -O1, ddr input, batch 1.
  const std::string d = (dir / "d.hbm").string();
  REQUIRE(runTool("hq-compile", intModel() + " --out " + d).exitCode == 0);
  auto md = hq::readHbm(d);
  REQUIRE(md.isOk());
  CHECK(md->compiler().opt_level() == 1);
  CHECK(md->inputs(0).source() == hq::hbm::DDR);
  CHECK(md->batch() == 1);
  CHECK(md->compiler().options_size() == 0);  // nothing given, nothing recorded
}

TEST_CASE("hq-compile: a model the march refuses lists hq-check's diagnostics, exit 4",
          "[tools][hq-compile]") {
  fs::path dir = scratchDir("hq_compile_refused");
  const std::string march = hq::testing::writeStrictMarch(dir);

  const std::string out = (dir / "never.hbm").string();
  auto r = runTool("hq-compile", intModel() + " --march " + march + " --out " + out);
  INFO(r.out << r.err);
  CHECK(r.exitCode == 4);
  CHECK(r.out.empty());
  CHECK_FALSE(fs::exists(out));
  CHECK(r.err.rfind("hq-compile: error: " + intModel() +
                        " is not supported on march 'strict': 5 problem(s)\n",
                    0) == 0);
  // Every diagnostic line of hq-check's report, verbatim.
  auto check = runTool("hq-check", intModel() + " --march " + march);
  REQUIRE(check.exitCode == 1);
  std::istringstream lines(check.out);
  std::string line;
  int diagnostic_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  /", 0) != 0 && line.rfind("    suggestion: ", 0) != 0) continue;
    ++diagnostic_lines;
    INFO(line);
    CHECK(r.err.find(line + "\n") != std::string::npos);
  }
  CHECK(diagnostic_lines == 10);
  CHECK(lineCount(r.err) == 1 + diagnostic_lines);
}

TEST_CASE("hq-compile: bad options are one-line usage errors, exit 2", "[tools][hq-compile]") {
  fs::path dir = scratchDir("hq_compile_usage");
  const std::string out = " --out " + (dir / "x.hbm").string();
  const std::pair<std::string, std::string> cases[] = {
      {intModel() + " -O5" + out, "-O: Value 5 not in range 0 to 3"},
      {intModel() + " --batch 0" + out, "--batch: Value 0 not in range"},
      {intModel() + " --input-source camera" + out, "--input-source: camera not in"},
      {intModel(), "--out FILE.hbm is required"},
      {out, "a MODEL is required"},
      {intModel() + " --bogus" + out, "bogus"},
  };
  for (const auto& [args, needle] : cases) {
    auto r = runTool("hq-compile", args);
    INFO(args << "\n" << r.err);
    CHECK(r.exitCode == 2);
    CHECK(lineCount(r.err) == 1);
    CHECK(r.err.rfind("hq-compile: error: ", 0) == 0);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(r.out.empty());
  }
  CHECK_FALSE(fs::exists(dir / "x.hbm"));
  // Bad files: exit 3 with one line naming them.
  auto missing = runTool("hq-compile", (dir / "missing.onnx").string() + out);
  CHECK(missing.exitCode == 3);
  CHECK(lineCount(missing.err) == 1);
  CHECK(missing.err.find("missing.onnx") != std::string::npos);
  auto march = runTool("hq-compile", intModel() + " --march turing" + out);
  CHECK(march.exitCode == 3);
  CHECK(march.err.find("unknown march 'turing'") != std::string::npos);
}

TEST_CASE("hq-compile --json, -v and --list-passes", "[tools][hq-compile]") {
  fs::path dir = scratchDir("hq_compile_json");
  const std::string out = (dir / "m.hbm").string();
  auto r = runTool("hq-compile", intModel() + " -O2 --batch 2 --json -v --out " + out);
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  hq::Json j = hq::Json::parse(r.out);
  auto m = hq::readHbm(out);
  REQUIRE(m.isOk());
  CHECK(j["model"] == intModel());
  CHECK(j["out"] == out);
  CHECK(j["march"] == "bayes");
  CHECK(j["options"]["opt_level"] == 2);
  CHECK(j["options"]["input_source"] == "ddr");
  CHECK(j["options"]["batch"] == 2);
  const hq::Json& s = j["stats"];
  CHECK(s["layers"] == m->layers_size());
  CHECK(s["instructions"] == m->instructions_size());
  CHECK(s["weight_bytes"] == static_cast<int64_t>(m->weights().size()));
  CHECK(s["dma_instructions"].get<int64_t>() + s["compute_instructions"].get<int64_t>() +
            s["barriers"].get<int64_t>() ==
        m->instructions_size());
  for (const char* key : {"tiles", "fused_groups", "ddr_arena_bytes", "sram_peak_bytes",
                          "ddr_load_bytes", "ddr_store_bytes", "weight_load_bytes"}) {
    INFO(key);
    CHECK(s.contains(key));
  }
  CHECK(s["ddr_bytes_per_frame"].get<double>() ==
        Approx((s["ddr_load_bytes"].get<double>() + s["ddr_store_bytes"].get<double>() +
                s["weight_load_bytes"].get<double>()) /
               2));
  // The passes that ran, in the order of the table, as in the file's lineage; -v times them.
  REQUIRE(j["passes"].size() == static_cast<size_t>(m->compiler().passes_size()));
  for (size_t i = 0; i < j["passes"].size(); ++i) {
    const std::string pass = j["passes"][i]["pass"];
    CHECK(pass == m->compiler().passes(static_cast<int>(i)));
    CHECK(j["passes"][i]["ms"].get<double>() >= 0);
    CHECK(r.err.find("  " + pass + " ") != std::string::npos);
  }
  CHECK(lineCount(r.err) == static_cast<int>(j["passes"].size()));

  auto list = runTool("hq-compile", "--list-passes");
  CHECK(list.exitCode == 0);
  CHECK(lineCount(list.out) == static_cast<int>(hq::compilerPasses().size()));
  // Names padded to the longest ("concat-in-place", 15 characters).
  CHECK(list.out.rfind("check           -O0  ", 0) == 0);
  CHECK(list.out.find("\nfuse            -O3  ") != std::string::npos);
  CHECK(list.out.find("\nconcat-in-place -O2  ") != std::string::npos);
}
