// Shape functions of the ai.hq elementwise and tensor ops (schemas/int-ops.md sections 3 and
// 4.2-4.8), and the parameter readers they share with the reference kernels
// (ir/ops/int_elementwise.h). A malformed integer model is an error naming the node.
#include "ir/ops/int_elementwise.h"

#include <cmath>
#include <limits>
#include <optional>

#include "ir/ops/shape_functions.h"

namespace hq::ops {

namespace {

template <typename... Args>
Status nodeError(const Node& node, ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, node.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
}

/// The attribute `name` of kind `kind`; nullptr when absent; an error for another kind.
Expected<const Attribute*> attrOfKind(const Node& node, const char* name, Attribute::Kind kind) {
  const Attribute* a = node.attrs.find(name);
  if (a && a->kind != kind) {
    return nodeError(node, ErrorCode::kInvalidArgument, "attribute '{}' must be {}, got {}", name,
                     attributeKindName(kind), attributeKindName(a->kind));
  }
  return a;
}

Expected<int64_t> requiredInt(const Node& node, const char* name) {
  HQ_ASSIGN_OR_RETURN(const Attribute* a, attrOfKind(node, name, Attribute::Kind::kInt));
  if (!a) return nodeError(node, ErrorCode::kInvalidArgument, "attribute '{}' is required", name);
  return a->i;
}

Expected<std::optional<int64_t>> optionalInt(const Node& node, const char* name) {
  HQ_ASSIGN_OR_RETURN(const Attribute* a, attrOfKind(node, name, Attribute::Kind::kInt));
  if (!a) return std::optional<int64_t>();
  return std::optional<int64_t>(a->i);
}

Expected<std::vector<int64_t>> requiredInts(const Node& node, const char* name) {
  HQ_ASSIGN_OR_RETURN(const Attribute* a, attrOfKind(node, name, Attribute::Kind::kInts));
  if (!a) return nodeError(node, ErrorCode::kInvalidArgument, "attribute '{}' is required", name);
  return a->ints;
}

Status checkShift(const Node& node, const char* name, int64_t shift) {
  if (shift < 0 || shift > fxp::kMaxShift) {
    return nodeError(node, ErrorCode::kInvalidArgument, "attribute {}={} is outside [0, {}]", name,
                     shift, fxp::kMaxShift);
  }
  return Status::ok();
}

Status checkMultiplier(const Node& node, const char* name, int64_t m, bool allow_negative) {
  const int64_t lo = allow_negative ? -int64_t{fxp::kMultiplierMax} : 0;
  if (m < lo || m > fxp::kMultiplierMax) {
    return nodeError(node, ErrorCode::kInvalidArgument, "attribute {}={} is outside [{}, {}]", name,
                     m, lo, fxp::kMultiplierMax);
  }
  return Status::ok();
}

Expected<fxp::FixedMultiplier> multiplierOf(const Node& node, const char* m_name, int64_t m,
                                            const char* s_name, int64_t s) {
  HQ_RETURN_IF_ERROR(checkMultiplier(node, m_name, m, false));
  HQ_RETURN_IF_ERROR(checkShift(node, s_name, s));
  return fxp::FixedMultiplier{static_cast<int32_t>(m), static_cast<int>(s)};
}

/// out_type (required): 3 (INT8) or 5 (INT16).
Expected<DType> readOutType(const Node& node) {
  HQ_ASSIGN_OR_RETURN(int64_t type, requiredInt(node, "out_type"));
  if (type == 3) return DType::kInt8;
  if (type == 5) return DType::kInt16;
  return nodeError(node, ErrorCode::kInvalidArgument,
                   "attribute out_type={} is not an output type of this op (3 INT8 or 5 INT16)",
                   type);
}

Status requireIntActivation(const InferContext& ctx, size_t i, const char* what) {
  HQ_RETURN_IF_ERROR(ctx.requireInput(i));
  const DType t = ctx.input(i).dtype;
  if (!isIntActivation(t)) {
    return ctx.error(ErrorCode::kShape, "input {} ({}) must be int8 or int16, got {}", i, what,
                     dtypeName(t));
  }
  return Status::ok();
}

Status requireInputCount(const InferContext& ctx, size_t lo, size_t hi) {
  const size_t n = ctx.numInputs();
  if (n < lo || n > hi) {
    if (lo == hi) return ctx.error(ErrorCode::kShape, "expects {} input(s), got {}", lo, n);
    return ctx.error(ErrorCode::kShape, "expects {} to {} inputs, got {}", lo, hi, n);
  }
  return Status::ok();
}

}  // namespace

// ---- parameter readers ----

fxp::IntRange intDTypeRange(DType t) {
  switch (t) {
    case DType::kInt8: return fxp::kInt8Range;
    case DType::kInt16: return fxp::kInt16Range;
    case DType::kInt32: return fxp::kInt32Range;
    default: return {0, 0};
  }
}

Expected<IntOutputStage> readIntOutputStage(const Node& node) {
  IntOutputStage s;
  HQ_ASSIGN_OR_RETURN(s.type, readOutType(node));
  HQ_ASSIGN_OR_RETURN(int64_t lo, requiredInt(node, "out_lo"));
  HQ_ASSIGN_OR_RETURN(int64_t hi, requiredInt(node, "out_hi"));
  const fxp::IntRange r = intDTypeRange(s.type);
  if (lo < r.lo || hi > r.hi || lo > hi) {
    return nodeError(node, ErrorCode::kInvalidArgument,
                     "clamp [out_lo, out_hi] = [{}, {}] must be a non-empty range inside {}'s "
                     "[{}, {}]",
                     lo, hi, dtypeName(s.type), r.lo, r.hi);
  }
  s.clamp = {static_cast<int32_t>(lo), static_cast<int32_t>(hi)};
  return s;
}

Expected<fxp::FixedMultiplier> readIntMultiplier(const Node& node, const char* multiplier_attr,
                                                 const char* shift_attr) {
  HQ_ASSIGN_OR_RETURN(int64_t m, requiredInt(node, multiplier_attr));
  HQ_ASSIGN_OR_RETURN(int64_t s, requiredInt(node, shift_attr));
  return multiplierOf(node, multiplier_attr, m, shift_attr, s);
}

Expected<fxp::IntRange> readQClamp(const Node& node, DType x) {
  HQ_ASSIGN_OR_RETURN(int64_t lo, requiredInt(node, "lo"));
  HQ_ASSIGN_OR_RETURN(int64_t hi, requiredInt(node, "hi"));
  const fxp::IntRange r = intDTypeRange(x);
  if (lo < r.lo || hi > r.hi || lo > hi) {
    return nodeError(node, ErrorCode::kInvalidArgument,
                     "clamp [lo, hi] = [{}, {}] must be a non-empty range inside {}'s [{}, {}]", lo,
                     hi, dtypeName(x), r.lo, r.hi);
  }
  return fxp::IntRange{static_cast<int32_t>(lo), static_cast<int32_t>(hi)};
}

Expected<QAddParams> readQAdd(const Node& node) {
  QAddParams p;
  HQ_ASSIGN_OR_RETURN(int64_t ma, requiredInt(node, "multiplier_a"));
  HQ_ASSIGN_OR_RETURN(int64_t mb, requiredInt(node, "multiplier_b"));
  HQ_ASSIGN_OR_RETURN(int64_t shift, requiredInt(node, "shift"));
  HQ_RETURN_IF_ERROR(checkMultiplier(node, "multiplier_a", ma, false));
  HQ_RETURN_IF_ERROR(checkMultiplier(node, "multiplier_b", mb, true));
  HQ_RETURN_IF_ERROR(checkShift(node, "shift", shift));
  HQ_ASSIGN_OR_RETURN(p.out, readIntOutputStage(node));
  p.multiplierA = static_cast<int32_t>(ma);
  p.multiplierB = static_cast<int32_t>(mb);
  p.shift = static_cast<int>(shift);
  return p;
}

Expected<QRequantParams> readQRequant(const Node& node) {
  QRequantParams p;
  HQ_ASSIGN_OR_RETURN(p.multiplier, readIntMultiplier(node, "multiplier", "shift"));
  HQ_ASSIGN_OR_RETURN(p.out, readIntOutputStage(node));
  return p;
}

Expected<QConcatParams> readQConcat(const Node& node, size_t num_inputs, int64_t rank) {
  QConcatParams p;
  HQ_ASSIGN_OR_RETURN(int64_t axis, requiredInt(node, "axis"));
  if (axis < -rank || axis >= rank) {
    return nodeError(node, ErrorCode::kShape, "axis {} is out of range for rank {}", axis, rank);
  }
  p.axis = axis < 0 ? axis + rank : axis;
  HQ_ASSIGN_OR_RETURN(std::vector<int64_t> m, requiredInts(node, "multiplier"));
  HQ_ASSIGN_OR_RETURN(std::vector<int64_t> s, requiredInts(node, "shift"));
  if (m.size() != num_inputs || s.size() != num_inputs) {
    return nodeError(node, ErrorCode::kInvalidArgument,
                     "attributes multiplier and shift need one entry per input ({}), got {} and {}",
                     num_inputs, m.size(), s.size());
  }
  for (size_t i = 0; i < num_inputs; ++i) {
    const std::string mi = fmt::format("multiplier[{}]", i), si = fmt::format("shift[{}]", i);
    HQ_ASSIGN_OR_RETURN(fxp::FixedMultiplier fm,
                        multiplierOf(node, mi.c_str(), m[i], si.c_str(), s[i]));
    p.parts.push_back(fm);
  }
  HQ_ASSIGN_OR_RETURN(p.out, readIntOutputStage(node));
  return p;
}

Expected<QResizeParams> resolveQResize(const Node& node, DType x, const Shape& in) {
  if (!isIntActivation(x)) {
    return nodeError(node, ErrorCode::kShape, "input X must be int8 or int16, got {}",
                     dtypeName(x));
  }
  for (const char* name : {"mode", "coordinate_transformation_mode", "nearest_mode"}) {
    HQ_RETURN_IF_ERROR(attrOfKind(node, name, Attribute::Kind::kString));
  }
  ResizeParams attrs;
  HQ_RETURN_IF_ERROR(parseResizeAttributes(node, &attrs));
  if (attrs.mode == ResizeMode::kCubic) {
    return nodeError(node, ErrorCode::kUnsupported,
                     "attribute mode='cubic' has no integer form (nearest or linear)");
  }
  if (attrs.coord == CoordTransform::kTfCropAndResize) {
    return nodeError(node, ErrorCode::kUnsupported,
                     "coordinate_transformation_mode='tf_crop_and_resize' has no integer form in "
                     "ai.hq version 1");
  }
  const int64_t rank = static_cast<int64_t>(in.size());
  if (rank < 2) {
    return nodeError(node, ErrorCode::kShape, "input X must have rank >= 2 (NCHW), got {}",
                     shapeString(in));
  }
  HQ_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, requiredInts(node, "sizes"));
  if (static_cast<int64_t>(sizes.size()) != rank) {
    return nodeError(node, ErrorCode::kShape, "attribute sizes has {} values for the rank-{} input",
                     sizes.size(), rank);
  }
  HQ_ASSIGN_OR_RETURN(const Attribute* scales_attr,
                      attrOfKind(node, "scales", Attribute::Kind::kFloats));
  if (scales_attr && static_cast<int64_t>(scales_attr->floats.size()) != rank) {
    return nodeError(node, ErrorCode::kShape,
                     "attribute scales has {} values for the rank-{} input",
                     scales_attr->floats.size(), rank);
  }
  // -1 on a leading (never resized) axis is the input's dim: a model with a dynamic batch
  // keeps it (hq-convert writes the output shape it resolved, unknown dims included).
  Shape out = sizes;
  for (int64_t d = 0; d < rank; ++d) {
    const bool as_input = d < rank - 2 && sizes[d] == -1;
    if (as_input) {
      out[d] = in[d];
    } else if (sizes[d] <= 0) {
      return nodeError(node, ErrorCode::kShape,
                       "sizes [{}] must be positive (-1 only on a leading, unresized axis)",
                       fmt::join(sizes, ", "));
    }
    if (d < rank - 2) {
      const bool size_changes = !as_input && in[d] >= 0 && sizes[d] != in[d];
      const bool scale_changes = scales_attr && scales_attr->floats[d] != 1.0f;
      if (size_changes || scale_changes) {
        return nodeError(node, ErrorCode::kShape,
                         "only the last two (spatial) axes may be resized: axis {} goes from {} "
                         "to {}{}",
                         d, in[d], sizes[d], scale_changes ? " (scale != 1)" : "");
      }
    }
  }
  // The coordinate parameters exactly as the float Resize resolves them (ir/ops/resize.cpp):
  // from the float model's scales when it gave scales, else from the sizes.
  Shape known = in;
  for (int64_t d = 0; d < rank; ++d) {
    if (known[d] < 0) known[d] = d < rank - 2 && out[d] > 0 ? out[d] : 1;
  }
  QResizeParams p;
  if (scales_attr) {
    Tensor s = Tensor::fromVector<float>({rank}, scales_attr->floats);
    HQ_ASSIGN_OR_RETURN(p.resize, resolveResize(node, known, nullptr, &s, nullptr));
  } else {
    std::vector<int64_t> resolved = out;
    for (int64_t d = 0; d < rank - 2; ++d) resolved[d] = known[d];
    Tensor s = Tensor::fromVector<int64_t>({rank}, resolved);
    HQ_ASSIGN_OR_RETURN(p.resize, resolveResize(node, known, nullptr, nullptr, &s));
  }
  p.resize.outShape = out;

