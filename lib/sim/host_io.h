// The host side of a compiled model: putting input frames into the layout an .hbm input
// descriptor asks for (native NHWC with padded channels, or NV12 for pyramid/resizer inputs)
// and reading outputs back into logical integer tensors. Also the NV12 conversions: what the
// pyramid delivers for a float image, and what the NPU makes of NV12 (the integer input the
// model sees), written once here and used by the simulator's Nv12ToNative op, hq-eval and
// the tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/hbm.h"
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
/// (each chroma sample serves its 2x2 block). H and W even. The exact integer formulas of both
/// directions: schemas/hbm.md, "hq.npu ops".
Expected<Tensor> nv12ToInt8(const Tensor& nv12, int64_t channels);

/// What the pyramid delivers for float images `x` [N, C, H, W] (C 1 or 3, values on the
/// model's input grid, scale 1/128 zero point 0): pixel = clamp(round(x * 128) + 128, 0, 255),
/// RGB -> YUV BT.601 full range, chroma averaged over each 2x2 block. uint8 [N, H*3/2, W].
Expected<Tensor> imagesToNv12(const Tensor& x);

/// Activation geometry of a logical shape, as the native layout sees it: [1, C, H, W];
/// [1, K] is C = K, H = W = 1; [1, C, L] is H = 1, W = L (rank 1: C = shape[0]).
struct NativeDims {
  int64_t c = 1, h = 1, w = 1;
};
NativeDims nativeDims(const std::vector<int64_t>& shape);

/// The NV12 -> int8 conversion of nv12ToInt8 on raw planes (whole frames or row tiles): `y`
/// holds h rows of w bytes, `uv` h / 2 rows of w bytes (U, V interleaved; ignored and may be
/// null when channels is 1); `out` receives channels x h x w int8 values (planar, NCHW).
/// w even; h even when channels is 3.
void nv12PlanesToInt8(const uint8_t* y, const uint8_t* uv, int64_t h, int64_t w, int64_t channels,
                      int8_t* out);

/// Bytes of one frame of `desc` in its layout (padding included, frame stride excluded);
/// kInvalidArgument for a descriptor whose shape, dtype or layout is unusable.
Expected<int64_t> descFrameBytes(const hbm::TensorDesc& desc);

}  // namespace hq
