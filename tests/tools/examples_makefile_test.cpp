// examples/Makefile: the whole pipeline as make targets builds every artifact, and after touching
// one input `make` re-runs exactly the stages downstream of it.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tools/tool_runner.h"

namespace fs = std::filesystem;

namespace {

/// `make -C examples VARS ARGS` through the shell: exit code, stdout + stderr in `out`.
hq::testing::ToolResult make(const fs::path& dir, const std::string& vars,
                             const std::string& args = "") {
  const fs::path log = dir / "make.log";
  const std::string cmd = "make --no-print-directory -C '" + std::string(HQ_SOURCE_DIR) +
                          "/examples' " + vars + " " + args + " >'" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  hq::testing::ToolResult r;
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  return r;
}

/// Make `p` newer than everything built so far.
void touchLater(const fs::path& p) {
  fs::last_write_time(p, fs::file_time_type::clock::now() + std::chrono::seconds(5));
}

bool mentions(const std::string& s, const std::string& tool) {
  return s.find("/" + tool + " ") != std::string::npos;
}

}  // namespace

TEST_CASE("examples/Makefile: builds the pipeline, re-runs only what a change reaches",
          "[tools][examples]") {
  if (std::system("command -v make >/dev/null 2>&1") != 0 ||
      !fs::exists("/usr/share/datasets/fashion-mnist")) {
    WARN("make or Debian's dataset-fashion-mnist missing; skipped");
    return;
  }
  const fs::path dir = hq::testing::scratchDir("examples_make");
  const fs::path src = HQ_SOURCE_DIR;
  // Private copies of the inputs this test touches.
  fs::copy_file(src / "configs/qconfig/default.json", dir / "q.json");
  fs::copy_file(src / "configs/marches/bayes.json", dir / "bayes.json");
  const std::string vars = "HQ=" + std::string(HQ_BIN_DIR) + " OUT=" + (dir / "out").string() +
                           " QCONFIG=" + (dir / "q.json").string() +
                           " MARCH=" + (dir / "bayes.json").string() +
                           " CALIB_FLAGS='--limit 64' QAT_FLAGS='--limit 256 --eval-limit 128 -q'";
  auto first = make(dir, vars);
  INFO(first.out << first.err);
  REQUIRE(first.exitCode == 0);
  for (const char* f : {"fmnist_cnn.calib.onnx", "fmnist_cnn.qat.onnx", "fmnist_cnn.int.onnx",
                        "fmnist_cnn.check.txt", "fmnist_cnn.hbm", "fmnist_cnn.svg",
                        "perf/fmnist_cnn.json", "perf/fmnist_cnn.html"})
    CHECK(fs::exists(dir / "out" / f));

  // Up to date: nothing to run.
  auto idle = make(dir, vars, "-n");
  REQUIRE(idle.exitCode == 0);
  CHECK_FALSE(mentions(idle.out, "hq-calib"));
  CHECK_FALSE(mentions(idle.out, "hq-compile"));

  // A new march: check, compile, perf and viz only.
  touchLater(dir / "bayes.json");
  auto march = make(dir, vars, "-n");
  REQUIRE(march.exitCode == 0);
  CHECK_FALSE(mentions(march.out, "hq-calib"));
  CHECK_FALSE(mentions(march.out, "hq-qat"));
  CHECK_FALSE(mentions(march.out, "hq-convert"));
  for (const char* t : {"hq-check", "hq-compile", "hq-perf", "hq-viz"})
    CHECK(mentions(march.out, t));

  // A new qconfig: every stage from calibration on.
  touchLater(dir / "q.json");
  auto qconfig = make(dir, vars, "-n");
  REQUIRE(qconfig.exitCode == 0);
  for (const char* t :
       {"hq-calib", "hq-qat", "hq-convert", "hq-check", "hq-compile", "hq-perf", "hq-viz"})
    CHECK(mentions(qconfig.out, t));
}
