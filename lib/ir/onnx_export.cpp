// Graph -> ONNX ModelProto (IR version 8). Constants become initializers with raw_data, value
// types become graph input/output types and value_info, and serialization is deterministic.
#include "ir/onnx_export.h"

#include <exception>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "ir/int_op_schemas.h"
#include "support/atomic_file.h"

namespace hq {

namespace {

constexpr int64_t kExportIrVersion = 8;

void tensorToProto(const Tensor& t, const std::string& name, onnx::TensorProto* tp) {
  if (!name.empty()) tp->set_name(name);
  tp->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) tp->add_dims(d);
  tp->set_raw_data(static_cast<const char*>(t.raw()), t.nbytes());
}

/// Graph inputs and outputs need a shape for the checker: unknown dims get a dim_param (the
/// value's own name for it, or "<value>_dim<i>"). value_info may leave dims empty.
Status typeToProto(const Value& v, bool symbolic_dims, onnx::TypeProto* type) {
  auto* tt = type->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (!v.hasShape) return Status::ok();
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    auto* dim = shape->add_dim();
    const std::string param = i < v.dimParams.size() ? v.dimParams[i] : "";
    if (v.shape[i] >= 0) {
      dim->set_dim_value(v.shape[i]);
    } else if (!param.empty()) {
      dim->set_dim_param(param);
    } else if (symbolic_dims) {
      dim->set_dim_param(v.name + "_dim" + std::to_string(i));
    }
  }
  return Status::ok();
}

Status valueInfoToProto(const Value& v, bool symbolic_dims, onnx::ValueInfoProto* vi) {
  vi->set_name(v.name);
  return typeToProto(v, symbolic_dims, vi->mutable_type());
}

void attributeToProto(const std::string& name, const Attribute& a, onnx::AttributeProto* ap) {
  ap->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kInt:
      ap->set_type(onnx::AttributeProto::INT);
      ap->set_i(a.i);
      break;
    case Attribute::Kind::kFloat:
      ap->set_type(onnx::AttributeProto::FLOAT);
      ap->set_f(a.f);
      break;
    case Attribute::Kind::kString:
      ap->set_type(onnx::AttributeProto::STRING);
      ap->set_s(a.s);
      break;
    case Attribute::Kind::kTensor:
      ap->set_type(onnx::AttributeProto::TENSOR);
      tensorToProto(a.t, "", ap->mutable_t());
      break;
    case Attribute::Kind::kInts:
      ap->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : a.ints) ap->add_ints(v);
      break;
    case Attribute::Kind::kFloats:
      ap->set_type(onnx::AttributeProto::FLOATS);
      for (float v : a.floats) ap->add_floats(v);
      break;
    case Attribute::Kind::kStrings:
      ap->set_type(onnx::AttributeProto::STRINGS);
      for (const std::string& v : a.strings) ap->add_strings(v);
      break;
  }
}

Status buildModel(const Graph& graph, onnx::ModelProto* model) {
  model->set_ir_version(kExportIrVersion);
  model->set_producer_name(graph.producerName);
  model->set_producer_version(graph.producerVersion);
  model->set_doc_string(graph.docString);
  auto* op = model->add_opset_import();
  op->set_domain("");
  op->set_version(graph.opsetVersion);
  for (const auto& [domain, version] : graph.extraOpsets) {
    auto* extra = model->add_opset_import();
    extra->set_domain(domain);
    extra->set_version(version);
  }
  for (const auto& [key, value] : graph.metadata) {
    auto* kv = model->add_metadata_props();
    kv->set_key(key);
    kv->set_value(value);
  }
  onnx::GraphProto* gp = model->mutable_graph();
  gp->set_name(graph.name.empty() ? "hq" : graph.name);

  for (const Value* v : graph.inputs()) {
    if (v->dtype == DType::kUndefined) {
      return HQ_ERROR(kInvalidArgument, "cannot export graph input '{}': its dtype is unknown",
                      v->name);
    }
    HQ_RETURN_IF_ERROR(valueInfoToProto(*v, true, gp->add_input()));
  }
  for (const Value* v : graph.outputs()) {
    if (v->dtype == DType::kUndefined || !v->hasShape) {
      return HQ_ERROR(kInvalidArgument,
                      "cannot export graph output '{}': its {} is unknown (ONNX needs a typed, "
                      "shaped output; run shape inference first)",
                      v->name, v->dtype == DType::kUndefined ? "dtype" : "rank");
    }
    HQ_RETURN_IF_ERROR(valueInfoToProto(*v, true, gp->add_output()));
  }
  for (const Value* v : graph.constants())
    tensorToProto(v->constant, v->name, gp->add_initializer());

  for (const Node* n : graph.nodes()) {
    onnx::NodeProto* np = gp->add_node();
    np->set_name(n->name);
    np->set_op_type(n->opType);
    if (!n->domain.empty()) np->set_domain(n->domain);
    for (const Value* in : n->inputs) np->add_input(in ? in->name : "");
    for (const Value* out : n->outputs) np->add_output(out ? out->name : "");
    for (const auto& [name, attr] : n->attrs.all())
      attributeToProto(name, attr, np->add_attribute());
  }
  // value_info: what is known of every intermediate value (graph outputs are typed above).
  for (const Node* n : graph.nodes()) {
    for (const Value* out : n->outputs) {
      if (!out || out->dtype == DType::kUndefined || graph.isGraphOutput(out)) continue;
      HQ_RETURN_IF_ERROR(valueInfoToProto(*out, false, gp->add_value_info()));
    }
  }
  return Status::ok();
}

}  // namespace

Expected<std::string> exportOnnxBytes(const Graph& graph) {
  onnx::ModelProto model;
  HQ_RETURN_IF_ERROR(buildModel(graph, &model));
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!model.SerializeToCodedStream(&coded)) {
      return HQ_ERROR(kInternal, "cannot serialize the ONNX model (is it larger than 2 GiB?)");
    }
  }
  return bytes;
}

Status checkOnnxBytes(const std::string& bytes, const std::string& what) {
  HQ_RETURN_IF_ERROR(registerIntOpSchemas());  // so that the checker validates ai.hq nodes
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    return HQ_ERROR(kParse, "{}: not a valid ONNX model (protobuf parse failed)", what);
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return HQ_ERROR(kInvalidArgument, "{}: the ONNX checker rejects the model: {}", what, e.what());
  }
  return Status::ok();
}

Status exportOnnxFile(const Graph& graph, const std::string& path) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, exportOnnxBytes(graph));
  HQ_RETURN_IF_ERROR(checkOnnxBytes(bytes, path));
  return writeFileAtomic(path, bytes);
}

}  // namespace hq
