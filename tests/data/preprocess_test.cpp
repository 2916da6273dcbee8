// Preprocessing steps against hand-computed values, and the portable PRNG against an
// independent Python implementation (tests/fixtures/datasets/make_fixtures.py).
#include <catch2/catch.hpp>

#include "data/preprocess.h"
#include "data/random.h"

using namespace hq;

namespace {
Image image(int64_t c, int64_t h, int64_t w, std::vector<float> values) {
  Image im;
  im.resize(c, h, w);
  im.data = std::move(values);
  return im;
}
Step normalize128() {
  Step s;
  s.op = StepOp::kNormalize;
  s.offset = {128};
  s.scale = {0.0078125f};
  return s;
}
Step pad(int64_t p, float fill = 0) {
  Step s;
  s.op = StepOp::kPad;
  s.padTop = s.padBottom = s.padLeft = s.padRight = p;
  s.fill = fill;
  return s;
}
Status run(std::vector<Step> steps, Image* im) {
  Image scratch;
  return applySteps(steps, im, &scratch, "test");
}
}  // namespace

TEST_CASE("normalize is (x - 128) / 128 on 0..255 pixels") {
  Image im = image(1, 1, 5, {0, 64, 128, 255, 1});
  REQUIRE(run({normalize128()}, &im).isOk());
  CHECK(im.data == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.9921875f, -0.9921875f});
}

TEST_CASE("per-channel normalize uses one offset and scale per channel") {
  Step s;
  s.op = StepOp::kNormalize;
  s.offset = {10, 20};
  s.scale = {0.5f, 2.0f};
  Image im = image(2, 1, 2, {10, 14, 20, 21});
  REQUIRE(run({s}, &im).isOk());
  CHECK(im.data == std::vector<float>{0, 2, 0, 2});
  Image three = image(3, 1, 1, {1, 2, 3});
  auto st = run({s}, &three);
  REQUIRE_FALSE(st.isOk());
  CHECK(st.message().find("2 offsets for a 3-channel image") != std::string::npos);
}

TEST_CASE("pad 28x28 to 32x32 with zeros before normalize gives -1.0 borders, then 3 channels") {
  Image im;
  im.resize(1, 28, 28);
  for (size_t i = 0; i < im.data.size(); ++i) im.data[i] = static_cast<float>(i % 256);
  Step rep;
  rep.op = StepOp::kReplicateChannels;
  rep.channels = 3;
  auto shape = stepsOutputShape({pad(2), rep, normalize128()}, {1, 28, 28}, "t");
  REQUIRE(shape.isOk());
  CHECK(*shape == Shape{3, 32, 32});
  REQUIRE(run({pad(2), rep, normalize128()}, &im).isOk());
  REQUIRE(im.shape() == Shape{3, 32, 32});
  for (int c = 0; c < 3; ++c) {
    const float* p = im.data.data() + c * 32 * 32;
    CHECK(p[0] == -1.0f);                         // corner: padding
    CHECK(p[1 * 32 + 31] == -1.0f);               // right border
    CHECK(p[2 * 32 + 2] == -1.0f);                // first pixel: value 0 -> -1
    CHECK(p[2 * 32 + 3] == (1 - 128) / 128.0f);   // second pixel: value 1
    CHECK(p[3 * 32 + 2] == (28 - 128) / 128.0f);  // row 1, col 0: value 28
    CHECK(p[31 * 32 + 31] == -1.0f);
  }
}

TEST_CASE("edge padding repeats the border") {
  Step s = pad(1);
  s.padEdge = true;
  Image im = image(1, 1, 2, {5, 7});
  REQUIRE(run({s}, &im).isOk());
  CHECK(im.data == std::vector<float>{5, 5, 7, 7, 5, 5, 7, 7, 5, 5, 7, 7});
}

TEST_CASE("rgb_to_centered_yuv444 matches hand-computed BT.601 values") {
  // Studio swing, e.g. red: Y = trunc((66*255 + 128)/256 + 16) - 128 = trunc(82.24) - 128 = -46,
  // U = trunc((-38*255 + 128)/256 + 128) - 128 = trunc(90.65) - 128 = -38,
  // V = trunc((112*255 + 128)/256 + 128) - 128 = trunc(240.06) - 128 = 112.
  struct Case {
    float r, g, b;
    float y, u, v;
    bool full;
  };
  const Case cases[] = {
      {255, 255, 255, 107, 0, 0, false}, {0, 0, 0, -112, 0, 0, false},
      {255, 0, 0, -46, -38, 112, false}, {10, 200, 30, -6, -46, -71, false},
      {0, 0, 255, -87, 112, -18, false}, {255, 255, 255, 127, 0, 0, true},
      {0, 0, 0, -128, 0, 0, true},       {255, 0, 0, -51, -43, 127, true},
  };
  for (const Case& c : cases) {
    float y, u, v;
    rgbToCenteredYuv(c.r, c.g, c.b, c.full, &y, &u, &v);
    INFO(c.r << "," << c.g << "," << c.b << (c.full ? " full" : " studio"));
    CHECK(y == c.y);
    CHECK(u == c.u);
    CHECK(v == c.v);
  }
  // As a step on a CHW image of two pixels (red, then (10, 200, 30)).
  Step s;
  s.op = StepOp::kRgbToCenteredYuv444;
  Image im = image(3, 1, 2, {255, 10, 0, 200, 0, 30});
  REQUIRE(run({s}, &im).isOk());
  CHECK(im.data == std::vector<float>{-46, -6, -38, -46, 112, -71});
  Image gray = image(1, 1, 1, {3});
  CHECK_FALSE(run({s}, &gray).isOk());
}

