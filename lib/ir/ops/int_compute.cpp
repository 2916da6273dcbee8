// Shape functions of the ai.hq compute and pooling ops (schemas/int-ops.md sections 2, 3
// and 4.1): QConv, QConvTranspose, QGemm, QMaxPool, QGlobalMaxPool, QAveragePool,
// QGlobalAveragePool. The geometry is the float op's: its shape function (conv.cpp,
// pool.cpp) runs on the same node with float32 stand-ins for the integer inputs, so
// float and integer shapes cannot disagree. This file adds what only an integer model can
// get wrong: dtypes, constant weights, and the requantization attributes (readIntRequant).
#include "ir/ops/int_compute.h"

#include <algorithm>
#include <limits>
#include <string>

#include "ir/ops/shape_functions.h"
#include "ir/ops/window.h"

namespace hq::ops {

namespace {

bool known(int64_t d) { return d >= 0; }

/// Largest window of an average (fxp::averageMultipliers' limit).
constexpr int64_t kMaxAverageCount = int64_t{1} << 24;

/// Input i (named `what`) must be present with dtype int8 or int16.
Status requireActivation(const InferContext& ctx, size_t i, const char* what) {
  if (!ctx.hasInput(i)) return ctx.error(ErrorCode::kShape, "input {} ({}) is missing", i, what);
  const DType t = ctx.input(i).dtype;
  if (t != DType::kInt8 && t != DType::kInt16) {
    return ctx.error(ErrorCode::kUnsupported, "input {} ({}) has dtype {}; expected int8 or int16",
                     i, what, dtypeName(t));
  }
  return Status::ok();
}

/// Input i (named `what`) must be a constant initializer of dtype `want` with known shape.
Status requireConstant(const InferContext& ctx, size_t i, const char* what, DType want) {
  if (!ctx.hasInput(i)) return ctx.error(ErrorCode::kShape, "input {} ({}) is missing", i, what);
  const ValueInfo& v = ctx.input(i);
  if (v.dtype != want) {
    return ctx.error(ErrorCode::kUnsupported, "input {} ({}) has dtype {}; expected {}", i, what,
                     dtypeName(v.dtype), dtypeName(want));
  }
  if (!v.constant) {
    return ctx.error(ErrorCode::kUnsupported,
                     "input {} ({}) must be a constant initializer (integer models store "
                     "quantized weights and biases)",
                     i, what);
  }
  return ctx.requireInput(i);
}

/// At most `max_inputs` inputs (`names`) and exactly one output (`output_note` explains).
Status requireInputCount(const InferContext& ctx, size_t max_inputs, const char* names,
                         const char* output_note = "Y") {
  if (ctx.numInputs() > max_inputs) {
    return ctx.error(ErrorCode::kShape, "has {} inputs; expected at most {} ({})", ctx.numInputs(),
                     max_inputs, names);
  }
  if (ctx.numOutputs() != 1) {
    return ctx.error(ErrorCode::kShape, "has {} outputs; expected exactly 1 ({})",
                     ctx.numOutputs(), output_note);
  }
  return Status::ok();
}

using FloatInferFn = Status (*)(InferContext&);

/// Run the float op's shape function on the node with the first `n` inputs replaced by
/// float32 stand-ins of the same shapes; returns its output 0 (dtype float32).
Expected<ValueInfo> floatGeometry(const InferContext& ctx, size_t n, FloatInferFn fn) {
  std::vector<ValueInfo> ins;
  for (size_t i = 0; i < n && i < ctx.numInputs(); ++i) {
    ValueInfo v = ctx.input(i);
    if (v.dtype != DType::kUndefined) v.dtype = DType::kFloat32;
    v.constant = nullptr;
    ins.push_back(v);
  }
  InferContext fctx(ctx.node(), std::move(ins));
  HQ_RETURN_IF_ERROR(fn(fctx));
  return fctx.outputs().at(0);
}

/// Residual R (input 3, int8 or int16 whatever Y's dtype: checked by the caller): the shape
/// of Y (where both are known).
Status checkResidual(const InferContext& ctx, const ValueInfo& y) {
  const ValueInfo& r = ctx.input(3);
  if (!r.hasShape || !y.hasShape) return Status::ok();
  bool same = r.shape.size() == y.shape.size();
  for (size_t i = 0; same && i < r.shape.size(); ++i) {
    same = !known(r.shape[i]) || !known(y.shape[i]) || r.shape[i] == y.shape[i];
  }
  if (!same) {
    return ctx.error(ErrorCode::kShape, "residual input 3 (R) has shape {}; expected the output "
                     "shape {}", shapeString(r.shape), shapeString(y.shape));
  }
  return Status::ok();
}

/// Output shape of QGemm: X [..., K] times W [K, N] (transB = 0) or [N, K] (transB = 1)
/// gives [..., N]. Sets *channels = N.
Expected<ValueInfo> gemmGeometry(const InferContext& ctx, int64_t* channels) {
  HQ_ASSIGN_OR_RETURN(int64_t trans_b, intAttr(ctx.node(), "transB", 0));
  if (trans_b != 0 && trans_b != 1) {
    return ctx.error(ErrorCode::kInvalidArgument, "attribute 'transB' = {}, expected 0 or 1",
                     trans_b);
  }
  const Shape& w = ctx.input(1).shape;
  if (w.size() != 2) {
    return ctx.error(ErrorCode::kShape, "weight W has shape {}; expected 2-D ({})",
                     shapeString(w), trans_b ? "[N, K] with transB = 1" : "[K, N]");
  }
  const int64_t k = w[trans_b ? 1 : 0], n = w[trans_b ? 0 : 1];
  *channels = n;
  if (ctx.hasInput(2)) {
    const Shape& b = ctx.input(2).shape;
    if (b.size() != 1 || (known(b[0]) && known(n) && b[0] != n)) {
      return ctx.error(ErrorCode::kShape, "bias B has shape {}, expected [{}] (output channels N)",
                       shapeString(b), n);
    }
  }
  ValueInfo y;
  const ValueInfo& x = ctx.input(0);
  if (!x.hasShape) return y;  // rank unknown: so is Y's
  if (x.shape.empty()) {
    return ctx.error(ErrorCode::kShape, "input X is a scalar; expected shape [..., K]");
  }
  if (known(x.shape.back()) && known(k) && x.shape.back() != k) {
    return ctx.error(ErrorCode::kShape,
                     "inner dimensions differ: X {} has K={}, W {} (transB={}) has K={}",
                     shapeString(x.shape), x.shape.back(), shapeString(w), trans_b, k);
  }
  y.hasShape = true;
  y.shape = x.shape;
  y.shape.back() = n;
  return y;
}

enum class ComputeKind { kConv, kConvTranspose, kGemm };

Status inferCompute(InferContext& ctx, ComputeKind kind) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 4, "X, W, B, R"));
  HQ_RETURN_IF_ERROR(requireActivation(ctx, 0, "X"));
  HQ_RETURN_IF_ERROR(requireConstant(ctx, 1, "W", DType::kInt8));
  const bool residual = ctx.hasInput(3);
  if (residual) HQ_RETURN_IF_ERROR(requireActivation(ctx, 3, "R"));

  ValueInfo y;
  int64_t channels = -1;
  if (kind == ComputeKind::kGemm) {
    HQ_ASSIGN_OR_RETURN(y, gemmGeometry(ctx, &channels));
  } else {
    HQ_ASSIGN_OR_RETURN(y, floatGeometry(ctx, 3, kind == ComputeKind::kConv ? &inferConv
                                                                          : &inferConvTranspose));
    channels = y.shape.at(1);
  }
  IntRequantOptions opts;
  opts.count = channels;
  opts.residual = residual;
  opts.allowInt32 = true;
  opts.countMeaning = "one per output channel";
  HQ_ASSIGN_OR_RETURN(IntRequant rq, readIntRequant(ctx.node(), opts));
  if (ctx.hasInput(2)) {
    // B's dtype follows out_type (int64 fixed-point or int32 accumulator-scale bias).
    HQ_RETURN_IF_ERROR(requireConstant(ctx, 2, "B", ctx.input(2).dtype));
    HQ_RETURN_IF_ERROR(checkComputeBias(ctx.node(), rq.outType, *ctx.input(2).constant,
                                        known(channels) ? channels : -1));
  }
  if (residual) HQ_RETURN_IF_ERROR(checkResidual(ctx, y));
  if (y.hasShape) {
    ctx.setOutput(0, rq.outType, y.shape);
  } else {
    ctx.setOutputUnknownRank(0, rq.outType);
  }
  return Status::ok();
}

