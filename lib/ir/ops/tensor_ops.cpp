// Shape functions of data-movement and shape-arithmetic ops (Resize and Upsample are in
// resize.cpp). Constant inputs (Reshape's shape, Slice's starts...) are used when known;
// dims that depend on unknown values come out as -1.
#include "ir/ops/tensor_ops.h"

#include <algorithm>
#include <optional>

#include "ir/ops/shape_functions.h"

namespace hq::ops {

namespace {

template <typename... Args>
Status nodeError(const Node& node, ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, node.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
}

/// Input i's values when it is a known constant.
std::optional<std::vector<int64_t>> constInts(const InferContext& ctx, size_t i) {
  if (!ctx.hasInput(i) || !ctx.input(i).constant) return std::nullopt;
  return ctx.input(i).constant->toInt64();
}

bool isIntegerIndex(DType t) { return t == DType::kInt32 || t == DType::kInt64; }

/// Product of dims [from, to); -1 if any is unknown.
int64_t dimProduct(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) {
    if (s[i] < 0) return -1;
    p *= s[i];
  }
  return p;
}

/// Axes of Squeeze/Unsqueeze: the attribute (opset < 13) or input 1 (opset >= 13).
struct AxesArg {
  bool present = false;  ///< false: no axes given
  bool known = false;    ///< values known (attribute or constant input)
  std::vector<int64_t> values;
  int64_t count = -1;  ///< number of axes when known from the input's shape
};

AxesArg axesArg(const InferContext& ctx) {
  AxesArg a;
  if (ctx.attrs().has("axes")) {
    a.present = a.known = true;
    a.values = ctx.attrs().getInts("axes");
    a.count = static_cast<int64_t>(a.values.size());
  } else if (ctx.hasInput(1)) {
    a.present = true;
    if (auto v = constInts(ctx, 1)) {
      a.known = true;
      a.values = *v;
      a.count = static_cast<int64_t>(a.values.size());
    } else if (ctx.input(1).hasShape && ctx.input(1).shape.size() == 1) {
      a.count = ctx.input(1).shape[0];
    }
  }
  return a;
}

/// Normalize axes against `rank`, rejecting out-of-range and duplicate axes.
Expected<std::vector<int64_t>> normalizeAxes(const InferContext& ctx, std::vector<int64_t> axes,
                                             int64_t rank) {
  for (int64_t& a : axes) {
    HQ_ASSIGN_OR_RETURN(a, normalizeAxis(ctx, a, rank));
  }
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return ctx.error(ErrorCode::kShape, "axes {} contain a duplicate", fmt::join(axes, ", "));
  }
  return axes;
}

}  // namespace

// ---- Slice parameters (shared with the kernel) ----

Expected<SliceSpec> sliceSpecOf(const Node& node, const std::vector<const Tensor*>& inputs) {
  SliceSpec spec;
  if (node.attrs.has("starts") || node.attrs.has("ends")) {  // opset < 10
    if (!node.attrs.has("starts") || !node.attrs.has("ends")) {
      return nodeError(node, ErrorCode::kShape, "attributes 'starts' and 'ends' go together");
    }
    spec.starts = node.attrs.getInts("starts");
    spec.ends = node.attrs.getInts("ends");
    spec.axes = node.attrs.getInts("axes");
    return spec;
  }
  auto get = [&](size_t i) { return i < inputs.size() ? inputs[i] : nullptr; };
  if (!get(1) || !get(2)) {
    return nodeError(node, ErrorCode::kShape, "inputs 'starts' and 'ends' are required");
  }
  spec.starts = get(1)->toInt64();
  spec.ends = get(2)->toInt64();
  if (get(3)) spec.axes = get(3)->toInt64();
  if (get(4)) spec.steps = get(4)->toInt64();
  return spec;
}

