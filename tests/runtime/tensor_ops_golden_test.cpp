// Slice, Transpose, Gather and Resize against numpy / onnx-reference goldens
// (tests/fixtures/kernels_elementwise/gen_goldens.py -> goldens_tensor_ops.inc).
#include "runtime/elementwise_test_util.h"

#include <numeric>

using namespace hq;
using namespace hq::testing;

namespace {

struct SliceGolden {
  Shape shape;
  std::vector<int64_t> starts, ends, axes, steps;
  Shape outShape;
  std::vector<float> output;
};

struct TransposeGolden {
  Shape shape;
  std::vector<int64_t> perm;  ///< empty: the default (reversed)
  Shape outShape;
  std::vector<float> output;
};

struct GatherGolden {
  Shape shape;
  Shape indexShape;
  std::vector<int64_t> indices;
  int64_t axis;
  Shape outShape;
  std::vector<float> output;
};

struct ResizeGolden {
  const char* mode;
  const char* coord;
  const char* nearestMode;
  float cubicA;
  int excludeOutside;
  float extrapolation;
  Shape shape;
  std::vector<float> input;
  std::vector<float> roi, scales;
  std::vector<int64_t> sizes;
  Shape outShape;
  std::vector<float> output;
};

#include "fixtures/kernels_elementwise/goldens_tensor_ops.inc"

Tensor arange(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shapeNumel(s)));
  std::iota(v.begin(), v.end(), 0.0f);
  return floats(s, v);
}

}  // namespace

TEST_CASE("Slice matches numpy (negative steps, clamping, negative axes)", "[tensor_ops][golden]") {
  REQUIRE(kSliceGoldens.size() == 7);
  for (const auto& g : kSliceGoldens) {
    INFO("shape " << shapeString(g.shape) << " starts " << shapeString(g.starts) << " ends "
                  << shapeString(g.ends) << " axes " << shapeString(g.axes) << " steps "
                  << shapeString(g.steps));
    Tensor x = arange(g.shape);
    const int64_t n = static_cast<int64_t>(g.starts.size());
    Tensor starts = int64s({n}, g.starts), ends = int64s({n}, g.ends);
    Tensor axes = int64s({n}, g.axes), steps = int64s({n}, g.steps);
    auto r = runOp("Slice", {&x, &starts, &ends, &axes, &steps});
    REQUIRE(r.isOk());
    checkClose((*r)[0], g.outShape, g.output, 0, 0);
    // int32 parameters give the same result.
    std::vector<int32_t> s32, e32;
    for (int64_t v : g.starts)
      s32.push_back(static_cast<int32_t>(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX)));
    for (int64_t v : g.ends)
      e32.push_back(static_cast<int32_t>(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX)));
    Tensor s32t = Tensor::fromVector<int32_t>({n}, s32),
           e32t = Tensor::fromVector<int32_t>({n}, e32);
    auto r32 = runOp("Slice", {&x, &s32t, &e32t, &axes, &steps});
    REQUIRE(r32.isOk());
    checkClose((*r32)[0], g.outShape, g.output, 0, 0);
  }
}

TEST_CASE("Transpose matches numpy", "[tensor_ops][golden]") {
  REQUIRE(kTransposeGoldens.size() == 5);
  for (const auto& g : kTransposeGoldens) {
    INFO("shape " << shapeString(g.shape) << " perm " << shapeString(g.perm));
    Tensor x = arange(g.shape);
    Attributes a;
    if (!g.perm.empty()) a.set("perm", Attribute::ofInts(g.perm));
    auto r = runOp("Transpose", {&x}, a);
    REQUIRE(r.isOk());
    checkClose((*r)[0], g.outShape, g.output, 0, 0);
  }
}

TEST_CASE("Gather matches numpy.take (negative and 2-D indices)", "[tensor_ops][golden]") {
  REQUIRE(kGatherGoldens.size() == 4);
  for (const auto& g : kGatherGoldens) {
    INFO("shape " << shapeString(g.shape) << " axis " << g.axis);
    Tensor x = arange(g.shape);
    Tensor idx = int64s(g.indexShape, g.indices);
    auto r = runOp("Gather", {&x, &idx}, attrs({{"axis", Attribute::ofInt(g.axis)}}));
    REQUIRE(r.isOk());
    checkClose((*r)[0], g.outShape, g.output, 0, 0);
  }
}

TEST_CASE("Resize matches the ONNX reference interpolation", "[tensor_ops][golden][resize]") {
  REQUIRE(kResizeGoldens.size() == 16);
  for (const auto& g : kResizeGoldens) {
    INFO(g.mode << " " << g.coord << " " << g.nearestMode << " A=" << g.cubicA
                << " exclude=" << g.excludeOutside << " in " << shapeString(g.shape));
    Attributes a = attrs({{"mode", Attribute::ofString(g.mode)},
                          {"coordinate_transformation_mode", Attribute::ofString(g.coord)},
                          {"nearest_mode", Attribute::ofString(g.nearestMode)},
                          {"cubic_coeff_a", Attribute::ofFloat(g.cubicA)},
                          {"exclude_outside", Attribute::ofInt(g.excludeOutside)},
                          {"extrapolation_value", Attribute::ofFloat(g.extrapolation)}});
    Tensor x = floats(g.shape, g.input);
    Tensor roi = floats({static_cast<int64_t>(g.roi.size())}, g.roi);
    Tensor scales = floats({static_cast<int64_t>(g.scales.size())}, g.scales);
    Tensor sizes = int64s({static_cast<int64_t>(g.sizes.size())}, g.sizes);
    // opset 13 form: scales XOR sizes; roi only when cropping.
    auto r = g.sizes.empty()
                 ? runOp("Resize", {&x, g.roi.empty() ? nullptr : &roi, &scales}, a)
                 : runOp("Resize", {&x, g.roi.empty() ? nullptr : &roi, nullptr, &sizes}, a);
    REQUIRE(r.isOk());
    checkClose((*r)[0], g.outShape, g.output, 1e-5, 1e-5);
    if (!g.sizes.empty()) {
      // opset 11 form: an empty scales placeholder next to sizes.
      Tensor empty = floats({0}, {});
      auto r11 = runOp("Resize", {&x, &roi, &empty, &sizes}, a);
      REQUIRE(r11.isOk());
      checkClose((*r11)[0], g.outShape, g.output, 1e-5, 1e-5);
    }
  }
}
