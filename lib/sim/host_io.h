// The host side of a compiled model: putting input frames into the layout an .hbm input
// descriptor asks for (native NHWC with padded channels, or NV12 for pyramid/resizer inputs)
// and reading outputs back into logical integer tensors. Also the NV12 conversions: what the
// pyramid delivers for a float image, and what the NPU makes of NV12 (the integer input the
// model sees), written once here and used by the simulator's Nv12ToNative op, hq-eval and
// the tests.
#pragma once

#include <cstdint>
#include <string>

#include "hbm.pb.h"
#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// The bytes of all `batch` frames of `frames` laid out as `desc` says, frame f at
/// f * desc.frame_stride_bytes (gaps and channel padding are zero). `frames`: for layout
/// NHWC/FLAT/NCHW an integer tensor of desc.dtype with shape [batch, ...desc.shape[1:]]; for
/// NV12 a uint8 tensor [batch, H * 3 / 2, W]. kInvalidArgument naming desc.name otherwise.
Expected<std::string> packInput(const hbm::TensorDesc& desc, const Tensor& frames, int64_t batch);

/// The logical integer tensor [batch, ...desc.shape[1:]] of desc.dtype from the output
/// buffer bytes `bytes` (starting at the buffer's first byte; frame f at desc.offset + f *
/// frame_stride_bytes). kInvalidArgument when `bytes` is too short.
Expected<Tensor> unpackOutput(const hbm::TensorDesc& desc, const std::string& bytes, int64_t batch);

/// NV12 frames (uint8 [N, H * 3 / 2, W]: Y plane H x W, then interleaved U,V at H/2 x W/2)
/// -> the int8 input the model sees, [N, channels, H, W], scale 1/128: channels 1 is
/// Y - 128; channels 3 is R, G, B - 128 from BT.601 full-range YUV with 8 fractional bits
/// (each chroma sample serves its 2x2 block). H and W even.
Expected<Tensor> nv12ToInt8(const Tensor& nv12, int64_t channels);

/// What the pyramid delivers for float images `x` [N, C, H, W] (C 1 or 3, values on the
/// model's input grid, scale 1/128 zero point 0): pixel = clamp(round(x * 128) + 128, 0, 255),
/// RGB -> YUV BT.601 full range, chroma averaged over each 2x2 block. uint8 [N, H*3/2, W].
Expected<Tensor> imagesToNv12(const Tensor& x);

}  // namespace hq