/// QMaxPool, QGlobalMaxPool: the float op's shape, the input's dtype.
Status inferIntMax(InferContext& ctx, FloatInferFn fn) {
  HQ_RETURN_IF_ERROR(
      requireInputCount(ctx, 1, "X", "Y; integer max pools have no Indices output"));
  HQ_RETURN_IF_ERROR(requireActivation(ctx, 0, "X"));
  HQ_ASSIGN_OR_RETURN(ValueInfo y, floatGeometry(ctx, 1, fn));
  if (y.hasShape) {
    ctx.setOutput(0, ctx.input(0).dtype, y.shape);
  } else {
    ctx.setOutputUnknownRank(0, ctx.input(0).dtype);
  }
  return Status::ok();
}

/// QAveragePool, QGlobalAveragePool: the float op's shape, out_type's dtype, `count`
/// multipliers (one per divisor 1..count).
Status inferIntAverage(InferContext& ctx, FloatInferFn fn, int64_t count) {
  HQ_RETURN_IF_ERROR(requireInputCount(ctx, 1, "X"));
  HQ_RETURN_IF_ERROR(requireActivation(ctx, 0, "X"));
  HQ_ASSIGN_OR_RETURN(ValueInfo y, floatGeometry(ctx, 1, fn));
  IntRequantOptions opts;
  opts.count = count;
  opts.countMeaning = "one per divisor n = 1 .. kernel volume, at index n - 1";
  HQ_ASSIGN_OR_RETURN(IntRequant rq, readIntRequant(ctx.node(), opts));
  if (y.hasShape) {
    ctx.setOutput(0, rq.outType, y.shape);
  } else {
    ctx.setOutputUnknownRank(0, rq.outType);
  }
  return Status::ok();
}

