// The host side of a compiled model (sim/host_io.h): descriptor layouts and NV12.
//
// NV12 <-> RGB, BT.601 full range with 8 fractional bits, integers only (schemas/hbm.md,
// "Execution semantics"). With d = U - 128, e = V - 128 and floor division by 256:
//   R = Y + floor((359 * e + 128) / 256)
//   G = Y - floor((88 * d + 183 * e + 128) / 256)
//   B = Y + floor((454 * d + 128) / 256)
// each clamped to [0, 255], then minus 128 (int8, scale 1/128). The inverse (imagesToNv12):
//   Y = floor((77 * R + 150 * G + 29 * B + 128) / 256)
//   U = 128 + floor((-43 * R - 85 * G + 128 * B + 128) / 256)
//   V = 128 + floor((128 * R - 107 * G - 21 * B + 128) / 256)
// clamped to [0, 255]; U and V of a 2x2 block = floor((sum of the four + 2) / 4). Gray pixels
// (R = G = B = p) give Y = p and U = V = 128 exactly, so gray images survive the round trip.
#include "sim/host_io.h"

#include "compiler/hbm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hq {
namespace {

int64_t floorDiv256(int64_t x) { return x >= 0 ? x / 256 : -((-x + 255) / 256); }
int64_t clampByte(int64_t v) { return std::min<int64_t>(255, std::max<int64_t>(0, v)); }

/// Bytes of one frame and the channel stride (elements) of a descriptor's layout.
struct FrameLayout {
  NativeDims dims;
  int64_t elem = 0;
  int64_t channelStride = 0;  ///< elements per pixel in memory (NCHW: C, dense)
  int64_t frameBytes = 0;
  bool planar = false;  ///< NCHW: dense planes, no padding
};

Expected<FrameLayout> frameLayout(const hbm::TensorDesc& desc) {
  FrameLayout f;
  std::vector<int64_t> shape(desc.shape().begin(), desc.shape().end());
  if (shape.empty()) return HQ_ERROR(kInvalidArgument, "tensor '{}': empty shape", desc.name());
  for (int64_t d : shape) {
    if (d <= 0)
      return HQ_ERROR(kInvalidArgument, "tensor '{}': shape {} has a non-positive dim", desc.name(),
                      shapeString(shape));
  }
  f.dims = nativeDims(shape);
  f.elem = static_cast<int64_t>(dtypeSize(dtypeFromHbm(desc.dtype())));
  if (f.elem == 0)
    return HQ_ERROR(kInvalidArgument, "tensor '{}': dtype {} is not an integer type", desc.name(),
                    hbm::DType_Name(desc.dtype()));
  const int64_t pixels = f.dims.h * f.dims.w;
  switch (desc.layout()) {
    case hbm::NCHW:
      f.planar = true;
      f.channelStride = f.dims.c;
      break;
    case hbm::NHWC:
    case hbm::FLAT: {
      int64_t align = std::max<int64_t>(1, desc.channel_alignment());
      int64_t cs = (f.dims.c + align - 1) / align * align;
      if (desc.padded_shape_size() > 0) cs = desc.padded_shape(desc.padded_shape_size() - 1);
      if (cs < f.dims.c)
        return HQ_ERROR(kInvalidArgument, "tensor '{}': padded channels {} < {} channels",
                        desc.name(), cs, f.dims.c);
      f.channelStride = cs;
      break;
    }
    case hbm::NV12:
      if (shape.size() != 4 || f.dims.h % 2 != 0 || f.dims.w % 2 != 0 || desc.dtype() != hbm::UINT8)
        return HQ_ERROR(kInvalidArgument,
                        "tensor '{}': an NV12 input is uint8 [1, C, H, W] with H and W even; got "
                        "{} {}",
                        desc.name(), hbm::DType_Name(desc.dtype()), shapeString(shape));
      f.frameBytes = pixels * 3 / 2;
      return f;
    default:
      return HQ_ERROR(kInvalidArgument, "tensor '{}': layout {} is not supported", desc.name(),
                      static_cast<int>(desc.layout()));
  }
  f.frameBytes = pixels * f.channelStride * f.elem;
  if (static_cast<int64_t>(desc.frame_stride_bytes()) < f.frameBytes)
    return HQ_ERROR(kInvalidArgument, "tensor '{}': frame_stride_bytes {} < {} bytes of a frame",
                    desc.name(), desc.frame_stride_bytes(), f.frameBytes);
  return f;
}

/// Copy one frame between the logical NCHW order (`logical`) and the layout (`stored`).
void convertFrame(const FrameLayout& f, const uint8_t* logical, uint8_t* stored, bool pack) {
  const int64_t pixels = f.dims.h * f.dims.w;
  for (int64_t c = 0; c < f.dims.c; ++c) {
    for (int64_t p = 0; p < pixels; ++p) {
      const uint8_t* from = logical + (c * pixels + p) * f.elem;
      uint8_t* to = stored + (f.planar ? (c * pixels + p) : (p * f.channelStride + c)) * f.elem;
      if (pack)
        std::memcpy(to, from, static_cast<size_t>(f.elem));
      else
        std::memcpy(const_cast<uint8_t*>(from), to, static_cast<size_t>(f.elem));
    }
  }
}

Shape batchShape(const hbm::TensorDesc& desc, int64_t batch) {
  Shape s(desc.shape().begin(), desc.shape().end());
  s[0] = batch;
  return s;
}

}  // namespace