Expected<SliceParams> resolveSlice(const Node& node, const Shape& data, const SliceSpec& spec) {
  const int64_t rank = static_cast<int64_t>(data.size());
  const size_t n = spec.starts.size();
  if (spec.ends.size() != n || (!spec.axes.empty() && spec.axes.size() != n) ||
      (!spec.steps.empty() && spec.steps.size() != n)) {
    return nodeError(node, ErrorCode::kShape,
                     "starts, ends, axes and steps must have the same length, got {}, {}, {}, {}",
                     n, spec.ends.size(), spec.axes.size(), spec.steps.size());
  }
  if (static_cast<int64_t>(n) > rank) {
    return nodeError(node, ErrorCode::kShape, "{} slice axes for a rank-{} input", n, rank);
  }
  SliceParams p;
  p.start.assign(data.size(), 0);
  p.step.assign(data.size(), 1);
  p.count = data;
  std::vector<bool> seen(data.size(), false);
  for (size_t i = 0; i < n; ++i) {
    int64_t axis = spec.axes.empty() ? static_cast<int64_t>(i) : spec.axes[i];
    if (axis < -rank || axis >= rank) {
      return nodeError(node, ErrorCode::kShape, "slice axis {} is out of range for rank {}", axis,
                       rank);
    }
    if (axis < 0) axis += rank;
    if (seen[axis]) {
      return nodeError(node, ErrorCode::kShape, "slice axis {} is given twice", axis);
    }
    seen[axis] = true;
    int64_t step = spec.steps.empty() ? 1 : spec.steps[i];
    if (step == 0) return nodeError(node, ErrorCode::kShape, "slice step of axis {} is 0", axis);
    p.step[axis] = step;
    const int64_t dim = data[axis];
    if (dim < 0) {
      p.count[axis] = -1;
      continue;
    }
    int64_t start = spec.starts[i], end = spec.ends[i];
    if (start < 0) start = start < -dim ? -1 : start + dim;  // -1 then clamps below
    if (end < 0) end = end < -dim ? -1 : end + dim;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      p.count[axis] = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      p.count[axis] = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    p.start[axis] = start;
  }
  return p;
}

// ---- shape functions ----

Status inferConcat(InferContext& ctx) {
  if (ctx.numInputs() == 0) return ctx.error(ErrorCode::kShape, "needs at least one input");
  if (!ctx.attrs().has("axis")) return ctx.error(ErrorCode::kShape, "attribute 'axis' is required");
  for (size_t i = 0; i < ctx.numInputs(); ++i) HQ_RETURN_IF_ERROR(ctx.requireInput(i));
  const ValueInfo& first = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  HQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().getInt("axis", 0), rank));
  Shape out = first.shape;
  for (size_t i = 1; i < ctx.numInputs(); ++i) {
    const ValueInfo& in = ctx.input(i);
    if (in.dtype != first.dtype) {
      return ctx.error(ErrorCode::kShape, "input {} is {} but input 0 is {}", i,
                       dtypeName(in.dtype), dtypeName(first.dtype));
    }
    if (in.shape.size() != first.shape.size()) {
      return ctx.error(ErrorCode::kShape, "input {} has shape {} but input 0 has shape {}", i,
                       shapeString(in.shape), shapeString(first.shape));
    }
    for (int64_t d = 0; d < rank; ++d) {
      int64_t a = out[d], b = in.shape[d];
      if (d == axis) {
        out[d] = (a < 0 || b < 0) ? -1 : a + b;
      } else if (a >= 0 && b >= 0 && a != b) {
        return ctx.error(ErrorCode::kShape,
                         "input {} has shape {} but input 0 has shape {}: dims other than axis {} "
                         "must match",
                         i, shapeString(in.shape), shapeString(first.shape), axis);
      } else if (a < 0) {
        out[d] = b;
      }
    }
  }
  ctx.setOutput(0, first.dtype, out);
  return Status::ok();
}

Status inferSplit(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  HQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().getInt("axis", 0), rank));
  const int64_t n = static_cast<int64_t>(ctx.numOutputs());
  if (n == 0) return ctx.error(ErrorCode::kShape, "needs at least one output");
  if (ctx.attrs().has("num_outputs") && ctx.attrs().getInt("num_outputs", 0) != n) {
    return ctx.error(ErrorCode::kShape, "attribute num_outputs={} but the node has {} outputs",
                     ctx.attrs().getInt("num_outputs", 0), n);
  }
  const int64_t dim = x.shape[axis];
  std::optional<std::vector<int64_t>> split;
  bool unknown_split = false;
  if (ctx.attrs().has("split")) {
    split = ctx.attrs().getInts("split");
  } else if (ctx.hasInput(1)) {
    split = constInts(ctx, 1);
    unknown_split = !split;
  }
  std::vector<int64_t> sizes(n, -1);
  if (split) {
    if (static_cast<int64_t>(split->size()) != n) {
      return ctx.error(ErrorCode::kShape, "split has {} entries but the node has {} outputs",
                       split->size(), n);
    }
    int64_t sum = 0;
    for (int64_t s : *split) {
      if (s < 0) {
        return ctx.error(ErrorCode::kShape, "split [{}] has a negative size",
                         fmt::join(*split, ", "));
      }
      sum += s;
    }
    if (dim >= 0 && sum != dim) {
      return ctx.error(ErrorCode::kShape, "split [{}] sums to {} but axis {} has size {}",
                       fmt::join(*split, ", "), sum, axis, dim);
    }
    sizes = *split;
  } else if (!unknown_split && dim >= 0) {
    // Equal parts; the last one is smaller when the dim does not divide (opset 18).
    const int64_t chunk = (dim + n - 1) / n;
    const int64_t last = dim - chunk * (n - 1);
    if (last < 0) {
      return ctx.error(ErrorCode::kShape, "axis {} of size {} cannot be split into {} parts", axis,
                       dim, n);
    }
    std::fill(sizes.begin(), sizes.end(), chunk);
    sizes.back() = last;
  }
  for (int64_t i = 0; i < n; ++i) {
    Shape s = x.shape;
    s[axis] = sizes[i];
    ctx.setOutput(static_cast<size_t>(i), x.dtype, s);
  }
  return Status::ok();
}

