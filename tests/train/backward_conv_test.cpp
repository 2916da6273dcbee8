// Backward of Conv, ConvTranspose, Gemm, MatMul: finite-difference gradient checks for
// every attribute variant the forward supports, hand-computed goldens, and error cases.
#include <catch2/catch.hpp>

#include <memory>

#include "grad_check.h"

using namespace hq;
using hq::train::testing::checkGradients;
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
    ins.push_back(inputs[i].defined()
                      ? r.graph->addValue("in" + std::to_string(i), inputs[i].dtype(),
                                          inputs[i].shape(), true)
                      : nullptr);
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
Attribute flt(float v) { return Attribute::ofFloat(v); }

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::fromVector<float>(std::move(shape), values);
}

/// Random inputs of the given shapes (an empty shape list entry with `absent` = omitted).
std::vector<Tensor> randomInputs(const std::vector<Shape>& shapes, unsigned seed = 3) {
  std::mt19937 rng(seed);
  std::vector<Tensor> r;
  for (const Shape& s : shapes) r.push_back(randomFloats(s, -1, 1, rng));
  return r;
}

void gradCheck(const std::string& op, Attributes a, std::vector<Tensor> inputs) {
  OneNode n = makeNode(op, std::move(a), inputs);
  checkGradients(*n.node, std::move(inputs));
}

/// Runs the backward with dY = `gy` and every input's gradient requested.
Status runBackward(const Node& node, const std::vector<Tensor>& inputs, const Tensor& gy,
                   std::vector<Tensor>* grads) {
  train::BackwardCall call{node, {}, {}, {&gy}, {}};
  grads->assign(inputs.size(), Tensor());
  for (size_t i = 0; i < inputs.size(); ++i) {
    call.inputs.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
    if (inputs[i].defined()) (*grads)[i] = Tensor(DType::kFloat32, inputs[i].shape());
    call.gradInputs.push_back(inputs[i].defined() ? &(*grads)[i] : nullptr);
  }
  call.outputs.push_back(nullptr);
  return train::findBackward(node.opType)(call);
}

void checkValues(const Tensor& got, const std::vector<float>& want) {
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(got.data<float>()[i] == Approx(want[i]).margin(1e-5));
  }
}

}  // namespace

// ---------------------------------------------------------------- Conv

TEST_CASE("Conv backward gradient checks", "[train]") {
  const Attributes k3 = attrs({{"kernel_shape", ints({3, 3})}});
  SECTION("plain with bias") {
    gradCheck("Conv", k3, randomInputs({{2, 2, 4, 4}, {3, 2, 3, 3}, {3}}));
  }
  SECTION("no bias") { gradCheck("Conv", {}, randomInputs({{1, 2, 4, 4}, {2, 2, 3, 3}})); }
  SECTION("strides and asymmetric pads") {
    gradCheck("Conv", attrs({{"strides", ints({2, 2})}, {"pads", ints({1, 0, 0, 1})}}),
              randomInputs({{1, 2, 5, 5}, {2, 2, 3, 3}, {2}}));
  }
  SECTION("dilations") {
    gradCheck("Conv", attrs({{"dilations", ints({2, 1})}, {"pads", ints({1, 1, 1, 1})}}),
              randomInputs({{1, 1, 5, 4}, {2, 1, 2, 2}, {2}}));
  }
  SECTION("groups") {
    gradCheck("Conv", attrs({{"group", one(2)}}), randomInputs({{1, 4, 4, 4}, {4, 2, 2, 2}, {4}}));
  }
  SECTION("depthwise, stride 2, pads") {
    gradCheck("Conv",
              attrs({{"group", one(3)}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}),
              randomInputs({{2, 3, 4, 4}, {3, 1, 3, 3}, {3}}));
  }
  SECTION("auto_pad SAME_UPPER, stride 2") {
    gradCheck("Conv", attrs({{"auto_pad", str("SAME_UPPER")}, {"strides", ints({2, 2})}}),
              randomInputs({{1, 2, 5, 4}, {2, 2, 2, 2}, {2}}));
  }
  SECTION("auto_pad SAME_LOWER") {
    gradCheck("Conv", attrs({{"auto_pad", str("SAME_LOWER")}}),
              randomInputs({{1, 1, 4, 4}, {2, 1, 2, 2}, {2}}));
  }
  SECTION("auto_pad VALID") {
    gradCheck("Conv", attrs({{"auto_pad", str("VALID")}, {"strides", ints({1, 2})}}),
              randomInputs({{1, 2, 4, 5}, {1, 2, 3, 2}}));
  }
  SECTION("1-D") {
    gradCheck("Conv",
              attrs({{"strides", ints({2})}, {"pads", ints({2, 1})}, {"dilations", ints({2})}}),
              randomInputs({{2, 2, 7}, {3, 2, 3}, {3}}));
  }
  SECTION("3-D") {
    gradCheck("Conv", attrs({{"pads", ints({1, 0, 0, 0, 1, 0})}}),
              randomInputs({{1, 2, 3, 3, 3}, {2, 2, 2, 2, 2}, {2}}));
  }
}

