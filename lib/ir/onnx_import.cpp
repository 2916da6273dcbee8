// ONNX ModelProto -> Graph. The protobuf classes stay inside this file (and onnx_export.cpp);
// see onnx_import.h for what is accepted and rejected.
#include "ir/onnx_import.h"
#include "ir/legacy_opsets.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>

#include <onnx/onnx_pb.h>

#include "ir/op_registry.h"
#include "ir/passes/passes.h"
#include "support/atomic_file.h"

namespace hq {

namespace {

/// Largest element count accepted for one tensor (guards against absurd dims in bad files).
constexpr int64_t kMaxElements = int64_t{1} << 40;

std::string onnxTypeName(int32_t t) {
  if (onnx::TensorProto_DataType_IsValid(t)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
  }
  return "type " + std::to_string(t);
}

Status unsupportedDtype(const std::string& where, int32_t t) {
  return HQ_ERROR(kUnsupported,
                  "{}: data type {} ({}) is not supported (expected FLOAT, DOUBLE, FLOAT16, INT8, "
                  "UINT8, INT16, UINT16, INT32, INT64 or BOOL)",
                  where, onnxTypeName(t), t);
}

/// Copy `count` values of a repeated protobuf field into the tensor, converting to T.
template <typename T, typename Field>
void copyTyped(const Field& field, Tensor& t) {
  T* out = static_cast<T*>(t.raw());
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
}

/// TensorProto -> Tensor (a copy). `where` names the tensor in messages.
Expected<Tensor> tensorFromProto(const onnx::TensorProto& tp, const std::string& where) {
  if (tp.data_location() == onnx::TensorProto::EXTERNAL || tp.external_data_size() > 0) {
    std::string location;
    for (const auto& kv : tp.external_data()) {
      if (kv.key() == "location") location = kv.value();
    }
    return HQ_ERROR(kUnsupported,
                    "{}: tensor data is stored outside the model (data_location EXTERNAL{}); hq "
                    "needs the weights inside the .onnx file (save with "
                    "save_as_external_data=False)",
                    where, location.empty() ? "" : ", file '" + location + "'");
  }
  if (tp.has_segment()) {
    return HQ_ERROR(kUnsupported, "{}: segmented tensors are not supported", where);
  }
  DType dtype = dtypeFromOnnx(tp.data_type());
  if (dtype == DType::kUndefined) return unsupportedDtype(where, tp.data_type());
  Shape shape;
  int64_t numel = 1;
  for (int64_t d : tp.dims()) {
    if (d < 0 || d > kMaxElements || (d > 0 && numel > kMaxElements / d)) {
      return HQ_ERROR(kParse, "{}: bad dimension {} (dims must be 0..2^40 elements in all)", where,
                      d);
    }
    numel *= d;
    shape.push_back(d);
  }
  size_t nbytes = static_cast<size_t>(numel) * dtypeSize(dtype);
  if (tp.has_raw_data()) {
    // raw_data is little-endian, as is every machine hq runs on.
    if (tp.raw_data().size() != nbytes) {
      return HQ_ERROR(kParse, "{}: raw_data holds {} bytes, expected {} for {} {}", where,
                      tp.raw_data().size(), nbytes, dtypeName(dtype), shapeString(shape));
    }
    Tensor t(dtype, shape);
    if (nbytes) std::memcpy(t.raw(), tp.raw_data().data(), nbytes);
    return t;
  }
  // Typed fields: check the count before allocating (dims in a bad file may be huge).
  const char* field_name = "int32_data";
  int have = tp.int32_data_size();
  switch (dtype) {
    case DType::kFloat32:
      field_name = "float_data";
      have = tp.float_data_size();
      break;
    case DType::kFloat64:
      field_name = "double_data";
      have = tp.double_data_size();
      break;
    case DType::kInt64:
      field_name = "int64_data";
      have = tp.int64_data_size();
      break;
    default: break;
  }
  if (have != numel) {
    return HQ_ERROR(kParse, "{}: {} holds {} values, expected {} for {} {}", where, field_name,
                    have, numel, dtypeName(dtype), shapeString(shape));
  }
  Tensor t(dtype, shape);
  switch (dtype) {
    case DType::kFloat32: copyTyped<float>(tp.float_data(), t); break;
    case DType::kFloat64: copyTyped<double>(tp.double_data(), t); break;
    case DType::kInt64: copyTyped<int64_t>(tp.int64_data(), t); break;
    case DType::kInt32: copyTyped<int32_t>(tp.int32_data(), t); break;
    case DType::kInt16: copyTyped<int16_t>(tp.int32_data(), t); break;
    case DType::kUInt16:
    case DType::kFloat16:  // float16 bit patterns, one per int32
      copyTyped<uint16_t>(tp.int32_data(), t);
      break;
    case DType::kInt8: copyTyped<int8_t>(tp.int32_data(), t); break;
    case DType::kUInt8: copyTyped<uint8_t>(tp.int32_data(), t); break;
    case DType::kBool: {
      uint8_t* out = static_cast<uint8_t*>(t.raw());
      for (int i = 0; i < tp.int32_data_size(); ++i) out[i] = tp.int32_data(i) != 0;
      break;
    }
    case DType::kUndefined: break;
  }
  return t;
}

/// Fill a value's dtype, shape and dim names from a TypeProto.
Status applyType(const onnx::TypeProto& type, Value* v, const std::string& where) {
  if (type.value_case() == onnx::TypeProto::VALUE_NOT_SET) return Status::ok();
  if (!type.has_tensor_type()) {
    return HQ_ERROR(kUnsupported, "{}: only tensor types are supported (found a {} type)", where,
                    type.has_sequence_type()   ? "sequence"
                    : type.has_map_type()      ? "map"
                    : type.has_optional_type() ? "optional"
                                               : "non-tensor");
  }
  const auto& tt = type.tensor_type();
  if (tt.elem_type() != onnx::TensorProto::UNDEFINED) {
    DType dtype = dtypeFromOnnx(tt.elem_type());
    if (dtype == DType::kUndefined) return unsupportedDtype(where, tt.elem_type());
    v->dtype = dtype;
  }
  if (!tt.has_shape()) return Status::ok();
  Shape shape;
  std::vector<std::string> params;
  bool any_param = false;
  for (const auto& dim : tt.shape().dim()) {
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) {
        return HQ_ERROR(kParse, "{}: negative dimension {}", where, dim.dim_value());
      }
      shape.push_back(dim.dim_value());
      params.emplace_back();
    } else {
      shape.push_back(-1);
      params.push_back(dim.has_dim_param() ? dim.dim_param() : "");
      any_param = any_param || !params.back().empty();
    }
  }
  v->shape = std::move(shape);
  v->dimParams = any_param ? std::move(params) : std::vector<std::string>{};
  v->hasShape = true;
  return Status::ok();
}

