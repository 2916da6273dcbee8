// Shape functions of Conv, ConvTranspose, Gemm, MatMul and BatchNormalization.
// Compute is float32 only (the reference kernels in runtime/kernels/conv.cpp); unknown
// dims (-1) propagate to the outputs.
#include <algorithm>

#include "ir/ops/shape_functions.h"
#include "ir/ops/window.h"

namespace hq::ops {

namespace {
const char* const kInputNames[] = {"X", "W", "B"};

/// Input i must be present and float32.
Status requireFloat32(const InferContext& ctx, size_t i, const char* what) {
  if (!ctx.hasInput(i)) return ctx.error(ErrorCode::kShape, "input {} ({}) is missing", i, what);
  DType t = ctx.input(i).dtype;
  if (t != DType::kFloat32) {
    return ctx.error(ErrorCode::kUnsupported,
                     "input {} ({}) has dtype {}; only float32 is supported", i, what,
                     dtypeName(t));
  }
  return Status::ok();
}

bool known(int64_t d) { return d >= 0; }

/// Is output i wired to a value (not an omitted optional output)?
bool outputUsed(const InferContext& ctx, size_t i) {
  return i < ctx.node().outputs.size() && ctx.node().outputs[i] != nullptr;
}

/// Common checks of Conv and ConvTranspose: dtypes, ranks, kernel size; returns the
/// X shape (unknown dims when X has unknown rank) and the kernel size per spatial dim.
Status convCommon(InferContext& ctx, Shape* x_shape, std::vector<int64_t>* kernel) {
  HQ_RETURN_IF_ERROR(requireFloat32(ctx, 0, kInputNames[0]));
  HQ_RETURN_IF_ERROR(requireFloat32(ctx, 1, kInputNames[1]));
  if (ctx.hasInput(2)) HQ_RETURN_IF_ERROR(requireFloat32(ctx, 2, kInputNames[2]));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  const Shape& w = ctx.input(1).shape;
  if (w.size() < 3 || w.size() > 5) {
    return ctx.error(w.size() < 3 ? ErrorCode::kShape : ErrorCode::kUnsupported,
                     "weight W has shape {} (rank {}); expected rank 3, 4 or 5 (1-D to 3-D)",
                     shapeString(w), w.size());
  }
  const size_t r = w.size() - 2;
  *x_shape = ctx.input(0).hasShape ? ctx.input(0).shape : Shape(w.size(), -1);
  if (x_shape->size() != w.size()) {
    return ctx.error(ErrorCode::kShape, "input X has shape {} (rank {}) but weight W has rank {}",
                     shapeString(*x_shape), x_shape->size(), w.size());
  }
  HQ_ASSIGN_OR_RETURN(int64_t group, intAttr(ctx.node(), "group", 1));
  if (group < 1) {
    return ctx.error(ErrorCode::kInvalidArgument, "attribute 'group' = {}, expected >= 1", group);
  }
  HQ_ASSIGN_OR_RETURN(auto ks, intsAttr(ctx.node(), "kernel_shape", {}, r, 1));
  *kernel = spatialDims(w);
  for (size_t i = 0; i < ks.size(); ++i) {
    if (known((*kernel)[i]) && (*kernel)[i] != ks[i]) {
      return ctx.error(ErrorCode::kShape,
                       "attribute 'kernel_shape' ({} on spatial axis {}) "
                       "does not match weight W of shape {}",
                       ks[i], i, shapeString(w));
    }
    (*kernel)[i] = ks[i];
  }
  return Status::ok();
}

/// Bias B (optional) must be 1-D with `channels` entries.
Status checkBias(const InferContext& ctx, int64_t channels) {
  if (!ctx.hasInput(2)) return Status::ok();
  HQ_RETURN_IF_ERROR(ctx.requireInput(2));
  const Shape& b = ctx.input(2).shape;
  if (b.size() != 1 || (known(b[0]) && known(channels) && b[0] != channels)) {
    return ctx.error(ErrorCode::kShape, "bias B has shape {}, expected [{}] (output channels)",
                     shapeString(b), channels);
  }
  return Status::ok();
}

/// Spatial input with -1 wherever the kernel size is unknown (output then unknown too).
std::vector<int64_t> maskedSpatial(const Shape& x, std::vector<int64_t>* kernel) {
  std::vector<int64_t> in = spatialDims(x);
  for (size_t i = 0; i < kernel->size(); ++i) {
    if (!known((*kernel)[i])) {
      in[i] = -1;
      (*kernel)[i] = 1;
    }
  }
  return in;
}
}  // namespace

Status inferConv(InferContext& ctx) {
  Shape x;
  std::vector<int64_t> kernel;
  HQ_RETURN_IF_ERROR(convCommon(ctx, &x, &kernel));
  const Shape& w = ctx.input(1).shape;
  const int64_t group = ctx.attrs().getInt("group", 1);
  const int64_t c_out = w[0];
  if (known(c_out) && c_out % group != 0) {
    return ctx.error(ErrorCode::kShape,
                     "output channels {} (W dim 0) are not divisible by group {}", c_out, group);
  }
  if (known(x[1]) && known(w[1]) && x[1] != w[1] * group) {
    return ctx.error(ErrorCode::kShape,
                     "input X has {} channels but W {} with group {} expects {} (W dim 1 * group)",
                     x[1], shapeString(w), group, w[1] * group);
  }
  HQ_RETURN_IF_ERROR(checkBias(ctx, c_out));
  std::vector<int64_t> in = maskedSpatial(x, &kernel);
  HQ_ASSIGN_OR_RETURN(Window win, forwardWindow(ctx.node(), in, kernel, ForwardWindowOptions{}));
  Shape out = {x[0], c_out};
  out.insert(out.end(), win.output.begin(), win.output.end());
  ctx.setOutput(0, DType::kFloat32, out);
  return Status::ok();
}

Status inferConvTranspose(InferContext& ctx) {
  Shape x;
  std::vector<int64_t> kernel;
  HQ_RETURN_IF_ERROR(convCommon(ctx, &x, &kernel));
  const Shape& w = ctx.input(1).shape;
  const int64_t group = ctx.attrs().getInt("group", 1);
  if (known(w[0]) && w[0] % group != 0) {
    return ctx.error(ErrorCode::kShape, "input channels {} (W dim 0) are not divisible by group {}",
                     w[0], group);
  }
  if (known(x[1]) && known(w[0]) && x[1] != w[0]) {
    return ctx.error(ErrorCode::kShape, "input X has {} channels but W {} expects {} (W dim 0)",
                     x[1], shapeString(w), w[0]);
  }
  const int64_t c_out = known(w[1]) ? w[1] * group : -1;
  HQ_RETURN_IF_ERROR(checkBias(ctx, c_out));
  std::vector<int64_t> in = maskedSpatial(x, &kernel);
  HQ_ASSIGN_OR_RETURN(Window win, transposeWindow(ctx.node(), in, kernel));
  Shape out = {x[0], c_out};
  out.insert(out.end(), win.output.begin(), win.output.end());
  ctx.setOutput(0, DType::kFloat32, out);
  return Status::ok();
}

Status inferGemm(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireFloat32(ctx, 0, "A"));
  HQ_RETURN_IF_ERROR(requireFloat32(ctx, 1, "B"));
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  HQ_ASSIGN_OR_RETURN(int64_t trans_a, intAttr(ctx.node(), "transA", 0));
  HQ_ASSIGN_OR_RETURN(int64_t trans_b, intAttr(ctx.node(), "transB", 0));
  HQ_ASSIGN_OR_RETURN(float alpha, floatAttr(ctx.node(), "alpha", 1.0f));
  HQ_ASSIGN_OR_RETURN(float beta, floatAttr(ctx.node(), "beta", 1.0f));
  (void)alpha;
  (void)beta;
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) {
    return ctx.error(ErrorCode::kInvalidArgument,
                     "attributes transA = {}, transB = {}; expected 0 or 1", trans_a, trans_b);
  }
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(1).shape;
  if (a.size() != 2 || b.size() != 2) {
    return ctx.error(ErrorCode::kShape, "A {} and B {} must both be 2-D", shapeString(a),
                     shapeString(b));
  }
  const int64_t m = a[trans_a ? 1 : 0], k = a[trans_a ? 0 : 1];
  const int64_t kb = b[trans_b ? 1 : 0], n = b[trans_b ? 0 : 1];
  if (known(k) && known(kb) && k != kb) {
    return ctx.error(
        ErrorCode::kShape,
        "inner dimensions differ: A {} (transA={}) has K={}, B {} (transB={}) has K={}",
        shapeString(a), trans_a, k, shapeString(b), trans_b, kb);
  }
  if (ctx.hasInput(2)) {
    HQ_RETURN_IF_ERROR(requireFloat32(ctx, 2, "C"));
    HQ_RETURN_IF_ERROR(ctx.requireInput(2));
    const Shape& c = ctx.input(2).shape;
    // C broadcasts unidirectionally to [M, N].
    bool ok = c.size() <= 2;
    const Shape mn = {m, n};
    for (size_t i = 0; ok && i < c.size(); ++i) {
      int64_t target = mn[2 - c.size() + i];
      ok = c[i] == 1 || !known(c[i]) || !known(target) || c[i] == target;
    }
    if (!ok) {
      return ctx.error(ErrorCode::kShape, "C {} does not broadcast to the output [{}, {}]",
                       shapeString(c), m, n);
    }
  }
  ctx.setOutput(0, DType::kFloat32, {m, n});
  return Status::ok();
}