TEST_CASE("resize: bilinear with half-pixel centers and nearest") {
  Step s;
  s.op = StepOp::kResize;
  s.height = 1;
  s.width = 4;
  // Source x = (d + 0.5) * 2/4 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  Image im = image(1, 1, 2, {0, 100});
  REQUIRE(run({s}, &im).isOk());
  CHECK(im.data == std::vector<float>{0, 25, 75, 100});
  s.nearest = true;
  Image im2 = image(1, 1, 2, {0, 100});
  REQUIRE(run({s}, &im2).isOk());
  CHECK(im2.data == std::vector<float>{0, 0, 100, 100});
  // 2x2 -> 1x1 bilinear averages the four pixels (source 0.5, 0.5).
  Step down;
  down.op = StepOp::kResize;
  down.height = down.width = 1;
  Image im3 = image(1, 2, 2, {0, 10, 20, 30});
  REQUIRE(run({down}, &im3).isOk());
  CHECK(im3.data == std::vector<float>{15});
}

TEST_CASE("center_crop takes the middle and rejects crops larger than the image") {
  Step s;
  s.op = StepOp::kCenterCrop;
  s.height = s.width = 2;
  s.path = "/steps/3";
  s.name = "center_crop";
  Image im = image(1, 4, 4, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  REQUIRE(run({s}, &im).isOk());
  CHECK(im.data == std::vector<float>{5, 6, 9, 10});
  auto shape = stepsOutputShape({s}, {1, 1, 3}, "spec.json");
  REQUIRE_FALSE(shape.isOk());
  CHECK(shape.status().message().find("/steps/3 (center_crop)") != std::string::npos);
  CHECK(shape.status().message().find("crop 2x2 is larger than the 1x3 image") !=
        std::string::npos);
}

TEST_CASE("layout NHWC transposes to HWC and must be last") {
  Step l;
  l.op = StepOp::kLayout;
  l.toHwc = true;
  Image im = image(3, 1, 2, {1, 2, 3, 4, 5, 6});
  REQUIRE(run({l}, &im).isOk());
  CHECK(im.shape() == Shape{1, 2, 3});
  CHECK(im.data == std::vector<float>{1, 3, 5, 2, 4, 6});
  CHECK_FALSE(stepsOutputShape({l, normalize128()}, {3, 1, 2}, "t").isOk());
}

TEST_CASE("augmentation: random crop and flip are deterministic per seed") {
  Step crop;
  crop.op = StepOp::kRandomCrop;
  crop.height = crop.width = 4;
  crop.padTop = crop.padBottom = crop.padLeft = crop.padRight = 2;
  Step flip;
  flip.op = StepOp::kRandomHFlip;
  flip.p = 0.5f;
  auto augmented = [&](uint64_t seed) {
    Image im;
    im.resize(1, 4, 4);
    for (int i = 0; i < 16; ++i) im.data[i] = static_cast<float>(i + 1);
    Image scratch;
    SplitMix64 rng(seed);
    REQUIRE(applyAugment({crop, flip}, &rng, &im, &scratch, "t").isOk());
    REQUIRE(im.shape() == Shape{1, 4, 4});
    return im.data;
  };
  CHECK(augmented(1) == augmented(1));
  int distinct = 0;
  for (uint64_t s = 2; s < 12; ++s) distinct += augmented(s) != augmented(1);
  CHECK(distinct >= 7);  // 25 offsets x 2 flips: most seeds differ
  // The values stay those of the image or the zero padding.
  for (float v : augmented(5)) CHECK((v >= 0 && v <= 16));
  // A flip with p = 1 always mirrors.
  flip.p = 1.0f;
  Image im = image(1, 1, 3, {1, 2, 3});
  Image scratch;
  SplitMix64 rng(0);
  REQUIRE(applyAugment({flip}, &rng, &im, &scratch, "t").isOk());
  CHECK(im.data == std::vector<float>{3, 2, 1});
}

TEST_CASE("SplitMix64 and permutation match the Python reference") {
  // Reference values from tests/fixtures/datasets/make_fixtures.py; 0xe220a8397b1dcdaf is also
  // the published first SplitMix64 output for seed 0.
  CHECK(SplitMix64(0).next() == 0xe220a8397b1dcdafull);
  CHECK(combineSeeds(1, 2) == 0xe06dd043328bd285ull);
  CHECK(permutation(10, 0) == std::vector<int64_t>{6, 3, 2, 9, 8, 1, 4, 7, 0, 5});
  CHECK(permutation(10, 7) == std::vector<int64_t>{8, 1, 5, 9, 0, 4, 3, 2, 6, 7});
  auto big = permutation(60000, 0);
  CHECK(std::vector<int64_t>(big.begin(), big.begin() + 8) ==
        std::vector<int64_t>{17103, 3854, 34173, 44489, 57167, 51101, 4008, 54553});
  std::vector<int64_t> sorted = big;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 60000; ++i) REQUIRE(sorted[i] == i);
  CHECK(permutation(0, 3).empty());
  CHECK(permutation(1, 3) == std::vector<int64_t>{0});
}