Status inferSlice(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  std::vector<const Tensor*> consts(ctx.numInputs(), nullptr);
  bool unknown = false;
  if (!ctx.attrs().has("starts")) {
    for (size_t i = 1; i < ctx.numInputs() && i < 5; ++i) {
      if (!ctx.hasInput(i)) continue;
      if (!isIntegerIndex(ctx.input(i).dtype)) {
        return ctx.error(ErrorCode::kShape, "input {} must be int32 or int64, got {}", i,
                         dtypeName(ctx.input(i).dtype));
      }
      consts[i] = ctx.input(i).constant;
      unknown = unknown || !consts[i];
    }
  }
  if (unknown) {
    // Some parameter is computed at run time: the sliced dims are unknown.
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    Shape out(x.shape.size(), -1);
    if (ctx.hasInput(3) && consts[3]) {
      out = x.shape;
      for (int64_t a : consts[3]->toInt64()) {
        HQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, a, rank));
        out[axis] = -1;
      }
    } else if (!ctx.hasInput(3) && ctx.hasInput(1) && ctx.input(1).hasShape &&
               ctx.input(1).shape.size() == 1 && ctx.input(1).shape[0] >= 0 &&
               ctx.input(1).shape[0] <= rank) {
      out = x.shape;
      for (int64_t a = 0; a < ctx.input(1).shape[0]; ++a) out[a] = -1;
    }
    ctx.setOutput(0, x.dtype, out);
    return Status::ok();
  }
  HQ_ASSIGN_OR_RETURN(SliceSpec spec, sliceSpecOf(ctx.node(), consts));
  HQ_ASSIGN_OR_RETURN(SliceParams p, resolveSlice(ctx.node(), x.shape, spec));
  ctx.setOutput(0, x.dtype, p.count);
  return Status::ok();
}

Status inferFlatten(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = ctx.attrs().getInt("axis", 1);
  if (axis < -rank || axis > rank) {
    return ctx.error(ErrorCode::kShape, "axis {} is out of range [{}, {}]", axis, -rank, rank);
  }
  if (axis < 0) axis += rank;
  size_t a = static_cast<size_t>(axis);
  ctx.setOutput(0, x.dtype, {dimProduct(x.shape, 0, a), dimProduct(x.shape, a, x.shape.size())});
  return Status::ok();
}

