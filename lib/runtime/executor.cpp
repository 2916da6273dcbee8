#include "runtime/executor.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "runtime/memory_planner.h"
#include "support/log.h"

namespace hq {

namespace {

std::vector<ValueInfo> infosOf(const Node& node) {
  std::vector<ValueInfo> out;
  for (const Value* v : node.inputs) {
    ValueInfo vi;
    if (v) {
      vi.dtype = v->dtype;
      vi.shape = v->shape;
      vi.hasShape = v->hasShape;
      vi.constant = v->isConstant() ? &v->constant : nullptr;
    }
    out.push_back(vi);
  }
  return out;
}

std::vector<ValueInfo> outputInfosOf(const Node& node) {
  std::vector<ValueInfo> out;
  for (const Value* v : node.outputs) {
    ValueInfo vi;
    if (v) {
      vi.dtype = v->dtype;
      vi.shape = v->shape;
      vi.hasShape = v->hasShape;
    }
    out.push_back(vi);
  }
  return out;
}

bool fullyKnown(const Value* v) { return v->hasShape && shapeNumel(v->shape) >= 0; }

// Fold only what is cheap to keep as a constant.
constexpr int64_t kMaxFoldElements = 1 << 20;

}  // namespace

Status foldConstants(Graph& graph) {
  for (Node* node : graph.nodes()) {
    // Shapes first, with the constants folded so far.
    HQ_ASSIGN_OR_RETURN(auto outs, inferNode(*node, infosOf(*node)));
    for (size_t i = 0; i < node->outputs.size() && i < outs.size(); ++i) {
      Value* o = node->outputs[i];
      if (!o || outs[i].dtype == DType::kUndefined) continue;
      o->dtype = outs[i].dtype;
      if (outs[i].hasShape) {
        if (o->hasShape && o->shape.size() == outs[i].shape.size()) {
          for (size_t d = 0; d < o->shape.size(); ++d) {
            if (outs[i].shape[d] >= 0) o->shape[d] = outs[i].shape[d];
          }
        } else {
          o->shape = outs[i].shape;
          o->hasShape = true;
        }
      }
    }
    if (node->outputs.size() != 1 || !node->outputs[0]) continue;
    Value* out = node->outputs[0];
    if (graph.isGraphOutput(out)) continue;
    if (node->opType == "Shape" && node->input(0) && fullyKnown(node->input(0))) {
      // The shape of a tensor with known dims is a constant, whatever its data.
      const Shape& s = node->input(0)->shape;
      int64_t rank = static_cast<int64_t>(s.size());
      int64_t start = node->attrs.getInt("start", 0), end = node->attrs.getInt("end", rank);
      if (start < 0) start += rank;
      if (end < 0) end += rank;
      start = std::clamp<int64_t>(start, 0, rank);
      end = std::clamp<int64_t>(end, start, rank);
      std::vector<int64_t> dims(s.begin() + start, s.begin() + end);
      out->constant = Tensor::fromVector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
      graph.removeNode(node);
      continue;
    }
    bool all_const = !node->inputs.empty();
    std::vector<const Tensor*> ins;
    for (const Value* v : node->inputs) {
      if (v && !v->isConstant()) all_const = false;
      ins.push_back(v ? &v->constant : nullptr);
    }
    if (!all_const || !fullyKnown(out) || shapeNumel(out->shape) > kMaxFoldElements) continue;
    HQ_ASSIGN_OR_RETURN(auto results, runReference(*node, ins));
    out->constant = std::move(results[0]);
    out->shape = out->constant.shape();
    graph.removeNode(node);
  }
  graph.removeDeadValues();
  return Status::ok();
}

struct Executor::Plan {
  std::unique_ptr<Graph> graph;
  std::vector<Node*> nodes;
  std::vector<std::unique_ptr<PreparedKernel>> kernels;
  /// Tensors of intermediate values (views into the arena) and constants.
  std::unordered_map<const Value*, Tensor> tensors;
  /// Values that get a fresh buffer per run (graph outputs and kept values).
  std::vector<const Value*> fresh;
  std::shared_ptr<void> arena;
  size_t arenaBytes = 0;
};

Executor::~Executor() = default;

Expected<std::unique_ptr<Executor>> Executor::create(const Graph& graph,
                                                     const ExecutorOptions& options) {
  std::unique_ptr<Executor> ex(new Executor());
  ex->graph_ = graph.clone();
  ex->options_ = options;
  for (const Node* node : ex->graph_->nodes()) {
    if (!node->domain.empty() || !findReferenceKernel(node->opType)) {
      return HQ_ERROR(kUnsupported, "node {}: operator '{}' cannot be executed", node->describe(),
                      node->opType);
    }
  }
  for (const auto& name : options.keep) {
    if (!ex->graph_->findValue(name)) {
      return HQ_ERROR(kNotFound, "no tensor named '{}' in the model", name);
    }
  }
  return ex;
}

size_t Executor::arenaBytes() const { return last_ ? last_->arenaBytes : 0; }

std::vector<std::string> Executor::kernelNames() const {
  std::vector<std::string> out;
  if (last_) {
    for (const auto& k : last_->kernels) out.push_back(k->name());
  }
  return out;
}

Expected<Executor::Plan*> Executor::planFor(const std::vector<Tensor>& inputs) {
  const auto& graph_inputs = graph_->inputs();
  if (inputs.size() != graph_inputs.size()) {
    return HQ_ERROR(kInvalidArgument, "the model takes {} input(s), got {}", graph_inputs.size(),
                    inputs.size());
  }
  std::vector<Shape> key;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* gi = graph_inputs[i];
    const Tensor& t = inputs[i];
    if (t.dtype() != gi->dtype) {
      return HQ_ERROR(kShape, "input '{}' expects {}, got {}", gi->name, dtypeName(gi->dtype),
                      dtypeName(t.dtype()));
    }
    bool fits = !gi->hasShape || gi->shape.size() == t.shape().size();
    for (size_t d = 0; fits && gi->hasShape && d < gi->shape.size(); ++d) {
      if (gi->shape[d] >= 0 && gi->shape[d] != t.shape()[d]) fits = false;
    }
    if (!fits) {
      return HQ_ERROR(kShape, "input '{}' expects shape {}, got {}", gi->name,
                      shapeString(gi->shape), shapeString(t.shape()));
    }
    key.push_back(t.shape());
  }
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();

