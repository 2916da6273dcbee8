#include "data/preprocess.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace hq {

namespace {

Status stepError(const Step& s, const std::string& what, const std::string& problem) {
  return HQ_ERROR(kShape, "{}: at {} ({}): {}", what, s.path, s.name, problem);
}

// One step's effect on a CHW shape (c, h, w); `hwc` is set by a layout step.
Status stepShape(const Step& s, int64_t* c, int64_t* h, int64_t* w, bool* hwc,
                 const std::string& what) {
  if (*hwc) return stepError(s, what, "comes after the layout step, which must be last");
  switch (s.op) {
    case StepOp::kPad:
      *h += s.padTop + s.padBottom;
      *w += s.padLeft + s.padRight;
      if (s.padEdge && (*h == 0 || *w == 0))
        return stepError(s, what, "edge padding of an empty image");
      return Status::ok();
    case StepOp::kResize:
      *h = s.height;
      *w = s.width;
      return Status::ok();
    case StepOp::kCenterCrop:
    case StepOp::kRandomCrop: {
      int64_t ph = *h + s.padTop + s.padBottom, pw = *w + s.padLeft + s.padRight;
      if (s.height > ph || s.width > pw) {
        return stepError(
            s, what,
            fmt::format("crop {}x{} is larger than the {}x{} image{}", s.height, s.width, ph, pw,
                        s.op == StepOp::kRandomCrop ? " (after padding)" : ""));
      }
      *h = s.height;
      *w = s.width;
      return Status::ok();
    }
    case StepOp::kReplicateChannels:
      if (*c != 1 && *c != s.channels) {
        return stepError(s, what, fmt::format("needs a 1-channel image, got {} channels", *c));
      }
      *c = s.channels;
      return Status::ok();
    case StepOp::kNormalize:
      if (s.offset.size() != 1 && static_cast<int64_t>(s.offset.size()) != *c) {
        return stepError(s, what,
                         fmt::format("{} offsets for a {}-channel image (give 1 or {})",
                                     s.offset.size(), *c, *c));
      }
      if (s.scale.size() != 1 && static_cast<int64_t>(s.scale.size()) != *c) {
        return stepError(
            s, what,
            fmt::format("{} scales for a {}-channel image (give 1 or {})", s.scale.size(), *c, *c));
      }
      return Status::ok();
    case StepOp::kRgbToCenteredYuv444:
      if (*c != 3)
        return stepError(s, what, fmt::format("needs a 3-channel RGB image, got {} channels", *c));
      return Status::ok();
    case StepOp::kLayout: *hwc = s.toHwc; return Status::ok();
    case StepOp::kRandomHFlip: return Status::ok();
  }
  return Status::ok();
}

// Copy `in` into `out` with padding; `fill` or edge replication.
void padImage(const Image& in, int64_t top, int64_t bottom, int64_t left, int64_t right, bool edge,
              float fill, Image* out) {
  out->resize(in.c, in.h + top + bottom, in.w + left + right);
  for (int64_t c = 0; c < in.c; ++c) {
    const float* src = in.data.data() + c * in.h * in.w;
    float* dst = out->data.data() + c * out->h * out->w;
    for (int64_t y = 0; y < out->h; ++y) {
      int64_t sy = y - top;
      bool row_in = sy >= 0 && sy < in.h;
      if (!row_in && edge) sy = std::clamp<int64_t>(sy, 0, in.h - 1);
      float* drow = dst + y * out->w;
      if (!row_in && !edge) {
        std::fill(drow, drow + out->w, fill);
        continue;
      }
      const float* srow = src + sy * in.w;
      for (int64_t x = 0; x < left; ++x) drow[x] = edge ? srow[0] : fill;
      std::copy(srow, srow + in.w, drow + left);
      for (int64_t x = left + in.w; x < out->w; ++x) drow[x] = edge ? srow[in.w - 1] : fill;
    }
  }
}

void cropImage(const Image& in, int64_t top, int64_t left, int64_t h, int64_t w, Image* out) {
  out->resize(in.c, h, w);
  for (int64_t c = 0; c < in.c; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      const float* srow = in.data.data() + (c * in.h + top + y) * in.w + left;
      std::copy(srow, srow + w, out->data.data() + (c * h + y) * w);
    }
  }
}