Status inferMatMul(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(requireFloat32(ctx, 0, "A"));
  HQ_RETURN_IF_ERROR(requireFloat32(ctx, 1, "B"));
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_RETURN_IF_ERROR(ctx.requireInput(1));
  Shape a = ctx.input(0).shape, b = ctx.input(1).shape;
  if (a.empty() || b.empty()) {
    return ctx.error(ErrorCode::kShape, "operands must have rank >= 1, got {} and {}",
                     shapeString(a), shapeString(b));
  }
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t k = a.back(), kb = b[b.size() - 2];
  if (known(k) && known(kb) && k != kb) {
    return ctx.error(ErrorCode::kShape, "inner dimensions differ: A {} has K={}, B {} has K={}",
                     shapeString(ctx.input(0).shape), k, shapeString(ctx.input(1).shape), kb);
  }
  HQ_ASSIGN_OR_RETURN(Shape out, broadcastShapes(ctx, Shape(a.begin(), a.end() - 2),
                                                 Shape(b.begin(), b.end() - 2)));
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  ctx.setOutput(0, DType::kFloat32, out);
  return Status::ok();
}

Status inferBatchNormalization(InferContext& ctx) {
  static const char* const names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 0; i < 5; ++i) HQ_RETURN_IF_ERROR(requireFloat32(ctx, i, names[i]));
  HQ_RETURN_IF_ERROR(ctx.requireInput(0));
  HQ_ASSIGN_OR_RETURN(float epsilon, floatAttr(ctx.node(), "epsilon", 1e-5f));
  HQ_ASSIGN_OR_RETURN(float momentum, floatAttr(ctx.node(), "momentum", 0.9f));
  HQ_ASSIGN_OR_RETURN(int64_t training, intAttr(ctx.node(), "training_mode", 0));
  HQ_ASSIGN_OR_RETURN(int64_t spatial, intAttr(ctx.node(), "spatial", 1));
  (void)momentum;
  if (epsilon < 0) {
    return ctx.error(ErrorCode::kInvalidArgument, "attribute 'epsilon' = {}, expected >= 0",
                     epsilon);
  }
  if (training != 0 && training != 1) {
    return ctx.error(ErrorCode::kInvalidArgument, "attribute 'training_mode' = {}, expected 0 or 1",
                     training);
  }
  if (spatial != 1) {
    return ctx.error(ErrorCode::kUnsupported,
                     "attribute 'spatial' = {} is not supported (only spatial=1: one statistic "
                     "per channel)",
                     spatial);
  }
  const Shape& x = ctx.input(0).shape;
  if (x.size() < 2) {
    return ctx.error(ErrorCode::kShape, "input X has shape {}; expected rank >= 2 (N, C, ...)",
                     shapeString(x));
  }
  int64_t channels = x[1];
  for (size_t i = 1; i < 5; ++i) {
    HQ_RETURN_IF_ERROR(ctx.requireInput(i));
    const Shape& p = ctx.input(i).shape;
    if (p.size() != 1 || (known(p[0]) && known(channels) && p[0] != channels)) {
      return ctx.error(ErrorCode::kShape,
                       "input {} ({}) has shape {}, expected [{}] (channels of X)", i, names[i],
                       shapeString(p), channels);
    }
    if (!known(channels)) channels = p[0];
  }
  for (size_t i = 1; i < ctx.numOutputs(); ++i) {
    if (!outputUsed(ctx, i)) continue;
    if (training == 0 || i > 2) {
      return ctx.error(ErrorCode::kUnsupported,
                       "output {} is not supported ({}); only Y, and running_mean / running_var "
                       "with training_mode=1",
                       i, training == 0 ? "inference mode has one output" : "saved statistics");
    }
    ctx.setOutput(i, DType::kFloat32, {channels});
  }
  ctx.setOutput(0, DType::kFloat32, x);
  return Status::ok();
}

}  // namespace hq::ops
