// Backward of MaxPool, AveragePool, GlobalAveragePool: finite-difference gradient checks for
// every attribute variant the forward supports, hand-computed goldens (incl. max-pool ties:
// the first maximum in scan order takes the gradient), and error cases.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <numeric>

#include "grad_check.h"

using namespace hq;
using hq::train::testing::checkGradients;
using hq::train::testing::GradCheckOptions;
using hq::train::testing::randomFloats;

namespace {

struct OneNode {
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  Node* node = nullptr;
};

OneNode makeNode(const std::string& op, Attributes attrs, const std::vector<Tensor>& inputs,
                 size_t num_outputs = 1) {
  OneNode r;
  std::vector<Value*> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(
        r.graph->addValue("in" + std::to_string(i), inputs[i].dtype(), inputs[i].shape(), true));
  }
  for (size_t i = 0; i < num_outputs; ++i)
    outs.push_back(r.graph->addValue("out" + std::to_string(i)));
  r.node = r.graph->addNode(op, "bwnode", ins, outs, std::move(attrs));
  return r;
}

Attributes attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  Attributes a;
  for (const auto& [name, value] : list) a.set(name, value);
  return a;
}
Attribute ints(std::vector<int64_t> v) { return Attribute::ofInts(std::move(v)); }
Attribute one(int64_t v) { return Attribute::ofInt(v); }
Attribute str(const char* v) { return Attribute::ofString(v); }

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::fromVector<float>(std::move(shape), values);
}

Tensor randomX(Shape shape, unsigned seed = 5) {
  std::mt19937 rng(seed);
  return randomFloats(std::move(shape), -1, 1, rng);
}

/// Distinct values 0.1 apart in shuffled order: no max-pool window has a tie, and a
/// finite-difference step of 0.01 never changes which element is the maximum.
Tensor distinctX(Shape shape, unsigned seed = 5) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::vector<int> order(static_cast<size_t>(t.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  for (size_t i = 0; i < order.size(); ++i) t.data<float>()[i] = 0.1f * order[i] - 1.0f;
  return t;
}

void gradCheck(const std::string& op, Attributes a, Tensor x, size_t num_outputs = 1) {
  OneNode n = makeNode(op, std::move(a), {x}, num_outputs);
  checkGradients(*n.node, {std::move(x)});
}

/// dX for dY = `gy`.
Expected<Tensor> runBackward(const Node& node, const Tensor& x, const Tensor& gy) {
  Tensor gx(DType::kFloat32, x.shape());
  train::BackwardCall call{node, {&x}, {nullptr}, {&gy}, {&gx}};
  HQ_RETURN_IF_ERROR(train::findBackward(node.opType)(call));
  return gx;
}

void checkValues(const Tensor& got, const std::vector<float>& want) {
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(got.data<float>()[i] == Approx(want[i]).margin(1e-6));
  }
}

}  // namespace

// ---------------------------------------------------------------- MaxPool