// Source coordinate of output pixel `d` (half-pixel centers), as torch's
// interpolate(align_corners=False) without antialiasing: negative values clamp to 0.
void linearTaps(int64_t out_size, int64_t in_size, std::vector<int64_t>* i0,
                std::vector<int64_t>* i1, std::vector<float>* frac) {
  i0->resize(static_cast<size_t>(out_size));
  i1->resize(static_cast<size_t>(out_size));
  frac->resize(static_cast<size_t>(out_size));
  double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  for (int64_t d = 0; d < out_size; ++d) {
    double src = std::max(0.0, (d + 0.5) * scale - 0.5);
    auto lo = std::min(static_cast<int64_t>(src), in_size - 1);
    (*i0)[d] = lo;
    (*i1)[d] = std::min(lo + 1, in_size - 1);
    (*frac)[d] = static_cast<float>(src - static_cast<double>(lo));
  }
}

void resizeImage(const Image& in, int64_t h, int64_t w, bool nearest, Image* out) {
  out->resize(in.c, h, w);
  if (nearest) {
    // torch 'nearest': src = floor(dst * in / out).
    std::vector<int64_t> ys(static_cast<size_t>(h)), xs(static_cast<size_t>(w));
    for (int64_t y = 0; y < h; ++y)
      ys[y] =
          std::min(in.h - 1, static_cast<int64_t>(std::floor(y * (static_cast<double>(in.h) / h))));
    for (int64_t x = 0; x < w; ++x)
      xs[x] =
          std::min(in.w - 1, static_cast<int64_t>(std::floor(x * (static_cast<double>(in.w) / w))));
    for (int64_t c = 0; c < in.c; ++c) {
      for (int64_t y = 0; y < h; ++y) {
        const float* srow = in.data.data() + (c * in.h + ys[y]) * in.w;
        float* drow = out->data.data() + (c * h + y) * w;
        for (int64_t x = 0; x < w; ++x) drow[x] = srow[xs[x]];
      }
    }
    return;
  }
  std::vector<int64_t> y0, y1, x0, x1;
  std::vector<float> fy, fx;
  linearTaps(h, in.h, &y0, &y1, &fy);
  linearTaps(w, in.w, &x0, &x1, &fx);
  for (int64_t c = 0; c < in.c; ++c) {
    const float* src = in.data.data() + c * in.h * in.w;
    for (int64_t y = 0; y < h; ++y) {
      const float* r0 = src + y0[y] * in.w;
      const float* r1 = src + y1[y] * in.w;
      float* drow = out->data.data() + (c * h + y) * w;
      for (int64_t x = 0; x < w; ++x) {
        float top = r0[x0[x]] + (r0[x1[x]] - r0[x0[x]]) * fx[x];
        float bot = r1[x0[x]] + (r1[x1[x]] - r1[x0[x]]) * fx[x];
        drow[x] = top + (bot - top) * fy[y];
      }
    }
  }
}

void toHwc(const Image& in, Image* out) {
  out->resize(in.c, in.h, in.w);
  out->hwc = true;
  int64_t plane = in.h * in.w;
  for (int64_t c = 0; c < in.c; ++c) {
    const float* src = in.data.data() + c * plane;
    for (int64_t i = 0; i < plane; ++i) out->data[i * in.c + c] = src[i];
  }
}

void hflip(Image* img) {
  for (int64_t c = 0; c < img->c; ++c) {
    for (int64_t y = 0; y < img->h; ++y) {
      float* row = img->data.data() + (c * img->h + y) * img->w;
      std::reverse(row, row + img->w);
    }
  }
}