  auto plan = std::make_unique<Plan>();
  plan->graph = graph_->clone();
  Graph& g = *plan->graph;
  for (size_t i = 0; i < inputs.size(); ++i) {
    g.inputs()[i]->shape = inputs[i].shape();
    g.inputs()[i]->hasShape = true;
  }
  // Concrete shapes everywhere, shape chains folded to constants.
  HQ_RETURN_IF_ERROR(foldConstants(g));
  plan->nodes = g.nodes();

  std::unordered_set<const Value*> keep;
  for (const auto& name : options_.keep) keep.insert(g.findValue(name));
  for (const Value* o : g.outputs()) keep.insert(o);

  // Liveness of intermediates: produced at step i, last read at step j.
  std::unordered_map<const Value*, int> first, last;
  for (size_t i = 0; i < plan->nodes.size(); ++i) {
    const Node* n = plan->nodes[i];
    for (const Value* v : n->inputs) {
      if (v) last[v] = static_cast<int>(i);
    }
    for (const Value* v : n->outputs) {
      if (v) first[v] = last[v] = static_cast<int>(i);
    }
  }
  MemoryPlanner planner;
  std::vector<std::pair<const Value*, int>> arena_values;
  for (const Node* n : plan->nodes) {
    for (const Value* v : n->outputs) {
      if (!v) continue;
      if (!fullyKnown(v)) {
        return HQ_ERROR(kShape, "node {}: the shape of output '{}' is not known after inference",
                        n->describe(), v->name);
      }
      if (keep.count(v)) {
        plan->fresh.push_back(v);
        continue;
      }
      size_t bytes = static_cast<size_t>(shapeNumel(v->shape)) * dtypeSize(v->dtype);
      arena_values.push_back({v, planner.addBuffer(bytes, first[v], last[v])});
    }
  }
  planner.plan();
  plan->arenaBytes = planner.arenaBytes();
  void* mem = std::aligned_alloc(64, std::max<size_t>(64, (plan->arenaBytes + 63) / 64 * 64));
  if (!mem) return HQ_ERROR(kIo, "cannot allocate {} bytes for intermediates", plan->arenaBytes);
  plan->arena = std::shared_ptr<void>(mem, [](void* p) { std::free(p); });
  for (const auto& [v, id] : arena_values) {
    plan->tensors[v] = Tensor::shared(v->dtype, v->shape, plan->arena,
                                      static_cast<char*>(mem) + planner.offset(id));
  }
  for (const Value* v : g.values()) {
    if (v->isConstant()) plan->tensors[v] = v->constant;
  }
  for (const Node* n : plan->nodes) {
    HQ_ASSIGN_OR_RETURN(auto k, prepareKernel(*n, infosOf(*n), outputInfosOf(*n), options_.kernels));
    logVerbose("  {} -> {}", n->describe(), k->name());
    plan->kernels.push_back(std::move(k));
  }
  Plan* raw = plan.get();
  plans_[key] = std::move(plan);
  return raw;
}

Expected<std::vector<Tensor>> Executor::run(const std::vector<Tensor>& inputs) {
  if (options_.threads > 0) omp_set_num_threads(options_.threads);
  HQ_ASSIGN_OR_RETURN(Plan * plan, planFor(inputs));
  last_ = plan;
  Graph& g = *plan->graph;
  for (size_t i = 0; i < inputs.size(); ++i) plan->tensors[g.inputs()[i]] = inputs[i];
  for (const Value* v : plan->fresh) plan->tensors[v] = Tensor(v->dtype, v->shape);

  for (size_t i = 0; i < plan->nodes.size(); ++i) {
    const Node* n = plan->nodes[i];
    KernelCall call{*n, {}, {}};
    for (const Value* v : n->inputs) call.inputs.push_back(v ? &plan->tensors.at(v) : nullptr);
    for (const Value* v : n->outputs) call.outputs.push_back(v ? &plan->tensors.at(v) : nullptr);
    HQ_RETURN_IF_ERROR(plan->kernels[i]->run(call));
  }
  std::vector<Tensor> outs;
  for (const Value* o : g.outputs()) {
    const Tensor& t = plan->tensors.at(o);
    // Fresh outputs are the caller's now; an input or constant passed through is copied.
    bool fresh = std::find(plan->fresh.begin(), plan->fresh.end(), o) != plan->fresh.end();
    outs.push_back(fresh ? t : t.clone());
  }
  kept_.clear();
  for (const auto& name : options_.keep) {
    const Value* v = g.findValue(name);
    if (v && plan->tensors.count(v)) kept_[name] = plan->tensors.at(v);
  }
  for (size_t i = 0; i < inputs.size(); ++i) plan->tensors.erase(g.inputs()[i]);
  return outs;
}

}  // namespace hq