TEST_CASE("Conv backward: only the requested gradients are written", "[train]") {
  // X is a constant (no gradient buffer): W and B still get checked gradients.
  std::vector<Tensor> in = randomInputs({{2, 2, 4, 4}, {2, 1, 3, 3}, {2}});
  OneNode n = makeNode("Conv", attrs({{"group", one(2)}, {"pads", ints({1, 1, 1, 1})}}), in);
  hq::train::testing::GradCheckOptions opt;
  opt.inputs = {1, 2};
  checkGradients(*n.node, in, opt);
}

TEST_CASE("Conv backward golden: 1-channel 3x3 input, 2x2 kernel", "[train]") {
  // X = 1..9 (row-major 3x3), W = [[1, 2], [3, 4]], dY = [[1, 0], [0, 2]].
  // dW[i][j] = X[i][j] * 1 + X[i + 1][j + 1] * 2; dX = W placed at (0,0) + 2 W at (1,1);
  // dB = sum dY = 3.
  std::vector<Tensor> in = {f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
                            f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1}, {0.5f})};
  OneNode n = makeNode("Conv", {}, in);
  std::vector<Tensor> g;
  REQUIRE(runBackward(*n.node, in, f32({1, 1, 2, 2}, {1, 0, 0, 2}), &g).isOk());
  checkValues(g[0], {1, 2, 0, 3, 6, 4, 0, 6, 8});
  checkValues(g[1], {11, 14, 20, 23});
  checkValues(g[2], {3});
}

TEST_CASE("Conv backward: no gradient flowing gives zeros", "[train]") {
  std::vector<Tensor> in = randomInputs({{1, 1, 3, 3}, {1, 1, 2, 2}});
  OneNode n = makeNode("Conv", {}, in);
  std::mt19937 rng(1);
  Tensor gx = randomFloats({1, 1, 3, 3}, 1, 2, rng);  // stale values, to be overwritten
  train::BackwardCall call{*n.node, {&in[0], &in[1]}, {nullptr}, {nullptr}, {&gx, nullptr}};
  REQUIRE(train::findBackward("Conv")(call).isOk());
  for (int64_t i = 0; i < gx.numel(); ++i) CHECK(gx.data<float>()[i] == 0.0f);
}