Status inferReshape(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  const bool allowzero = ctx.attrs().getInt("allowzero", 0) != 0;
  std::vector<int64_t> target;
  if (ctx.attrs().has("shape")) {  // opset < 5
    target = ctx.attrs().getInts("shape");
  } else {
    HQ_RETURN_IF_ERROR(ctx.requireInput(1));
    const ValueInfo& s = ctx.input(1);
    if (s.dtype != DType::kInt64) {
      return ctx.error(ErrorCode::kShape, "input 'shape' must be int64, got {}",
                       dtypeName(s.dtype));
    }
    if (s.shape.size() != 1) {
      return ctx.error(ErrorCode::kShape, "input 'shape' must be 1-D, got shape {}",
                       shapeString(s.shape));
    }
    if (!s.constant) {
      if (s.shape[0] < 0) {
        ctx.setOutputUnknownRank(0, x.dtype);
      } else {
        ctx.setOutput(0, x.dtype, Shape(static_cast<size_t>(s.shape[0]), -1));
      }
      return Status::ok();
    }
    target = s.constant->toInt64();
  }
  int64_t infer_at = -1;
  bool has_zero = false;
  Shape out(target.size());
  // Copied dims (0 without allowzero) cancel on both sides, so a dynamic batch that is
  // copied keeps -1 for the inferred dim computable.
  std::vector<bool> copied(x.shape.size(), false);
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t t = target[i];
    if (t == -1) {
      if (infer_at >= 0) {
        return ctx.error(ErrorCode::kShape, "shape [{}] has more than one -1",
                         fmt::join(target, ", "));
      }
      infer_at = static_cast<int64_t>(i);
      out[i] = -1;
    } else if (t < -1) {
      return ctx.error(ErrorCode::kShape, "shape [{}] has an invalid dim {}",
                       fmt::join(target, ", "), t);
    } else if (t == 0 && !allowzero) {
      if (i >= x.shape.size()) {
        return ctx.error(ErrorCode::kShape, "shape [{}] copies dim {} of a rank-{} input",
                         fmt::join(target, ", "), i, x.shape.size());
      }
      out[i] = x.shape[i];
      copied[i] = true;
    } else {
      has_zero = has_zero || t == 0;
      out[i] = t;
    }
  }
  if (allowzero && has_zero && infer_at >= 0) {
    return ctx.error(ErrorCode::kShape, "shape [{}] has both 0 and -1 with allowzero=1",
                     fmt::join(target, ", "));
  }
  // Element counts without the copied dims.
  int64_t in_rest = 1, out_rest = 1;
  bool in_known = true;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (copied[i]) continue;
    if (x.shape[i] < 0)
      in_known = false;
    else
      in_rest *= x.shape[i];
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if ((i < copied.size() && copied[i]) || static_cast<int64_t>(i) == infer_at) continue;
    out_rest *= out[i];
  }
  if (infer_at >= 0) {
    if (in_known) {
      if (out_rest == 0 || in_rest % out_rest != 0) {
        return ctx.error(ErrorCode::kShape, "cannot reshape {} to [{}]", shapeString(x.shape),
                         fmt::join(target, ", "));
      }
      out[infer_at] = in_rest / out_rest;
    }
  } else if (in_known && in_rest != out_rest) {
    return ctx.error(ErrorCode::kShape, "cannot reshape {} ({} elements) to [{}]",
                     shapeString(x.shape), shapeNumel(x.shape), fmt::join(target, ", "));
  }
  ctx.setOutput(0, x.dtype, out);
  return Status::ok();
}

Status inferTranspose(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> perm = ctx.attrs().getInts("perm");
  if (!ctx.attrs().has("perm")) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (size_t i = 0; valid && i < perm.size(); ++i) {
    valid = perm[i] >= 0 && perm[i] < rank && !seen[perm[i]];
    if (valid) seen[perm[i]] = true;
  }
  if (!valid) {
    return ctx.error(ErrorCode::kShape, "perm [{}] is not a permutation of the {} input dims",
                     fmt::join(perm, ", "), rank);
  }
  Shape out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = x.shape[perm[i]];
  ctx.setOutput(0, x.dtype, out);
  return Status::ok();
}

Status inferSqueeze(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  AxesArg axes = axesArg(ctx);
  Shape out;
  if (!axes.present) {
    // Squeeze every dim of 1. Unknown dims (a dynamic batch) are assumed not to be 1;
    // executors re-infer with concrete shapes.
    for (int64_t d : x.shape) {
      if (d != 1) out.push_back(d);
    }
  } else if (!axes.known) {
    if (axes.count < 0) {
      ctx.setOutputUnknownRank(0, x.dtype);
    } else {
      ctx.setOutput(0, x.dtype,
                    Shape(static_cast<size_t>(std::max<int64_t>(0, rank - axes.count)), -1));
    }
    return Status::ok();
  } else {
    HQ_ASSIGN_OR_RETURN(auto norm, normalizeAxes(ctx, axes.values, rank));
    std::vector<bool> drop(static_cast<size_t>(rank), false);
    for (int64_t a : norm) {
      if (x.shape[a] > 1 || x.shape[a] == 0) {
        return ctx.error(ErrorCode::kShape, "cannot squeeze axis {} of size {} (input {})", a,
                         x.shape[a], shapeString(x.shape));
      }
      drop[a] = true;
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (!drop[d]) out.push_back(x.shape[d]);
    }
  }
  ctx.setOutput(0, x.dtype, out);
  return Status::ok();
}

Status inferUnsqueeze(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  AxesArg axes = axesArg(ctx);
  if (!axes.present) return ctx.error(ErrorCode::kShape, "axes are required");
  if (!axes.known) {
    if (axes.count < 0) {
      ctx.setOutputUnknownRank(0, x.dtype);
    } else {
      ctx.setOutput(0, x.dtype, Shape(static_cast<size_t>(rank + axes.count), -1));
    }
    return Status::ok();
  }
  const int64_t out_rank = rank + static_cast<int64_t>(axes.values.size());
  HQ_ASSIGN_OR_RETURN(auto norm, normalizeAxes(ctx, axes.values, out_rank));
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : norm) inserted[a] = true;
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) out.push_back(inserted[d] ? 1 : x.shape[next++]);
  ctx.setOutput(0, x.dtype, out);
  return Status::ok();
}

