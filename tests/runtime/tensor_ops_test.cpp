// Data movement and shape arithmetic: hand-computed cases, shape inference with constant
// and unknown inputs (dynamic batch), and error messages.
#include "runtime/elementwise_test_util.h"

#include <limits>

using namespace hq;
using namespace hq::testing;

TEST_CASE("Concat along an axis, negative axis too", "[tensor_ops]") {
  Tensor a = floats({2, 1}, {1, 2}), b = floats({2, 2}, {3, 4, 5, 6});
  auto r = runOp("Concat", {&a, &b}, attrs({{"axis", Attribute::ofInt(-1)}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {2, 3}, {1, 3, 4, 2, 5, 6});
  Tensor c = floats({1, 2}, {7, 8});
  auto r0 = runOp("Concat", {&b, &c}, attrs({{"axis", Attribute::ofInt(0)}}));
  REQUIRE(r0.isOk());
  checkClose((*r0)[0], {3, 2}, {3, 4, 5, 6, 7, 8});
}

TEST_CASE("Concat shape inference: dynamic batch and mismatches", "[tensor_ops]") {
  Attributes axis1 = attrs({{"axis", Attribute::ofInt(1)}});
  auto r = inferOp("Concat", {info(DType::kFloat32, {-1, 3, 8}), info(DType::kFloat32, {-1, 5, 8})},
                   axis1);
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape == Shape{-1, 8, 8});
  auto bad = inferOp("Concat", {info(DType::kFloat32, {1, 3, 8}), info(DType::kFloat32, {1, 5, 7})},
                     axis1);
  REQUIRE(!bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("[1, 5, 7]") && Catch::Contains("[1, 3, 8]"));
  auto axis =
      inferOp("Concat", {info(DType::kFloat32, {1, 3})}, attrs({{"axis", Attribute::ofInt(2)}}));
  REQUIRE(!axis.isOk());
  CHECK_THAT(axis.status().message(), Catch::Contains("axis 2 is out of range for rank 2"));
}

TEST_CASE("Split by attribute, by input, equally and unevenly", "[tensor_ops]") {
  Tensor x = floats({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Attributes a1 = attrs({{"axis", Attribute::ofInt(1)}, {"split", Attribute::ofInts({2, 3})}});
  auto r = runOp("Split", {&x}, a1, 2);
  REQUIRE(r.isOk());
  checkClose((*r)[0], {2, 2}, {0, 1, 5, 6});
  checkClose((*r)[1], {2, 3}, {2, 3, 4, 7, 8, 9});

  Tensor split = int64s({3}, {1, 0, 4});
  auto r13 = runOp("Split", {&x, &split}, attrs({{"axis", Attribute::ofInt(-1)}}), 3);
  REQUIRE(r13.isOk());
  checkClose((*r13)[0], {2, 1}, {0, 5});
  CHECK((*r13)[1].shape() == Shape{2, 0});
  checkClose((*r13)[2], {2, 4}, {1, 2, 3, 4, 6, 7, 8, 9});

  auto eq = runOp("Split", {&x}, {}, 2);
  REQUIRE(eq.isOk());
  checkClose((*eq)[0], {1, 5}, {0, 1, 2, 3, 4});
  checkClose((*eq)[1], {1, 5}, {5, 6, 7, 8, 9});

  // opset 18: 5 into 3 parts -> 2, 2, 1.
  auto uneven =
      runOp("Split", {&x},
            attrs({{"axis", Attribute::ofInt(1)}, {"num_outputs", Attribute::ofInt(3)}}), 3);
  REQUIRE(uneven.isOk());
  checkClose((*uneven)[2], {2, 1}, {4, 9});
}

TEST_CASE("Split errors and unknown split sizes", "[tensor_ops]") {
  Tensor split = int64s({2}, {2, 2});
  auto sum =
      inferOp("Split", {info(DType::kFloat32, {5}), info(DType::kInt64, {2}, &split)}, {}, 2);
  REQUIRE(!sum.isOk());
  CHECK_THAT(sum.status().message(), Catch::Contains("sums to 4") && Catch::Contains("size 5"));
  auto n = inferOp("Split", {info(DType::kFloat32, {5})},
                   attrs({{"num_outputs", Attribute::ofInt(3)}}), 2);
  REQUIRE(!n.isOk());
  CHECK_THAT(n.status().message(), Catch::Contains("num_outputs=3"));
  auto dyn = inferOp("Split", {info(DType::kFloat32, {-1, 6}), info(DType::kInt64, {2})},
                     attrs({{"axis", Attribute::ofInt(1)}}), 2);
  REQUIRE(dyn.isOk());
  CHECK((*dyn)[0].shape == Shape{-1, -1});
  auto eq =
      inferOp("Split", {info(DType::kFloat32, {-1, 6})}, attrs({{"axis", Attribute::ofInt(1)}}), 3);
  REQUIRE(eq.isOk());
  CHECK((*eq)[2].shape == Shape{-1, 2});
}

TEST_CASE("Slice: attribute form (opset < 10), defaults, INT64 ends", "[tensor_ops]") {
  Tensor x = floats({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  auto r = runOp("Slice", {&x},
                 attrs({{"starts", Attribute::ofInts({1})},
                        {"ends", Attribute::ofInts({std::numeric_limits<int64_t>::max()})},
                        {"axes", Attribute::ofInts({1})}}));
  REQUIRE(r.isOk());
  checkClose((*r)[0], {2, 3}, {1, 2, 3, 5, 6, 7});
  // No axes, no steps: the first axes, step 1.
  Tensor s = int64s({1}, {1}), e = int64s({1}, {2});
  auto d = runOp("Slice", {&x, &s, &e});
  REQUIRE(d.isOk());
  checkClose((*d)[0], {1, 4}, {4, 5, 6, 7});
  // Reverse everything with INT64_MIN as end.
  Tensor s2 = int64s({1}, {-1}), e2 = int64s({1}, {std::numeric_limits<int64_t>::min()});
  Tensor ax = int64s({1}, {1}), st = int64s({1}, {-1});
  auto rev = runOp("Slice", {&x, &s2, &e2, &ax, &st});
  REQUIRE(rev.isOk());
  checkClose((*rev)[0], {2, 4}, {3, 2, 1, 0, 7, 6, 5, 4});
}

TEST_CASE("Slice errors and unknown parameters", "[tensor_ops]") {
  Tensor x = floats({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor s = int64s({1}, {0}), e = int64s({1}, {2}), ax = int64s({1}, {2}), z = int64s({1}, {0});
  auto axis = runOp("Slice", {&x, &s, &e, &ax});
  REQUIRE(!axis.isOk());
  CHECK_THAT(axis.status().message(), Catch::Contains("axis 2 is out of range for rank 2"));
  Tensor ax1 = int64s({1}, {1});
  auto step = runOp("Slice", {&x, &s, &e, &ax1, &z});
  REQUIRE(!step.isOk());
  CHECK_THAT(step.status().message(), Catch::Contains("step of axis 1 is 0"));

  Tensor axes = int64s({1}, {2});
  auto unknown = inferOp("Slice", {info(DType::kFloat32, {-1, 3, 32, 32}), info(DType::kInt64, {1}),
                                   info(DType::kInt64, {1}), info(DType::kInt64, {1}, &axes)});
  REQUIRE(unknown.isOk());
  CHECK((*unknown)[0].shape == Shape{-1, 3, -1, 32});
  Tensor st = int64s({1}, {1}), en = int64s({1}, {3});
  auto batch =
      inferOp("Slice", {info(DType::kFloat32, {-1, 3, 32, 32}), info(DType::kInt64, {1}, &st),
                        info(DType::kInt64, {1}, &en), info(DType::kInt64, {1}, &axes)});
  REQUIRE(batch.isOk());
  CHECK((*batch)[0].shape == Shape{-1, 3, 2, 32});
}

TEST_CASE("Flatten at any axis keeps a dynamic batch", "[tensor_ops]") {
  auto r = inferOp("Flatten", {info(DType::kFloat32, {-1, 3, 4, 4})});
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape == Shape{-1, 48});
  auto r0 = inferOp("Flatten", {info(DType::kFloat32, {2, 3, 4})},
                    attrs({{"axis", Attribute::ofInt(0)}}));
  REQUIRE(r0.isOk());
  CHECK((*r0)[0].shape == Shape{1, 24});
  auto rn = inferOp("Flatten", {info(DType::kFloat32, {2, 3, 4})},
                    attrs({{"axis", Attribute::ofInt(-1)}}));
  REQUIRE(rn.isOk());
  CHECK((*rn)[0].shape == Shape{6, 4});
  auto bad =
      inferOp("Flatten", {info(DType::kFloat32, {2, 3})}, attrs({{"axis", Attribute::ofInt(3)}}));
  REQUIRE(!bad.isOk());
  Tensor x = floats({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto k = runOp("Flatten", {&x}, attrs({{"axis", Attribute::ofInt(2)}}));
  REQUIRE(k.isOk());
  checkClose((*k)[0], {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("Reshape: 0 copies, -1 infers, allowzero, dynamic batch", "[tensor_ops]") {
  Tensor x = floats({2, 3, 4}, std::vector<float>(24, 1.0f));
  auto shapeOf = [&](std::vector<int64_t> target, Shape in, int64_t allowzero = 0) {
    Tensor t = int64s({static_cast<int64_t>(target.size())}, target);
    auto r = inferOp(
        "Reshape",
        {info(DType::kFloat32, in), info(DType::kInt64, {static_cast<int64_t>(target.size())}, &t)},
        attrs({{"allowzero", Attribute::ofInt(allowzero)}}));
    REQUIRE(r.isOk());
    return (*r)[0].shape;
  };
  CHECK(shapeOf({2, 0, 1, -1}, {2, 3, 4}) == Shape{2, 3, 1, 4});
  CHECK(shapeOf({-1, 2, 3, 4}, {2, 3, 4}) == Shape{1, 2, 3, 4});
  CHECK(shapeOf({0, -1}, {-1, 64, 2, 2}) == Shape{-1, 256});
  CHECK(shapeOf({-1, 64}, {-1, 64, 2, 2}) == Shape{-1, 64});
  CHECK(shapeOf({3, 4, 0}, {0, 3, 4}, 1) == Shape{3, 4, 0});

  Tensor target = int64s({2}, {4, -1});
  auto r = runOp("Reshape", {&x, &target});
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape() == Shape{4, 6});

  Tensor two = int64s({2}, {-1, -1});
  auto bad = runOp("Reshape", {&x, &two});
  REQUIRE(!bad.isOk());
  CHECK(bad.status().code() == ErrorCode::kShape);
  CHECK_THAT(bad.status().message(), Catch::Contains("more than one -1"));
  Tensor wrong = int64s({2}, {5, 5});
  auto count = runOp("Reshape", {&x, &wrong});
  REQUIRE(!count.isOk());
  CHECK_THAT(count.status().message(), Catch::Contains("[2, 3, 4]") && Catch::Contains("[5, 5]"));
  Tensor nodiv = int64s({2}, {5, -1});
  CHECK(!runOp("Reshape", {&x, &nodiv}).isOk());

  auto unknown = inferOp("Reshape", {info(DType::kFloat32, {2, 3, 4}), info(DType::kInt64, {3})});
  REQUIRE(unknown.isOk());
  CHECK((*unknown)[0].shape == Shape{-1, -1, -1});
}

TEST_CASE("Transpose validates perm", "[tensor_ops]") {
  auto r = inferOp("Transpose", {info(DType::kFloat32, {-1, 3, 4})},
                   attrs({{"perm", Attribute::ofInts({0, 2, 1})}}));
  REQUIRE(r.isOk());
  CHECK((*r)[0].shape == Shape{-1, 4, 3});
  auto bad = inferOp("Transpose", {info(DType::kFloat32, {2, 3, 4})},
                     attrs({{"perm", Attribute::ofInts({0, 0, 1})}}));
  REQUIRE(!bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("[0, 0, 1]"));
  Tensor x = Tensor::fromVector<int64_t>({2, 2}, {1, 2, 3, 4});
  auto k = runOp("Transpose", {&x});
  REQUIRE(k.isOk());
  CHECK(values<int64_t>((*k)[0]) == std::vector<int64_t>{1, 3, 2, 4});
}

TEST_CASE("Squeeze and Unsqueeze with axes as attribute or input", "[tensor_ops]") {
  auto sq = inferOp("Squeeze", {info(DType::kFloat32, {1, 3, 1, 2})},
                    attrs({{"axes", Attribute::ofInts({-2})}}));
  REQUIRE(sq.isOk());
  CHECK((*sq)[0].shape == Shape{1, 3, 2});
  auto all = inferOp("Squeeze", {info(DType::kFloat32, {1, 3, 1, 2})});
  REQUIRE(all.isOk());
  CHECK((*all)[0].shape == Shape{3, 2});
  Tensor axes = int64s({1}, {1});
  auto bad = inferOp("Squeeze", {info(DType::kFloat32, {1, 3}), info(DType::kInt64, {1}, &axes)});
  REQUIRE(!bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("cannot squeeze axis 1 of size 3"));

  Tensor uaxes = int64s({2}, {-1, 0});
  auto un =
      inferOp("Unsqueeze", {info(DType::kFloat32, {-1, 3}), info(DType::kInt64, {2}, &uaxes)});
  REQUIRE(un.isOk());
  CHECK((*un)[0].shape == Shape{1, -1, 3, 1});
  auto una = inferOp("Unsqueeze", {info(DType::kFloat32, {3})},
                     attrs({{"axes", Attribute::ofInts({1, 1})}}));
  REQUIRE(!una.isOk());
  CHECK_THAT(una.status().message(), Catch::Contains("duplicate"));
  auto unk = inferOp("Unsqueeze", {info(DType::kFloat32, {3}), info(DType::kInt64, {2})});
  REQUIRE(unk.isOk());
  CHECK((*unk)[0].shape == Shape{-1, -1, -1});

  Tensor x = floats({2}, {5, 6});
  auto k = runOp("Unsqueeze", {&x, &uaxes});
  REQUIRE(k.isOk());
  checkClose((*k)[0], {1, 2, 1}, {5, 6});
}

TEST_CASE("Shape with start and end (clamped)", "[tensor_ops]") {
  Tensor x = floats({2, 3, 4}, std::vector<float>(24, 0.0f));
  auto all = runOp("Shape", {&x});
  REQUIRE(all.isOk());
  CHECK(values<int64_t>((*all)[0]) == std::vector<int64_t>{2, 3, 4});
  auto part =
      runOp("Shape", {&x}, attrs({{"start", Attribute::ofInt(-2)}, {"end", Attribute::ofInt(10)}}));
  REQUIRE(part.isOk());
  CHECK(values<int64_t>((*part)[0]) == std::vector<int64_t>{3, 4});
  auto none =
      runOp("Shape", {&x}, attrs({{"start", Attribute::ofInt(2)}, {"end", Attribute::ofInt(1)}}));
  REQUIRE(none.isOk());
  CHECK((*none)[0].numel() == 0);
}

TEST_CASE("Gather: int32 indices, any dtype, out-of-range error", "[tensor_ops]") {
  Tensor data = Tensor::fromVector<int64_t>({4}, {10, 20, 30, 40});
  Tensor idx = Tensor::fromVector<int32_t>({3}, {3, -4, 1});
  auto r = runOp("Gather", {&data, &idx});
  REQUIRE(r.isOk());
  CHECK(values<int64_t>((*r)[0]) == std::vector<int64_t>{40, 10, 20});
  Tensor scalar = Tensor::scalar<int64_t>(2);
  auto s = runOp("Gather", {&data, &scalar});
  REQUIRE(s.isOk());
  CHECK((*s)[0].rank() == 0);
  CHECK(values<int64_t>((*s)[0]) == std::vector<int64_t>{30});
  Tensor oob = Tensor::fromVector<int64_t>({1}, {4});
  auto bad = runOp("Gather", {&data, &oob});
  REQUIRE(!bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("index 4") && Catch::Contains("[-4, 4)"));
  Tensor fidx = floats({1}, {0});
  CHECK(!runOp("Gather", {&data, &fidx}).isOk());
}

TEST_CASE("Cast between float, integer and bool types", "[tensor_ops]") {
  Tensor x = floats({6}, {-1.7f, 2.9f, 300.0f, -1.0f, 0.0f, std::nanf("")});
  auto to = [&](DType t) {
    auto r = runOp("Cast", {&x}, attrs({{"to", Attribute::ofInt(static_cast<int64_t>(t))}}));
    REQUIRE(r.isOk());
    REQUIRE((*r)[0].dtype() == t);
    return (*r)[0];
  };
  CHECK(values<int32_t>(to(DType::kInt32)) == std::vector<int32_t>{-1, 2, 300, -1, 0, 0});
  CHECK(values<uint8_t>(to(DType::kUInt8)) == std::vector<uint8_t>{255, 2, 44, 255, 0, 0});
  CHECK(values<bool>(to(DType::kBool)) == std::vector<bool>{true, true, true, true, false, true});
  auto d = values<double>(to(DType::kFloat64));
  CHECK(d[0] == static_cast<double>(-1.7f));

  Tensor b = Tensor::fromVector<bool>({2}, {true, false});
  auto bf = runOp("Cast", {&b}, attrs({{"to", Attribute::ofInt(1)}}));
  REQUIRE(bf.isOk());
  checkClose((*bf)[0], {2}, {1, 0});
  auto bad = runOp("Cast", {&x}, attrs({{"to", Attribute::ofInt(8)}}));  // string
  REQUIRE(!bad.isOk());
  CHECK(bad.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(bad.status().message(), Catch::Contains("to=8"));
}

TEST_CASE("Identity, Dropout (inference) and Constant", "[tensor_ops]") {
  Tensor x = floats({2}, {1.5f, -2});
  auto id = runOp("Identity", {&x});
  REQUIRE(id.isOk());
  checkClose((*id)[0], {2}, {1.5f, -2});

  Tensor ratio = Tensor::scalar<float>(0.3f);
  auto dr = runOp("Dropout", {&x, &ratio}, {}, 2);
  REQUIRE(dr.isOk());
  checkClose((*dr)[0], {2}, {1.5f, -2});
  REQUIRE((*dr)[1].dtype() == DType::kBool);
  CHECK(values<bool>((*dr)[1]) == std::vector<bool>{true, true});
  Tensor train = Tensor::scalar<bool>(true);
  auto tr = runOp("Dropout", {&x, &ratio, &train});
  REQUIRE(!tr.isOk());
  CHECK(tr.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(tr.status().message(), Catch::Contains("training_mode"));
  Tensor zero = Tensor::scalar<float>(0.0f);
  CHECK(runOp("Dropout", {&x, &zero, &train}).isOk());

  auto c = runOp("Constant", {}, attrs({{"value", Attribute::ofTensor(int64s({2}, {7, 8}))}}));
  REQUIRE(c.isOk());
  CHECK(values<int64_t>((*c)[0]) == std::vector<int64_t>{7, 8});
  auto cf = runOp("Constant", {}, attrs({{"value_floats", Attribute::ofFloats({0.5f, 2})}}));
  REQUIRE(cf.isOk());
  checkClose((*cf)[0], {2}, {0.5f, 2});
  auto ci = runOp("Constant", {}, attrs({{"value_int", Attribute::ofInt(3)}}));
  REQUIRE(ci.isOk());
  CHECK((*ci)[0].rank() == 0);
  CHECK(values<int64_t>((*ci)[0]) == std::vector<int64_t>{3});
  auto none = runOp("Constant", {});
  REQUIRE(!none.isOk());
}

TEST_CASE("Cast to and from float16 rounds to nearest even", "[tensor_ops]") {
  // Bits from numpy: np.array(x, np.float32).astype(np.float16).view(np.uint16).
  const float third = 1.0f / 3.0f;
  Tensor x = floats({12}, {1.0f, 65504.0f, 65520.0f, third, std::ldexp(1.0f, -24),
                           std::ldexp(1.0f, -25), 3 * std::ldexp(1.0f, -25), -2.0f,
                           1 + std::ldexp(1.0f, -11), 1 + 3 * std::ldexp(1.0f, -11), 0.1f, 1e-6f});
  auto r = runOp("Cast", {&x}, attrs({{"to", Attribute::ofInt(10)}}));
  REQUIRE(r.isOk());
  REQUIRE((*r)[0].dtype() == DType::kFloat16);
  const uint16_t* h = static_cast<const uint16_t*>((*r)[0].raw());
  CHECK(std::vector<uint16_t>(h, h + 12) == std::vector<uint16_t>{0x3c00, 0x7bff, 0x7c00, 0x3555,
                                                                  0x1, 0x0, 0x2, 0xc000, 0x3c00,
                                                                  0x3c02, 0x2e66, 0x11});

  Tensor half(DType::kFloat16, {4});
  uint16_t* hb = static_cast<uint16_t*>(half.raw());
  hb[0] = 0x3c00;
  hb[1] = 0x0001;
  hb[2] = 0xfbff;
  hb[3] = 0x3555;
  auto back = runOp("Cast", {&half}, attrs({{"to", Attribute::ofInt(1)}}));
  REQUIRE(back.isOk());
  checkClose((*back)[0], {4}, {1.0f, 5.960464477539063e-08f, -65504.0f, 0.333251953125f}, 0, 0);
}
