// Declarations of the shape functions of every op in ops.def (defined in ir/ops/*.cpp).
#pragma once

#include "ir/op_registry.h"

namespace hq::ops {
#define HQ_OP(Name, Attrs) Status infer##Name(InferContext& ctx);
#include "ir/ops.def"
#undef HQ_OP
}  // namespace hq::ops
