// Shape functions and parameter resolution of Resize (opset 11-18) and Upsample (7-9).
#include "ir/ops/resize.h"

#include <algorithm>
#include <cmath>

#include "ir/ops/shape_functions.h"

namespace hq::ops {

namespace {

template <typename... Args>
Status nodeError(const Node& node, ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, node.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
}

bool present(const Tensor* t) { return t && t->defined() && t->numel() > 0; }

/// Output length for a scale: floor(scale * length), as the ONNX reference does.
int64_t scaledLength(double scale, int64_t length) {
  return length < 0 ? -1 : static_cast<int64_t>(std::floor(scale * static_cast<double>(length)));
}

}  // namespace

Status parseResizeAttributes(const Node& node, ResizeParams* p) {
  const Attributes& a = node.attrs;
  const std::string mode = a.getString("mode", "nearest");
  if (mode == "nearest") {
    p->mode = ResizeMode::kNearest;
  } else if (mode == "linear") {
    p->mode = ResizeMode::kLinear;
  } else if (mode == "cubic") {
    p->mode = ResizeMode::kCubic;
  } else {
    return nodeError(node, ErrorCode::kUnsupported,
                     "attribute mode='{}' is not supported (nearest, linear or cubic)", mode);
  }
  const std::string coord = a.getString("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") {
    p->coord = CoordTransform::kHalfPixel;
  } else if (coord == "pytorch_half_pixel") {
    p->coord = CoordTransform::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    p->coord = CoordTransform::kAlignCorners;
  } else if (coord == "asymmetric") {
    p->coord = CoordTransform::kAsymmetric;
  } else if (coord == "tf_crop_and_resize") {
    p->coord = CoordTransform::kTfCropAndResize;
  } else {
    return nodeError(node, ErrorCode::kUnsupported,
                     "attribute coordinate_transformation_mode='{}' is not supported", coord);
  }
  const std::string nearest = a.getString("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    p->nearest = NearestMode::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    p->nearest = NearestMode::kRoundPreferCeil;
  } else if (nearest == "floor") {
    p->nearest = NearestMode::kFloor;
  } else if (nearest == "ceil") {
    p->nearest = NearestMode::kCeil;
  } else {
    return nodeError(node, ErrorCode::kUnsupported, "attribute nearest_mode='{}' is not supported",
                     nearest);
  }
  if (int64_t aa = a.getInt("antialias", 0); aa != 0) {
    return nodeError(node, ErrorCode::kUnsupported, "attribute antialias={} is not supported", aa);
  }
  p->cubicA = a.getFloat("cubic_coeff_a", -0.75f);
  p->excludeOutside = a.getInt("exclude_outside", 0) != 0;
  p->extrapolation = a.getFloat("extrapolation_value", 0.0f);
  return Status::ok();
}

Expected<ResizeParams> resolveResize(const Node& node, const Shape& in, const Tensor* roi,
                                     const Tensor* scales, const Tensor* sizes) {
  // Opset 10 had two inputs (X, scales) and Upsample's semantics; from opset 11 on a
  // valid node has scales or sizes after roi, so two inputs mean opset 10.
  if (node.inputs.size() == 2) return resolveUpsample(node, in, roi);
  ResizeParams p;
  HQ_RETURN_IF_ERROR(parseResizeAttributes(node, &p));
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes = node.attrs.getInts("axes");
  if (!node.attrs.has("axes")) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  std::vector<bool> seen(in.size(), false);
  for (int64_t& ax : axes) {
    if (ax < -rank || ax >= rank) {
      return nodeError(node, ErrorCode::kShape, "axes entry {} is out of range for rank {}", ax,
                       rank);
    }
    if (ax < 0) ax += rank;
    if (seen[ax]) return nodeError(node, ErrorCode::kShape, "axis {} is listed twice", ax);
    seen[ax] = true;
  }
  const size_t n = axes.size();
  p.scales.assign(in.size(), 1.0);
  p.outShape = in;
  p.resizedLength.resize(in.size());
  for (size_t d = 0; d < in.size(); ++d) p.resizedLength[d] = static_cast<double>(in[d]);
  p.roiStart.assign(in.size(), 0.0);
  p.roiEnd.assign(in.size(), 1.0);

  const bool has_scales = present(scales), has_sizes = present(sizes);
  if (has_scales == has_sizes) {
    return nodeError(node, ErrorCode::kShape,
                     "exactly one of 'scales' and 'sizes' must be given (non-empty), got {}",
                     has_scales ? "both" : "neither");
  }
  if (has_scales) {
    std::vector<double> s = scales->toDouble();
    if (s.size() != n) {
      return nodeError(node, ErrorCode::kShape, "scales has {} values for {} axes", s.size(), n);
    }
    for (size_t i = 0; i < n; ++i) {
      if (!(s[i] > 0)) {
        return nodeError(node, ErrorCode::kShape, "scale {} of axis {} must be positive", s[i],
                         axes[i]);
      }
      const int64_t d = axes[i];
      p.scales[d] = s[i];
      p.outShape[d] = scaledLength(s[i], in[d]);
      p.resizedLength[d] = s[i] * static_cast<double>(in[d]);
    }
  } else {
    std::vector<int64_t> s = sizes->toInt64();
    if (s.size() != n) {
      return nodeError(node, ErrorCode::kShape, "sizes has {} values for {} axes", s.size(), n);
    }
    for (size_t i = 0; i < n; ++i) {
      if (s[i] <= 0) {
        return nodeError(node, ErrorCode::kShape, "size {} of axis {} must be positive", s[i],
                         axes[i]);
      }
    }
    const std::string policy = node.attrs.getString("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller") {
      return nodeError(node, ErrorCode::kUnsupported,
                       "attribute keep_aspect_ratio_policy='{}' is not supported", policy);
    }
    bool all_known = true;
    for (int64_t ax : axes) all_known = all_known && in[ax] > 0;
    if (policy != "stretch") {
      // One scale for all axes; the sizes bound the result from above or below.
      double scale = policy == "not_larger" ? 1e300 : 0.0;
      for (size_t i = 0; i < n && all_known; ++i) {
        double r = static_cast<double>(s[i]) / static_cast<double>(in[axes[i]]);
        scale = policy == "not_larger" ? std::min(scale, r) : std::max(scale, r);
      }
      for (int64_t ax : axes) {
        if (!all_known) {
          p.outShape[ax] = -1;
          continue;
        }
        p.scales[ax] = scale;
        p.outShape[ax] =
            static_cast<int64_t>(std::floor(scale * static_cast<double>(in[ax]) + 0.5));
        p.resizedLength[ax] = scale * static_cast<double>(in[ax]);
      }
    } else {
      for (size_t i = 0; i < n; ++i) {
        const int64_t d = axes[i];
        p.outShape[d] = s[i];
        p.scales[d] = in[d] > 0 ? static_cast<double>(s[i]) / static_cast<double>(in[d]) : 1.0;
        p.resizedLength[d] = static_cast<double>(s[i]);
      }
    }
  }
  if (p.coord == CoordTransform::kTfCropAndResize && present(roi)) {
    std::vector<double> r = roi->toDouble();
    if (r.size() != 2 * n) {
      return nodeError(node, ErrorCode::kShape, "roi has {} values, expected {} (2 per axis)",
                       r.size(), 2 * n);
    }
    for (size_t i = 0; i < n; ++i) {
      p.roiStart[axes[i]] = r[i];
      p.roiEnd[axes[i]] = r[n + i];
    }
  }
  return p;
}

Expected<ResizeParams> resolveUpsample(const Node& node, const Shape& in, const Tensor* scales) {
  ResizeParams p;
  const std::string mode = node.attrs.getString("mode", "nearest");
  if (mode == "nearest") {
    p.mode = ResizeMode::kNearest;
  } else if (mode == "linear" || mode == "bilinear") {
    p.mode = ResizeMode::kLinear;
  } else {
    return nodeError(node, ErrorCode::kUnsupported,
                     "attribute mode='{}' is not supported (nearest or linear)", mode);
  }
  p.coord = CoordTransform::kAsymmetric;
  p.nearest = NearestMode::kFloor;
  std::vector<double> s;
  if (node.attrs.has("scales")) {
    for (float f : node.attrs.getFloats("scales")) s.push_back(f);
  } else if (present(scales)) {
    s = scales->toDouble();
  } else {
    return nodeError(node, ErrorCode::kShape, "scales are required (attribute or input 1)");
  }
  if (s.size() != in.size()) {
    return nodeError(node, ErrorCode::kShape, "scales has {} values for a rank-{} input", s.size(),
                     in.size());
  }
  p.scales = s;
  p.outShape.resize(in.size());
  p.resizedLength.resize(in.size());
  p.roiStart.assign(in.size(), 0.0);
  p.roiEnd.assign(in.size(), 1.0);
  for (size_t d = 0; d < in.size(); ++d) {
    if (!(s[d] > 0)) {
      return nodeError(node, ErrorCode::kShape, "scale {} of axis {} must be positive", s[d], d);
    }
    p.outShape[d] = scaledLength(s[d], in[d]);
    p.resizedLength[d] = s[d] * static_cast<double>(in[d]);
  }
  return p;
}

namespace {

Status requireFloatInput(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  DType t = ctx.input(0).dtype;
  if (t != DType::kFloat32 && t != DType::kFloat64) {
    return ctx.error(ErrorCode::kUnsupported,
                     "input dtype {} is not supported (float32 or float64)", dtypeName(t));
  }
  return Status::ok();
}

/// Input i as a constant; `unknown` set when it is present but computed at run time.
const Tensor* constantOrNull(const InferContext& ctx, size_t i, bool* unknown) {
  if (!ctx.hasInput(i)) return nullptr;
  const ValueInfo& v = ctx.input(i);
  if (v.constant) return v.constant;
  bool known_empty = v.hasShape && shapeNumel(v.shape) == 0;
  if (!known_empty) *unknown = true;
  return nullptr;
}

}  // namespace

Status inferResize(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireFloatInput(ctx));
  const ValueInfo& x = ctx.input(0);
  ResizeParams attrs;
  HQ_RETURN_IF_ERROR(parseResizeAttributes(ctx.node(), &attrs));
  bool unknown = false, roi_unknown = false;
  const Tensor* roi = constantOrNull(ctx, 1, &roi_unknown);
  const Tensor* scales = constantOrNull(ctx, 2, &unknown);
  const Tensor* sizes = constantOrNull(ctx, 3, &unknown);
  if (ctx.numInputs() == 2) unknown = unknown || roi_unknown;  // opset 10: input 1 is scales
  if (unknown) {
    // Scales or sizes computed at run time: same rank, dims unknown on the resized axes.
    Shape out(x.shape.size(), -1);
    if (ctx.attrs().has("axes")) {
      out = x.shape;
      for (int64_t a : ctx.attrs().getInts("axes")) {
        HQ_ASSIGN_OR_RETURN(int64_t axis,
                            normalizeAxis(ctx, a, static_cast<int64_t>(x.shape.size())));
        out[axis] = -1;
      }
    }
    ctx.setOutput(0, x.dtype, out);
    return Status::ok();
  }
  HQ_ASSIGN_OR_RETURN(ResizeParams p, resolveResize(ctx.node(), x.shape, roi, scales, sizes));
  ctx.setOutput(0, x.dtype, p.outShape);
  return Status::ok();
}

Status inferUpsample(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireFloatInput(ctx));
  const ValueInfo& x = ctx.input(0);
  if (!ctx.attrs().has("scales") && ctx.hasInput(1) && !ctx.input(1).constant) {
    ctx.setOutput(0, x.dtype, Shape(x.shape.size(), -1));
    return Status::ok();
  }
  const Tensor* scales = ctx.hasInput(1) ? ctx.input(1).constant : nullptr;
  HQ_ASSIGN_OR_RETURN(ResizeParams p, resolveUpsample(ctx.node(), x.shape, scales));
  ctx.setOutput(0, x.dtype, p.outShape);
  return Status::ok();
}

}  // namespace hq::ops