// readIntRequant helpers: attribute errors name the node.

Expected<int64_t> requiredInt(const Node& node, const char* name) {
  const Attribute* a = node.attrs.find(name);
  if (!a) return HQ_ERROR(kInvalidArgument, "{}: attribute '{}' is required", node.describe(), name);
  return intAttr(node, name, 0);
}

/// INTS attribute `name` with `count` entries (count < 0: any), each in [lo, hi].
Expected<std::vector<int64_t>> requiredInts(const Node& node, const char* name, int64_t count,
                                            int64_t lo, int64_t hi, const char* per) {
  if (!node.attrs.find(name)) {
    return HQ_ERROR(kInvalidArgument, "{}: attribute '{}' is required ({})", node.describe(), name,
                    per);
  }
  HQ_ASSIGN_OR_RETURN(auto v, intsAttr(node, name, {}, 0, std::numeric_limits<int64_t>::min()));
  if (count >= 0 && static_cast<int64_t>(v.size()) != count) {
    return HQ_ERROR(kInvalidArgument, "{}: attribute '{}' has {} values, expected {} ({})",
                    node.describe(), name, v.size(), count, per);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < lo || v[i] > hi) {
      return HQ_ERROR(kInvalidArgument, "{}: attribute '{}' has value {} at index {}, expected "
                      "[{}, {}]", node.describe(), name, v[i], i, lo, hi);
    }
  }
  return v;
}

}  // namespace

DType intOutType(int64_t onnx_type, bool allow_int32) {
  switch (onnx_type) {
    case 3: return DType::kInt8;
    case 5: return DType::kInt16;
    case 6: return allow_int32 ? DType::kInt32 : DType::kUndefined;
    default: return DType::kUndefined;
  }
}

DType computeBiasType(DType out_type) {
  return out_type == DType::kInt32 ? DType::kInt32 : DType::kInt64;
}

Status checkComputeBias(const Node& node, DType out_type, const Tensor& b, int64_t channels) {
  const DType want = computeBiasType(out_type);
  if (b.dtype() != want) {
    return HQ_ERROR(kUnsupported,
                    "{}: bias B has dtype {}; expected {} for an {} output ({})", node.describe(),
                    dtypeName(b.dtype()), dtypeName(want), dtypeName(out_type),
                    want == DType::kInt64
                        ? "the fixed-point bias round(b / s_out * 2^shift[o]), "
                          "schemas/int-ops.md section 1.5"
                        : "the bias at the accumulator scale s_in * s_w[o]");
  }
  if (b.rank() != 1 || (channels >= 0 && b.dim(0) != channels)) {
    return HQ_ERROR(kShape, "{}: bias B has shape {}; expected [{}] (one per output channel)",
                    node.describe(), shapeString(b.shape()),
                    channels >= 0 ? std::to_string(channels) : std::string("O"));
  }
  if (want == DType::kInt64) {
    const int64_t* d = b.data<int64_t>();
    for (int64_t o = 0; o < b.numel(); ++o) {
      if (d[o] < -fxp::kMaxFixedBias || d[o] > fxp::kMaxFixedBias) {
        return HQ_ERROR(kData,
                        "{}: bias B[{}] = {} is outside [-2^61, 2^61] (fxp::kMaxFixedBias: the "
                        "64-bit sum acc * m + r * mr + B could overflow)",
                        node.describe(), o, d[o]);
      }
    }
  }
  return Status::ok();
}

