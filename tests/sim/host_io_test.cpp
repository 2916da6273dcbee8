// The host side of a compiled model (sim/host_io.h): descriptor layouts with hand-computed
// byte positions, and the NV12 conversions against hand-computed golden values.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "sim/host_io.h"

using namespace hq;

namespace {

/// [1, 3, 2, 2] int16, NHWC with channels padded to 8, frame stride 80 bytes, at offset 16.
hbm::TensorDesc paddedDesc() {
  hbm::TensorDesc d;
  d.set_name("t");
  for (int64_t v : {1, 3, 2, 2}) d.add_shape(v);
  for (int64_t v : {1, 2, 2, 8}) d.add_padded_shape(v);
  d.set_dtype(hbm::INT16);
  d.set_layout(hbm::NHWC);
  d.set_channel_alignment(8);
  d.set_buffer_id(1);
  d.set_offset(16);
  d.set_frame_stride_bytes(80);
  return d;
}

int16_t le16(const std::string& b, size_t at) {
  return static_cast<int16_t>(static_cast<uint8_t>(b[at]) | (static_cast<uint8_t>(b[at + 1]) << 8));
}

Tensor nv12Frame(std::vector<uint8_t> bytes, int64_t h, int64_t w) {
  return Tensor::fromVector<uint8_t>({1, h * 3 / 2, w}, bytes);
}

std::vector<int8_t> values(const Tensor& t) {
  return std::vector<int8_t>(t.data<int8_t>(), t.data<int8_t>() + t.numel());
}

}  // namespace

TEST_CASE("host_io: dtype mapping", "[sim]") {
  CHECK(dtypeFromHbm(hbm::INT8) == DType::kInt8);
  CHECK(dtypeFromHbm(hbm::UINT8) == DType::kUInt8);
  CHECK(dtypeFromHbm(hbm::INT16) == DType::kInt16);
  CHECK(dtypeFromHbm(hbm::INT32) == DType::kInt32);
  CHECK(dtypeFromHbm(hbm::INT64) == DType::kInt64);
  CHECK(dtypeFromHbm(hbm::DTYPE_UNSPECIFIED) == DType::kUndefined);
  for (DType t : {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kInt32, DType::kInt64})
    CHECK(dtypeFromHbm(dtypeToHbm(t)) == t);
  CHECK(dtypeToHbm(DType::kFloat32) == hbm::DTYPE_UNSPECIFIED);
}