  if (p.resize.mode == ResizeMode::kNearest) {
    HQ_ASSIGN_OR_RETURN(std::optional<int64_t> out_type, optionalInt(node, "out_type"));
    if (out_type && *out_type != static_cast<int64_t>(x)) {
      return nodeError(node, ErrorCode::kInvalidArgument,
                       "mode 'nearest' keeps the input dtype ({}, ONNX type {}), but out_type={}",
                       dtypeName(x), static_cast<int>(x), *out_type);
    }
    p.out.type = x;
    p.out.clamp = intDTypeRange(x);
    return p;
  }
  const int bits = x == DType::kInt8 ? 8 : 16;
  HQ_ASSIGN_OR_RETURN(int64_t frac_bits, requiredInt(node, "frac_bits"));
  if (frac_bits != fxp::interpolationFracBits(bits)) {
    return nodeError(node, ErrorCode::kInvalidArgument,
                     "attribute frac_bits={} must be {} for an int{} input (the int32 sum of the "
                     "weighted taps must not overflow)",
                     frac_bits, fxp::interpolationFracBits(bits), bits);
  }
  p.fracBits = static_cast<int>(frac_bits);
  HQ_ASSIGN_OR_RETURN(p.multiplier, readIntMultiplier(node, "multiplier", "shift"));
  HQ_ASSIGN_OR_RETURN(p.out, readIntOutputStage(node));
  return p;
}