Expected<IntRequant> readIntRequant(const Node& node, const IntRequantOptions& options) {
  IntRequant rq;
  HQ_ASSIGN_OR_RETURN(int64_t out_type, requiredInt(node, "out_type"));
  rq.outType = intOutType(out_type, options.allowInt32);
  if (rq.outType == DType::kUndefined) {
    return HQ_ERROR(kInvalidArgument, "{}: attribute 'out_type' = {}, expected 3 (INT8), 5 (INT16)"
                    "{}", node.describe(), out_type, options.allowInt32 ? " or 6 (INT32)" : "");
  }
  const fxp::IntRange type_range = rq.outType == DType::kInt8    ? fxp::kInt8Range
                                   : rq.outType == DType::kInt16 ? fxp::kInt16Range
                                                                 : fxp::kInt32Range;
  HQ_ASSIGN_OR_RETURN(int64_t lo, requiredInt(node, "out_lo"));
  HQ_ASSIGN_OR_RETURN(int64_t hi, requiredInt(node, "out_hi"));
  if (lo < type_range.lo || hi > type_range.hi || lo > hi) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: clamp bounds out_lo = {}, out_hi = {}; expected out_lo <= out_hi inside "
                    "[{}, {}] ({})",
                    node.describe(), lo, hi, type_range.lo, type_range.hi,
                    dtypeName(rq.outType));
  }
  rq.clamp = {static_cast<int32_t>(lo), static_cast<int32_t>(hi)};

  if (rq.outType == DType::kInt32) {
    for (const char* name : {"multiplier", "shift", "residual_multiplier"}) {
      if (node.attrs.find(name)) {
        return HQ_ERROR(kInvalidArgument,
                        "{}: attribute '{}' must be absent with an int32 output (out_type 6): the "
                        "accumulator is not requantized",
                        node.describe(), name);
      }
    }
    if (options.residual) {
      return HQ_ERROR(kUnsupported,
                      "{}: a residual input R is not allowed with an int32 output (out_type 6)",
                      node.describe());
    }
    return rq;
  }
  const char* per = options.countMeaning;
  const int64_t kMaxMult = fxp::kMultiplierMax;
  HQ_ASSIGN_OR_RETURN(auto mult, requiredInts(node, "multiplier", options.count, 0, kMaxMult, per));
  HQ_ASSIGN_OR_RETURN(auto shift,
                      requiredInts(node, "shift", options.count, 0, fxp::kMaxShift, per));
  if (mult.size() != shift.size()) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: attributes 'multiplier' ({} values) and 'shift' ({} values) differ in "
                    "length",
                    node.describe(), mult.size(), shift.size());
  }
  if (mult.empty()) {
    return HQ_ERROR(kInvalidArgument, "{}: attribute 'multiplier' is empty", node.describe());
  }
  rq.multiplier.assign(mult.begin(), mult.end());
  rq.shift.assign(shift.begin(), shift.end());
  if (options.residual) {
    HQ_ASSIGN_OR_RETURN(auto rm, requiredInts(node, "residual_multiplier",
                                              static_cast<int64_t>(mult.size()), 0, kMaxMult,
                                              "one per output channel, with input R"));
    rq.residualMultiplier.assign(rm.begin(), rm.end());
  } else if (node.attrs.find("residual_multiplier")) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: attribute 'residual_multiplier' is present but the residual input R "
                    "(input 3) is not",
                    node.describe());
  }
  return rq;
}

Status inferQConv(InferContext& ctx) { return inferCompute(ctx, ComputeKind::kConv); }

Status inferQConvTranspose(InferContext& ctx) {
  return inferCompute(ctx, ComputeKind::kConvTranspose);
}

Status inferQGemm(InferContext& ctx) { return inferCompute(ctx, ComputeKind::kGemm); }

Status inferQMaxPool(InferContext& ctx) { return inferIntMax(ctx, &inferMaxPool); }

Status inferQGlobalMaxPool(InferContext& ctx) {
  return inferIntMax(ctx, &inferGlobalMaxPool);
}

Status inferQAveragePool(InferContext& ctx) {
  // One multiplier per divisor n = 1 .. kernel volume (kH * kW for 2-D); kernel_shape
  // itself is checked by the float shape function.
  int64_t count = 1;
  for (int64_t k : ctx.attrs().getInts("kernel_shape")) {
    count *= std::max<int64_t>(1, std::min<int64_t>(k, kMaxAverageCount + 1));
    if (count > kMaxAverageCount) {
      return ctx.error(ErrorCode::kUnsupported,
                       "kernel_shape has more than {} elements (the largest average hq supports)",
                       kMaxAverageCount);
    }
  }
  return inferIntAverage(ctx, &inferAveragePool, count);
}

Status inferQGlobalAveragePool(InferContext& ctx) {
  return inferIntAverage(ctx, &inferGlobalAveragePool, 1);
}

}  // namespace hq::ops