NativeDims nativeDims(const std::vector<int64_t>& shape) {
  NativeDims d;
  if (shape.size() == 1) {
    d.c = shape[0];
  } else if (shape.size() == 2) {
    d.c = shape[1];
  } else if (shape.size() == 3) {
    d.c = shape[1];
    d.w = shape[2];
  } else if (shape.size() >= 4) {
    d.c = shape[1];
    d.h = shape[2];
    d.w = 1;
    for (size_t i = 3; i < shape.size(); ++i) d.w *= shape[i];
  }
  return d;
}

Expected<int64_t> descFrameBytes(const hbm::TensorDesc& desc) {
  HQ_ASSIGN_OR_RETURN(FrameLayout f, frameLayout(desc));
  return f.frameBytes;
}

Expected<std::string> packInput(const hbm::TensorDesc& desc, const Tensor& frames, int64_t batch) {
  if (batch < 1) return HQ_ERROR(kInvalidArgument, "input '{}': batch {} < 1", desc.name(), batch);
  HQ_ASSIGN_OR_RETURN(FrameLayout f, frameLayout(desc));
  const uint64_t stride = desc.frame_stride_bytes();
  if (desc.layout() == hbm::NV12) {
    if (stride < static_cast<uint64_t>(f.frameBytes))
      return HQ_ERROR(kInvalidArgument, "input '{}': frame_stride_bytes {} < {} bytes of a frame",
                      desc.name(), stride, f.frameBytes);
    const Shape want = {batch, f.dims.h * 3 / 2, f.dims.w};
    if (frames.dtype() != DType::kUInt8 || frames.shape() != want)
      return HQ_ERROR(kInvalidArgument, "input '{}': expected NV12 frames uint8 {}, got {} {}",
                      desc.name(), shapeString(want), dtypeName(frames.dtype()),
                      shapeString(frames.shape()));
    std::string out(static_cast<size_t>(stride * batch), '\0');
    const uint8_t* src = static_cast<const uint8_t*>(frames.raw());
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(&out[static_cast<size_t>(b * stride)], src + b * f.frameBytes,
                  static_cast<size_t>(f.frameBytes));
    return out;
  }
  const Shape want = batchShape(desc, batch);
  const DType dtype = dtypeFromHbm(desc.dtype());
  if (frames.dtype() != dtype || frames.shape() != want)
    return HQ_ERROR(kInvalidArgument, "input '{}': expected {} {}, got {} {}", desc.name(),
                    dtypeName(dtype), shapeString(want), dtypeName(frames.dtype()),
                    shapeString(frames.shape()));
  std::string out(static_cast<size_t>(stride * batch), '\0');
  const int64_t logicalBytes = f.dims.c * f.dims.h * f.dims.w * f.elem;
  const uint8_t* src = static_cast<const uint8_t*>(frames.raw());
  for (int64_t b = 0; b < batch; ++b) {
    convertFrame(f, src + b * logicalBytes, reinterpret_cast<uint8_t*>(&out[b * stride]), true);
  }
  return out;
}

Expected<Tensor> unpackOutput(const hbm::TensorDesc& desc, const std::string& bytes,
                              int64_t batch) {
  if (batch < 1) return HQ_ERROR(kInvalidArgument, "output '{}': batch {} < 1", desc.name(), batch);
  if (desc.layout() == hbm::NV12)
    return HQ_ERROR(kInvalidArgument, "output '{}': NV12 is an input layout only", desc.name());
  HQ_ASSIGN_OR_RETURN(FrameLayout f, frameLayout(desc));
  const uint64_t stride = desc.frame_stride_bytes();
  const uint64_t need = desc.offset() + (batch - 1) * stride + f.frameBytes;
  if (bytes.size() < need)
    return HQ_ERROR(kInvalidArgument, "output '{}': {} bytes given; {} frames need {}", desc.name(),
                    bytes.size(), batch, need);
  Tensor out(dtypeFromHbm(desc.dtype()), batchShape(desc, batch));
  const int64_t logicalBytes = f.dims.c * f.dims.h * f.dims.w * f.elem;
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t b = 0; b < batch; ++b) {
    const uint8_t* frame =
        reinterpret_cast<const uint8_t*>(bytes.data()) + desc.offset() + b * stride;
    convertFrame(f, dst + b * logicalBytes, const_cast<uint8_t*>(frame), false);
  }
  return out;
}

