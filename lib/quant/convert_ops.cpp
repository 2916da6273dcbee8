// hq-convert's per-op emitters: each source op (or fused unit) of the float graph becomes
// its ai.hq node with the integer parameters of schemas/int-ops.md sections 2-4, computed
// with lib/support/fixed_point.h only.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "ir/op_registry.h"
#include "ir/ops/resize.h"
#include "ir/ops/window.h"
#include "quant/convert_internal.h"
#include "runtime/kernel.h"

namespace hq::convert_detail {

namespace {

void setOut(Attributes& a, DType t, fxp::IntRange r) {
  a.set("out_lo", Attribute::ofInt(r.lo));
  a.set("out_hi", Attribute::ofInt(r.hi));
  a.set("out_type", Attribute::ofInt(static_cast<int64_t>(t)));
}

Attribute ints(const std::vector<int64_t>& v) { return Attribute::ofInts(v); }

/// The largest |value| of an int input type (the accumulator bound): 128 or 32768.
int64_t maxAbsOf(DType t) { return t == DType::kInt16 ? 32768 : 128; }

/// Pads [begin..., end...] of a resolved window.
std::vector<int64_t> padsOf(const ops::Window& w) {
  std::vector<int64_t> p = w.padBegin;
  p.insert(p.end(), w.padEnd.begin(), w.padEnd.end());
  return p;
}

/// A constant scalar float of a Clip bound (input or old-opset attribute), or `def`.
Expected<float> clipBound(const Node& n, size_t input, const char* attr, float def) {
  const Value* v = n.input(input);
  if (v) {
    if (!v->isConstant() || v->constant.numel() != 1) {
      return HQ_ERROR(kUnsupported, "node {}: Clip bound '{}' must be a constant scalar",
                      n.describe(), v->name);
    }
    return static_cast<float>(v->constant.toDouble()[0]);
  }
  return n.attrs.has(attr) ? n.attrs.getFloat(attr, def) : def;
}

/// "LeakyRelu(alpha=0.1)": the source op and its attributes (QLookup's `function`).
std::string describeFunction(const Node& n) {
  std::string s = n.opType;
  std::string args;
  for (const auto& [name, a] : n.attrs.all()) {
    std::string v;
    if (a.kind == Attribute::Kind::kFloat) v = fmt::format("{}", a.f);
    else if (a.kind == Attribute::Kind::kInt) v = fmt::format("{}", a.i);
    else if (a.kind == Attribute::Kind::kString) v = a.s;
    else continue;
    args += (args.empty() ? "" : ",") + name + "=" + v;
  }
  return args.empty() ? s : s + "(" + args + ")";
}

}  // namespace

Expected<fxp::IntRange> clampBounds(const Node& act, float s, DType t) {
  fxp::IntRange r = rangeOf(t);
  if (act.opType == "Relu") return fxp::IntRange{std::max(r.lo, 0), r.hi};
  HQ_ASSIGN_OR_RETURN(float lo, clipBound(act, 1, "min", -INFINITY));
  HQ_ASSIGN_OR_RETURN(float hi, clipBound(act, 2, "max", INFINITY));
  fxp::IntRange out{std::max(r.lo, fxp::quantizeLinear(lo, s, r)),
                    std::min(r.hi, fxp::quantizeLinear(hi, s, r))};
  if (out.lo > out.hi) {
    return HQ_ERROR(kUnsupported, "node {}: Clip bounds [{}, {}] give an empty integer range "
                    "[{}, {}] at scale {}", act.describe(), lo, hi, out.lo, out.hi, s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Compute units (section 2).

Status Emitter::emitUnit(const QuantUnit& u) {
  const Node& a = *u.anchor;
  const std::string& op = a.opType;
  HQ_ASSIGN_OR_RETURN(Value * x, act(a, a.input(0)));
  const IntInfo xi = info(x);
  if (xi.dtype == DType::kInt32) {
    return HQ_ERROR(kUnsupported, "node {}: its input is an int32 output", a.describe());
  }
  float s_in = xi.scales.at(0);
  const WeightParams& w = model_.weights.at(a.input(1)->name);
  const Tensor& wq = w.q;
  bool gemm = op == "Gemm" || op == "MatMul";
  int64_t trans_b = op == "Gemm" ? a.attrs.getInt("transB", 0) : 0;
  if (gemm && wq.rank() != 2) {
    return HQ_ERROR(kUnsupported, "node {}: weight '{}' is {}, expected 2-D", a.describe(),
                    a.input(1)->name, shapeString(wq.shape()));
  }
  if (!gemm && wq.rank() < 3) {
    return HQ_ERROR(kUnsupported, "node {}: weight '{}' is {}, expected [O, C, k...]",
                    a.describe(), a.input(1)->name, shapeString(wq.shape()));
  }
  int64_t axis = op == "Conv" ? 0 : op == "ConvTranspose" ? 1 : trans_b ? 0 : 1;
  int64_t group = gemm ? 1 : a.attrs.getInt("group", 1);
  int64_t per_group = wq.dim(axis);  // output channels the weight's axis holds
  int64_t out_ch = op == "ConvTranspose" ? per_group * group : per_group;
  if (w.axis >= 0 && w.axis != axis) {
    return HQ_ERROR(kUnsupported, "node {}: weight '{}' is quantized along axis {}, expected "
                    "the output-channel axis {}", a.describe(), a.input(1)->name, w.axis, axis);
  }
  std::vector<float> sw(static_cast<size_t>(out_ch));
  for (int64_t o = 0; o < out_ch; ++o) {
    sw[o] = w.axis < 0 ? w.scales[0] : w.scales[static_cast<size_t>(o % per_group)];
  }
  float beta = 1;
  if (op == "Gemm") {
    float alpha = a.attrs.getFloat("alpha", 1.0f);
    beta = a.attrs.getFloat("beta", 1.0f);
    if (!(alpha > 0) || !std::isfinite(alpha)) {
      return HQ_ERROR(kUnsupported, "node {}: Gemm alpha {} (only a positive alpha folds into "
                      "the weight scales)", a.describe(), alpha);
    }
    for (float& s : sw) s *= alpha;
  }
  // Per-channel max |W| (for the accumulator bound) and the reduction length K.
  std::vector<int64_t> max_w(static_cast<size_t>(per_group), 0);
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < wq.rank(); ++d) inner *= wq.dim(d);
  for (int64_t i = 0; i < wq.numel(); ++i) {
    int64_t c = (i / inner) % per_group;
    max_w[c] = std::max<int64_t>(max_w[c], std::abs(static_cast<int>(wq.data<int8_t>()[i])));
  }
  int64_t k = wq.numel() / per_group;
  if (op == "ConvTranspose") k = wq.numel() / (per_group * group);

  // Output point.
  const Value* y = u.output;
  HQ_ASSIGN_OR_RETURN(const ActParams* p, pointParams(*(u.nodes.back()), y));
  DType out_t = intDType(p->dtype);
  fxp::IntRange range = rangeOf(out_t);
  if (u.activation) {
    HQ_ASSIGN_OR_RETURN(range, clampBounds(*u.activation, p->scale, out_t));
  }
  bool int32_out = out_t == DType::kInt32;
  if (int32_out && (u.residualAdd || (u.activation && u.activation->opType != "Relu"))) {
    return HQ_ERROR(kUnsupported, "node {}: an int32 output with a fused {} has no integer form "
                    "in version 1", a.describe(),
                    u.residualAdd ? "residual Add" : u.activation->opType);
  }

  // Bias: the real values here; quantized below (int32 at scale s_in * s_w[o] for an int32
  // output, else int64 fixed-point b / s_out * 2^shift[o] once the shifts are known).
  std::vector<double> bias_real(static_cast<size_t>(out_ch), 0.0);
  std::vector<int32_t> bias(static_cast<size_t>(out_ch), 0);
  const Value* b = gemm ? (op == "Gemm" ? a.input(2) : nullptr) : a.input(2);
  if (b) {
    if (!b->isConstant() || b->constant.dtype() != DType::kFloat32 ||
        (b->constant.numel() != out_ch && b->constant.numel() != 1)) {
      return HQ_ERROR(kUnsupported, "node {}: bias '{}' must be a float32 constant of {} "
                      "channels (found {})", a.describe(), b->name, out_ch,
                      b->isConstant() ? shapeString(b->constant.shape()) : "a non-constant");
    }
    const float* bd = b->constant.data<float>();
    for (int64_t o = 0; o < out_ch; ++o) {
      double real = static_cast<double>(beta) * bd[b->constant.numel() == 1 ? 0 : o];
      bias_real[o] = real;
      if (!int32_out) continue;
      bool saturated = false;
      HQ_ASSIGN_OR_RETURN(bias[o], fxp::quantizeBias(real, static_cast<double>(s_in) * sw[o],
                                                     &saturated));
      if (saturated) {
        warnings_.push_back(fmt::format("node {}: bias of channel {} ({}) saturates int32 at "
                                        "accumulator scale {}", a.describe(), o, real,
                                        static_cast<double>(s_in) * sw[o]));
      }
    }
  }
  // The accumulator holds the bias only for an int32 output (bias[] is 0 otherwise).
  for (int64_t o = 0; o < out_ch; ++o) {
    if (!fxp::accumulatorFitsInt32(k, maxAbsOf(xi.dtype), max_w[o % per_group],
                                   std::abs(static_cast<int64_t>(bias[o])))) {
      return HQ_ERROR(kUnsupported, "node {}: channel {}: the int32 accumulator could overflow "
                      "({} products of |x| <= {} and |w| <= {}, bias {})", a.describe(), o, k,
                      maxAbsOf(xi.dtype), max_w[o % per_group], bias[o]);
    }
  }

  // Residual and multipliers.
  Value* r = nullptr;
  float s_r = 0;
  if (u.residualAdd) {
    const Node& add = *u.residualAdd;
    const Value* prev = u.anchor->outputs[0];
    const Value* other = add.input(0) == prev ? add.input(1) : add.input(0);
    HQ_ASSIGN_OR_RETURN(r, act(add, other));
    if (info(r).dtype == DType::kInt32) {
      return HQ_ERROR(kUnsupported, "node {}: residual is an int32 output", add.describe());
    }
    s_r = info(r).scales.at(0);
  }
  Attributes attrs;
  std::vector<int64_t> mult, shift, res_mult;
  std::vector<int64_t> bias64;  // requantized outputs: the fixed-point bias
  if (!int32_out) {
    for (int64_t o = 0; o < out_ch; ++o) {
      double m = fxp::computeMultiplier(s_in, sw[o], p->scale);
      std::string what = fmt::format("node {}: channel {} multiplier", a.describe(), o);
      if (r) {
        HQ_ASSIGN_OR_RETURN(auto ms, fxp::quantizeMultipliersSharedShift(
                                         {m, fxp::rescaleMultiplier(s_r, p->scale)}, what));
        mult.push_back(ms[0].multiplier);
        res_mult.push_back(ms[1].multiplier);
        shift.push_back(ms[0].shift);
      } else {
        HQ_ASSIGN_OR_RETURN(fxp::FixedMultiplier fm, fxp::quantizeMultiplier(m, what));
        mult.push_back(fm.multiplier);
        shift.push_back(fm.shift);
      }
    }
    for (int64_t o = 0; o < out_ch; ++o) {
      auto fb = fxp::quantizeBiasFixed(bias_real[o], p->scale, static_cast<int>(shift[o]));
      if (!fb.isOk()) {
        return HQ_ERROR(kUnsupported, "node {}: bias of channel {}: {}", a.describe(), o,
                        fb.status().message());
      }
      bias64.push_back(*fb);
    }
    attrs.set("multiplier", ints(mult));
    attrs.set("shift", ints(shift));
    attrs.set("out_scale", Attribute::ofFloat(p->scale));
  }
  if (r) {
    attrs.set("residual_multiplier", ints(res_mult));
    attrs.set("residual_scale", Attribute::ofFloat(s_r));
  }
  setOut(attrs, out_t, range);
  attrs.set("in_scale", Attribute::ofFloat(s_in));
  attrs.set("w_scale", Attribute::ofFloats(sw));

  // Geometry.
  std::string qop;
  if (gemm) {
    qop = "QGemm";
    attrs.set("transB", Attribute::ofInt(trans_b));
  } else {
    std::vector<int64_t> kernel(wq.shape().begin() + 2, wq.shape().end());
    Shape xs = a.input(0)->hasShape ? a.input(0)->shape : Shape{};
    ops::Window win;
    if (op == "Conv") {
      qop = "QConv";
      HQ_ASSIGN_OR_RETURN(win, ops::forwardWindow(a, ops::spatialDims(xs), kernel, {}));
    } else {
      qop = "QConvTranspose";
      HQ_ASSIGN_OR_RETURN(win, ops::transposeWindow(a, ops::spatialDims(xs), kernel));
      attrs.set("output_padding", ints(a.attrs.getInts("output_padding",
                                                       std::vector<int64_t>(kernel.size(), 0))));
    }
    for (int64_t pd : padsOf(win)) {
      if (pd < 0) {
        return HQ_ERROR(kUnsupported, "node {}: negative padding {} after resolving auto_pad / "
                        "output_shape", a.describe(), pd);
      }
    }
    attrs.set("kernel_shape", ints(kernel));
    attrs.set("strides", ints(win.strides));
    attrs.set("dilations", ints(win.dilations));
    attrs.set("pads", ints(padsOf(win)));
    attrs.set("group", Attribute::ofInt(group));
  }

  // Inputs: X, W, B, [R].
  Value* wv = ig_->addConstant(w.qname, wq);
  std::string bname = b ? b->name + "_quantized" : a.name + "_bias_quantized";
  Value* bv = ig_->addConstant(bname, int32_out ? Tensor::fromVector<int32_t>({out_ch}, bias)
                                                : Tensor::fromVector<int64_t>({out_ch}, bias64));
  std::vector<Value*> ins = {x, wv, bv};
  if (r) ins.push_back(r);
  std::vector<float> out_scales = {p->scale};
  if (int32_out) {
    out_scales.clear();
    for (int64_t o = 0; o < out_ch; ++o) {
      out_scales.push_back(static_cast<float>(static_cast<double>(s_in) * sw[o]));
    }
  }
  Value* out = newAct(p->qname, out_t, y, out_scales);
  add(qop, a, ins, out, attrs, kIntDomain);
  intOf_[y] = out;
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Same-scale ops (section 3).

Status Emitter::emitMaxPool(const Node& n) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  if (n.outputs.size() > 1 && n.outputs[1] &&
      (!fg_.consumers(n.outputs[1]).empty() || fg_.isGraphOutput(n.outputs[1]))) {
    return HQ_ERROR(kUnsupported, "node {}: MaxPool's Indices output has no integer form",
                    n.describe());
  }
  Attributes attrs;
  std::string qop = "QGlobalMaxPool";
  if (n.opType == "MaxPool") {
    qop = "QMaxPool";
    std::vector<int64_t> kernel = n.attrs.getInts("kernel_shape");
    int64_t ceil = n.attrs.getInt("ceil_mode", 0);
    ops::ForwardWindowOptions o;
    o.ceilMode = ceil != 0;
    Shape xs = n.input(0)->hasShape ? n.input(0)->shape : Shape{};
    HQ_ASSIGN_OR_RETURN(ops::Window win, ops::forwardWindow(n, ops::spatialDims(xs), kernel, o));
    attrs.set("kernel_shape", ints(kernel));
    attrs.set("strides", ints(win.strides));
    attrs.set("dilations", ints(win.dilations));
    attrs.set("pads", ints(padsOf(win)));
    attrs.set("ceil_mode", Attribute::ofInt(ceil));
  }
  Value* out = newAct(sameScaleName(n.outputs[0]), xi.dtype, n.outputs[0], xi.scales);
  add(qop, n, {x}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitClamp(const Node& n) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  HQ_ASSIGN_OR_RETURN(fxp::IntRange r, clampBounds(n, xi.scales.at(0), xi.dtype));
  if (xi.dtype == DType::kInt32 && n.opType != "Relu") {
    return HQ_ERROR(kUnsupported, "node {}: Clip of an int32 output", n.describe());
  }
  Attributes attrs;
  attrs.set("lo", Attribute::ofInt(r.lo));
  attrs.set("hi", Attribute::ofInt(r.hi));
  Value* out = newAct(sameScaleName(n.outputs[0]), xi.dtype, n.outputs[0], xi.scales);
  add("QClamp", n, {x}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitResize(const Node& n, bool requant) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  const Value* xv = n.input(0);
  if (!xv->hasShape || xv->shape.size() != 4) {
    return HQ_ERROR(kUnsupported, "node {}: integer Resize needs a 4-D NCHW input of known "
                    "rank", n.describe());
  }
  auto const_of = [&](size_t i) -> const Tensor* {
    const Value* v = n.input(i);
    return v && v->isConstant() && v->constant.numel() > 0 ? &v->constant : nullptr;
  };
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (n.input(i) && !n.input(i)->isConstant()) {
      return HQ_ERROR(kUnsupported, "node {}: input '{}' must be a constant", n.describe(),
                      n.input(i)->name);
    }
  }
  bool upsample = n.opType == "Upsample";
  ops::ResizeParams rp;
  const Tensor* scales = nullptr;
  if (upsample) {
    scales = const_of(1);
    HQ_ASSIGN_OR_RETURN(rp, ops::resolveUpsample(n, xv->shape, scales));
  } else {
    scales = n.inputs.size() == 2 ? const_of(1) : const_of(2);
    const Tensor* roi = n.inputs.size() > 2 ? const_of(1) : nullptr;
    const Tensor* sizes = n.inputs.size() > 3 ? const_of(3) : nullptr;
    HQ_ASSIGN_OR_RETURN(rp, ops::resolveResize(n, xv->shape, roi, scales, sizes));
  }
  if (rp.mode == ops::ResizeMode::kCubic || rp.coord == ops::CoordTransform::kTfCropAndResize) {
    return HQ_ERROR(kUnsupported, "node {}: cubic and tf_crop_and_resize have no integer form "
                    "in version 1", n.describe());
  }
  if (rp.scales.size() != 4 || rp.scales[0] != 1.0 || rp.scales[1] != 1.0) {
    return HQ_ERROR(kUnsupported, "node {}: only the two spatial axes may be resized",
                    n.describe());
  }
  if (rp.outShape.size() != 4 || rp.outShape[2] < 0 || rp.outShape[3] < 0) {
    return HQ_ERROR(kUnsupported, "node {}: the output size must be known", n.describe());
  }
  Attributes attrs;
  attrs.set("mode", Attribute::ofString(requant ? "linear" : "nearest"));
  attrs.set("coordinate_transformation_mode",
            Attribute::ofString(upsample ? "asymmetric"
                                         : n.attrs.getString("coordinate_transformation_mode",
                                                             "half_pixel")));
  attrs.set("nearest_mode",
            Attribute::ofString(upsample ? "floor"
                                         : n.attrs.getString("nearest_mode", "round_prefer_floor")));
  attrs.set("sizes", ints(rp.outShape));
  if (scales || (upsample && n.attrs.has("scales"))) {
    std::vector<float> sc(rp.scales.begin(), rp.scales.end());
    attrs.set("scales", Attribute::ofFloats(sc));
  }
  const Value* y = n.outputs[0];
  Value* out = nullptr;
  if (!requant) {
    setOut(attrs, xi.dtype, rangeOf(xi.dtype));
    out = newAct(sameScaleName(y), xi.dtype, y, xi.scales);
  } else {
    HQ_ASSIGN_OR_RETURN(const ActParams* p, pointParams(n, y));
    DType t = intDType(p->dtype);
    int f = fxp::interpolationFracBits(xi.dtype == DType::kInt16 ? 16 : 8);
    double m = fxp::rescaleMultiplier(xi.scales.at(0), p->scale) * std::ldexp(1.0, -2 * f);
    HQ_ASSIGN_OR_RETURN(fxp::FixedMultiplier fm,
                        fxp::quantizeMultiplier(m, "node " + n.describe() + " multiplier"));
    attrs.set("frac_bits", Attribute::ofInt(f));
    attrs.set("multiplier", Attribute::ofInt(fm.multiplier));
    attrs.set("shift", Attribute::ofInt(fm.shift));
    setOut(attrs, t, rangeOf(t));
    attrs.set("in_scale", Attribute::ofFloat(xi.scales.at(0)));
    attrs.set("out_scale", Attribute::ofFloat(p->scale));
    out = newAct(p->qname, t, y, {p->scale});
  }
  add("QResize", n, {x}, out, attrs, kIntDomain);
  intOf_[y] = out;
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Requant ops (section 4).

Status Emitter::emitAveragePool(const Node& n) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  const Value* xv = n.input(0);
  Shape xs = xv->hasShape ? xv->shape : Shape{};
  Attributes attrs;
  int64_t count = 1;
  std::string qop = "QGlobalAveragePool";
  if (n.opType == "AveragePool") {
    qop = "QAveragePool";
    std::vector<int64_t> kernel = n.attrs.getInts("kernel_shape");
    int64_t ceil = n.attrs.getInt("ceil_mode", 0);
    ops::ForwardWindowOptions o;
    o.ceilMode = ceil != 0;
    o.readDilations = false;
    HQ_ASSIGN_OR_RETURN(ops::Window win, ops::forwardWindow(n, ops::spatialDims(xs), kernel, o));
    for (int64_t k : kernel) count *= k;
    attrs.set("kernel_shape", ints(kernel));
    attrs.set("strides", ints(win.strides));
    attrs.set("pads", ints(padsOf(win)));
    attrs.set("ceil_mode", Attribute::ofInt(ceil));
    attrs.set("count_include_pad", Attribute::ofInt(n.attrs.getInt("count_include_pad", 0)));
  } else {
    std::vector<int64_t> sp = ops::spatialDims(xs);
    if (sp.empty()) {
      return HQ_ERROR(kUnsupported, "node {}: the input's spatial size must be known",
                      n.describe());
    }
    for (int64_t d : sp) {
      if (d <= 0) {
        return HQ_ERROR(kUnsupported, "node {}: the input's spatial size {} must be known",
                        n.describe(), shapeString(xs));
      }
      count *= d;
    }
  }
  if (count * maxAbsOf(xi.dtype) > fxp::kInt32Range.hi) {
    return HQ_ERROR(kUnsupported, "node {}: a sum of {} inputs could overflow int32",
                    n.describe(), count);
  }
  HQ_ASSIGN_OR_RETURN(auto ms, fxp::averageMultipliers(xi.scales.at(0), s_out, count));
  std::vector<int64_t> mult, shift;
  if (n.opType == "AveragePool") {
    for (const auto& m : ms) {
      mult.push_back(m.multiplier);
      shift.push_back(m.shift);
    }
  } else {
    mult.push_back(ms.back().multiplier);
    shift.push_back(ms.back().shift);
  }
  attrs.set("multiplier", ints(mult));
  attrs.set("shift", ints(shift));
  setOut(attrs, t, rangeOf(t));
  attrs.set("in_scale", Attribute::ofFloat(xi.scales.at(0)));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add(qop, n, {x}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

namespace {
/// An operand of a binary requant op: an activation or a quantized constant.
struct Operand {
  Value* v = nullptr;
  float scale = 0;
};
}  // namespace

Status Emitter::emitAdd(const Node& n) {
  Operand ops[2];
  for (int i = 0; i < 2; ++i) {
    const Value* in = n.input(static_cast<size_t>(i));
    if (in && in->isConstant()) {
      HQ_ASSIGN_OR_RETURN(ops[i].v, quantizedConstant(n, in, &ops[i].scale));
    } else {
      HQ_ASSIGN_OR_RETURN(ops[i].v, act(n, in));
      if (info(ops[i].v).dtype == DType::kInt32) {
        return HQ_ERROR(kUnsupported, "node {}: input is an int32 output", n.describe());
      }
      ops[i].scale = info(ops[i].v).scales.at(0);
    }
  }
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  HQ_ASSIGN_OR_RETURN(auto ms, fxp::quantizeMultipliersSharedShift(
                                   {fxp::rescaleMultiplier(ops[0].scale, s_out),
                                    fxp::rescaleMultiplier(ops[1].scale, s_out)},
                                   "node " + n.describe() + " multipliers"));
  Attributes attrs;
  attrs.set("multiplier_a", Attribute::ofInt(ms[0].multiplier));
  attrs.set("multiplier_b",
            Attribute::ofInt(n.opType == "Sub" ? -int64_t{ms[1].multiplier} : ms[1].multiplier));
  attrs.set("shift", Attribute::ofInt(ms[0].shift));
  setOut(attrs, t, rangeOf(t));
  attrs.set("a_scale", Attribute::ofFloat(ops[0].scale));
  attrs.set("b_scale", Attribute::ofFloat(ops[1].scale));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add("QAdd", n, {ops[0].v, ops[1].v}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitMul(const Node& n) {
  Operand ops[2];
  for (int i = 0; i < 2; ++i) {
    const Value* in = n.input(static_cast<size_t>(i));
    if (in && in->isConstant()) {
      HQ_ASSIGN_OR_RETURN(ops[i].v, quantizedConstant(n, in, &ops[i].scale));
    } else {
      HQ_ASSIGN_OR_RETURN(ops[i].v, act(n, in));
      if (info(ops[i].v).dtype == DType::kInt32) {
        return HQ_ERROR(kUnsupported, "node {}: input is an int32 output", n.describe());
      }
      ops[i].scale = info(ops[i].v).scales.at(0);
    }
  }
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  HQ_ASSIGN_OR_RETURN(fxp::FixedMultiplier m,
                      fxp::quantizeMultiplier(fxp::computeMultiplier(ops[0].scale, ops[1].scale,
                                                                     s_out),
                                              "node " + n.describe() + " multiplier"));
  Attributes attrs;
  attrs.set("multiplier", Attribute::ofInt(m.multiplier));
  attrs.set("shift", Attribute::ofInt(m.shift));
  setOut(attrs, t, rangeOf(t));
  attrs.set("a_scale", Attribute::ofFloat(ops[0].scale));
  attrs.set("b_scale", Attribute::ofFloat(ops[1].scale));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add("QMul", n, {ops[0].v, ops[1].v}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitDiv(const Node& n) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  const Value* c = n.input(1);
  auto it = model_.weights.find(c->name);
  if (it == model_.weights.end() || it->second.q.numel() != 1) {
    return HQ_ERROR(kUnsupported, "node {}: Div needs a quantized scalar constant divisor "
                    "(found '{}')", n.describe(), c->name);
  }
  float divisor = fxp::dequantize(it->second.q.data<int8_t>()[0], it->second.scales.at(0));
  if (!(divisor > 0)) {
    return HQ_ERROR(kUnsupported, "node {}: divisor {} is not positive (only Div by a positive "
                    "constant has an integer form in version 1)", n.describe(), divisor);
  }
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  double real = static_cast<double>(xi.scales.at(0)) /
                (static_cast<double>(divisor) * static_cast<double>(s_out));
  HQ_ASSIGN_OR_RETURN(fxp::FixedMultiplier m,
                      fxp::quantizeMultiplier(real, "node " + n.describe() + " multiplier"));
  Attributes attrs;
  attrs.set("multiplier", Attribute::ofInt(m.multiplier));
  attrs.set("shift", Attribute::ofInt(m.shift));
  setOut(attrs, t, rangeOf(t));
  attrs.set("in_scale", Attribute::ofFloat(xi.scales.at(0)));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add("QRescale", n, {x}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitConcat(const Node& n) {
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  std::vector<Value*> ins;
  std::vector<int64_t> mult, shift;
  std::vector<float> in_scales;
  for (const Value* in : n.inputs) {
    Value* v;
    float s;
    DType dt = DType::kInt8;
    if (in->isConstant()) {
      HQ_ASSIGN_OR_RETURN(v, quantizedConstant(n, in, &s));
    } else {
      HQ_ASSIGN_OR_RETURN(v, act(n, in));
      if (info(v).dtype == DType::kInt32) {
        return HQ_ERROR(kUnsupported, "node {}: input '{}' is an int32 output", n.describe(),
                        in->name);
      }
      s = info(v).scales.at(0);
      dt = info(v).dtype;
    }
    fxp::FixedMultiplier m{fxp::kMultiplierMin, 30};  // exactly 1: a copy
    if (!(s == s_out && dt == t)) {
      HQ_ASSIGN_OR_RETURN(m, fxp::quantizeMultiplier(fxp::rescaleMultiplier(s, s_out),
                                                     "node " + n.describe() + " multiplier"));
    }
    ins.push_back(v);
    mult.push_back(m.multiplier);
    shift.push_back(m.shift);
    in_scales.push_back(s);
  }
  Attributes attrs;
  attrs.set("axis", Attribute::ofInt(n.attrs.getInt("axis", 0)));
  attrs.set("multiplier", ints(mult));
  attrs.set("shift", ints(shift));
  setOut(attrs, t, rangeOf(t));
  attrs.set("in_scales", Attribute::ofFloats(in_scales));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add("QConcat", n, ins, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitLookup(const Node& n) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  if (xi.dtype == DType::kInt32) {
    return HQ_ERROR(kUnsupported, "node {}: input is an int32 output", n.describe());
  }
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  fxp::IntRange in_r = rangeOf(xi.dtype), out_r = rangeOf(t);
  float s_in = xi.scales.at(0);
  int64_t count = static_cast<int64_t>(in_r.hi) - in_r.lo + 1;
  Tensor xs(DType::kFloat32, {count});
  for (int64_t i = 0; i < count; ++i) {
    xs.data<float>()[i] = fxp::dequantize(static_cast<int32_t>(in_r.lo + i), s_in);
  }
  // Per-channel slopes (PRelu): one table per channel along `axis`.
  std::vector<float> slopes;
  int64_t axis = -1;
  if (n.opType == "PRelu") {
    const Value* sv = n.input(1);
    auto it = sv ? model_.weights.find(sv->name) : model_.weights.end();
    if (it == model_.weights.end()) {
      return HQ_ERROR(kUnsupported, "node {}: slope '{}' is not a quantized constant",
                      n.describe(), sv ? sv->name : "");
    }
    const WeightParams& w = it->second;
    if (w.scales.size() != 1) {
      return HQ_ERROR(kUnsupported, "node {}: slope has per-axis scales", n.describe());
    }
    for (int64_t i = 0; i < w.q.numel(); ++i) {
      slopes.push_back(fxp::dequantize(w.q.data<int8_t>()[i], w.scales[0]));
    }
    if (w.q.numel() > 1) {
      int64_t xrank = n.input(0)->hasShape ? static_cast<int64_t>(n.input(0)->shape.size()) : -1;
      int non1 = 0;
      for (int64_t d = 0; d < w.q.rank(); ++d) {
        if (w.q.dim(d) != 1) {
          ++non1;
          axis = xrank - w.q.rank() + d;
        }
      }
      if (non1 != 1 || xrank < 0 || axis < 0) {
        return HQ_ERROR(kUnsupported, "node {}: slope {} must vary along one axis of the input",
                        n.describe(), shapeString(w.q.shape()));
      }
    }
  }
  std::vector<int32_t> table;
  size_t tables = std::max<size_t>(1, slopes.size());
  for (size_t c = 0; c < tables; ++c) {
    std::vector<const Tensor*> ins = {&xs};
    Tensor slope;
    if (!slopes.empty()) {
      slope = Tensor::fromVector<float>({1}, {slopes[c]});
      ins.push_back(&slope);
    }
    // hq's float reference kernel of the source op, on every input value at once.
    HQ_ASSIGN_OR_RETURN(std::vector<Tensor> ys, runReference(n, ins));
    const float* y = ys.at(0).data<float>();
    int64_t next = 0;
    Status failed;
    auto f = [&](float v) -> float {
      int64_t i = next++;
      if (i < count && xs.data<float>()[i] == v) return y[i];
      // Not visited in order: evaluate this one input alone.
      Tensor one = Tensor::fromVector<float>({1}, {v});
      std::vector<const Tensor*> single = {&one};
      if (!slopes.empty()) single.push_back(&slope);
      auto r = runReference(n, single);
      if (!r.isOk()) {
        failed = r.status();
        return 0.0f;
      }
      return r->at(0).data<float>()[0];
    };
    std::vector<int32_t> part = fxp::buildLookupTable(in_r, s_in, s_out, out_r, f);
    HQ_RETURN_IF_ERROR(failed);
    table.insert(table.end(), part.begin(), part.end());
  }
  Shape tshape = slopes.size() > 1 ? Shape{static_cast<int64_t>(slopes.size()), count}
                                   : Shape{count};
  Tensor tt(t, tshape);
  for (size_t i = 0; i < table.size(); ++i) {
    if (t == DType::kInt8) {
      tt.data<int8_t>()[i] = static_cast<int8_t>(table[i]);
    } else {
      tt.data<int16_t>()[i] = static_cast<int16_t>(table[i]);
    }
  }
  Value* tv = ig_->addConstant(ig_->uniqueName((n.name.empty() ? n.opType : n.name) + "_table"),
                               std::move(tt));
  Attributes attrs;
  attrs.set("in_lo", Attribute::ofInt(in_r.lo));
  if (slopes.size() > 1) attrs.set("axis", Attribute::ofInt(axis));
  attrs.set("function", Attribute::ofString(describeFunction(n)));
  attrs.set("out_type", Attribute::ofInt(static_cast<int64_t>(t)));
  attrs.set("in_scale", Attribute::ofFloat(s_in));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add("QLookup", n, {x, tv}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

Status Emitter::emitSoftmax(const Node& n) {
  HQ_ASSIGN_OR_RETURN(Value * x, act(n, n.input(0)));
  const IntInfo xi = info(x);
  if (xi.dtype != DType::kInt8) {
    return HQ_ERROR(kUnsupported, "node {}: QSoftmax takes int8 input (found {})", n.describe(),
                    dtypeName(xi.dtype));
  }
  DType t;
  float s_out;
  HQ_RETURN_IF_ERROR(outputParams(n, n.outputs[0], &t, &s_out));
  const Value* xv = n.input(0);
  if (!xv->hasShape) {
    return HQ_ERROR(kUnsupported, "node {}: the input's rank must be known", n.describe());
  }
  int64_t rank = static_cast<int64_t>(xv->shape.size());
  int64_t axis = n.attrs.getInt("axis", fg_.opsetVersion >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    return HQ_ERROR(kShape, "node {}: axis out of range for rank {}", n.describe(), rank);
  }
  if (fg_.opsetVersion < 13 && axis != rank - 1) {
    return HQ_ERROR(kUnsupported, "node {}: Softmax before opset 13 over axes {}.. is not a "
                    "softmax over one axis", n.describe(), axis);
  }
  int64_t len = xv->shape[static_cast<size_t>(axis)];
  if (len <= 0) {
    return HQ_ERROR(kUnsupported, "node {}: the softmax axis length must be known",
                    n.describe());
  }
  HQ_ASSIGN_OR_RETURN(fxp::FixedMultiplier m,
                      fxp::quantizeMultiplier(1.0 / static_cast<double>(s_out),
                                              "node " + n.describe() + " multiplier"));
  int headroom = 63 - fxp::kSoftmaxExpBits - m.shift;  // len * 2^16 * 2^shift < 2^63
  if (headroom <= 0 || (headroom < 62 && len >= (int64_t{1} << headroom))) {
    return HQ_ERROR(kUnsupported, "node {}: axis length {} with output scale {} could overflow "
                    "the int64 softmax sum", n.describe(), len, s_out);
  }
  HQ_ASSIGN_OR_RETURN(std::vector<int32_t> e, fxp::softmaxExpTable(xi.scales.at(0)));
  Value* ev = ig_->addConstant(
      ig_->uniqueName((n.name.empty() ? n.opType : n.name) + "_exp_table"),
      Tensor::fromVector<int32_t>({static_cast<int64_t>(e.size())}, e));
  Attributes attrs;
  attrs.set("axis", Attribute::ofInt(axis));
  attrs.set("multiplier", Attribute::ofInt(m.multiplier));
  attrs.set("shift", Attribute::ofInt(m.shift));
  setOut(attrs, t, rangeOf(t));
  attrs.set("in_scale", Attribute::ofFloat(xi.scales.at(0)));
  attrs.set("out_scale", Attribute::ofFloat(s_out));
  Value* out = newAct(model_.acts.at(n.outputs[0]->name).qname, t, n.outputs[0], {s_out});
  add("QSoftmax", n, {x, ev}, out, attrs, kIntDomain);
  intOf_[n.outputs[0]] = out;
  return Status::ok();
}

}  // namespace hq::convert_detail