Expected<QLookupParams> readQLookup(const Node& node, DType x, const Shape& x_shape, DType t,
                                    const Shape& t_shape) {
  if (!isIntActivation(x)) {
    return nodeError(node, ErrorCode::kShape, "input X must be int8 or int16, got {}",
                     dtypeName(x));
  }
  QLookupParams p;
  const fxp::IntRange xr = intDTypeRange(x);
  p.tableSize = static_cast<int64_t>(xr.hi) - xr.lo + 1;
  HQ_ASSIGN_OR_RETURN(int64_t in_lo, requiredInt(node, "in_lo"));
  if (in_lo != xr.lo) {
    return nodeError(node, ErrorCode::kInvalidArgument,
                     "attribute in_lo={} must be the minimum of the {} input ({})", in_lo,
                     dtypeName(x), xr.lo);
  }
  p.inLo = xr.lo;
  HQ_ASSIGN_OR_RETURN(p.outType, readOutType(node));
  if (t != p.outType) {
    return nodeError(node, ErrorCode::kShape, "table T must have the output dtype {}, got {}",
                     dtypeName(p.outType), dtypeName(t));
  }
  HQ_ASSIGN_OR_RETURN(std::optional<int64_t> axis, optionalInt(node, "axis"));
  const int64_t rank = static_cast<int64_t>(x_shape.size());
  if (t_shape.size() == 1) {
    if (axis) {
      return nodeError(node, ErrorCode::kInvalidArgument,
                       "attribute axis is only allowed with a per-channel table [C, {}]",
                       p.tableSize);
    }
  } else if (t_shape.size() == 2) {
    if (!axis) {
      return nodeError(node, ErrorCode::kInvalidArgument,
                       "a per-channel table {} needs the attribute axis", shapeString(t_shape));
    }
    if (*axis < -rank || *axis >= rank) {
      return nodeError(node, ErrorCode::kShape, "axis {} is out of range for rank {}", *axis, rank);
    }
    p.axis = *axis < 0 ? *axis + rank : *axis;
    const int64_t c = x_shape[p.axis];
    if (t_shape[0] >= 0 && c >= 0 && t_shape[0] != c) {
      return nodeError(node, ErrorCode::kShape,
                       "table T {} has {} channels but X {} has {} along axis {}",
                       shapeString(t_shape), t_shape[0], shapeString(x_shape), c, p.axis);
    }
  } else {
    return nodeError(node, ErrorCode::kShape, "table T must be [{}] or [C, {}], got {}",
                     p.tableSize, p.tableSize, shapeString(t_shape));
  }
  const int64_t entries = t_shape.back();
  if (entries >= 0 && entries != p.tableSize) {
    return nodeError(node, ErrorCode::kShape,
                     "table T {} must have {} entries per table (one per {} value)",
                     shapeString(t_shape), p.tableSize, dtypeName(x));
  }
  return p;
}

