// Backward of the broadcasting binary ops: finite-difference gradient checks over
// broadcast shapes in both directions, hand-computed goldens and error cases.
#include "train/backward_test_util.h"

using namespace hq;
using namespace hq::train::testing;

TEST_CASE("backward: Add/Sub/Mul/Div with broadcasting match finite differences", "[train]") {
  std::mt19937 rng(21);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3}, {2, 3}},       {{2, 3, 4}, {4}},          {{4}, {2, 3, 4}},
      {{2, 1, 4}, {1, 3, 1}}, {{3, 1}, {1, 5}},          {{2, 3, 2}, {}},
      {{}, {2, 3}},           {{2, 3, 1, 2}, {3, 1, 1}}, {{1, 3, 1, 1}, {2, 3, 2, 2}},
  };
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    for (const auto& [sa, sb] : shapes) {
      INFO(op << " " << shapeString(sa) << " with " << shapeString(sb));
      OneNode n = makeNode(op, {Tensor(), Tensor()});
      Tensor a = randomFloats(sa, -2, 2, rng);
      // Divisors stay away from 0 so the finite differences are well behaved.
      Tensor b = std::string(op) == "Div" ? awayFrom(sb, -2, 2, {0.0f}, 0.5f, rng)
                                          : randomFloats(sb, -2, 2, rng);
      checkGradients(*n.node, {a, b});
    }
  }
}

TEST_CASE("backward: binary goldens reduce over the broadcast axes", "[train]") {
  // a [2, 2] op b [2] (b broadcast over rows); dy = [[1, 2], [3, 4]].
  const Tensor a = floats({2, 2}, {1, 2, 3, 4});
  const Tensor b = floats({2}, {2, 4});
  const Tensor dy = floats({2, 2}, {1, 2, 3, 4});
  auto grads = [&](const std::string& op) {
    OneNode n = makeNode(op, {Tensor(), Tensor()});
    auto r = runBackward(*n.node, {a, b}, {dy}, {0, 1});
    REQUIRE(r.status.isOk());
    return std::make_pair(values<float>(r.grads[0]), values<float>(r.grads[1]));
  };
  auto add = grads("Add");
  CHECK(add.first == std::vector<float>{1, 2, 3, 4});
  CHECK(add.second == std::vector<float>{1 + 3, 2 + 4});
  auto sub = grads("Sub");
  CHECK(sub.first == std::vector<float>{1, 2, 3, 4});
  CHECK(sub.second == std::vector<float>{-4, -6});
  auto mul = grads("Mul");
  CHECK(mul.first == std::vector<float>{2, 8, 6, 16});                    // dy * b
  CHECK(mul.second == std::vector<float>{1 * 1 + 3 * 3, 2 * 2 + 4 * 4});  // sum dy * a
  auto div = grads("Div");
  CHECK(div.first == std::vector<float>{0.5f, 0.5f, 1.5f, 1.0f});  // dy / b
  // -sum(dy * a) / b^2: column 0: -(1 + 9) / 4, column 1: -(4 + 16) / 16.
  CHECK(div.second == std::vector<float>{-2.5f, -1.25f});
}

TEST_CASE("backward: binary gradients for one operand only, and none flowing", "[train]") {
  const Tensor a = floats({2, 2}, {1, 2, 3, 4});
  const Tensor b = floats({1}, {3});
  OneNode n = makeNode("Mul", {Tensor(), Tensor()});
  auto r = runBackward(*n.node, {a, b}, {floats({2, 2}, {1, 1, 1, 1})}, {1});
  REQUIRE(r.status.isOk());
  CHECK_FALSE(r.grads[0].defined());
  CHECK(values<float>(r.grads[1]) == std::vector<float>{10});
  std::vector<Tensor> none(1);
  auto z = runBackward(*n.node, {a, b}, none, {0, 1});
  REQUIRE(z.status.isOk());
  CHECK(values<float>(z.grads[0]) == std::vector<float>(4, 0.0f));
  CHECK(values<float>(z.grads[1]) == std::vector<float>{0});
}

TEST_CASE("backward: binary errors name the node", "[train]") {
  const Tensor a = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = floats({3}, {1, 2, 3});
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    INFO(op);
    OneNode n = makeNode(op, {Tensor(), Tensor()});
    checkNamedError(runBackward(*n.node, {a, b}, {floats({3}, {1, 2, 3})}, {0, 1}),
                    "gradient of output 0");
    checkNamedError(
        runBackward(*n.node, {a, b}, {floats({2, 3}, {})}, {0, 1}, {Shape{2, 3}, Shape{2, 3}}),
        "gradient of input 1");
  }
}
