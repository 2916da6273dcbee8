// Run a built tool as a user would and capture its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace hq::testing {

struct ToolResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// Run `HQ_BIN_DIR/<tool> <args>` through the shell (args are shell-quoted by the caller).
inline ToolResult runTool(const std::string& tool, const std::string& args) {
  namespace fs = std::filesystem;
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() / ("hq_tool_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string base = (dir / std::to_string(counter++)).string();
  std::string cmd =
      std::string(HQ_BIN_DIR) + "/" + tool + " " + args + " >" + base + ".out 2>" + base + ".err";
  int status = std::system(cmd.c_str());
  ToolResult r;
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

/// Number of lines in a string (a trailing newline does not start a new line).
inline int lineCount(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

/// A refusal as every tool must give it: exit `code`, one line on stderr containing `needle`,
/// nothing on stdout.
inline void requireCleanError(const ToolResult& r, int code, const std::string& needle) {
  INFO("stderr: " << r.err);
  CHECK(r.exitCode == code);
  CHECK(lineCount(r.err) == 1);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(r.out.empty());
}

/// A fresh empty folder for one test.
inline std::filesystem::path scratchDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("hq_scratch_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace hq::testing
