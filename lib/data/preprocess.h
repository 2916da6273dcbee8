// Preprocessing and augmentation steps of a dataset spec ("steps" and "augment" in
// schemas/dataset.schema.json), applied to one image at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/random.h"
#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// One float image. `data` is CHW (c*h*w values) unless `hwc` (after a layout step).
/// Values are in source units (0..255 for 8-bit pixels) until a normalize step changes them.
struct Image {
  int64_t c = 0, h = 0, w = 0;
  bool hwc = false;
  std::vector<float> data;

  void resize(int64_t channels, int64_t height, int64_t width) {
    c = channels;
    h = height;
    w = width;
    hwc = false;
    data.resize(static_cast<size_t>(c * h * w));
  }
  /// [c, h, w], or [h, w, c] when hwc.
  Shape shape() const { return hwc ? Shape{h, w, c} : Shape{c, h, w}; }
};

enum class StepOp {
  kPad,                  ///< constant or edge padding (pixels on each side)
  kResize,               ///< bilinear (half-pixel centers, no antialias) or nearest
  kCenterCrop,           ///< crop of size [h, w] at offset floor((H-h)/2), floor((W-w)/2)
  kReplicateChannels,    ///< 1 channel -> `channels` copies
  kNormalize,            ///< y = (x - offset[c]) * scale[c]
  kRgbToCenteredYuv444,  ///< BT.601 YUV444 minus 128 (the seed's rgb2centered_yuv)
  kLayout,               ///< final CHW -> HWC transpose ("to": "NHWC"); "NCHW" keeps CHW
  kRandomCrop,           ///< augment: pad, then crop [h, w] at a random offset
  kRandomHFlip,          ///< augment: mirror left-right with probability p
};

struct Step {
  StepOp op = StepOp::kPad;
  std::string path;  ///< JSON path of the step in the spec, e.g. "/steps/2", for messages
  std::string name;  ///< the spec's op name, e.g. "center_crop"
  int64_t padTop = 0, padBottom = 0, padLeft = 0, padRight = 0;  ///< pixels
  bool padEdge = false;              ///< replicate the border instead of `fill`
  float fill = 0;                    ///< padding value, in the units of the image at this step
  int64_t height = 0, width = 0;     ///< output size of resize / center_crop / random_crop
  bool nearest = false;              ///< resize method
  int64_t channels = 0;              ///< replicate_channels
  std::vector<float> offset, scale;  ///< normalize: one value, or one per channel
  bool fullSwing = false;            ///< yuv: full swing (0..255) instead of studio
  bool toHwc = false;                ///< layout
  float p = 0.5f;                    ///< random_hflip probability
};

/// The sample shape after `steps` for a CHW `input` shape; errors name the step's JSON path
/// and say what does not fit (e.g. a crop larger than the image).
Expected<Shape> stepsOutputShape(const std::vector<Step>& steps, const Shape& input,
                                 const std::string& what);

/// Apply deterministic `steps` in order; `scratch` is reused between calls.
Status applySteps(const std::vector<Step>& steps, Image* image, Image* scratch,
                  const std::string& what);

/// Apply augmentation `ops` in order, drawing from `rng`.
Status applyAugment(const std::vector<Step>& ops, SplitMix64* rng, Image* image, Image* scratch,
                    const std::string& what);

/// rgb2centered_yuv on one pixel of 0..255 values: BT.601 integer weights (studio:
/// Y=(66R+129G+25B+128)/256+16, U=(-38R-74G+112B+128)/256+128, V=(112R-94G-18B+128)/256+128;
/// full: 77/150/29, -43/-84/127, 127/-106/-21 with Y offset 0), truncated, minus 128.
void rgbToCenteredYuv(float r, float g, float b, bool full_swing, float* y, float* u, float* v);

}  // namespace hq
