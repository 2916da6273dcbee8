// ONNX schemas of the ai.hq ops. One spec per op of int_ops.def (the op list is generated
// from the .def, so an op without a spec does not compile); each spec's attribute names
// must equal the .def's, checked at registration. Inputs, outputs, type constraints and
// attribute kinds follow schemas/int-ops.md.
#include "ir/int_op_schemas.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <set>

#include <onnx/defs/schema.h>

#include "ir/op_registry.h"

namespace hq {

namespace {

using AttrType = onnx::AttributeProto::AttributeType;
using Option = onnx::OpSchema::FormalParameterOption;

struct ParamSpec {
  const char* name;
  const char* type;  ///< a type constraint name
  Option option = Option::Single;
  bool homogeneous = true;
};

struct ConstraintSpec {
  const char* name;
  std::vector<std::string> types;
};

struct AttrSpec {
  const char* name;
  AttrType type;
  bool required;
};

struct OpSpec {
  const char* name = "";
  const char* doc = "";
  std::vector<ParamSpec> inputs, outputs;
  std::vector<ConstraintSpec> constraints;
  std::vector<AttrSpec> attrs;
};

constexpr AttrType kInt = onnx::AttributeProto::INT;
constexpr AttrType kInts = onnx::AttributeProto::INTS;
constexpr AttrType kFloat = onnx::AttributeProto::FLOAT;
constexpr AttrType kFloats = onnx::AttributeProto::FLOATS;
constexpr AttrType kString = onnx::AttributeProto::STRING;
constexpr bool kRequired = true;
constexpr bool kOptional = false;

const std::vector<std::string> kActivation = {"tensor(int8)", "tensor(int16)"};

/// out_lo, out_hi, out_type: required on every requantizing op.
void addOutputStage(OpSpec* s, bool required = kRequired) {
  s->attrs.push_back({"out_lo", kInt, required});
  s->attrs.push_back({"out_hi", kInt, required});
  s->attrs.push_back({"out_type", kInt, required});
}

OpSpec computeSpec(const char* name, const char* doc) {
  OpSpec s;
  s.name = name;
  s.doc = doc;
  s.inputs = {
      {"X", "T1"}, {"W", "T2"}, {"B", "T3", Option::Optional}, {"R", "T4", Option::Optional}};
  s.outputs = {{"Y", "T5"}};
  s.constraints = {{"T1", kActivation},
                   {"T2", {"tensor(int8)"}},
                   // B: int64 fixed-point bias (requantized outputs) or int32 (int32 outputs).
                   {"T3", {"tensor(int32)", "tensor(int64)"}},
                   {"T4", kActivation},
                   {"T5", {"tensor(int8)", "tensor(int16)", "tensor(int32)"}}};
  s.attrs = {{"multiplier", kInts, kOptional},
             {"shift", kInts, kOptional},
             {"residual_multiplier", kInts, kOptional}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(), {{"in_scale", kFloat, kOptional},
                                 {"w_scale", kFloats, kOptional},
                                 {"out_scale", kFloat, kOptional},
                                 {"residual_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQConv() {
  OpSpec s = computeSpec("QConv", "Integer Conv unit (int-ops.md section 2).");
  s.attrs.insert(s.attrs.end(), {{"kernel_shape", kInts, kOptional},
                                 {"strides", kInts, kOptional},
                                 {"pads", kInts, kOptional},
                                 {"dilations", kInts, kOptional},
                                 {"group", kInt, kOptional}});
  return s;
}

OpSpec specQConvTranspose() {
  OpSpec s = computeSpec("QConvTranspose", "Integer ConvTranspose unit (int-ops.md section 2).");
  s.attrs.insert(s.attrs.end(), {{"kernel_shape", kInts, kOptional},
                                 {"strides", kInts, kOptional},
                                 {"pads", kInts, kOptional},
                                 {"dilations", kInts, kOptional},
                                 {"group", kInt, kOptional},
                                 {"output_padding", kInts, kOptional}});
  return s;
}

OpSpec specQGemm() {
  OpSpec s = computeSpec("QGemm", "Integer Gemm / MatMul unit (int-ops.md section 2).");
  s.attrs.push_back({"transB", kInt, kOptional});
  return s;
}

OpSpec specQMaxPool() {
  OpSpec s;
  s.name = "QMaxPool";
  s.doc = "Max pooling on the input's grid (int-ops.md section 3).";
  s.inputs = {{"X", "T"}};
  s.outputs = {{"Y", "T"}};
  s.constraints = {{"T", kActivation}};
  s.attrs = {{"ceil_mode", kInt, kOptional},
             {"dilations", kInts, kOptional},
             {"kernel_shape", kInts, kRequired},
             {"pads", kInts, kOptional},
             {"strides", kInts, kOptional}};
  return s;
}

OpSpec specQGlobalMaxPool() {
  OpSpec s;
  s.name = "QGlobalMaxPool";
  s.doc = "Max over all spatial positions (int-ops.md section 3).";
  s.inputs = {{"X", "T"}};
  s.outputs = {{"Y", "T"}};
  s.constraints = {{"T", kActivation}};
  return s;
}

OpSpec specQClamp() {
  OpSpec s;
  s.name = "QClamp";
  s.doc = "Y = clamp(X, lo, hi) (Relu, Clip; int-ops.md section 3).";
  s.inputs = {{"X", "T"}};
  s.outputs = {{"Y", "T"}};
  s.constraints = {{"T", kActivation}};
  s.attrs = {{"lo", kInt, kRequired}, {"hi", kInt, kRequired}};
  return s;
}

OpSpec specQAveragePool() {
  OpSpec s;
  s.name = "QAveragePool";
  s.doc = "Window sums requantized per divisor (int-ops.md section 4.1).";
  s.inputs = {{"X", "T1"}};
  s.outputs = {{"Y", "T2"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}};
  s.attrs = {{"ceil_mode", kInt, kOptional},     {"count_include_pad", kInt, kOptional},
             {"kernel_shape", kInts, kRequired}, {"pads", kInts, kOptional},
             {"strides", kInts, kOptional},      {"multiplier", kInts, kRequired},
             {"shift", kInts, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(),
                 {{"in_scale", kFloat, kOptional}, {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQGlobalAveragePool() {
  OpSpec s;
  s.name = "QGlobalAveragePool";
  s.doc = "Spatial sum requantized (int-ops.md section 4.1).";
  s.inputs = {{"X", "T1"}};
  s.outputs = {{"Y", "T2"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}};
  s.attrs = {{"multiplier", kInts, kRequired}, {"shift", kInts, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(),
                 {{"in_scale", kFloat, kOptional}, {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQAdd() {
  OpSpec s;
  s.name = "QAdd";
  s.doc =
      "Y = requantizeSum(A, multiplier_a, B, multiplier_b, shift) with broadcasting "
      "(Add, Sub; int-ops.md section 4.2).";
  s.inputs = {{"A", "T1"}, {"B", "T2"}};
  s.outputs = {{"Y", "T3"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}, {"T3", kActivation}};
  s.attrs = {{"multiplier_a", kInt, kRequired},
             {"multiplier_b", kInt, kRequired},
             {"shift", kInt, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(), {{"a_scale", kFloat, kOptional},
                                 {"b_scale", kFloat, kOptional},
                                 {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQMul() {
  OpSpec s;
  s.name = "QMul";
  s.doc = "Y = requantize(A * B, multiplier, shift) with broadcasting (int-ops.md section 4.3).";
  s.inputs = {{"A", "T1"}, {"B", "T2"}};
  s.outputs = {{"Y", "T3"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}, {"T3", kActivation}};
  s.attrs = {{"multiplier", kInt, kRequired}, {"shift", kInt, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(), {{"a_scale", kFloat, kOptional},
                                 {"b_scale", kFloat, kOptional},
                                 {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQRescale() {
  OpSpec s;
  s.name = "QRescale";
  s.doc = "Y = requantize(X, multiplier, shift) (int-ops.md section 4.4).";
  s.inputs = {{"X", "T1"}};
  s.outputs = {{"Y", "T2"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}};
  s.attrs = {{"multiplier", kInt, kRequired}, {"shift", kInt, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(),
                 {{"in_scale", kFloat, kOptional}, {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQConcat() {
  OpSpec s;
  s.name = "QConcat";
  s.doc = "Concat with part i requantized by multiplier[i], shift[i] (int-ops.md section 4.5).";
  s.inputs = {{"X", "T1", Option::Variadic, false}};
  s.outputs = {{"Y", "T2"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}};
  s.attrs = {
      {"axis", kInt, kRequired}, {"multiplier", kInts, kRequired}, {"shift", kInts, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(),
                 {{"in_scales", kFloats, kOptional}, {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQResize() {
  OpSpec s;
  s.name = "QResize";
  s.doc =
      "Resize over H and W: nearest (a gather, int-ops.md section 3) or linear (integer "
      "bilinear weights of frac_bits bits, then requantize; section 4.6).";
  s.inputs = {{"X", "T1"}};
  s.outputs = {{"Y", "T2"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}};
  // Linear mode needs frac_bits, multiplier, shift and the output stage; nearest reads none.
  s.attrs = {
      {"mode", kString, kOptional},         {"coordinate_transformation_mode", kString, kOptional},
      {"nearest_mode", kString, kOptional}, {"sizes", kInts, kRequired},
      {"scales", kFloats, kOptional},       {"frac_bits", kInt, kOptional},
      {"multiplier", kInt, kOptional},      {"shift", kInt, kOptional}};
  addOutputStage(&s, kOptional);
  s.attrs.insert(s.attrs.end(),
                 {{"in_scale", kFloat, kOptional}, {"out_scale", kFloat, kOptional}});
  return s;
}

OpSpec specQLookup() {
  OpSpec s;
  s.name = "QLookup";
  s.doc = "Y = T[X - in_lo], or T[c, X - in_lo] per channel along axis (int-ops.md section 4.7).";
  s.inputs = {{"X", "T1"}, {"T", "T2"}};
  s.outputs = {{"Y", "T2"}};
  s.constraints = {{"T1", kActivation}, {"T2", kActivation}};
  s.attrs = {{"in_lo", kInt, kRequired},       {"axis", kInt, kOptional},
             {"function", kString, kOptional}, {"out_type", kInt, kRequired},
             {"in_scale", kFloat, kOptional},  {"out_scale", kFloat, kOptional}};
  return s;
}

OpSpec specQSoftmax() {
  OpSpec s;
  s.name = "QSoftmax";
  s.doc = "Softmax from a 16-bit exponential table E (int-ops.md section 4.8).";
  s.inputs = {{"X", "T1"}, {"E", "T2"}};
  s.outputs = {{"Y", "T3"}};
  s.constraints = {{"T1", {"tensor(int8)"}}, {"T2", {"tensor(int32)"}}, {"T3", kActivation}};
  s.attrs = {
      {"axis", kInt, kOptional}, {"multiplier", kInt, kRequired}, {"shift", kInt, kRequired}};
  addOutputStage(&s);
  s.attrs.insert(s.attrs.end(),
                 {{"in_scale", kFloat, kOptional}, {"out_scale", kFloat, kOptional}});
  return s;
}

/// One spec per op of int_ops.def, in its order.
const std::vector<OpSpec>& intOpSpecs() {
  static const std::vector<OpSpec> specs = {
#define HQ_INT_OP(Name, Attrs) spec##Name(),
#include "ir/int_ops.def"
#undef HQ_INT_OP
  };
  return specs;
}

/// The spec's attribute names must be the .def's (the importer's list).
Status checkAgainstDef(const OpSpec& spec) {
  const OpInfo* op = findOp(spec.name, kIntDomain);
  if (!op) return HQ_ERROR(kInternal, "ai.hq schema {} has no entry in int_ops.def", spec.name);
  std::set<std::string> def(op->attributes.begin(), op->attributes.end()), mine;
  for (const AttrSpec& a : spec.attrs) mine.insert(a.name);
  if (def != mine) {
    return HQ_ERROR(kInternal, "ai.hq schema {} lists attributes [{}] but int_ops.def lists [{}]",
                    spec.name, fmt::join(mine, ","), fmt::join(def, ","));
  }
  return Status::ok();
}

onnx::OpSchema toOnnx(const OpSpec& spec) {
  onnx::OpSchema s;
  s.SetName(spec.name).SetDomain(kIntDomain).SinceVersion(kIntDomainVersion);
  s.SetLocation(__FILE__, __LINE__);
  s.SetDoc(spec.doc);
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const ParamSpec& p = spec.inputs[i];
    s.Input(static_cast<int>(i), p.name, "", p.type, p.option, p.homogeneous);
  }
  for (size_t i = 0; i < spec.outputs.size(); ++i) {
    const ParamSpec& p = spec.outputs[i];
    s.Output(static_cast<int>(i), p.name, "", p.type, p.option, p.homogeneous);
  }
  for (const ConstraintSpec& c : spec.constraints) s.TypeConstraint(c.name, c.types, "");
  for (const AttrSpec& a : spec.attrs) s.Attr(a.name, "", a.type, a.required);
  return s;
}

Status registerOnce() {
  for (const OpSpec& spec : intOpSpecs()) HQ_RETURN_IF_ERROR(checkAgainstDef(spec));
  try {
    auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance();
    if (ranges.Map().count(kIntDomain) == 0) {
      ranges.AddDomainToVersion(kIntDomain, kIntDomainVersion, kIntDomainVersion);
    }
    for (const OpSpec& spec : intOpSpecs()) {
      if (onnx::OpSchemaRegistry::Schema(spec.name, kIntDomainVersion, kIntDomain)) continue;
      onnx::OpSchema schema = toOnnx(spec);
      onnx::OpSchemaRegistry::OpSchemaRegisterOnce once(schema);
      if (!onnx::OpSchemaRegistry::Schema(spec.name, kIntDomainVersion, kIntDomain)) {
        return HQ_ERROR(kInternal, "ONNX did not register the schema of ai.hq.{}", spec.name);
      }
    }
  } catch (const std::exception& e) {
    return HQ_ERROR(kInternal, "registering the ai.hq ONNX schemas failed: {}", e.what());
  }
  return Status::ok();
}

}  // namespace

Status registerIntOpSchemas() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] { status = registerOnce(); });
  return status;
}

std::vector<std::string> intOpSchemaNames() {
  std::vector<std::string> names;
  for (const OpSpec& spec : intOpSpecs()) names.push_back(spec.name);
  return names;
}

}  // namespace hq