TEST_CASE("MaxPool backward gradient checks", "[train]") {
  SECTION("2x2 stride 2") {
    gradCheck("MaxPool", attrs({{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}),
              distinctX({2, 2, 4, 4}));
  }
  SECTION("overlapping windows, asymmetric pads") {
    gradCheck("MaxPool", attrs({{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 0, 0, 1})}}),
              distinctX({1, 2, 4, 4}));
  }
  SECTION("dilations and strides") {
    gradCheck("MaxPool",
              attrs({{"kernel_shape", ints({2, 2})},
                     {"dilations", ints({2, 1})},
                     {"strides", ints({1, 2})}}),
              distinctX({1, 1, 5, 5}));
  }
  SECTION("ceil_mode") {
    gradCheck(
        "MaxPool",
        attrs({{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", one(1)}}),
        distinctX({1, 2, 5, 5}));
  }
  SECTION("auto_pad SAME_UPPER and SAME_LOWER") {
    gradCheck("MaxPool",
              attrs({{"kernel_shape", ints({3, 2})},
                     {"strides", ints({2, 2})},
                     {"auto_pad", str("SAME_UPPER")}}),
              distinctX({1, 1, 5, 5}));
    gradCheck("MaxPool", attrs({{"kernel_shape", ints({2, 2})}, {"auto_pad", str("SAME_LOWER")}}),
              distinctX({1, 1, 4, 4}));
  }
  SECTION("with the Indices output") {
    gradCheck("MaxPool", attrs({{"kernel_shape", ints({2, 2})}}), distinctX({1, 2, 3, 3}), 2);
  }
  SECTION("1-D and 3-D") {
    gradCheck("MaxPool",
              attrs({{"kernel_shape", ints({3})}, {"strides", ints({2})}, {"pads", ints({1, 1})}}),
              distinctX({2, 2, 7}));
    gradCheck("MaxPool", attrs({{"kernel_shape", ints({2, 2, 2})}}), distinctX({1, 1, 3, 3, 3}));
  }
}

TEST_CASE("MaxPool backward golden: ties go to the first maximum in scan order", "[train]") {
  // 1-D, kernel 2, stride 1: X = [1, 5, 5, 2], windows [1,5] [5,5] [5,2]; the tie in the
  // middle window goes to index 1 (the first scanned).
  Tensor x = f32({1, 1, 4}, {1, 5, 5, 2});
  OneNode n = makeNode("MaxPool", attrs({{"kernel_shape", ints({2})}}), {x});
  auto gx = runBackward(*n.node, x, f32({1, 1, 3}, {1, 10, 100}));
  REQUIRE(gx.isOk());
  checkValues(*gx, {0, 11, 100, 0});
  // 2-D, one 2x2 window, all equal: the gradient goes to (0, 0) (H, then W).
  Tensor x2 = f32({1, 1, 2, 2}, {3, 3, 3, 3});
  OneNode n2 = makeNode("MaxPool", attrs({{"kernel_shape", ints({2, 2})}}), {x2});
  auto gx2 = runBackward(*n2.node, x2, f32({1, 1, 1, 1}, {7}));
  REQUIRE(gx2.isOk());
  checkValues(*gx2, {7, 0, 0, 0});
  // A tie between (0, 1) and (1, 0): (0, 1) comes first in row-major scan order.
  Tensor x3 = f32({1, 1, 2, 2}, {0, 4, 4, 1});
  auto gx3 = runBackward(*n2.node, x3, f32({1, 1, 1, 1}, {2}));
  REQUIRE(gx3.isOk());
  checkValues(*gx3, {0, 2, 0, 0});
}

TEST_CASE("MaxPool backward errors name the node", "[train]") {
  Tensor x = randomX({1, 1, 4, 4});
  OneNode n = makeNode("MaxPool", attrs({{"kernel_shape", ints({2, 2})}}), {x});
  auto r = runBackward(*n.node, x, Tensor(DType::kFloat32, {1, 1, 2, 2}));
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().code() == ErrorCode::kShape);
  CHECK(r.status().message().find("MaxPool 'bwnode'") != std::string::npos);
  CHECK(r.status().message().find("[1, 1, 3, 3]") != std::string::npos);
  // dX buffer of the wrong shape.
  Tensor gy(DType::kFloat32, {1, 1, 3, 3});
  Tensor bad(DType::kFloat32, {1, 1, 4, 3});
  train::BackwardCall call{*n.node, {&x}, {nullptr}, {&gy}, {&bad}};
  Status s = train::findBackward("MaxPool")(call);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message().find("bwnode") != std::string::npos);
  // Kernel rank that does not match X.
  OneNode m = makeNode("MaxPool", attrs({{"kernel_shape", ints({2})}}), {x});
  CHECK_FALSE(runBackward(*m.node, x, gy).isOk());
}

TEST_CASE("MaxPool backward: no gradient flowing gives zeros", "[train]") {
  Tensor x = randomX({1, 1, 4, 4});
  OneNode n = makeNode("MaxPool", attrs({{"kernel_shape", ints({2, 2})}}), {x});
  Tensor gx = randomX({1, 1, 4, 4}, 9);
  train::BackwardCall call{*n.node, {&x}, {nullptr}, {nullptr}, {&gx}};
  REQUIRE(train::findBackward("MaxPool")(call).isOk());
  for (int64_t i = 0; i < gx.numel(); ++i) CHECK(gx.data<float>()[i] == 0.0f);
}

// ---------------------------------------------------------------- AveragePool

