// Backward of the data-movement family: finite-difference gradient checks (Concat, Split
// with and without sizes, Slice incl. negative steps, the reshaping ops, Transpose, Resize
// nearest), hand-computed goldens and error cases.
#include "train/backward_test_util.h"

using namespace hq;
using namespace hq::train::testing;

namespace {

Attributes intAttr(const std::string& k, int64_t v) {
  Attributes a;
  a.set(k, Attribute::ofInt(v));
  return a;
}

GradCheckOptions onlyInput0() {
  GradCheckOptions o;
  o.inputs = {0};
  return o;
}

}  // namespace

TEST_CASE("backward: Concat and Split match finite differences", "[train]") {
  std::mt19937 rng(31);
  for (int64_t axis : {0, 1, -1}) {
    INFO("axis " << axis);
    OneNode c = makeNode("Concat", {Tensor(), Tensor(), Tensor()}, intAttr("axis", axis));
    Shape s0{2, 3, 2}, s1{2, 3, 2}, s2{2, 3, 2};
    const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    s1[a] = 1;
    s2[a] = 3;
    checkGradients(*c.node, {randomFloats(s0, -1, 1, rng), randomFloats(s1, -1, 1, rng),
                             randomFloats(s2, -1, 1, rng)});
  }
  SECTION("Split into equal parts (no sizes)") {
    OneNode n = makeNode("Split", {Tensor()}, intAttr("axis", 1), 3);
    checkGradients(*n.node, {randomFloats({2, 6, 2}, -1, 1, rng)});
  }
  SECTION("Split with sizes (input 1)") {
    OneNode n = makeNode("Split", {Tensor(), int64s({3}, {1, 2, 3})}, intAttr("axis", -1), 3);
    checkGradients(*n.node, {randomFloats({2, 2, 6}, -1, 1, rng), int64s({3}, {1, 2, 3})});
  }
}

TEST_CASE("backward: Slice with constant starts/ends/axes/steps", "[train]") {
  std::mt19937 rng(32);
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const std::vector<Case> cases = {
      {{1}, {3}, {1}, {1}},
      {{0, 4}, {2, 0}, {0, 2}, {1, -1}},  // negative step, ends exclusive
      {{-1}, {-100}, {-1}, {-2}},         // negative step from the end, clamped
      {{0, 1, 0}, {3, 100, 5}, {0, 1, 2}, {2, 2, 3}},
  };
  for (const Case& c : cases) {
    const int64_t k = static_cast<int64_t>(c.starts.size());
    std::vector<Tensor> in = {randomFloats({3, 4, 5}, -1, 1, rng), int64s({k}, c.starts),
                              int64s({k}, c.ends), int64s({k}, c.axes), int64s({k}, c.steps)};
    OneNode n = makeNode("Slice", in);
    checkGradients(*n.node, in, onlyInput0());
  }
  SECTION("golden: reversed every other element") {
    std::vector<Tensor> in = {floats({5}, {0, 1, 2, 3, 4}), int64s({1}, {4}), int64s({1}, {-6}),
                              int64s({1}, {0}), int64s({1}, {-2})};
    OneNode n = makeNode("Slice", in);
    // y = x[4], x[2], x[0].
    auto r = runBackward(*n.node, in, {floats({3}, {10, 20, 30})}, {0});
    REQUIRE(r.status.isOk());
    CHECK(values<float>(r.grads[0]) == std::vector<float>{30, 0, 20, 0, 10});
  }
}

TEST_CASE("backward: reshaping ops and Transpose", "[train]") {
  std::mt19937 rng(33);
  const Tensor x = randomFloats({2, 1, 3, 2}, -1, 1, rng);
  {
    OneNode n = makeNode("Flatten", {Tensor()}, intAttr("axis", 2));
    checkGradients(*n.node, {x});
  }
  {
    OneNode n = makeNode("Identity", {Tensor()});
    checkGradients(*n.node, {x});
  }
  {
    std::vector<Tensor> in = {x, int64s({2}, {3, -1})};
    OneNode n = makeNode("Reshape", in);
    checkGradients(*n.node, in, onlyInput0());
  }
  {
    std::vector<Tensor> in = {x, int64s({1}, {1})};
    OneNode n = makeNode("Squeeze", in);
    checkGradients(*n.node, in, onlyInput0());
  }
  {
    std::vector<Tensor> in = {x, int64s({2}, {0, -1})};
    OneNode n = makeNode("Unsqueeze", in);
    checkGradients(*n.node, in, onlyInput0());
  }
  for (std::vector<int64_t> perm : {std::vector<int64_t>{0, 2, 3, 1}, {3, 1, 0, 2}, {}}) {
    Attributes a;
    if (!perm.empty()) a.set("perm", Attribute::ofInts(perm));
    OneNode n = makeNode("Transpose", {Tensor()}, a);
    checkGradients(*n.node, {randomFloats({2, 3, 1, 4}, -1, 1, rng)});
  }
  SECTION("golden: transpose [2, 3] -> [3, 2]") {
    OneNode n = makeNode("Transpose", {Tensor()});
    auto r = runBackward(*n.node, {floats({2, 3}, {0, 1, 2, 3, 4, 5})},
                         {floats({3, 2}, {10, 11, 12, 13, 14, 15})}, {0});
    REQUIRE(r.status.isOk());
    // dy[j][i] goes to dx[i][j].
    CHECK(values<float>(r.grads[0]) == std::vector<float>{10, 12, 14, 11, 13, 15});
  }
}