void nv12PlanesToInt8(const uint8_t* y, const uint8_t* uv, int64_t h, int64_t w, int64_t channels,
                      int8_t* out) {
  const int64_t plane = h * w;
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t luma = y[r * w + x];
      const int64_t p = r * w + x;
      if (channels == 1) {
        out[p] = static_cast<int8_t>(luma - 128);
        continue;
      }
      const uint8_t* chroma = uv + (r / 2) * w + (x / 2) * 2;
      const int64_t d = int64_t{chroma[0]} - 128, e = int64_t{chroma[1]} - 128;
      const int64_t red = clampByte(luma + floorDiv256(359 * e + 128));
      const int64_t green = clampByte(luma - floorDiv256(88 * d + 183 * e + 128));
      const int64_t blue = clampByte(luma + floorDiv256(454 * d + 128));
      out[p] = static_cast<int8_t>(red - 128);
      out[plane + p] = static_cast<int8_t>(green - 128);
      out[2 * plane + p] = static_cast<int8_t>(blue - 128);
    }
  }
}

Expected<Tensor> nv12ToInt8(const Tensor& nv12, int64_t channels) {
  if (channels != 1 && channels != 3)
    return HQ_ERROR(kInvalidArgument, "nv12ToInt8: channels {}; expected 1 or 3", channels);
  if (nv12.dtype() != DType::kUInt8 || nv12.rank() != 3 || nv12.dim(1) % 3 != 0 ||
      nv12.dim(2) % 2 != 0)  // H * 3 / 2 a multiple of 3: H even
    return HQ_ERROR(kInvalidArgument,
                    "nv12ToInt8: expected uint8 [N, H * 3 / 2, W] with H and W even, got {} {}",
                    dtypeName(nv12.dtype()), shapeString(nv12.shape()));
  const int64_t n = nv12.dim(0), h = nv12.dim(1) / 3 * 2, w = nv12.dim(2);
  Tensor out(DType::kInt8, {n, channels, h, w});
  const uint8_t* src = nv12.data<uint8_t>();
  int8_t* dst = out.data<int8_t>();
  for (int64_t b = 0; b < n; ++b) {
    const uint8_t* frame = src + b * h * w * 3 / 2;
    nv12PlanesToInt8(frame, frame + h * w, h, w, channels, dst + b * channels * h * w);
  }
  return out;
}

Expected<Tensor> imagesToNv12(const Tensor& x) {
  if (x.dtype() != DType::kFloat32 || x.rank() != 4 || (x.dim(1) != 1 && x.dim(1) != 3) ||
      x.dim(2) % 2 != 0 || x.dim(3) % 2 != 0)
    return HQ_ERROR(kInvalidArgument,
                    "imagesToNv12: expected float32 [N, 1 or 3, H, W] with H and W even, got {} {}",
                    dtypeName(x.dtype()), shapeString(x.shape()));
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), plane = h * w;
  Tensor out(DType::kUInt8, {n, h * 3 / 2, w});
  const float* src = x.data<float>();
  uint8_t* dst = out.data<uint8_t>();
  std::vector<int64_t> us(static_cast<size_t>(plane)), vs(static_cast<size_t>(plane));
  for (int64_t b = 0; b < n; ++b) {
    const float* img = src + b * c * plane;
    uint8_t* frame = dst + b * plane * 3 / 2;
    auto pixel = [&](int64_t ch, int64_t p) {
      // Round half to even, like quantizeLinear.
      return clampByte(static_cast<int64_t>(std::nearbyint(img[ch * plane + p] * 128.0f)) + 128);
    };
    for (int64_t p = 0; p < plane; ++p) {
      const int64_t red = pixel(0, p), green = pixel(c == 3 ? 1 : 0, p),
                    blue = pixel(c == 3 ? 2 : 0, p);
      frame[p] =
          static_cast<uint8_t>(clampByte(floorDiv256(77 * red + 150 * green + 29 * blue + 128)));
      us[p] = clampByte(128 + floorDiv256(-43 * red - 85 * green + 128 * blue + 128));
      vs[p] = clampByte(128 + floorDiv256(128 * red - 107 * green - 21 * blue + 128));
    }
    uint8_t* uv = frame + plane;
    for (int64_t r = 0; r < h; r += 2) {
      for (int64_t q = 0; q < w; q += 2) {
        const int64_t p = r * w + q;
        const int64_t u = (us[p] + us[p + 1] + us[p + w] + us[p + w + 1] + 2) / 4;
        const int64_t v = (vs[p] + vs[p + 1] + vs[p + w] + vs[p + w + 1] + 2) / 4;
        uv[(r / 2) * w + q] = static_cast<uint8_t>(u);
        uv[(r / 2) * w + q + 1] = static_cast<uint8_t>(v);
      }
    }
  }
  return out;
}

}  // namespace hq
