// reshape_shape_chain: the chain exporters emit for x.view(x.size(0), -1),
//
//   Shape(x) -> Gather(indices=0, axis=0) -> Unsqueeze(axes=[0]) -> Concat(axis=0, [.., -1])
//            -> Reshape(x, shape)
//
// becomes Reshape(x, constant [0, -1]): Reshape's 0 copies the input's dim at the same
// position, so a piece that gathers dim k of the reshaped tensor itself, placed at output
// position k, is 0. The other Concat pieces must be constants. The Shape/Gather/... nodes
// are left for remove_dead. Reshape with allowzero=1 is not touched (0 would mean zero).
#include <optional>

#include "ir/passes/passes.h"

namespace hq::passes {

namespace {

struct Match {
  Node* reshape;
  std::vector<int64_t> shape;  ///< the constant shape that replaces the chain
};

bool isDefaultOp(const Node* n, const char* op) {
  return n && n->domain.empty() && n->opType == op;
}

/// A constant holding int64/int32 values of rank 0 or 1.
std::optional<std::vector<int64_t>> constantInts(const Value* v) {
  if (!v || !v->isConstant()) return std::nullopt;
  DType t = v->constant.dtype();
  if ((t != DType::kInt64 && t != DType::kInt32) || v->constant.rank() > 1) return std::nullopt;
  return v->constant.toInt64();
}

/// Unsqueeze's axes from its attribute (opset < 13) or its constant input (opset >= 13).
std::optional<std::vector<int64_t>> unsqueezeAxes(const Node* n) {
  if (n->attrs.has("axes")) return n->attrs.getInts("axes");
  return constantInts(n->input(1));
}

/// If `piece` is dim k of Shape(x), as a 1-element vector, return k (normalized).
std::optional<int64_t> gatheredDim(const Value* piece, const Value* x) {
  if (!piece) return std::nullopt;
  const Node* n = piece->producer;
  bool need_unsqueeze = false;
  if (isDefaultOp(n, "Unsqueeze")) {
    auto axes = unsqueezeAxes(n);
    if (!axes || *axes != std::vector<int64_t>{0} || !n->input(0)) return std::nullopt;
    n = n->input(0)->producer;
    need_unsqueeze = true;
  }
  if (!isDefaultOp(n, "Gather") || n->attrs.getInt("axis", 0) != 0) return std::nullopt;
  const Value* idx = n->input(1);
  auto k = constantInts(idx);
  if (!k || k->size() != 1) return std::nullopt;
  // A scalar index needs the Unsqueeze; a [k] index must not have one.
  if ((idx->constant.rank() == 0) != need_unsqueeze) return std::nullopt;
  const Node* shape = n->input(0) ? n->input(0)->producer : nullptr;
  if (!isDefaultOp(shape, "Shape") || shape->input(0) != x) return std::nullopt;
  if (shape->attrs.has("end") || shape->attrs.getInt("start", 0) != 0) return std::nullopt;
  int64_t dim = (*k)[0];
  if (dim < 0) {
    if (!x->hasShape) return std::nullopt;
    dim += static_cast<int64_t>(x->shape.size());
  }
  return dim;
}

std::optional<Match> match(Node* n) {
  if (!isDefaultOp(n, "Reshape") || n->attrs.getInt("allowzero", 0) != 0) return std::nullopt;
  const Value* x = n->input(0);
  const Value* shape_in = n->input(1);
  if (!x || !shape_in || shape_in->isConstant()) return std::nullopt;
  const Node* concat = shape_in->producer;
  if (!isDefaultOp(concat, "Concat")) return std::nullopt;
  int64_t axis = concat->attrs.getInt("axis", 0);
  if (axis != 0 && axis != -1) return std::nullopt;
  Match m{n, {}};
  for (const Value* piece : concat->inputs) {
    if (auto values = constantInts(piece)) {
      m.shape.insert(m.shape.end(), values->begin(), values->end());
      continue;
    }
    auto dim = gatheredDim(piece, x);
    if (!dim || *dim != static_cast<int64_t>(m.shape.size())) return std::nullopt;
    m.shape.push_back(0);
  }
  return m;
}

void rewrite(Graph& g, const Match& m) {
  int64_t len = static_cast<int64_t>(m.shape.size());
  Value* c = g.addConstant(m.reshape->name + "_shape", Tensor::fromVector<int64_t>({len}, m.shape));
  m.reshape->inputs[1] = c;
}

}  // namespace

Expected<size_t> reshape_shape_chain(Graph& graph) {
  size_t count = 0;
  for (Node* n : graph.nodes()) {
    if (auto m = match(n)) {
      rewrite(graph, *m);
      ++count;
    }
  }
  return count;
}

}  // namespace hq::passes