TEST_CASE("host_io: pack and unpack with channel padding and frame stride", "[sim]") {
  const hbm::TensorDesc d = paddedDesc();
  Tensor x(DType::kInt16, {2, 3, 2, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<int16_t>()[i] = static_cast<int16_t>(1000 * i - 7);
  auto packed = packInput(d, x, 2);
  INFO(packed.status().message());
  REQUIRE(packed.isOk());
  const std::string& b = *packed;
  REQUIRE(b.size() == 160);                // 2 frames x 80 bytes
  CHECK(descFrameBytes(d).value() == 64);  // 2 x 2 pixels x 8 channels x 2 bytes
  // Frame 1, pixel (y 1, x 0) = pixel 2, channel 1: logical index 12 + 4 + 2 = 18.
  CHECK(le16(b, 80 + (2 * 8 + 1) * 2) == 1000 * 18 - 7);
  // Frame 0, pixel 3, channel 2: logical index 8 + 3 = 11.
  CHECK(le16(b, (3 * 8 + 2) * 2) == 1000 * 11 - 7);
  // Channel padding and the gap after each frame are zero.
  for (int64_t p = 0; p < 4; ++p)
    for (int64_t c = 3; c < 8; ++c) CHECK(le16(b, 80 + static_cast<size_t>((p * 8 + c) * 2)) == 0);
  for (size_t i = 64; i < 80; ++i) CHECK(b[i] == 0);

  // unpackOutput reads from the buffer's first byte: the frames start at offset 16.
  const std::string buffer = std::string(16, '\x55') + b;
  auto back = unpackOutput(d, buffer, 2);
  REQUIRE(back.isOk());
  CHECK(back->equals(x));
  auto shorter = unpackOutput(d, buffer.substr(0, buffer.size() - 20), 2);
  REQUIRE_FALSE(shorter.isOk());
  CHECK(shorter.status().code() == ErrorCode::kInvalidArgument);

  // Wrong dtype or shape is refused, naming the input.
  auto bad = packInput(d, Tensor(DType::kInt8, {2, 3, 2, 2}), 2);
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("input 't'"));
  CHECK_FALSE(packInput(d, x, 1).isOk());
}

TEST_CASE("host_io: FLAT and NCHW layouts", "[sim]") {
  hbm::TensorDesc d;
  d.set_name("logits");
  d.add_shape(1);
  d.add_shape(3);
  d.add_padded_shape(1);
  d.add_padded_shape(4);
  d.set_dtype(hbm::INT8);
  d.set_layout(hbm::FLAT);
  d.set_channel_alignment(4);
  d.set_frame_stride_bytes(4);
  auto y = unpackOutput(d, std::string("\x01\x02\x03\x00\xff\xfe\xfd\x00", 8), 2);
  REQUIRE(y.isOk());
  CHECK(values(*y) == std::vector<int8_t>{1, 2, 3, -1, -2, -3});

  hbm::TensorDesc n;
  n.set_name("planar");
  for (int64_t v : {1, 2, 1, 2}) n.add_shape(v);
  n.set_dtype(hbm::INT8);
  n.set_layout(hbm::NCHW);
  n.set_frame_stride_bytes(4);
  auto p = packInput(n, Tensor::fromVector<int8_t>({1, 2, 1, 2}, {1, 2, 3, 4}), 1);
  REQUIRE(p.isOk());
  CHECK(*p == std::string("\x01\x02\x03\x04", 4));
}

TEST_CASE("host_io: nv12ToInt8 golden values of a 2x2 frame", "[sim]") {
  SECTION("gray: U = V = 128") {
    const Tensor f = nv12Frame({0, 128, 255, 64, 128, 128}, 2, 2);
    auto g1 = nv12ToInt8(f, 1);
    REQUIRE(g1.isOk());
    CHECK(g1->shape() == Shape{1, 1, 2, 2});
    CHECK(values(*g1) == std::vector<int8_t>{-128, 0, 127, -64});
    auto g3 = nv12ToInt8(f, 3);
    REQUIRE(g3.isOk());
    CHECK(values(*g3) ==
          std::vector<int8_t>{-128, 0, 127, -64, -128, 0, 127, -64, -128, 0, 127, -64});
  }
  SECTION("color: U = 90, V = 170") {
    // d = -38, e = 42: R = Y + floor(15206 / 256) = Y + 59; G = Y - floor(4470 / 256) = Y - 17;
    // B = Y + floor(-17124 / 256) = Y - 67; clamped to [0, 255], minus 128.
    auto c = nv12ToInt8(nv12Frame({100, 150, 200, 50, 90, 170}, 2, 2), 3);
    REQUIRE(c.isOk());
    CHECK(values(*c) == std::vector<int8_t>{31, 81, 127, -19,     // R: 159 209 255 109
                                            -45, 5, 55, -95,      // G: 83 133 183 33
                                            -95, -45, 5, -128});  // B: 33 83 133 0
  }
  SECTION("bad shapes") {
    CHECK_FALSE(nv12ToInt8(nv12Frame({1, 2, 3, 4, 5, 6}, 2, 2), 2).isOk());
    CHECK_FALSE(nv12ToInt8(Tensor(DType::kUInt8, {1, 4, 2}), 1).isOk());
    CHECK_FALSE(nv12ToInt8(Tensor(DType::kInt8, {1, 3, 2}), 1).isOk());
  }
}

TEST_CASE("host_io: imagesToNv12 then nv12ToInt8 is exact for gray images", "[sim]") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> q(-128, 127);
  for (int64_t c : {1, 3}) {
    Tensor x(DType::kFloat32, {2, c, 4, 6});
    std::vector<int8_t> want;
    const int64_t plane = 4 * 6;
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t p = 0; p < plane; ++p) {
        const int v = q(rng);
        want.push_back(static_cast<int8_t>(v));
        for (int64_t ch = 0; ch < c; ++ch) x.data<float>()[(n * c + ch) * plane + p] = v / 128.0f;
      }
    }
    auto nv = imagesToNv12(x);
    REQUIRE(nv.isOk());
    REQUIRE(nv->shape() == Shape{2, 6, 6});
    for (int64_t n = 0; n < 2; ++n)  // chroma of gray is 128
      for (int64_t i = plane; i < plane * 3 / 2; ++i)
        CHECK(nv->data<uint8_t>()[n * plane * 3 / 2 + i] == 128);
    auto back = nv12ToInt8(*nv, 1);
    REQUIRE(back.isOk());
    std::vector<int8_t> got;
    for (int64_t i = 0; i < back->numel(); ++i) got.push_back(back->data<int8_t>()[i]);
    CHECK(got == want);
  }
  // Values beyond the int8 grid clamp; a color image gives the hand-computed YUV.
  Tensor rgb(DType::kFloat32, {1, 3, 2, 2});
  for (int64_t i = 0; i < 4; ++i) {
    rgb.data<float>()[i] = 2.0f;       // R -> 255
    rgb.data<float>()[4 + i] = 0.0f;   // G -> 128
    rgb.data<float>()[8 + i] = -1.0f;  // B -> 0
  }
  auto nv = imagesToNv12(rgb);
  REQUIRE(nv.isOk());
  // Y = floor((77*255 + 150*128 + 0 + 128) / 256) = floor(38963 / 256) = 152
  // U = 128 + floor((-43*255 - 85*128 + 128) / 256) = 128 + floor(-21717 / 256) = 128 - 85 = 43
  // V = 128 + floor((128*255 - 107*128 + 128) / 256) = 128 + floor(19072 / 256) = 128 + 74 = 202
  CHECK(std::vector<uint8_t>(nv->data<uint8_t>(), nv->data<uint8_t>() + 6) ==
        std::vector<uint8_t>{152, 152, 152, 152, 43, 202});
  CHECK_FALSE(imagesToNv12(Tensor(DType::kFloat32, {1, 2, 2, 2})).isOk());
  CHECK_FALSE(imagesToNv12(Tensor(DType::kFloat32, {1, 1, 3, 2})).isOk());
}
