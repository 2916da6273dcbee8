// The ONNX backend node tests of hq's op set (tests/fixtures/onnx-node/, made by
// scripts/gen_onnx_node_tests.py), one Catch2 test per case so that ctest lists each.
//
// Each case must pass in both kernel modes, unless it is listed in
//   onnx_node_skips.txt           hq rejects it with kUnsupported; the reason listed must
//                                 appear in hq's message (the attribute/dtype it names);
//   onnx_node_known_failures.txt  it runs but gives a wrong answer or another error today.
// A listed case that behaves otherwise (passes, or skips/fails when not listed so) fails,
// so both lists stay honest. `test_conformance "[.summary]"` prints one line per case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <string>

#include "conformance/onnx_node_case.h"

namespace fs = std::filesystem;
using hq::conformance::CaseResult;
using hq::conformance::Outcome;

namespace {

const std::string kDataDir = std::string(HQ_TEST_DATA) + "/onnx-node";
const std::string kListDir = std::string(HQ_SOURCE_DIR) + "/tests/conformance";

struct CaseLists {
  std::map<std::string, std::string> skips;
  std::map<std::string, std::string> knownFailures;
  std::string error;  ///< a list that could not be read
};

const CaseLists& caseLists() {
  static const CaseLists lists = [] {
    CaseLists l;
    auto s = hq::conformance::readCaseList(kListDir + "/onnx_node_skips.txt");
    auto k = hq::conformance::readCaseList(kListDir + "/onnx_node_known_failures.txt");
    if (s) l.skips = *s; else l.error = s.status().message();
    if (k) l.knownFailures = *k; else l.error = k.status().message();
    return l;
  }();
  return lists;
}

std::vector<std::string> caseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kDataDir, ec)) {
    if (fs::exists(e.path() / "model.onnx")) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Checks one case against the lists (see the file comment).
void checkCase(const std::string& name) {
  const CaseLists& lists = caseLists();
  REQUIRE(lists.error == "");
  CaseResult r = hq::conformance::runOnnxCase(kDataDir + "/" + name);
  auto skip = lists.skips.find(name);
  auto known = lists.knownFailures.find(name);
  INFO(name << ": " << outcomeName(r.outcome) << (r.message.empty() ? "" : ": ") << r.message);
  switch (r.outcome) {
    case Outcome::kPass:
      if (skip != lists.skips.end()) FAIL("passes but is in onnx_node_skips.txt: remove it");
      if (known != lists.knownFailures.end()) {
        FAIL("passes but is in onnx_node_known_failures.txt: remove it");
      }
      SUCCEED();
      break;
    case Outcome::kSkip: {
      if (skip == lists.skips.end()) {
        FAIL("hq rejects it as unsupported, but it is not in onnx_node_skips.txt");
      }
      INFO("listed reason: " << skip->second);
      CHECK(r.message.find(skip->second) != std::string::npos);
      break;
    }
    case Outcome::kFail:
      if (known == lists.knownFailures.end()) FAIL("wrong result or error");
      if (skip != lists.skips.end()) FAIL("listed as a skip, but it is not rejected as unsupported");
      WARN("known failure: " << known->second);
      break;
  }
}

/// One registered test per case; the invoker keeps the case name.
class CaseInvoker : public Catch::ITestInvoker {
 public:
  explicit CaseInvoker(std::string name) : name_(std::move(name)) {}
  void invoke() const override { checkCase(name_); }

 private:
  std::string name_;
};

/// Registers the cases at static-initialization time (so --list-tests and ctest see them).
const bool kRegistered = [] {
  static std::deque<std::string> test_names;  // NameAndTags holds StringRefs
  static std::deque<std::string> tags;
  std::vector<std::string> names = caseNames();
  for (const std::string& name : names) {
    test_names.push_back("onnx-node/" + name);
    // Tag by the op in the case name: test_averagepool_2d_pads -> [averagepool].
    std::string op = name.substr(5, name.find('_', 5) - 5);
    tags.push_back("[conformance][onnx-node][" + op + "]");
    Catch::AutoReg(new CaseInvoker(name), CATCH_INTERNAL_LINEINFO, Catch::StringRef(),
                   Catch::NameAndTags{test_names.back(), tags.back()});
  }
  return !names.empty();
}();

}  // namespace

