#include "ir/ops/window.h"

#include <algorithm>

namespace hq::ops {

namespace {
Status attrKindError(const Node& node, const char* name, const Attribute& a, const char* want) {
  return HQ_ERROR(kInvalidArgument, "{}: attribute '{}' must be {}, got {}", node.describe(), name,
                  want, attributeKindName(a.kind));
}

std::string joinInts(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
}  // namespace

Expected<int64_t> intAttr(const Node& node, const char* name, int64_t def) {
  const Attribute* a = node.attrs.find(name);
  if (!a) return def;
  if (a->kind != Attribute::Kind::kInt) return attrKindError(node, name, *a, "an int");
  return a->i;
}

Expected<float> floatAttr(const Node& node, const char* name, float def) {
  const Attribute* a = node.attrs.find(name);
  if (!a) return def;
  if (a->kind == Attribute::Kind::kFloat) return a->f;
  if (a->kind == Attribute::Kind::kInt) return static_cast<float>(a->i);
  return attrKindError(node, name, *a, "a float");
}

Expected<std::vector<int64_t>> intsAttr(const Node& node, const char* name,
                                        std::vector<int64_t> def, size_t expected_len,
                                        int64_t min_value) {
  const Attribute* a = node.attrs.find(name);
  if (!a) return def;
  if (a->kind != Attribute::Kind::kInts) return attrKindError(node, name, *a, "a list of ints");
  if (expected_len > 0 && a->ints.size() != expected_len) {
    return HQ_ERROR(kInvalidArgument, "{}: attribute '{}' = {} has {} values, expected {}",
                    node.describe(), name, joinInts(a->ints), a->ints.size(), expected_len);
  }
  for (size_t i = 0; i < a->ints.size(); ++i) {
    if (a->ints[i] < min_value) {
      return HQ_ERROR(kInvalidArgument,
                      "{}: attribute '{}' = {} has value {} at index {}, expected >= {}",
                      node.describe(), name, joinInts(a->ints), a->ints[i], i, min_value);
    }
  }
  return a->ints;
}

Expected<AutoPad> autoPadAttr(const Node& node) {
  const Attribute* a = node.attrs.find("auto_pad");
  if (!a) return AutoPad::kNotSet;
  if (a->kind != Attribute::Kind::kString) return attrKindError(node, "auto_pad", *a, "a string");
  if (a->s == "NOTSET" || a->s.empty()) return AutoPad::kNotSet;
  if (a->s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (a->s == "SAME_LOWER") return AutoPad::kSameLower;
  if (a->s == "VALID") return AutoPad::kValid;
  return HQ_ERROR(kUnsupported,
                  "{}: attribute 'auto_pad' = '{}' is not supported (expected NOTSET, SAME_UPPER, "
                  "SAME_LOWER or VALID)",
                  node.describe(), a->s);
}

std::vector<int64_t> spatialDims(const Shape& shape) {
  if (shape.size() < 2) return {};
  return std::vector<int64_t>(shape.begin() + 2, shape.end());
}

Expected<Window> forwardWindow(const Node& node, const std::vector<int64_t>& spatial_in,
                               const std::vector<int64_t>& kernel,
                               const ForwardWindowOptions& options) {
  const size_t r = kernel.size();
  Window w;
  w.input = spatial_in;
  w.kernel = kernel;
  HQ_ASSIGN_OR_RETURN(w.strides, intsAttr(node, "strides", std::vector<int64_t>(r, 1), r, 1));
  w.dilations.assign(r, 1);
  if (options.readDilations) {
    HQ_ASSIGN_OR_RETURN(w.dilations, intsAttr(node, "dilations", w.dilations, r, 1));
  }
  HQ_ASSIGN_OR_RETURN(auto pads, intsAttr(node, "pads", std::vector<int64_t>(2 * r, 0), 2 * r, 0));
  HQ_ASSIGN_OR_RETURN(AutoPad auto_pad, autoPadAttr(node));
  w.padBegin.assign(r, 0);
  w.padEnd.assign(r, 0);
  w.output.assign(r, -1);
  for (size_t i = 0; i < r; ++i) {
    const int64_t in = spatial_in[i], s = w.strides[i];
    const int64_t extent = (kernel[i] - 1) * w.dilations[i] + 1;
    if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      if (in < 0) continue;  // pads and output depend on the unknown size
      const int64_t out = ceilDiv(in, s);
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      const int64_t small = total / 2, large = total - total / 2;
      w.padBegin[i] = auto_pad == AutoPad::kSameUpper ? small : large;
      w.padEnd[i] = auto_pad == AutoPad::kSameUpper ? large : small;
      w.output[i] = out;
      continue;
    }
    if (auto_pad == AutoPad::kNotSet) {
      w.padBegin[i] = pads[i];
      w.padEnd[i] = pads[i + r];
    }
    if (in < 0) continue;
    const int64_t span = in + w.padBegin[i] + w.padEnd[i] - extent;
    if (span < 0) {
      return HQ_ERROR(kShape,
                      "{}: on spatial axis {} the window extent {} (kernel {}, dilation {}) is "
                      "larger than the padded input {} (size {}, pads {} and {})",
                      node.describe(), i, extent, kernel[i], w.dilations[i],
                      in + w.padBegin[i] + w.padEnd[i], in, w.padBegin[i], w.padEnd[i]);
    }
    int64_t out = (options.ceilMode ? ceilDiv(span, s) : span / s) + 1;
    // A last window that would start in the end padding is dropped.
    if (options.ceilMode && (out - 1) * s >= in + w.padBegin[i]) --out;
    w.output[i] = out;
  }
  return w;
}

Expected<Window> transposeWindow(const Node& node, const std::vector<int64_t>& spatial_in,
                                 const std::vector<int64_t>& kernel) {
  const size_t r = kernel.size();
  Window w;
  w.input = spatial_in;
  w.kernel = kernel;
  HQ_ASSIGN_OR_RETURN(w.strides, intsAttr(node, "strides", std::vector<int64_t>(r, 1), r, 1));
  HQ_ASSIGN_OR_RETURN(w.dilations, intsAttr(node, "dilations", std::vector<int64_t>(r, 1), r, 1));
  HQ_ASSIGN_OR_RETURN(auto pads, intsAttr(node, "pads", std::vector<int64_t>(2 * r, 0), 2 * r, 0));
  HQ_ASSIGN_OR_RETURN(auto out_pad,
                      intsAttr(node, "output_padding", std::vector<int64_t>(r, 0), r, 0));
  HQ_ASSIGN_OR_RETURN(auto out_shape, intsAttr(node, "output_shape", {}, 0, 1));
  HQ_ASSIGN_OR_RETURN(AutoPad auto_pad, autoPadAttr(node));
  if (!out_shape.empty()) {
    // The spec gives spatial sizes; some exporters write N and C too.
    if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (out_shape.size() != r) {
      return HQ_ERROR(kInvalidArgument,
                      "{}: attribute 'output_shape' has {} values, expected {} (one per spatial "
                      "axis)",
                      node.describe(), out_shape.size(), r);
    }
  }
  for (size_t i = 0; i < r; ++i) {
    if (out_pad[i] >= w.strides[i] && out_pad[i] >= w.dilations[i]) {
      return HQ_ERROR(kInvalidArgument,
                      "{}: output_padding {} on spatial axis {} must be less than the stride {} or "
                      "the dilation {}",
                      node.describe(), out_pad[i], i, w.strides[i], w.dilations[i]);
    }
  }
  w.padBegin.assign(r, 0);
  w.padEnd.assign(r, 0);
  w.output.assign(r, -1);
  for (size_t i = 0; i < r; ++i) {
    const int64_t in = spatial_in[i], s = w.strides[i];
    const int64_t extent = (kernel[i] - 1) * w.dilations[i] + 1;
    const bool same = auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower;
    int64_t target = -1;  // output size that fixes the pads
    if (!out_shape.empty()) {
      target = out_shape[i];
    } else if (same && in >= 0) {
      target = in * s;
    }
    if (target >= 0) {
      w.output[i] = target;
      if (in < 0) continue;
      const int64_t total = s * (in - 1) + out_pad[i] + extent - target;
      // Floor division, as the spec's Python reference: a negative total (output_shape
      // larger than the natural size) adds the extra element at the end.
      const int64_t half = floorDiv(total, 2);
      w.padBegin[i] = auto_pad == AutoPad::kSameUpper ? half : total - half;
      w.padEnd[i] = total - w.padBegin[i];
      continue;
    }
    if (auto_pad == AutoPad::kNotSet) {
      w.padBegin[i] = pads[i];
      w.padEnd[i] = pads[i + r];
    }
    if (in < 0) continue;
    const int64_t out = s * (in - 1) + out_pad[i] + extent - w.padBegin[i] - w.padEnd[i];
    if (out <= 0) {
      return HQ_ERROR(kShape,
                      "{}: output size {} on spatial axis {} is not positive (pads {} and {})",
                      node.describe(), out, i, w.padBegin[i], w.padEnd[i]);
    }
    w.output[i] = out;
  }
  return w;
}

Expected<Window> poolWindow(const Node& node, const Shape& x, bool is_max) {
  HQ_ASSIGN_OR_RETURN(auto kernel, intsAttr(node, "kernel_shape", {}, 0, 1));
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank < 3 || rank > 5 || static_cast<int64_t>(kernel.size()) != rank - 2) {
    return HQ_ERROR(kShape,
                    "{}: X {} must have rank 3 to 5 with one kernel_shape value per spatial dim "
                    "(got {})",
                    node.describe(), shapeString(x), kernel.size());
  }
  ForwardWindowOptions opts;
  HQ_ASSIGN_OR_RETURN(int64_t ceil_mode, intAttr(node, "ceil_mode", 0));
  opts.ceilMode = ceil_mode != 0;
  opts.readDilations = is_max;
  return forwardWindow(node, spatialDims(x), kernel, opts);
}

Expected<Window> convWindow(const Node& node, const Shape& x, const Shape& w, bool transpose,
                            int64_t* group) {
  const size_t rank = w.size();
  if (rank < 3 || rank > 5 || x.size() != rank) {
    return HQ_ERROR(kShape, "{}: X {} and W {} must have the same rank, 3 to 5", node.describe(),
                    shapeString(x), shapeString(w));
  }
  HQ_ASSIGN_OR_RETURN(*group, intAttr(node, "group", 1));
  const int64_t g = *group;
  const bool channels_ok =
      g >= 1 && (transpose ? (x[1] == w[0] && w[0] % g == 0) : (x[1] == w[1] * g && w[0] % g == 0));
  if (!channels_ok) {
    return HQ_ERROR(kShape, "{}: X {} and W {} do not fit with group {}", node.describe(),
                    shapeString(x), shapeString(w), g);
  }
  if (transpose) return transposeWindow(node, spatialDims(x), spatialDims(w));
  return forwardWindow(node, spatialDims(x), spatialDims(w), ForwardWindowOptions{});
}

}  // namespace hq::ops
