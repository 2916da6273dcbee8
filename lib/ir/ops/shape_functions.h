// Declarations of the shape functions of every op in ops.def (defined in ir/ops/*.cpp).
#pragma once

#include "ir/op_registry.h"

namespace hq::ops {
#define HQ_OP(Name, Attrs) Status infer##Name(InferContext& ctx);
#include "ir/ops.def"
#undef HQ_OP
#define HQ_INT_OP(Name, Attrs) Status infer##Name(InferContext& ctx);
#include "ir/int_ops.def"
#undef HQ_INT_OP
}  // namespace hq::ops