TEST_CASE("onnx-node: the generated cases and the lists agree", "[conformance][onnx-node]") {
  REQUIRE(kRegistered);  // tests/fixtures/onnx-node/ has cases (scripts/gen_onnx_node_tests.py)
  const CaseLists& lists = caseLists();
  REQUIRE(lists.error == "");
  std::vector<std::string> names = caseNames();
  CHECK(names.size() > 200);
  for (const auto* list : {&lists.skips, &lists.knownFailures}) {
    for (const auto& [name, reason] : *list) {
      INFO(name << " | " << reason);
      CHECK(std::binary_search(names.begin(), names.end(), name));
    }
  }
  for (const auto& [name, reason] : lists.skips) {
    INFO(name << " is both skipped and a known failure");
    CHECK(lists.knownFailures.count(name) == 0);
  }
}

TEST_CASE("onnx-node: the reader and the comparison", "[conformance][onnx-node]") {
  // test_add: x, y float32 [3, 4, 5]; output x + y.
  std::string dir = kDataDir + "/test_add/test_data_set_0/";
  std::string name;
  auto x = hq::conformance::readTensorProtoFile(dir + "input_0.pb", &name);
  REQUIRE(x.isOk());
  CHECK(name == "x");
  CHECK(x->dtype() == hq::DType::kFloat32);
  CHECK(x->shape() == hq::Shape{3, 4, 5});
  auto y = hq::conformance::readTensorProtoFile(dir + "input_1.pb");
  auto sum = hq::conformance::readTensorProtoFile(dir + "output_0.pb");
  REQUIRE(y.isOk());
  REQUIRE(sum.isOk());
  hq::Tensor mine = x->clone();
  for (int64_t i = 0; i < mine.numel(); ++i) mine.data<float>()[i] += y->data<float>()[i];
  CHECK(hq::conformance::compareTensors(mine, *sum) == "");
  mine.data<float>()[7] += 0.01f;  // index [0, 1, 2]
  std::string diff = hq::conformance::compareTensors(mine, *sum);
  CHECK(diff.find("1 of 60 values differ; first at [0, 1, 2]") == 0);
  CHECK(hq::conformance::compareTensors(mine.reshaped({60}), *sum).find("shape [60]") == 0);

  auto nan = hq::Tensor::fromVector<float>({2}, {NAN, 1.0f});
  CHECK(hq::conformance::compareTensors(nan, nan.clone()) == "");
  auto ints = hq::Tensor::fromVector<int64_t>({2}, {1, 2});
  auto ints2 = hq::Tensor::fromVector<int64_t>({2}, {1, 3});
  CHECK(hq::conformance::compareTensors(ints, ints2) ==
        "1 of 2 values differ; first at [1]: got 2, want 3");
  CHECK(hq::conformance::compareTensors(ints, nan).find("dtype int64 (want float32)") == 0);

  // A string tensor (test_cast_STRING_to_FLOAT's input) has no hq dtype.
  auto s = hq::conformance::readTensorProtoFile(
      kDataDir + "/test_cast_STRING_to_FLOAT/test_data_set_0/input_0.pb");
  REQUIRE_FALSE(s.isOk());
  CHECK(s.status().code() == hq::ErrorCode::kUnsupported);
}

TEST_CASE("onnx-node: summary of all cases", "[.summary]") {
  int counts[3] = {0, 0, 0};
  for (const std::string& name : caseNames()) {
    CaseResult r = hq::conformance::runOnnxCase(kDataDir + "/" + name);
    ++counts[static_cast<int>(r.outcome)];
    std::printf("%-4s %-60s %s\n", outcomeName(r.outcome), name.c_str(), r.message.c_str());
  }
  std::printf("pass %d, skip %d, fail %d\n", counts[0], counts[1], counts[2]);
}