TEST_CASE("AveragePool backward gradient checks", "[train]") {
  SECTION("2x2 stride 2") {
    gradCheck("AveragePool", attrs({{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}),
              randomX({2, 2, 4, 4}));
  }
  SECTION("pads, count_include_pad 0 and 1") {
    for (int64_t inc : {0, 1}) {
      gradCheck("AveragePool",
                attrs({{"kernel_shape", ints({3, 3})},
                       {"pads", ints({1, 2, 1, 0})},
                       {"count_include_pad", one(inc)}}),
                randomX({1, 2, 4, 4}));
    }
  }
  SECTION("ceil_mode with and without count_include_pad") {
    for (int64_t inc : {0, 1}) {
      gradCheck("AveragePool",
                attrs({{"kernel_shape", ints({3, 3})},
                       {"strides", ints({2, 2})},
                       {"pads", ints({1, 1, 1, 1})},
                       {"ceil_mode", one(1)},
                       {"count_include_pad", one(inc)}}),
                randomX({1, 1, 6, 5}));
    }
  }
  SECTION("auto_pad SAME_UPPER, SAME_LOWER, VALID") {
    for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
      gradCheck(
          "AveragePool",
          attrs(
              {{"kernel_shape", ints({2, 3})}, {"strides", ints({2, 1})}, {"auto_pad", str(mode)}}),
          randomX({1, 1, 5, 4}));
    }
  }
  SECTION("1-D and 3-D") {
    gradCheck(
        "AveragePool",
        attrs({{"kernel_shape", ints({3})}, {"pads", ints({2, 1})}, {"count_include_pad", one(1)}}),
        randomX({2, 1, 5}));
    gradCheck("AveragePool",
              attrs({{"kernel_shape", ints({2, 2, 2})}, {"strides", ints({1, 2, 1})}}),
              randomX({1, 1, 3, 4, 3}));
  }
}

TEST_CASE("AveragePool backward golden: pads with and without count_include_pad", "[train]") {
  // 1-D X of 3, kernel 2, pads 1/1: 4 windows [-1,1) [0,2) [1,3) [2,4); dY = [1, 2, 3, 4].
  // Excluding pads the divisors are 1, 2, 2, 1: dX = [1 + 1, 1 + 1.5, 1.5 + 4].
  // Including pads all divisors are 2: dX = [0.5 + 1, 1 + 1.5, 1.5 + 2].
  Tensor x = f32({1, 1, 3}, {9, 8, 7});
  Tensor gy = f32({1, 1, 4}, {1, 2, 3, 4});
  OneNode ex =
      makeNode("AveragePool", attrs({{"kernel_shape", ints({2})}, {"pads", ints({1, 1})}}), {x});
  auto g0 = runBackward(*ex.node, x, gy);
  REQUIRE(g0.isOk());
  checkValues(*g0, {2, 2.5f, 5.5f});
  OneNode in = makeNode(
      "AveragePool",
      attrs({{"kernel_shape", ints({2})}, {"pads", ints({1, 1})}, {"count_include_pad", one(1)}}),
      {x});
  auto g1 = runBackward(*in.node, x, gy);
  REQUIRE(g1.isOk());
  checkValues(*g1, {1.5f, 2.5f, 3.5f});
}

TEST_CASE("AveragePool backward: wrong-shaped gradient names the node", "[train]") {
  Tensor x = randomX({1, 2, 4, 4});
  OneNode n = makeNode("AveragePool", attrs({{"kernel_shape", ints({2, 2})}}), {x});
  auto r = runBackward(*n.node, x, Tensor(DType::kFloat32, {1, 2, 2, 2}));
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().message().find("AveragePool 'bwnode'") != std::string::npos);
  CHECK(r.status().message().find("[1, 2, 3, 3]") != std::string::npos);
}

// ---------------------------------------------------------------- GlobalAveragePool

TEST_CASE("GlobalAveragePool backward gradient checks", "[train]") {
  gradCheck("GlobalAveragePool", {}, randomX({2, 3, 3, 2}));
  gradCheck("GlobalAveragePool", {}, randomX({2, 2, 5}));
  gradCheck("GlobalAveragePool", {}, randomX({1, 2, 2, 2, 2}));
}

TEST_CASE("GlobalAveragePool backward golden", "[train]") {
  // X [1, 2, 2, 2], dY = [4, 8]: each element gets dY / 4.
  Tensor x = randomX({1, 2, 2, 2});
  OneNode n = makeNode("GlobalAveragePool", {}, {x});
  auto g = runBackward(*n.node, x, f32({1, 2, 1, 1}, {4, 8}));
  REQUIRE(g.isOk());
  checkValues(*g, {1, 1, 1, 1, 2, 2, 2, 2});
  auto bad = runBackward(*n.node, x, Tensor(DType::kFloat32, {1, 2}));
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message().find("GlobalAveragePool 'bwnode'") != std::string::npos);
}