TEST_CASE("backward: Resize nearest scatters to the picked source", "[train]") {
  std::mt19937 rng(34);
  auto resizeAttrs = [](const std::string& coord, const std::string& nearest) {
    Attributes a;
    a.set("mode", Attribute::ofString("nearest"));
    a.set("coordinate_transformation_mode", Attribute::ofString(coord));
    a.set("nearest_mode", Attribute::ofString(nearest));
    return a;
  };
  SECTION("upsampling and downsampling, several coordinate modes") {
    for (const auto& [coord, nearest] :
         std::vector<std::pair<std::string, std::string>>{{"half_pixel", "round_prefer_floor"},
                                                          {"asymmetric", "floor"},
                                                          {"align_corners", "round_prefer_ceil"},
                                                          {"pytorch_half_pixel", "ceil"}}) {
      INFO(coord << " " << nearest);
      for (std::vector<float> scales :
           {std::vector<float>{1, 1, 2, 3}, {1, 1, 0.5f, 0.75f}, {1, 1, 1.5f, 1}}) {
        std::vector<Tensor> in = {randomFloats({1, 2, 4, 4}, -1, 1, rng), Tensor(),
                                  floats({4}, scales)};
        OneNode n = makeNode("Resize", in, resizeAttrs(coord, nearest));
        checkGradients(*n.node, in, onlyInput0());
      }
    }
  }
  SECTION("golden: 2x upsampling sums each 2x2 block") {
    std::vector<Tensor> in = {floats({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor(),
                              floats({4}, {1, 1, 2, 2})};
    OneNode n = makeNode("Resize", in, resizeAttrs("half_pixel", "round_prefer_floor"));
    std::vector<float> dy(16);
    for (int i = 0; i < 16; ++i) dy[i] = static_cast<float>(i);
    auto r = runBackward(*n.node, in, {floats({1, 1, 4, 4}, dy)}, {0});
    REQUIRE(r.status.isOk());
    CHECK(values<float>(r.grads[0]) ==
          std::vector<float>{0 + 1 + 4 + 5, 2 + 3 + 6 + 7, 8 + 9 + 12 + 13, 10 + 11 + 14 + 15});
  }
  SECTION("linear mode is unsupported, naming the node") {
    std::vector<Tensor> in = {floats({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor(),
                              floats({4}, {1, 1, 2, 2})};
    Attributes a;
    a.set("mode", Attribute::ofString("linear"));
    OneNode n = makeNode("Resize", in, a);
    auto r = runBackward(*n.node, in, {floats({1, 1, 4, 4}, {})}, {0});
    checkNamedError(r, "nearest");
    CHECK(r.status.code() == ErrorCode::kUnsupported);
  }
}

TEST_CASE("backward: data-movement errors name the node", "[train]") {
  const Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor dy_wrong = floats({4}, {1, 2, 3, 4});
  {
    OneNode n = makeNode("Transpose", {Tensor()});
    checkNamedError(runBackward(*n.node, {x}, {dy_wrong}, {0}), "gradient of output 0");
  }
  {
    OneNode n = makeNode("Identity", {Tensor()});
    checkNamedError(runBackward(*n.node, {x}, {dy_wrong}, {0}), "gradient of output 0");
    checkNamedError(runBackward(*n.node, {x}, {floats({2, 3}, {})}, {0}, {Shape{3, 2}}),
                    "gradient of input 0");
  }
  {
    OneNode n = makeNode("Concat", {Tensor(), Tensor()}, intAttr("axis", 0));
    checkNamedError(runBackward(*n.node, {x, x}, {floats({2, 3}, {})}, {0, 1}),
                    "gradient of output 0");
  }
  {
    OneNode n = makeNode("Split", {Tensor()}, intAttr("axis", 1), 3);
    checkNamedError(runBackward(*n.node, {x}, {Tensor(), dy_wrong, Tensor()}, {0}),
                    "gradient of output 1");
  }
  {
    std::vector<Tensor> in = {x, int64s({1}, {1}), int64s({1}, {3}), int64s({1}, {1})};
    OneNode n = makeNode("Slice", in);
    checkNamedError(runBackward(*n.node, in, {dy_wrong}, {0}), "gradient of output 0");
  }
  {
    std::vector<Tensor> in = {floats({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor(),
                              floats({4}, {1, 1, 2, 2})};
    OneNode n = makeNode("Resize", in);
    checkNamedError(runBackward(*n.node, in, {floats({1, 1, 2, 2}, {})}, {0}),
                    "gradient of output 0");
  }
}
