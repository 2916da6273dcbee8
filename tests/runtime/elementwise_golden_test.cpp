// Softmax and broadcasting binary ops against numpy goldens
// (tests/fixtures/kernels_elementwise/gen_goldens.py -> goldens_elementwise.inc).
#include "runtime/elementwise_test_util.h"

using namespace hq;
using namespace hq::testing;

namespace {

struct SoftmaxGolden {
  Shape shape;
  std::vector<float> input;
  int64_t axis;
  std::vector<float> output;
};

struct BinaryGolden {
  const char* op;
  Shape aShape;
  std::vector<float> a;
  Shape bShape;
  std::vector<float> b;
  Shape outShape;
  std::vector<float> output;
};

#include "fixtures/kernels_elementwise/goldens_elementwise.inc"

}  // namespace

TEST_CASE("Softmax matches numpy along any axis", "[elementwise][golden]") {
  REQUIRE(kSoftmaxGoldens.size() == 4);
  for (const auto& g : kSoftmaxGoldens) {
    INFO("shape " << shapeString(g.shape) << " axis " << g.axis);
    Tensor x = floats(g.shape, g.input);
    auto r = runOp("Softmax", {&x}, attrs({{"axis", Attribute::ofInt(g.axis)}}));
    REQUIRE(r.isOk());
    checkClose((*r)[0], g.shape, g.output, 1e-5, 1e-7);
  }
}

TEST_CASE("Binary ops broadcast like numpy", "[elementwise][golden]") {
  REQUIRE(kBinaryGoldens.size() == 7);
  for (const auto& g : kBinaryGoldens) {
    INFO(g.op << " " << shapeString(g.aShape) << " with " << shapeString(g.bShape));
    Tensor a = floats(g.aShape, g.a), b = floats(g.bShape, g.b);
    auto r = runOp(g.op, {&a, &b});
    REQUIRE(r.isOk());
    checkClose((*r)[0], g.outShape, g.output);
  }
}