TEST_CASE("Conv backward errors name the node", "[train]") {
  std::vector<Tensor> in = randomInputs({{1, 1, 3, 3}, {1, 1, 2, 2}});
  OneNode n = makeNode("Conv", {}, in);
  std::vector<Tensor> g;
  SECTION("wrong-shaped output gradient") {
    Status s = runBackward(*n.node, in, Tensor(DType::kFloat32, {1, 1, 3, 3}), &g);
    REQUIRE_FALSE(s.isOk());
    CHECK(s.code() == ErrorCode::kShape);
    CHECK(s.message().find("bwnode") != std::string::npos);
    CHECK(s.message().find("[1, 1, 2, 2]") != std::string::npos);
  }
  SECTION("wrong-shaped input gradient buffer") {
    Tensor gy(DType::kFloat32, {1, 1, 2, 2});
    Tensor bad(DType::kFloat32, {1, 1, 2, 3});
    train::BackwardCall call{*n.node, {&in[0], &in[1]}, {nullptr}, {&gy}, {nullptr, &bad}};
    Status s = train::findBackward("Conv")(call);
    REQUIRE_FALSE(s.isOk());
    CHECK(s.message().find("bwnode") != std::string::npos);
    CHECK(s.message().find("input 1") != std::string::npos);
  }
  SECTION("channels that do not fit the group") {
    std::vector<Tensor> bad = randomInputs({{1, 3, 3, 3}, {2, 2, 2, 2}});
    OneNode m = makeNode("Conv", attrs({{"group", one(2)}}), bad);
    Status s = runBackward(*m.node, bad, Tensor(DType::kFloat32, {1, 2, 2, 2}), &g);
    REQUIRE_FALSE(s.isOk());
    CHECK(s.message().find("bwnode") != std::string::npos);
  }
}

// ---------------------------------------------------------------- ConvTranspose

TEST_CASE("ConvTranspose backward gradient checks", "[train]") {
  SECTION("plain with bias") {
    gradCheck("ConvTranspose", {}, randomInputs({{2, 2, 3, 3}, {2, 3, 2, 2}, {3}}));
  }
  SECTION("no bias, stride 2, pads") {
    gradCheck("ConvTranspose", attrs({{"strides", ints({2, 2})}, {"pads", ints({1, 0, 1, 1})}}),
              randomInputs({{1, 2, 3, 3}, {2, 2, 3, 3}}));
  }
  SECTION("output_padding") {
    gradCheck("ConvTranspose", attrs({{"strides", ints({2, 2})}, {"output_padding", ints({1, 0})}}),
              randomInputs({{1, 1, 2, 3}, {1, 2, 2, 2}, {2}}));
  }
  SECTION("groups") {
    gradCheck("ConvTranspose", attrs({{"group", one(2)}}),
              randomInputs({{1, 4, 3, 3}, {4, 1, 2, 2}, {2}}));
  }
  SECTION("dilations") {
    gradCheck("ConvTranspose", attrs({{"dilations", ints({2, 2})}}),
              randomInputs({{1, 1, 3, 2}, {1, 2, 2, 2}, {2}}));
  }
  SECTION("auto_pad SAME_UPPER, stride 2") {
    gradCheck("ConvTranspose", attrs({{"auto_pad", str("SAME_UPPER")}, {"strides", ints({2, 2})}}),
              randomInputs({{1, 1, 2, 3}, {1, 2, 3, 3}, {2}}));
  }
  SECTION("auto_pad SAME_LOWER") {
    gradCheck("ConvTranspose", attrs({{"auto_pad", str("SAME_LOWER")}, {"strides", ints({2, 1})}}),
              randomInputs({{1, 2, 2, 3}, {2, 1, 3, 2}, {1}}));
  }
  SECTION("3-D, group 2") {
    gradCheck("ConvTranspose", attrs({{"group", one(2)}, {"strides", ints({1, 2, 1})}}),
              randomInputs({{1, 2, 2, 2, 2}, {2, 1, 2, 2, 2}, {2}}));
  }
  SECTION("output_shape") {
    gradCheck("ConvTranspose", attrs({{"strides", ints({2, 2})}, {"output_shape", ints({6, 5})}}),
              randomInputs({{1, 1, 3, 3}, {1, 1, 3, 3}}));
  }
  SECTION("1-D") {
    gradCheck("ConvTranspose", attrs({{"strides", ints({3})}, {"pads", ints({1, 2})}}),
              randomInputs({{2, 2, 4}, {2, 2, 4}, {2}}));
  }
}