bool softmaxAxisFits(int64_t length, int shift) {
  if (length < 0 || shift < 0 || shift >= 63) return false;
  const int64_t limit = std::numeric_limits<int64_t>::max() >> shift;
  return length <= (limit >> fxp::kSoftmaxExpBits);
}

Expected<QSoftmaxParams> readQSoftmax(const Node& node, int64_t rank) {
  QSoftmaxParams p;
  HQ_ASSIGN_OR_RETURN(std::optional<int64_t> axis, optionalInt(node, "axis"));
  const int64_t a = axis.value_or(-1);
  if (a < -rank || a >= rank) {
    return nodeError(node, ErrorCode::kShape, "axis {} is out of range for rank {}", a, rank);
  }
  p.axis = a < 0 ? a + rank : a;
  HQ_ASSIGN_OR_RETURN(p.invOut, readIntMultiplier(node, "multiplier", "shift"));
  if (p.invOut.shift >= 63) {
    return nodeError(node, ErrorCode::kInvalidArgument,
                     "attribute shift={} is too large for Softmax (at most 62)", p.invOut.shift);
  }
  HQ_ASSIGN_OR_RETURN(p.out, readIntOutputStage(node));
  return p;
}

// ---- shape functions ----

Status inferQClamp(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 1, 1));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 0, "X"));
  HQ_RETURN_IF_ERROR(readQClamp(ctx.node(), ctx.input(0).dtype));
  ctx.setOutput(0, ctx.input(0).dtype, ctx.input(0).shape);
  return Status::ok();
}