Status inferShape(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const int64_t rank = static_cast<int64_t>(ctx.input(0).shape.size());
  int64_t start = ctx.attrs().getInt("start", 0), end = ctx.attrs().getInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  ctx.setOutput(0, DType::kInt64, {end - start});
  return Status::ok();
}

Status inferGather(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& idx = ctx.input(1);
  if (!isIntegerIndex(idx.dtype)) {
    return ctx.error(ErrorCode::kShape, "indices must be int32 or int64, got {}",
                     dtypeName(idx.dtype));
  }
  const int64_t rank = static_cast<int64_t>(data.shape.size());
  if (rank == 0) return ctx.error(ErrorCode::kShape, "data must have rank >= 1, got a scalar");
  HQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().getInt("axis", 0), rank));
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  ctx.setOutput(0, data.dtype, out);
  return Status::ok();
}

namespace {
bool castable(DType t) {
  switch (t) {
    case DType::kFloat16:
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kBool: return true;
    default: return false;
  }
}
}  // namespace

Status inferCast(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  if (!ctx.attrs().has("to")) return ctx.error(ErrorCode::kShape, "attribute 'to' is required");
  const int64_t to_onnx = ctx.attrs().getInt("to", 0);
  DType to = dtypeFromOnnx(static_cast<int32_t>(to_onnx));
  if (!castable(to)) {
    return ctx.error(ErrorCode::kUnsupported, "attribute to={} ({}) is not a supported cast target",
                     to_onnx, to == DType::kUndefined ? "unknown to hq" : dtypeName(to));
  }
  if (!castable(ctx.input(0).dtype)) {
    return ctx.error(ErrorCode::kUnsupported, "casting from {} is not supported",
                     dtypeName(ctx.input(0).dtype));
  }
  ctx.setOutput(0, to, ctx.input(0).shape);
  return Status::ok();
}

Status inferIdentity(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  ctx.setOutput(0, ctx.input(0).dtype, ctx.input(0).shape);
  return Status::ok();
}

Status inferDropout(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  const ValueInfo& x = ctx.input(0);
  // Inference only: training_mode=true is accepted when the ratio is 0 (an identity).
  if (ctx.hasInput(2) && ctx.input(2).constant && ctx.input(2).constant->numel() == 1 &&
      ctx.input(2).constant->toInt64()[0] != 0) {
    double ratio = 0.5;
    if (ctx.hasInput(1)) {
      if (!ctx.input(1).constant) {
        return ctx.error(ErrorCode::kUnsupported,
                         "training_mode=true with a computed ratio is not supported");
      }
      ratio = ctx.input(1).constant->toDouble().at(0);
    }
    if (ratio != 0.0) {
      return ctx.error(ErrorCode::kUnsupported,
                       "training_mode=true with ratio {} is not supported (inference only)", ratio);
    }
  }
  ctx.setOutput(0, x.dtype, x.shape);
  ctx.setOutput(1, DType::kBool, x.shape);
  return Status::ok();
}

Status inferConstant(InferContext& ctx) {
  const Attributes& a = ctx.attrs();
  int given = 0;
  for (const char* name : {"value", "value_float", "value_floats", "value_int", "value_ints"}) {
    given += a.has(name) ? 1 : 0;
  }
  if (given != 1) {
    return ctx.error(ErrorCode::kShape,
                     "exactly one of value, value_float(s), value_int(s) is required, got {}",
                     given);
  }
  if (const Tensor* t = a.getTensor("value")) {
    ctx.setOutput(0, t->dtype(), t->shape());
  } else if (a.has("value")) {
    return ctx.error(ErrorCode::kShape, "attribute 'value' must be a tensor");
  } else if (a.has("value_float")) {
    ctx.setOutput(0, DType::kFloat32, {});
  } else if (a.has("value_floats")) {
    ctx.setOutput(0, DType::kFloat32, {static_cast<int64_t>(a.getFloats("value_floats").size())});
  } else if (a.has("value_int")) {
    ctx.setOutput(0, DType::kInt64, {});
  } else {
    ctx.setOutput(0, DType::kInt64, {static_cast<int64_t>(a.getInts("value_ints").size())});
  }
  return Status::ok();
}

}  // namespace hq::ops
