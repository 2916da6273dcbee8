#include "ir/op_registry.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "ir/ops/shape_functions.h"

namespace hq {

namespace {
std::vector<std::string> splitCsv(const char* csv) {
  std::vector<std::string> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}
}  // namespace

const std::vector<OpInfo>& allOps() {
  static const std::vector<OpInfo> ops = {
#define HQ_OP(Name, Attrs) OpInfo{#Name, splitCsv(Attrs), &ops::infer##Name},
#include "ir/ops.def"
#undef HQ_OP
  };
  return ops;
}

const std::vector<OpInfo>& allIntOps() {
  static const std::vector<OpInfo> ops = {
#define HQ_INT_OP(Name, Attrs) OpInfo{#Name, splitCsv(Attrs), &ops::infer##Name},
#include "ir/int_ops.def"
#undef HQ_INT_OP
  };
  return ops;
}

const OpInfo* findOp(const std::string& op_type, const std::string& domain) {
  using Index = std::map<std::string, const OpInfo*>;
  auto make = [](const std::vector<OpInfo>& ops) {
    Index m;
    for (const OpInfo& op : ops) m[op.name] = &op;
    return m;
  };
  static const Index onnx_index = make(allOps());
  static const Index int_index = make(allIntOps());
  const Index* index = domain.empty() || domain == "ai.onnx" ? &onnx_index
                       : domain == kIntDomain                ? &int_index
                                                             : nullptr;
  if (!index) return nullptr;
  auto it = index->find(op_type);
  return it == index->end() ? nullptr : it->second;
}

Status verifyNode(const Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx" && node.domain != kIntDomain) {
    return HQ_ERROR(kUnsupported, "node {}: operator domain '{}' is not supported", node.describe(),
                    node.domain);
  }
  const OpInfo* op = findOp(node.opType, node.domain);
  if (!op) {
    return HQ_ERROR(kUnsupported, "node {}: operator '{}{}' is not supported by hq", node.describe(),
                    node.domain == kIntDomain ? "ai.hq." : "", node.opType);
  }
  for (const auto& [name, attr] : node.attrs.all()) {
    if (std::find(op->attributes.begin(), op->attributes.end(), name) == op->attributes.end()) {
      return HQ_ERROR(kUnsupported, "node {}: attribute '{}' of {} is not supported", node.describe(),
                      name, node.opType);
    }
  }
  return Status::ok();
}

InferContext::InferContext(const Node& node, std::vector<ValueInfo> inputs)
    : node_(node), inputs_(std::move(inputs)), outputs_(node.outputs.size()) {}

void InferContext::setOutput(size_t i, DType dtype, Shape shape) {
  if (i >= outputs_.size()) return;  // optional output not requested
  outputs_[i].dtype = dtype;
  outputs_[i].shape = std::move(shape);
  outputs_[i].hasShape = true;
}

void InferContext::setOutputUnknownRank(size_t i, DType dtype) {
  if (i >= outputs_.size()) return;
  outputs_[i].dtype = dtype;
  outputs_[i].shape.clear();
  outputs_[i].hasShape = false;
}

Status InferContext::requireInput(size_t i) const {
  if (!hasInput(i)) return error(ErrorCode::kShape, "input {} is missing", i);
  if (!inputs_[i].hasShape) return error(ErrorCode::kShape, "input {} has unknown rank", i);
  return Status::ok();
}

Expected<std::vector<ValueInfo>> inferNode(const Node& node, const std::vector<ValueInfo>& inputs) {
  const OpInfo* op = findOp(node.opType, node.domain);
  if (!op) {
    return HQ_ERROR(kUnsupported, "node {}: no shape function for operator '{}'", node.describe(),
                    node.opType);
  }
  InferContext ctx(node, inputs);
  HQ_RETURN_IF_ERROR(op->infer(ctx));
  return ctx.outputs();
}

Status inferShapes(Graph& graph) {
  for (Node* node : graph.nodes()) {
    std::vector<ValueInfo> ins;
    for (const Value* v : node->inputs) {
      ValueInfo vi;
      if (v) {
        vi.dtype = v->dtype;
        vi.shape = v->shape;
        vi.hasShape = v->hasShape;
        vi.constant = v->isConstant() ? &v->constant : nullptr;
      }
      ins.push_back(vi);
    }
    HQ_ASSIGN_OR_RETURN(auto outs, inferNode(*node, ins));
    for (size_t i = 0; i < node->outputs.size() && i < outs.size(); ++i) {
      Value* o = node->outputs[i];
      if (!o || outs[i].dtype == DType::kUndefined) continue;
      const ValueInfo& vi = outs[i];
      if (o->dtype != DType::kUndefined && o->dtype != vi.dtype) {
        return HQ_ERROR(kShape, "node {}: output '{}' is declared {} but computes {}",
                        node->describe(), o->name, dtypeName(o->dtype), dtypeName(vi.dtype));
      }
      o->dtype = vi.dtype;
      if (!vi.hasShape) continue;
      if (o->hasShape && o->shape.size() == vi.shape.size()) {
        // Merge: a known dim wins over an unknown one; two known dims must agree.
        for (size_t d = 0; d < vi.shape.size(); ++d) {
          int64_t declared = o->shape[d], inferred = vi.shape[d];
          if (declared >= 0 && inferred >= 0 && declared != inferred) {
            return HQ_ERROR(kShape, "node {}: output '{}' is declared {} but computes {}",
                            node->describe(), o->name, shapeString(o->shape), shapeString(vi.shape));
          }
          if (inferred >= 0) o->shape[d] = inferred;
        }
      } else {
        o->shape = vi.shape;
        o->dimParams.clear();
        o->hasShape = true;
      }
    }
  }
  return Status::ok();
}

Expected<int64_t> normalizeAxis(const InferContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return ctx.error(ErrorCode::kShape, "axis {} is out of range for rank {}", axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

Expected<Shape> broadcastShapes(const InferContext& ctx, const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1) {
      out[i] = db;
    } else if (db == 1) {
      out[i] = da;
    } else if (da < 0 || db < 0) {
      out[i] = da < 0 ? db : da;
    } else if (da != db) {
      return ctx.error(ErrorCode::kShape, "cannot broadcast {} with {}", shapeString(a),
                       shapeString(b));
    } else {
      out[i] = da;
    }
  }
  return out;
}

}  // namespace hq