Status inferQAdd(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 2, 2));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 0, "A"));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 1, "B"));
  HQ_ASSIGN_OR_RETURN(QAddParams p, readQAdd(ctx.node()));
  HQ_ASSIGN_OR_RETURN(Shape out, broadcastShapes(ctx, ctx.input(0).shape, ctx.input(1).shape));
  ctx.setOutput(0, p.out.type, out);
  return Status::ok();
}

Status inferQMul(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 2, 2));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 0, "A"));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 1, "B"));
  HQ_ASSIGN_OR_RETURN(QRequantParams p, readQRequant(ctx.node()));
  HQ_ASSIGN_OR_RETURN(Shape out, broadcastShapes(ctx, ctx.input(0).shape, ctx.input(1).shape));
  ctx.setOutput(0, p.out.type, out);
  return Status::ok();
}

Status inferQRescale(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 1, 1));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 0, "X"));
  HQ_ASSIGN_OR_RETURN(QRequantParams p, readQRequant(ctx.node()));
  ctx.setOutput(0, p.out.type, ctx.input(0).shape);
  return Status::ok();
}

Status inferQConcat(InferContext& ctx) {
  if (ctx.numInputs() == 0) return ctx.error(ErrorCode::kShape, "needs at least one input");
  for (size_t i = 0; i < ctx.numInputs(); ++i)
    HQ_RETURN_IF_ERROR(requireIntActivation(ctx, i, "X"));
  const int64_t rank = static_cast<int64_t>(ctx.input(0).shape.size());
  HQ_ASSIGN_OR_RETURN(QConcatParams p, readQConcat(ctx.node(), ctx.numInputs(), rank));
  // The shapes follow float Concat's rules; the parts may differ in dtype (each is
  // requantized to out_type), so the float shape function sees them as one dtype.
  std::vector<ValueInfo> same_type;
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    ValueInfo v = ctx.input(i);
    v.dtype = p.out.type;
    v.constant = nullptr;
    same_type.push_back(v);
  }
  InferContext concat(ctx.node(), std::move(same_type));
  HQ_RETURN_IF_ERROR(inferConcat(concat));
  ctx.setOutput(0, p.out.type, concat.outputs().at(0).shape);
  return Status::ok();
}