Status applyOne(const Step& s, SplitMix64* rng, Image* img, Image* scratch,
                const std::string& what) {
  int64_t c = img->c, h = img->h, w = img->w;
  bool hwc = img->hwc;
  HQ_RETURN_IF_ERROR(stepShape(s, &c, &h, &w, &hwc, what));
  switch (s.op) {
    case StepOp::kPad:
      padImage(*img, s.padTop, s.padBottom, s.padLeft, s.padRight, s.padEdge, s.fill, scratch);
      std::swap(*img, *scratch);
      break;
    case StepOp::kResize:
      if (img->h == s.height && img->w == s.width) break;
      resizeImage(*img, s.height, s.width, s.nearest, scratch);
      std::swap(*img, *scratch);
      break;
    case StepOp::kCenterCrop:
      if (img->h == s.height && img->w == s.width) break;
      cropImage(*img, (img->h - s.height) / 2, (img->w - s.width) / 2, s.height, s.width, scratch);
      std::swap(*img, *scratch);
      break;
    case StepOp::kRandomCrop: {
      const Image* src = img;
      if (s.padTop || s.padBottom || s.padLeft || s.padRight) {
        padImage(*img, s.padTop, s.padBottom, s.padLeft, s.padRight, s.padEdge, s.fill, scratch);
        std::swap(*img, *scratch);
      }
      auto top =
          static_cast<int64_t>(rng->uniformBelow(static_cast<uint64_t>(src->h - s.height + 1)));
      auto left =
          static_cast<int64_t>(rng->uniformBelow(static_cast<uint64_t>(src->w - s.width + 1)));
      cropImage(*img, top, left, s.height, s.width, scratch);
      std::swap(*img, *scratch);
      break;
    }
    case StepOp::kRandomHFlip:
      if (rng->uniform01() < s.p) hflip(img);
      break;
    case StepOp::kReplicateChannels: {
      if (img->c == s.channels) break;
      int64_t plane = img->h * img->w;
      img->data.resize(static_cast<size_t>(plane * s.channels));
      for (int64_t k = 1; k < s.channels; ++k) {
        std::copy(img->data.begin(), img->data.begin() + plane, img->data.begin() + k * plane);
      }
      img->c = s.channels;
      break;
    }
    case StepOp::kNormalize: {
      int64_t plane = img->h * img->w;
      for (int64_t k = 0; k < img->c; ++k) {
        float off = s.offset.size() == 1 ? s.offset[0] : s.offset[k];
        float sc = s.scale.size() == 1 ? s.scale[0] : s.scale[k];
        float* p = img->data.data() + k * plane;
        for (int64_t i = 0; i < plane; ++i) p[i] = (p[i] - off) * sc;
      }
      break;
    }
    case StepOp::kRgbToCenteredYuv444: {
      int64_t plane = img->h * img->w;
      float* r = img->data.data();
      float* g = r + plane;
      float* b = g + plane;
      for (int64_t i = 0; i < plane; ++i)
        rgbToCenteredYuv(r[i], g[i], b[i], s.fullSwing, &r[i], &g[i], &b[i]);
      break;
    }
    case StepOp::kLayout:
      if (s.toHwc) {
        toHwc(*img, scratch);
        std::swap(*img, *scratch);
      }
      break;
  }
  return Status::ok();
}

}  // namespace

void rgbToCenteredYuv(float r, float g, float b, bool full_swing, float* y, float* u, float* v) {
  static const double kStudio[3][3] = {{66, 129, 25}, {-38, -74, 112}, {112, -94, -18}};
  static const double kFull[3][3] = {{77, 150, 29}, {-43, -84, 127}, {127, -106, -21}};
  const double(*m)[3] = full_swing ? kFull : kStudio;
  const double offset[3] = {full_swing ? 0.0 : 16.0, 128.0, 128.0};
  float* out[3] = {y, u, v};
  double rgb[3] = {r, g, b};
  double res[3];
  for (int k = 0; k < 3; ++k) {
    double acc = m[k][0] * rgb[0] + m[k][1] * rgb[1] + m[k][2] * rgb[2] + 128.0;
    res[k] = std::trunc(acc / 256.0 + offset[k]) - 128.0;  // .to(torch.int32) truncates
  }
  for (int k = 0; k < 3; ++k) *out[k] = static_cast<float>(res[k]);
}

Expected<Shape> stepsOutputShape(const std::vector<Step>& steps, const Shape& input,
                                 const std::string& what) {
  if (input.size() != 3) {
    return HQ_ERROR(kInternal, "{}: source images must be CHW, got {}", what, shapeString(input));
  }
  int64_t c = input[0], h = input[1], w = input[2];
  bool hwc = false;
  for (const Step& s : steps) HQ_RETURN_IF_ERROR(stepShape(s, &c, &h, &w, &hwc, what));
  return hwc ? Shape{h, w, c} : Shape{c, h, w};
}

Status applySteps(const std::vector<Step>& steps, Image* image, Image* scratch,
                  const std::string& what) {
  for (const Step& s : steps) HQ_RETURN_IF_ERROR(applyOne(s, nullptr, image, scratch, what));
  return Status::ok();
}

Status applyAugment(const std::vector<Step>& ops, SplitMix64* rng, Image* image, Image* scratch,
                    const std::string& what) {
  for (const Step& s : ops) HQ_RETURN_IF_ERROR(applyOne(s, rng, image, scratch, what));
  return Status::ok();
}

}  // namespace hq
