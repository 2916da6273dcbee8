// Backward of the activation family: finite-difference gradient checks (inputs kept away
// from kinks), hand-computed goldens and error cases.
#include "train/backward_test_util.h"

using namespace hq;
using namespace hq::train::testing;

namespace {

Attributes floatAttrs(std::vector<std::pair<std::string, float>> kv) {
  Attributes a;
  for (auto& [k, v] : kv) a.set(k, Attribute::ofFloat(v));
  return a;
}

}  // namespace

TEST_CASE("backward: unary activations match finite differences", "[train]") {
  std::mt19937 rng(11);
  struct Case {
    std::string op;
    Attributes attrs;
    std::vector<float> kinks;
  };
  std::vector<Case> cases = {
      {"Relu", {}, {0.0f}},
      {"LeakyRelu", floatAttrs({{"alpha", 0.1f}}), {0.0f}},
      {"LeakyRelu", {}, {0.0f}},
      {"Sigmoid", {}, {}},
      {"Tanh", {}, {}},
      {"HardSigmoid", {}, {-2.5f, 2.5f}},
      {"HardSigmoid", floatAttrs({{"alpha", 0.5f}, {"beta", 0.25f}}), {-0.5f, 1.5f}},
      {"HardSwish", {}, {-3.0f, 3.0f}},
  };
  for (Case& c : cases) {
    INFO(c.op);
    OneNode n = makeNode(c.op, {Tensor()}, c.attrs);
    checkGradients(*n.node, {awayFrom({2, 3, 5}, -5, 5, c.kinks, 0.05f, rng)});
  }
}

TEST_CASE("backward: Clip passes the gradient strictly inside the bounds", "[train]") {
  std::mt19937 rng(12);
  SECTION("bounds as inputs") {
    OneNode n = makeNode("Clip", {Tensor(), floats({}, {-1}), floats({}, {2})});
    GradCheckOptions opt;
    opt.inputs = {0};
    checkGradients(
        *n.node,
        {awayFrom({4, 6}, -3, 4, {-1.0f, 2.0f}, 0.05f, rng), floats({}, {-1}), floats({}, {2})},
        opt);
    // The bounds' gradients too (the bounds stay away from every x).
    checkGradients(
        *n.node, {floats({5}, {-2.5f, -0.5f, 0.5f, 2.5f, 3.f}), floats({}, {-1}), floats({}, {2})});
  }
  SECTION("bounds as attributes (opset < 11), max only") {
    OneNode n = makeNode("Clip", {Tensor()}, floatAttrs({{"max", 0.5f}}));
    checkGradients(*n.node, {awayFrom({3, 4}, -2, 2, {0.5f}, 0.05f, rng)});
  }
  SECTION("golden, including the bounds themselves") {
    OneNode n = makeNode("Clip", {Tensor(), floats({}, {0}), floats({}, {6})});
    auto r = runBackward(*n.node,
                         {floats({6}, {-1, 0, 3, 6, 7, 5.5f}), floats({}, {0}), floats({}, {6})},
                         {floats({6}, {1, 2, 3, 4, 5, 6})}, {0, 1, 2});
    REQUIRE(r.status.isOk());
    CHECK(values<float>(r.grads[0]) == std::vector<float>{0, 0, 3, 0, 0, 6});
    CHECK(values<float>(r.grads[1]) == std::vector<float>{1 + 2});  // x = -1 and x = 0
    CHECK(values<float>(r.grads[2]) == std::vector<float>{4 + 5});  // x = 6 and x = 7
  }
}

TEST_CASE("backward: PRelu gradients for x and the broadcast slope", "[train]") {
  std::mt19937 rng(13);
  for (Shape slope : {Shape{3, 1, 1}, Shape{1}, Shape{4}, Shape{2, 3, 1, 4}, Shape{}}) {
    INFO(shapeString(slope));
    OneNode n = makeNode("PRelu", {Tensor(), Tensor()});
    checkGradients(*n.node, {awayFrom({2, 3, 2, 4}, -2, 2, {0.0f}, 0.05f, rng),
                             randomFloats(slope, -0.5, 0.5, rng)});
  }
  SECTION("golden") {
    OneNode n = makeNode("PRelu", {Tensor(), Tensor()});
    // x [2, 2], slope [2] (per column): dx = x > 0 ? dy : s * dy; ds = sum_{x<=0} x * dy.
    auto r = runBackward(*n.node, {floats({2, 2}, {-1, 2, -3, -4}), floats({2}, {0.5f, 0.25f})},
                         {floats({2, 2}, {1, 10, 100, 1000})}, {0, 1});
    REQUIRE(r.status.isOk());
    CHECK(values<float>(r.grads[0]) == std::vector<float>{0.5f, 10, 50, 250});
    CHECK(values<float>(r.grads[1]) == std::vector<float>{-1 - 300, -4000});
  }
}