Status inferQResize(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 1, 1));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 0, "X"));
  HQ_ASSIGN_OR_RETURN(QResizeParams p,
                      resolveQResize(ctx.node(), ctx.input(0).dtype, ctx.input(0).shape));
  ctx.setOutput(0, p.out.type, p.resize.outShape);
  return Status::ok();
}

Status inferQLookup(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 2, 2));
  HQ_RETURN_IF_ERROR(requireIntActivation(ctx, 0, "X"));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const ValueInfo& x = ctx.input(0);
  const ValueInfo& t = ctx.input(1);
  HQ_ASSIGN_OR_RETURN(QLookupParams p, readQLookup(ctx.node(), x.dtype, x.shape, t.dtype, t.shape));
  ctx.setOutput(0, p.outType, x.shape);
  return Status::ok();
}

Status inferQSoftmax(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 2, 2));
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const ValueInfo& x = ctx.input(0);
  const ValueInfo& e = ctx.input(1);
  if (x.dtype != DType::kInt8) {
    return ctx.error(ErrorCode::kShape, "input 0 (X) must be int8, got {}", dtypeName(x.dtype));
  }
  if (e.dtype != DType::kInt32 || e.shape != Shape{256}) {
    return ctx.error(ErrorCode::kShape, "input 1 (E) must be an int32 table [256], got {} {}",
                     dtypeName(e.dtype), shapeString(e.shape));
  }
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  HQ_ASSIGN_OR_RETURN(QSoftmaxParams p, readQSoftmax(ctx.node(), rank));
  const int64_t length = x.shape[p.axis];
  if (length >= 0 && !softmaxAxisFits(length, p.invOut.shift)) {
    return ctx.error(ErrorCode::kInvalidArgument,
                     "an axis of {} elements with shift={} overflows the int64 divisor "
                     "(length * 2^16 * 2^shift must be < 2^63)",
                     length, p.invOut.shift);
  }
  ctx.setOutput(0, p.out.type, x.shape);
  return Status::ok();
}

}  // namespace hq::ops
