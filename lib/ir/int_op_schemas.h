// ONNX operator schemas of hq's integer domain "ai.hq" (version 1, lib/ir/int_ops.def,
// schemas/int-ops.md), registered with ONNX's schema registry so that onnx::checker
// validates integer models: input and output counts (optional inputs included), attribute
// names, kinds and required attributes of every ai.hq node.
#pragma once

#include <string>
#include <vector>

#include "support/status.h"

namespace hq {

/// Register the domain "ai.hq" (versions 1..1) and one schema per op of int_ops.def with
/// onnx::OpSchemaRegistry. Idempotent and thread-safe (the work runs once); every call
/// returns the status of that one registration (kInternal if the schema table and
/// int_ops.def disagree: a bug in hq).
Status registerIntOpSchemas();

/// The ops that have a schema, in int_ops.def order (for tests: one per op of the .def).
std::vector<std::string> intOpSchemaNames();

}  // namespace hq