TEST_CASE("backward: Softmax along every axis (opset 13)", "[train]") {
  std::mt19937 rng(14);
  for (int64_t axis : {-1, 0, 1, 2, -2}) {
    INFO("axis " << axis);
    Attributes a;
    a.set("axis", Attribute::ofInt(axis));
    OneNode n = makeNode("Softmax", {Tensor()}, a);
    checkGradients(*n.node, {randomFloats({2, 3, 4}, -2, 2, rng)});
  }
  SECTION("golden: uniform softmax") {
    OneNode n = makeNode("Softmax", {Tensor()});
    // y = [1/2, 1/2]; dx = y * (dy - y.dy) = 0.5 * ([1, 3] - 2) = [-0.5, 0.5].
    auto r = runBackward(*n.node, {floats({1, 2}, {0.3f, 0.3f})}, {floats({1, 2}, {1, 3})}, {0});
    REQUIRE(r.status.isOk());
    CHECK(values<float>(r.grads[0]) == std::vector<float>{-0.5f, 0.5f});
  }
}

TEST_CASE("backward: activation goldens", "[train]") {
  const Tensor x = floats({4}, {-3.5f, -1, 1.5f, 4});
  const Tensor dy = floats({4}, {1, 2, 3, 4});
  auto grad = [&](const std::string& op) {
    OneNode n = makeNode(op, {Tensor()});
    auto r = runBackward(*n.node, {x}, {dy}, {0});
    REQUIRE(r.status.isOk());
    return values<float>(r.grads[0]);
  };
  CHECK(grad("Relu") == std::vector<float>{0, 0, 3, 4});
  // HardSwish: 0 below -3, (x/3 + 1/2) inside, 1 above 3.
  const auto hs = grad("HardSwish");
  CHECK(hs[0] == 0.0f);
  CHECK(hs[1] == Approx(2 * (-1.0 / 3 + 0.5)));
  CHECK(hs[2] == Approx(3 * (1.5 / 3 + 0.5)));
  CHECK(hs[3] == 4.0f);
  // Tanh: 1 - tanh(x)^2.
  const auto th = grad("Tanh");
  for (int i = 0; i < 4; ++i) {
    const double t = std::tanh(x.data<float>()[i]);
    CHECK(th[i] == Approx(dy.data<float>()[i] * (1 - t * t)).margin(1e-6));
  }
  // Sigmoid at 0: 1/4.
  OneNode n = makeNode("Sigmoid", {Tensor()});
  auto r = runBackward(*n.node, {floats({1}, {0})}, {floats({1}, {2})}, {0});
  REQUIRE(r.status.isOk());
  CHECK(values<float>(r.grads[0]) == std::vector<float>{0.5f});
}

TEST_CASE("backward: activation errors name the node", "[train]") {
  const Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "HardSwish", "Softmax", "Clip"}) {
    INFO(op);
    OneNode n = makeNode(op, {Tensor()});
    // Wrong-shaped output gradient.
    checkNamedError(runBackward(*n.node, {x}, {floats({3, 2}, {1, 2, 3, 4, 5, 6})}, {0}),
                    "gradient of output 0");
    // Wrong-shaped input gradient buffer.
    checkNamedError(
        runBackward(*n.node, {x}, {floats({2, 3}, {1, 2, 3, 4, 5, 6})}, {0}, {Shape{6}}),
        "gradient of input 0");
  }
  OneNode p = makeNode("PRelu", {Tensor(), Tensor()});
  checkNamedError(
      runBackward(*p.node, {x, floats({3}, {1, 2, 3})}, {floats({2, 3}, {})}, {1}, {Shape{2}}),
      "gradient of input 1");
  // No output gradient: the input gradient is overwritten with zeros.
  OneNode n = makeNode("Relu", {Tensor()});
  std::vector<Tensor> none(1);
  auto r = runBackward(*n.node, {x}, none, {0});
  REQUIRE(r.status.isOk());
  CHECK(values<float>(r.grads[0]) == std::vector<float>(6, 0.0f));
}
