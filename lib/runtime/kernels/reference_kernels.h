// Declarations of the reference kernel of every op in ir/ops.def
// (defined in runtime/kernels/*.cpp, one family per file).
#pragma once

#include "runtime/kernel.h"

namespace hq::kernels {
#define HQ_OP(Name, Attrs) Status ref##Name(const KernelCall& call);
#include "ir/ops.def"
#undef HQ_OP
#define HQ_INT_OP(Name, Attrs) Status ref##Name(const KernelCall& call);
#include "ir/int_ops.def"
#undef HQ_INT_OP
}  // namespace hq::kernels
