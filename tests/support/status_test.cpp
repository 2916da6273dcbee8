#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "support/atomic_file.h"
#include "support/json.h"
#include "support/status.h"

using namespace hq;

namespace {
Expected<int> half(int x) {
  if (x % 2) return HQ_ERROR(kInvalidArgument, "{} is odd", x);
  return x / 2;
}
Expected<int> quarter(int x) {
  HQ_ASSIGN_OR_RETURN(int h, half(x));
  HQ_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}
}  // namespace

TEST_CASE("Expected carries a value or an error with its location") {
  REQUIRE(quarter(8).isOk());
  CHECK(*quarter(8) == 2);
  auto bad = quarter(6);
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message() == "3 is odd");
  CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
  CHECK(bad.status().location().find("status_test.cpp") != std::string::npos);
  Status s = bad.status();
  s.addContext("model.onnx");
  CHECK(s.message() == "model.onnx: 3 is odd");
  CHECK(bad.status().message() == "3 is odd");  // the original is unchanged
}

TEST_CASE("writeFileAtomic replaces the file and leaves no temp behind") {
  auto dir = std::filesystem::temp_directory_path() / "hq_atomic_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "out.txt").string();
  REQUIRE(writeFileAtomic(path, "first").isOk());
  REQUIRE(writeFileAtomic(path, "second").isOk());
  CHECK(*readFile(path) == "second");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1);
  {
    AtomicFile f(path);
    REQUIRE(f.open().isOk());
    REQUIRE(f.write("never committed").isOk());
  }  // destroyed without commit
  CHECK(*readFile(path) == "second");
  files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1);
  auto missing = writeFileAtomic((dir / "no/such/dir/x").string(), "x");
  CHECK_FALSE(missing.isOk());
  CHECK(readFile((dir / "nope").string()).status().code() == ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_CASE("parseJson reports line and column") {
  auto r = parseJson("{\n  \"a\": 1,\n  \"b\": }\n", "x.json");
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message().rfind("x.json:3:", 0) == 0);
}