TEST_CASE("ConvTranspose backward golden: 2x2 input, 2x2 kernel", "[train]") {
  // Y[a + k] += X[a] W[k]. dY = 1..9 (3x3): dX[a] = sum_k W[k] dY[a + k];
  // X = [[1, 0], [0, 1]]: dW[k] = dY[k] + dY[k + (1, 1)].
  std::vector<Tensor> in = {f32({1, 1, 2, 2}, {1, 0, 0, 1}), f32({1, 1, 2, 2}, {1, 2, 3, 4}),
                            f32({1}, {0})};
  OneNode n = makeNode("ConvTranspose", {}, in);
  std::vector<Tensor> g;
  REQUIRE(runBackward(*n.node, in, f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), &g).isOk());
  checkValues(g[0], {37, 47, 67, 77});
  checkValues(g[1], {6, 8, 12, 14});
  checkValues(g[2], {45});
}

TEST_CASE("ConvTranspose backward: wrong-shaped gradient names the node", "[train]") {
  std::vector<Tensor> in = randomInputs({{1, 1, 2, 2}, {1, 1, 2, 2}});
  OneNode n = makeNode("ConvTranspose", {}, in);
  std::vector<Tensor> g;
  Status s = runBackward(*n.node, in, Tensor(DType::kFloat32, {1, 1, 2, 2}), &g);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message().find("ConvTranspose 'bwnode'") != std::string::npos);
  CHECK(s.message().find("[1, 1, 3, 3]") != std::string::npos);
}

// ---------------------------------------------------------------- Gemm

TEST_CASE("Gemm backward gradient checks", "[train]") {
  SECTION("no C") { gradCheck("Gemm", {}, randomInputs({{3, 4}, {4, 2}})); }
  SECTION("C [M, N]") { gradCheck("Gemm", {}, randomInputs({{3, 4}, {4, 2}, {3, 2}})); }
  SECTION("C [N], transB") {
    gradCheck("Gemm", attrs({{"transB", one(1)}}), randomInputs({{3, 4}, {2, 4}, {2}}));
  }
  SECTION("C [1, N], transA") {
    gradCheck("Gemm", attrs({{"transA", one(1)}}), randomInputs({{4, 3}, {4, 2}, {1, 2}}));
  }
  SECTION("C [M, 1], both transposed, alpha and beta") {
    gradCheck(
        "Gemm",
        attrs({{"transA", one(1)}, {"transB", one(1)}, {"alpha", flt(0.5f)}, {"beta", flt(-2.0f)}}),
        randomInputs({{4, 3}, {2, 4}, {3, 1}}));
  }
  SECTION("C [1] and scalar C") {
    gradCheck("Gemm", attrs({{"beta", flt(3.0f)}}), randomInputs({{2, 3}, {3, 2}, {1}}));
    gradCheck("Gemm", attrs({{"alpha", flt(2.0f)}}), randomInputs({{2, 3}, {3, 2}, {}}));
  }
}

TEST_CASE("Gemm backward golden", "[train]") {
  // Y = 2 * A B + 0.5 * C, A = [1, 2], B = [3, 4]^T, dY = [[1]]:
  // dA = 2 B^T = [6, 8], dB = 2 A^T = [2, 4], dC = 0.5.
  std::vector<Tensor> in = {f32({1, 2}, {1, 2}), f32({2, 1}, {3, 4}), f32({1}, {7})};
  OneNode n = makeNode("Gemm", attrs({{"alpha", flt(2.0f)}, {"beta", flt(0.5f)}}), in);
  std::vector<Tensor> g;
  REQUIRE(runBackward(*n.node, in, f32({1, 1}, {1}), &g).isOk());
  checkValues(g[0], {6, 8});
  checkValues(g[1], {2, 4});
  checkValues(g[2], {0.5f});
  // C [M, N] = [2, 2] broadcast from [2] (columns): dC[n] = beta * sum_m dY[m, n].
  std::vector<Tensor> in2 = {f32({2, 1}, {1, 2}), f32({1, 2}, {1, 1}), f32({2}, {0, 0})};
  OneNode n2 = makeNode("Gemm", attrs({{"beta", flt(0.5f)}}), in2);
  REQUIRE(runBackward(*n2.node, in2, f32({2, 2}, {1, 2, 3, 4}), &g).isOk());
  checkValues(g[2], {2, 3});
  checkValues(g[0], {3, 7});
  checkValues(g[1], {7, 10});
}