/// AttributeProto -> Attribute. `where` is "node X 'n': attribute 'a'".
Expected<Attribute> attributeFromProto(const onnx::AttributeProto& a, const std::string& where) {
  if (!a.ref_attr_name().empty()) {
    return HQ_ERROR(kUnsupported,
                    "{} refers to function attribute '{}'; functions are not supported", where,
                    a.ref_attr_name());
  }
  auto type = a.type();
  if (type == onnx::AttributeProto::UNDEFINED) {  // very old files: infer from the fields set
    if (a.has_g() || a.graphs_size())
      type = onnx::AttributeProto::GRAPH;
    else if (a.has_t())
      type = onnx::AttributeProto::TENSOR;
    else if (a.has_f())
      type = onnx::AttributeProto::FLOAT;
    else if (a.has_i())
      type = onnx::AttributeProto::INT;
    else if (a.has_s())
      type = onnx::AttributeProto::STRING;
    else if (a.floats_size())
      type = onnx::AttributeProto::FLOATS;
    else if (a.ints_size())
      type = onnx::AttributeProto::INTS;
    else if (a.strings_size())
      type = onnx::AttributeProto::STRINGS;
    else
      return HQ_ERROR(kParse, "{} has no type and no value", where);
  }
  switch (type) {
    case onnx::AttributeProto::FLOAT: return Attribute::ofFloat(a.f());
    case onnx::AttributeProto::INT: return Attribute::ofInt(a.i());
    case onnx::AttributeProto::STRING: return Attribute::ofString(a.s());
    case onnx::AttributeProto::TENSOR: {
      HQ_ASSIGN_OR_RETURN(Tensor t, tensorFromProto(a.t(), where));
      return Attribute::ofTensor(std::move(t));
    }
    case onnx::AttributeProto::FLOATS:
      return Attribute::ofFloats(std::vector<float>(a.floats().begin(), a.floats().end()));
    case onnx::AttributeProto::INTS:
      return Attribute::ofInts(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case onnx::AttributeProto::STRINGS:
      return Attribute::ofStrings(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case onnx::AttributeProto::GRAPH:
    case onnx::AttributeProto::GRAPHS:
      return HQ_ERROR(kUnsupported,
                      "{} holds a subgraph ({}); control flow and subgraph attributes are not "
                      "supported",
                      where, onnx::AttributeProto_AttributeType_Name(type));
    default:
      return HQ_ERROR(kUnsupported, "{} has type {}, which hq does not support", where,
                      onnx::AttributeProto_AttributeType_Name(type));
  }
}

/// The tensor a Constant node defines, from whichever value attribute it has.
Expected<Tensor> constantNodeValue(const onnx::NodeProto& np, const std::string& who) {
  if (np.attribute_size() != 1) {
    return HQ_ERROR(kParse, "{}: expected exactly one value attribute, found {}", who,
                    np.attribute_size());
  }
  const onnx::AttributeProto& a = np.attribute(0);
  std::string where = who + ": attribute '" + a.name() + "'";
  if (a.name() == "value") {
    if (!a.has_t()) return HQ_ERROR(kParse, "{} holds no tensor", where);
    return tensorFromProto(a.t(), where);
  }
  if (a.name() == "value_float") return Tensor::scalar<float>(a.f());
  if (a.name() == "value_int") return Tensor::scalar<int64_t>(a.i());
  if (a.name() == "value_floats") {
    std::vector<float> v(a.floats().begin(), a.floats().end());
    return Tensor::fromVector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (a.name() == "value_ints") {
    std::vector<int64_t> v(a.ints().begin(), a.ints().end());
    return Tensor::fromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  return HQ_ERROR(kUnsupported,
                  "{} is not supported (expected value, value_float(s) or value_int(s))", where);
}

/// Builds one Graph from one ModelProto; errors are returned without the file prefix.
class Importer {
 public:
  explicit Importer(Graph& g) : g_(g) {}

  Status run(const onnx::ModelProto& model) {
    HQ_RETURN_IF_ERROR(readModelFields(model));
    const onnx::GraphProto& gp = model.graph();
    g_.name = gp.name();
    if (gp.sparse_initializer_size() > 0) {
      const auto& s = gp.sparse_initializer(0);
      return HQ_ERROR(kUnsupported, "sparse initializer '{}' is not supported (store it dense)",
                      s.has_values() ? s.values().name() : std::string("?"));
    }
    for (const auto& tp : gp.initializer()) {
      std::string where = "initializer '" + tp.name() + "'";
      if (tp.name().empty()) return HQ_ERROR(kParse, "an initializer has no name");
      if (g_.findValue(tp.name())) return HQ_ERROR(kParse, "{} is defined twice", where);
      HQ_ASSIGN_OR_RETURN(Tensor t, tensorFromProto(tp, where));
      g_.addConstant(tp.name(), std::move(t));
    }
    for (const auto& vi : gp.input()) {
      Value* existing = g_.findValue(vi.name());
      if (existing && existing->isConstant()) continue;  // initializer with a default: constant
      if (vi.name().empty()) return HQ_ERROR(kParse, "a graph input has no name");
      if (existing) return HQ_ERROR(kParse, "graph input '{}' is listed twice", vi.name());
      Value* v = g_.addValue(vi.name());
      HQ_RETURN_IF_ERROR(applyType(vi.type(), v, "graph input '" + vi.name() + "'"));
      g_.mutableInputs().push_back(v);
    }
    HQ_RETURN_IF_ERROR(readNodes(gp));
    for (const auto& vi : gp.output()) {
      Value* v = g_.findValue(vi.name());
      if (!v) {
        return HQ_ERROR(kParse,
                        "graph output '{}' is not a graph input, an initializer or the output of "
                        "any node",
                        vi.name());
      }
      if (!v->isConstant()) {
        HQ_RETURN_IF_ERROR(applyType(vi.type(), v, "graph output '" + vi.name() + "'"));
      }
      g_.mutableOutputs().push_back(v);
    }
    for (const auto& vi : gp.value_info()) {
      Value* v = g_.findValue(vi.name());
      // Stale value_info entries (names nothing defines) are harmless: skip them.
      if (!v || v->isConstant()) continue;
      HQ_RETURN_IF_ERROR(applyType(vi.type(), v, "value_info '" + vi.name() + "'"));
    }
    HQ_RETURN_IF_ERROR(g_.sortTopologically());
    return g_.verify();
  }

 private:
  Status readModelFields(const onnx::ModelProto& model) {
    if (model.ir_version() < kOnnxMinIrVersion || model.ir_version() > kOnnxMaxIrVersion) {
      return HQ_ERROR(kUnsupported, "IR version {} is not supported (expected {}..{})",
                      model.ir_version(), kOnnxMinIrVersion, kOnnxMaxIrVersion);
    }
    bool have_default = false;
    for (const auto& op : model.opset_import()) {
      if (op.domain().empty() || op.domain() == "ai.onnx") {
        if (op.version() < kOnnxMinOpset || op.version() > kOnnxMaxOpset) {
          return HQ_ERROR(kUnsupported,
                          "opset {} of the default ONNX domain is not supported "
                          "(expected {}..{})",
                          op.version(), kOnnxMinOpset, kOnnxMaxOpset);
        }
        g_.opsetVersion = op.version();
        have_default = true;
      } else {
        if (op.domain() == kIntDomain && op.version() != kIntDomainVersion) {
          return HQ_ERROR(kUnsupported,
                          "operator domain '{}' version {} is not supported (this hq knows "
                          "version {}; see schemas/int-ops.md)",
                          kIntDomain, op.version(), kIntDomainVersion);
        }
        g_.extraOpsets[op.domain()] = op.version();
      }
    }
    if (!have_default) {
      return HQ_ERROR(kUnsupported, "the model imports no opset of the default ONNX domain");
    }
    g_.producerName = model.producer_name();
    g_.producerVersion = model.producer_version();
    g_.docString = model.doc_string();
    for (const auto& kv : model.metadata_props()) g_.metadata[kv.key()] = kv.value();
    return Status::ok();
  }

  /// A unique node name: the file's, or "<OpType>_<index>" for unnamed nodes.
  std::string nodeName(const onnx::NodeProto& np, int index) {
    std::string base = np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
    std::string name = base;
    for (int k = 1; usedNodeNames_.count(name); ++k) name = base + "_" + std::to_string(k);
    usedNodeNames_.insert(name);
    return name;
  }

  /// A standard-domain Pad whose pads (attribute before opset 11, constant input from 11) are
  /// all zero.
  bool isZeroPad(const Node& n, const onnx::NodeProto& np) const {
    if (!n.domain.empty() || n.opType != "Pad" || np.input_size() < 1) return false;
    std::vector<int64_t> pads = n.attrs.getInts("pads");
    if (np.input_size() > 1 && !np.input(1).empty()) {
      const Value* p = g_.findValue(np.input(1));
      if (!p || !p->isConstant()) return false;
      pads = p->constant.toInt64();
    }
    return !pads.empty() && std::all_of(pads.begin(), pads.end(), [](int64_t x) { return x == 0; });
  }

  Status readNodes(const onnx::GraphProto& gp) {
    // First every node's outputs (so inputs may name values defined later in the file; the
    // graph is sorted afterwards), then inputs and attributes.
    std::vector<Node*> made(static_cast<size_t>(gp.node_size()), nullptr);
    for (int i = 0; i < gp.node_size(); ++i) {
      const onnx::NodeProto& np = gp.node(i);
      std::string domain = np.domain() == "ai.onnx" ? "" : np.domain();
      std::string name = nodeName(np, i);
      std::string who = "node " + np.op_type() + " '" + name + "'";
      for (const std::string& out : np.output()) {
        if (!out.empty() && g_.findValue(out)) {
          return HQ_ERROR(kParse, "{}: output '{}' is already defined elsewhere", who, out);
        }
      }
      for (int k = 1; k < np.output_size(); ++k) {
        for (int j = 0; j < k; ++j) {
          if (!np.output(k).empty() && np.output(k) == np.output(j)) {
            return HQ_ERROR(kParse, "{}: output '{}' is listed twice", who, np.output(k));
          }
        }
      }
      if (np.op_type() == "Constant" && domain.empty()) {
        if (np.output_size() != 1 || np.output(0).empty()) {
          return HQ_ERROR(kParse, "{}: expected one output, found {}", who, np.output_size());
        }
        HQ_ASSIGN_OR_RETURN(Tensor t, constantNodeValue(np, who));
        g_.addConstant(np.output(0), std::move(t));
        continue;
      }
      std::vector<Value*> outs;
      for (const std::string& out : np.output())
        outs.push_back(out.empty() ? nullptr : g_.addValue(out));
      made[static_cast<size_t>(i)] = g_.addNode(np.op_type(), name, {}, outs, {}, domain);
    }
    for (int i = 0; i < gp.node_size(); ++i) {
      Node* n = made[static_cast<size_t>(i)];
      if (!n) continue;
      const onnx::NodeProto& np = gp.node(i);
      std::string who = "node " + n->describe();
      for (const auto& ap : np.attribute()) {
        if (n->attrs.has(ap.name())) {
          return HQ_ERROR(kParse, "{}: attribute '{}' is given twice", who, ap.name());
        }
        HQ_ASSIGN_OR_RETURN(Attribute a,
                            attributeFromProto(ap, who + ": attribute '" + ap.name() + "'"));
        n->attrs.set(ap.name(), std::move(a));
      }
      if (n->domain == kIntDomain && !g_.extraOpsets.count(kIntDomain)) {
        return HQ_ERROR(kParse,
                        "{}: operator domain '{}' is used but the model imports no opset of it "
                        "(expected version {})",
                        who, kIntDomain, kIntDomainVersion);
      }
      // A Pad that pads nothing (PyTorch exports one before AvgPool2d with default arguments)
      // is an Identity: import it as one (the identity pass then removes it).
      const bool zero_pad = isZeroPad(*n, np);
      if (zero_pad) {
        n->opType = "Identity";
        n->attrs = Attributes{};
      }
      HQ_RETURN_IF_ERROR(verifyNode(*n));
      for (const std::string& in : np.input()) {
        if (zero_pad && n->inputs.size() == 1) break;  // data only: pads/value inputs dropped
        if (in.empty()) {
          n->inputs.push_back(nullptr);
          continue;
        }
        Value* v = g_.findValue(in);
        if (!v) {
          return HQ_ERROR(kParse,
                          "{}: input '{}' is not a graph input, an initializer or the output of "
                          "any node",
                          who, in);
        }
        n->inputs.push_back(v);
      }
    }
    return Status::ok();
  }

  Graph& g_;
  std::set<std::string> usedNodeNames_;
};

}  // namespace

Expected<std::unique_ptr<Graph>> importOnnxBytes(const std::string& bytes, const std::string& what,
                                                 const ImportOptions& options) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    return HQ_ERROR(kParse, "{}: not a valid ONNX model (protobuf parse failed)", what);
  }
  if (!model.has_graph()) {
    return HQ_ERROR(kParse, "{}: not a valid ONNX model (no graph)", what);
  }
  auto graph = std::make_unique<Graph>();
  Status s = Importer(*graph).run(model);
  if (!s.isOk()) return s.addContext(what);
  s = upgradeLegacyOps(*graph);
  if (!s.isOk()) return s.addContext(what);
  if (options.simplify) {
    s = runImportPasses(*graph, options.optLevel);
    if (!s.isOk()) return s.addContext(what);
    s = inferShapes(*graph);
    if (!s.isOk()) return s.addContext(what);
  }
  return graph;
}

Expected<std::unique_ptr<Graph>> importOnnxFile(const std::string& path,
                                                const ImportOptions& options) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  return importOnnxBytes(bytes, path, options);
}

}  // namespace hq
