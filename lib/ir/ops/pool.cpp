// Shape functions of the pooling ops (MaxPool, AveragePool, GlobalAveragePool,
// GlobalMaxPool). 1-D to 3-D windows; geometry in ir/ops/window.h.
#include "ir/ops/shape_functions.h"
#include "ir/ops/window.h"

namespace hq::ops {

namespace {
bool outputUsed(const InferContext& ctx, size_t i) {
  return i < ctx.node().outputs.size() && ctx.node().outputs[i] != nullptr;
}

/// Input X: present, dtype allowed, rank 3..5 (N, C, 1 to 3 spatial dims). Unknown rank
/// becomes `fallback_rank` unknown dims (when > 0).
Expected<Shape> poolInput(const InferContext& ctx, bool allow_int8, size_t fallback_rank) {
  if (!ctx.hasInput(0)) return ctx.error(ErrorCode::kShape, "input 0 (X) is missing");
  const ValueInfo& x = ctx.input(0);
  const bool ok_type = x.dtype == DType::kFloat32 ||
                       (allow_int8 && (x.dtype == DType::kUInt8 || x.dtype == DType::kInt8));
  if (!ok_type) {
    return ctx.error(ErrorCode::kUnsupported, "input X has dtype {}; supported: {}",
                     dtypeName(x.dtype), allow_int8 ? "float32, uint8, int8" : "float32");
  }
  if (!x.hasShape) {
    if (fallback_rank == 0) return ctx.error(ErrorCode::kShape, "input 0 (X) has unknown rank");
    return Shape(fallback_rank, -1);
  }
  if (x.shape.size() < 3) {
    return ctx.error(ErrorCode::kShape,
                     "input X has shape {}; expected rank >= 3 (N, C, spatial...)",
                     shapeString(x.shape));
  }
  if (x.shape.size() > 5) {
    return ctx.error(ErrorCode::kUnsupported,
                     "input X has shape {}; only 1 to 3 spatial dims are supported",
                     shapeString(x.shape));
  }
  return x.shape;
}

Expected<std::vector<int64_t>> kernelShape(const InferContext& ctx) {
  const Attribute* a = ctx.attrs().find("kernel_shape");
  if (!a) return ctx.error(ErrorCode::kInvalidArgument, "attribute 'kernel_shape' is required");
  return intsAttr(ctx.node(), "kernel_shape", {}, 0, 1);
}

Expected<int64_t> flagAttr(const InferContext& ctx, const char* name) {
  HQ_ASSIGN_OR_RETURN(int64_t v, intAttr(ctx.node(), name, 0));
  if (v != 0 && v != 1) {
    return ctx.error(ErrorCode::kInvalidArgument, "attribute '{}' = {}, expected 0 or 1", name, v);
  }
  return v;
}

/// Shared by MaxPool and AveragePool: output [N, C, window outputs].
Status windowPool(InferContext& ctx, bool is_max) {
  HQ_ASSIGN_OR_RETURN(auto kernel, kernelShape(ctx));
  HQ_ASSIGN_OR_RETURN(Shape x, poolInput(ctx, is_max, kernel.size() + 2));
  if (kernel.size() != x.size() - 2) {
    return ctx.error(ErrorCode::kShape,
                     "attribute 'kernel_shape' has {} values but input X {} has {} spatial dims",
                     kernel.size(), shapeString(x), x.size() - 2);
  }
  HQ_ASSIGN_OR_RETURN(int64_t ceil_mode, flagAttr(ctx, "ceil_mode"));
  ForwardWindowOptions opts;
  opts.ceilMode = ceil_mode != 0;
  opts.readDilations = is_max;
  HQ_ASSIGN_OR_RETURN(Window win, forwardWindow(ctx.node(), spatialDims(x), kernel, opts));
  Shape out = {x[0], x[1]};
  out.insert(out.end(), win.output.begin(), win.output.end());
  ctx.setOutput(0, ctx.input(0).dtype, out);
  if (is_max && outputUsed(ctx, 1)) ctx.setOutput(1, DType::kInt64, out);
  return Status::ok();
}

Status globalPool(InferContext& ctx) {
  HQ_ASSIGN_OR_RETURN(Shape x, poolInput(ctx, false, 0));
  Shape out(x.size(), 1);
  out[0] = x[0];
  out[1] = x[1];
  ctx.setOutput(0, DType::kFloat32, out);
  return Status::ok();
}
}  // namespace

Status inferMaxPool(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(flagAttr(ctx, "storage_order"));
  return windowPool(ctx, /*is_max=*/true);
}

Status inferAveragePool(InferContext& ctx) {
  HQ_RETURN_IF_ERROR(flagAttr(ctx, "count_include_pad"));
  return windowPool(ctx, /*is_max=*/false);
}

Status inferGlobalAveragePool(InferContext& ctx) {
  if (ctx.hasInput(0) && !ctx.input(0).hasShape && ctx.input(0).dtype == DType::kFloat32) {
    ctx.setOutputUnknownRank(0, ctx.input(0).dtype);
    return Status::ok();
  }
  return globalPool(ctx);
}

Status inferGlobalMaxPool(InferContext& ctx) { return inferGlobalAveragePool(ctx); }

}  // namespace hq::ops