TEST_CASE("Gemm backward: wrong-shaped gradient names the node", "[train]") {
  std::vector<Tensor> in = randomInputs({{2, 3}, {3, 4}});
  OneNode n = makeNode("Gemm", {}, in);
  std::vector<Tensor> g;
  Status s = runBackward(*n.node, in, Tensor(DType::kFloat32, {2, 3}), &g);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message().find("Gemm 'bwnode'") != std::string::npos);
  CHECK(s.message().find("[2, 4]") != std::string::npos);
}

// ---------------------------------------------------------------- MatMul

TEST_CASE("MatMul backward gradient checks", "[train]") {
  SECTION("2-D") { gradCheck("MatMul", {}, randomInputs({{3, 4}, {4, 2}})); }
  SECTION("batched") { gradCheck("MatMul", {}, randomInputs({{2, 3, 2}, {2, 2, 3}})); }
  SECTION("batch broadcasting both ways") {
    gradCheck("MatMul", {}, randomInputs({{2, 1, 2, 3}, {3, 3, 2}}));
  }
  SECTION("3-D times 2-D") { gradCheck("MatMul", {}, randomInputs({{2, 3, 4}, {4, 2}})); }
  SECTION("1-D times 3-D") { gradCheck("MatMul", {}, randomInputs({{3}, {2, 3, 2}})); }
  SECTION("2-D times 1-D") { gradCheck("MatMul", {}, randomInputs({{2, 3}, {3}})); }
  SECTION("1-D times 1-D") { gradCheck("MatMul", {}, randomInputs({{4}, {4}})); }
}

TEST_CASE("MatMul backward golden", "[train]") {
  // A = [1, 2] (1-D), B = [[1, 2], [3, 4]], dY = [1, 1]: dA = B row sums = [3, 7],
  // dB[k][n] = A[k] dY[n] = [[1, 1], [2, 2]].
  std::vector<Tensor> in = {f32({2}, {1, 2}), f32({2, 2}, {1, 2, 3, 4})};
  OneNode n = makeNode("MatMul", {}, in);
  std::vector<Tensor> g;
  REQUIRE(runBackward(*n.node, in, f32({2}, {1, 1}), &g).isOk());
  checkValues(g[0], {3, 7});
  checkValues(g[1], {1, 1, 2, 2});
  // B broadcast over a batch of 2: dB sums both batches. A = [[1]], [[2]] ([2, 1, 1]),
  // B = [[5]] ([1, 1]), dY = [[[3]], [[4]]]: dB = 1 * 3 + 2 * 4 = 11, dA = [15, 20].
  std::vector<Tensor> in2 = {f32({2, 1, 1}, {1, 2}), f32({1, 1}, {5})};
  OneNode n2 = makeNode("MatMul", {}, in2);
  REQUIRE(runBackward(*n2.node, in2, f32({2, 1, 1}, {3, 4}), &g).isOk());
  checkValues(g[0], {15, 20});
  checkValues(g[1], {11});
}

TEST_CASE("MatMul backward: wrong-shaped gradient names the node", "[train]") {
  std::vector<Tensor> in = randomInputs({{2, 3, 4}, {4, 5}});
  OneNode n = makeNode("MatMul", {}, in);
  std::vector<Tensor> g;
  Status s = runBackward(*n.node, in, Tensor(DType::kFloat32, {3, 5}), &g);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message().find("MatMul 'bwnode'") != std::string::npos);
  CHECK(s.message().find("[2, 3, 5]") != std::string::npos);
}
