#include "runtime/executor.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "runtime/kernels/dnnl_common.h"
#include "runtime/kernels/dnnl_kernels.h"
#include "runtime/memory_planner.h"
#include "runtime/passes/fake_quant.h"
#include "runtime/passes/fused_conv.h"
#include "runtime/passes/passes.h"
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
    // Quantized weights of QDQ models fold at any size: the float weights are what the
    // conv and gemm kernels need as constants.
    bool weight_qdq = node->opType == "DequantizeLinear" || node->opType == "QuantizeLinear";
    if (!all_const || !fullyKnown(out)) continue;
    if (shapeNumel(out->shape) > kMaxFoldElements && !weight_qdq) continue;
    HQ_ASSIGN_OR_RETURN(auto results, runReference(*node, ins));
    out->constant = std::move(results[0]);
    out->shape = out->constant.shape();
    graph.removeNode(node);
  }
  graph.removeDeadValues();
  return Status::ok();
}

namespace {

// View ops: the output is the input's data under another shape (aliased when the executor
// may, i.e. outside referenceOnly mode and when the output need not be a fresh tensor).
bool isViewOp(const Node& n) {
  if (!n.domain.empty() || n.outputs.size() != 1 || !n.input(0)) return false;
  const std::string& op = n.opType;
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Identity") {
    return true;
  }
  if (op == "Dropout") {
    // Inference-mode Dropout (no training_mode input, or a constant false one).
    const Value* t = n.input(2);
    return !t || (t->isConstant() && t->constant.numel() == 1 && t->constant.toInt64()[0] == 0);
  }
  return false;
}

// Union-find over value slots that share one arena buffer.
struct AliasSets {
  std::vector<int> parent;
  explicit AliasSets(size_t n) : parent(n) {
    for (size_t i = 0; i < n; ++i) parent[i] = static_cast<int>(i);
  }
  int find(int x) {
    while (parent[static_cast<size_t>(x)] != x) {
      x = parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    }
    return x;
  }
};

}  // namespace

struct Executor::Plan {
  /// One step of the plan: a kernel with its call bound to slots, or an aliasing view.
  struct Step {
    std::unique_ptr<PreparedKernel> kernel;  ///< nullptr for a view
    KernelCall call;
    int viewIn = -1, viewOut = -1;
  };
  std::unique_ptr<Graph> graph;
  /// The tensor of every value, by slot; KernelCalls point into this (never resized).
  std::vector<Tensor> slots;
  std::vector<Step> steps;
  std::vector<int> inputSlots;
  /// Slots that get a fresh buffer per run (graph outputs and kept values).
  std::vector<std::pair<int, const Value*>> freshSlots;
  std::vector<int> outputSlots;
  std::vector<bool> outputFresh;
  std::vector<std::pair<std::string, int>> keptSlots;
  /// An observed value: where it lives and how its buffer is laid out.
  struct Observed {
    std::string name;
    int slot = -1;
    int64_t physical = 0;            ///< elements in the buffer
    int64_t padding = 0;             ///< of which layout padding
    dnnl::memory::desc blocked;      ///< zero desc = plain
    std::shared_ptr<dnnl_rt::Reorder> toPlain;  ///< built on first use
  };
  /// observeAt[0]: before the first step (inputs, constants); [i + 1]: after step i.
  std::vector<std::vector<Observed>> observeAt;
  dnnl_rt::AlignedBuffer plainScratch;  ///< toPlain() target, shared by all observed values
  size_t plainScratchBytes = 0;
  std::vector<std::string> kernelNames;
  std::vector<StepProfile> profile;
  std::shared_ptr<void> arena;
  size_t arenaBytes = 0;
};

Executor::~Executor() = default;

namespace {

/// The ai.hq ops assume zero point 0 (schemas/int-ops.md 1.1): a QuantizeLinear that feeds
/// one, or a DequantizeLinear that reads one, must have no zero point or zeros.
Status checkIntegerBoundary(const Graph& g) {
  for (const Node* n : g.nodes()) {
    const bool q = n->opType == "QuantizeLinear", dq = n->opType == "DequantizeLinear";
    if (!n->domain.empty() || (!q && !dq)) continue;
    bool touches_int = false;
    if (q && !n->outputs.empty() && n->outputs[0]) {
      for (const Node* u : g.consumers(n->outputs[0])) touches_int |= u->domain == kIntDomain;
    }
    if (dq && n->input(0) && n->input(0)->producer) {
      touches_int = n->input(0)->producer->domain == kIntDomain;
    }
    const Value* zp = n->input(2);
    if (!touches_int || !zp) continue;
    if (!zp->isConstant()) {
      return HQ_ERROR(kUnsupported, "node {}: the zero point of a tensor of integer (ai.hq) ops "
                      "must be a constant 0", n->describe());
    }
    for (int64_t z : zp->constant.toInt64()) {
      if (z != 0) {
        return HQ_ERROR(kUnsupported, "node {}: zero point {} on a tensor of integer (ai.hq) ops: "
                        "they are symmetric (zero point 0, schemas/int-ops.md 1.1)",
                        n->describe(), z);
      }
    }
  }
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<Executor>> Executor::create(const Graph& graph,
                                                     const ExecutorOptions& options) {
  std::unique_ptr<Executor> ex(new Executor());
  ex->graph_ = graph.clone();
  ex->options_ = options;
  for (const Node* node : ex->graph_->nodes()) {
    if (!findReferenceKernel(node->opType, node->domain)) {
      return HQ_ERROR(kUnsupported, "node {}: operator '{}' cannot be executed", node->describe(),
                      node->opType);
    }
  }
  HQ_RETURN_IF_ERROR(checkIntegerBoundary(*ex->graph_));
  for (const auto& name : options.keep) {
    if (!ex->graph_->findValue(name)) {
      return HQ_ERROR(kNotFound, "no tensor named '{}' in the model", name);
    }
  }
  for (const auto& name : options.observe) {
    const Value* v = ex->graph_->findValue(name);
    if (!v) return HQ_ERROR(kNotFound, "no tensor named '{}' in the model to observe", name);
    if (v->dtype != DType::kFloat32 && v->dtype != DType::kUndefined) {
      return HQ_ERROR(kUnsupported, "observed tensor '{}' must be float32, got {}", name,
                      dtypeName(v->dtype));
    }
  }
  if (!options.observe.empty() && !options.onObserve) {
    return HQ_ERROR(kInvalidArgument, "ExecutorOptions::observe lists {} tensor(s) but "
                    "onObserve is not set", options.observe.size());
  }
  return ex;
}

size_t Executor::arenaBytes() const { return last_ ? last_->arenaBytes : 0; }

std::vector<StepProfile> Executor::profile() const {
  return last_ && options_.profile ? last_->profile : std::vector<StepProfile>{};
}

std::vector<std::string> Executor::kernelNames() const {
  return last_ ? last_->kernelNames : std::vector<std::string>{};
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
  HQ_ASSIGN_OR_RETURN(auto plan, buildPlan(inputs));
  Plan* raw = plan.get();
  plans_[key] = std::move(plan);
  return raw;
}

Expected<std::unique_ptr<Executor::Plan>> Executor::buildPlan(const std::vector<Tensor>& inputs) {
  const bool fast = !options_.kernels.referenceOnly;
  auto plan = std::make_unique<Plan>();
  plan->graph = graph_->clone();
  Graph& g = *plan->graph;
  for (size_t i = 0; i < inputs.size(); ++i) {
    g.inputs()[i]->shape = inputs[i].shape();
    g.inputs()[i]->hasShape = true;
  }
  // Concrete shapes everywhere, shape chains folded to constants.
  HQ_RETURN_IF_ERROR(foldConstants(g));

  passes::PassContext pass_ctx;
  for (const auto& name : options_.keep) pass_ctx.protect.insert(g.findValue(name));
  for (const auto& name : options_.observe) pass_ctx.protect.insert(g.findValue(name));
  for (const Value* o : g.outputs()) pass_ctx.protect.insert(o);
  if (fast) {
    std::vector<std::pair<std::string, int>> counts;
    HQ_RETURN_IF_ERROR(passes::runInferencePasses(g, pass_ctx, &counts));
    for (const auto& [name, n] : counts) logVerbose("  pass {}: {} rewrite(s)", name, n);
  }
  // Kept values and outputs get plain fresh buffers; observed values stay as they are.
  std::unordered_set<const Value*> keep(g.outputs().begin(), g.outputs().end());
  for (const auto& name : options_.keep) keep.insert(g.findValue(name));
  std::vector<Node*> nodes = g.nodes();

  // Slots: one per value.
  std::vector<Value*> values = g.values();
  std::unordered_map<const Value*, int> slot_of;
  for (size_t i = 0; i < values.size(); ++i) slot_of[values[i]] = static_cast<int>(i);
  plan->slots.resize(values.size());
  auto slot = [&](const Value* v) { return v ? slot_of.at(v) : -1; };

  // Liveness of values: produced at step i, last read at step j.
  std::vector<int> first(values.size(), -1), last(values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const Value* v : nodes[i]->inputs) {
      if (v) last[static_cast<size_t>(slot(v))] = static_cast<int>(i);
    }
    for (const Value* v : nodes[i]->outputs) {
      if (v) first[static_cast<size_t>(slot(v))] = last[static_cast<size_t>(slot(v))] = static_cast<int>(i);
    }
  }

  // Kernels (or views) per node.
  std::vector<dnnl_rt::DnnlKernel*> dnnl_of(nodes.size(), nullptr);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node* n = nodes[i];
    for (const Value* v : n->outputs) {
      if (v && !fullyKnown(v)) {
        return HQ_ERROR(kShape, "node {}: the shape of output '{}' is not known after inference",
                        n->describe(), v->name);
      }
    }
    KernelCall call{*n, {}, {}};
    for (const Value* v : n->inputs) call.inputs.push_back(v ? &plan->slots[slot(v)] : nullptr);
    for (const Value* v : n->outputs) call.outputs.push_back(v ? &plan->slots[slot(v)] : nullptr);
    Plan::Step step{nullptr, call};
    if (fast && isViewOp(*n) && !keep.count(n->outputs[0])) {
      step.viewIn = slot(n->input(0));
      step.viewOut = slot(n->outputs[0]);
      plan->kernelNames.push_back("view");
    } else {
      if (passes::isFusedConv(*n)) {
        step.kernel = dnnl_rt::makeConv(*n, infosOf(*n), outputInfosOf(*n));
        if (!step.kernel) step.kernel = passes::makeReferenceFusedConv();
      } else if (passes::isFakeQuant(*n)) {
        step.kernel = passes::makeFastFakeQuant(*n, infosOf(*n), outputInfosOf(*n));
        if (!step.kernel) step.kernel = passes::makeReferenceFakeQuant();
      } else {
        HQ_ASSIGN_OR_RETURN(step.kernel,
                            prepareKernel(*n, infosOf(*n), outputInfosOf(*n), options_.kernels));
      }
      dnnl_of[i] = dynamic_cast<dnnl_rt::DnnlKernel*>(step.kernel.get());
      plan->kernelNames.push_back(step.kernel->name());
    }
    logVerbose("  {} -> {}", n->describe(), plan->kernelNames.back());
    plan->profile.push_back({n->describe(), plan->kernelNames.back(), 0.0, 0});
    plan->steps.push_back(std::move(step));
  }

  // Layouts: a value may stay in a oneDNN blocked layout when every reader is a oneDNN
  // kernel that accepts one there, and it is no output or kept value.
  std::unordered_map<const Node*, size_t> index_of;
  for (size_t i = 0; i < nodes.size(); ++i) index_of[nodes[i]] = i;
  std::vector<dnnl::memory::desc> desc(values.size());  // zero desc = plain
  auto blocked_ok = [&](const Value* v) {
    if (!v || keep.count(v)) return false;
    std::vector<Node*> users = g.consumers(v);
    if (users.empty()) return false;
    for (const Node* u : users) {
      dnnl_rt::DnnlKernel* k = dnnl_of[index_of.at(u)];
      for (size_t p = 0; p < u->inputs.size(); ++p) {
        if (u->inputs[p] == v && (!k || !k->acceptsBlocked(p))) return false;
      }
    }
    return true;
  };
  for (size_t i = 0; fast && i < nodes.size(); ++i) {
    dnnl_rt::DnnlKernel* k = dnnl_of[i];
    if (!k) continue;
    const Node* n = nodes[i];
    std::vector<dnnl::memory::desc> in;
    for (const Value* v : n->inputs) {
      // Integer values: the producer's layout (int8 fast kernels exchange NHWC), or an
      // empty desc for plain.
      const dnnl::memory::desc d = v ? desc[static_cast<size_t>(slot(v))] : dnnl::memory::desc();
      if (!v || (v->dtype != DType::kFloat32 && !d.data.ndims)) {
        in.emplace_back();
      } else {
        in.push_back(d.data.ndims ? d : dnnl_rt::plainDesc(v->shape));
      }
    }
    std::vector<bool> ok;
    for (const Value* v : n->outputs) ok.push_back(blocked_ok(v));
    HQ_RETURN_IF_ERROR(k->configure(in, ok).addContext(n->describe()));
    for (size_t o = 0; o < n->outputs.size(); ++o) {
      const Value* v = n->outputs[o];
      if (v && o < k->outputDescs().size() && !dnnl_rt::isPlain(k->outputDescs()[o])) {
        desc[static_cast<size_t>(slot(v))] = k->outputDescs()[o];
      }
    }
  }

  // Arena buffers: values of one alias set (views, in-place residual sums) share one.
  auto is_arena = [&](const Value* v) {
    return v && v->producer && !keep.count(v) && !v->isConstant();
  };
  std::vector<size_t> bytes(values.size(), 0);
  for (const Value* v : values) {
    if (!is_arena(v)) continue;
    size_t b = static_cast<size_t>(shapeNumel(v->shape)) * dtypeSize(v->dtype);
    const dnnl::memory::desc& d = desc[static_cast<size_t>(slot(v))];
    bytes[static_cast<size_t>(slot(v))] = std::max(b, d.data.ndims ? d.get_size() : size_t{0});
  }
  AliasSets sets(values.size());
  std::vector<int> set_last(last);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node* n = nodes[i];
    const Plan::Step& step = plan->steps[i];
    int from = -1, to = -1;
    if (step.viewIn >= 0 && is_arena(n->input(0))) {
      from = step.viewIn;
      to = step.viewOut;
    } else if (dnnl_of[i] && dnnl_of[i]->inPlaceInput() >= 0) {
      const Value* r = n->input(static_cast<size_t>(dnnl_of[i]->inPlaceInput()));
      const Value* y = n->outputs[0];
      int rs = slot(r), ys = slot(y);
      bool same_layout = rs >= 0 && ys >= 0 && bytes[static_cast<size_t>(rs)] == bytes[static_cast<size_t>(ys)] &&
                         desc[static_cast<size_t>(rs)] == desc[static_cast<size_t>(ys)];
      // The residual buffer is overwritten: nothing else of this node may read it.
      bool only_reader = true;
      for (size_t p = 0; p < n->inputs.size(); ++p) {
        const Value* in = n->inputs[p];
        if (in && in != r && is_arena(in) && sets.find(slot(in)) == sets.find(rs)) {
          only_reader = false;
        }
        if (in == r && p != static_cast<size_t>(dnnl_of[i]->inPlaceInput())) only_reader = false;
      }
      if (is_arena(r) && is_arena(y) && same_layout && only_reader &&
          set_last[static_cast<size_t>(sets.find(rs))] == static_cast<int>(i)) {
        from = rs;
        to = ys;
      }
    }
    if (from < 0) continue;
    int root = sets.find(from);
    sets.parent[static_cast<size_t>(to)] = root;
    set_last[static_cast<size_t>(root)] = std::max(set_last[static_cast<size_t>(root)], last[static_cast<size_t>(to)]);
    bytes[static_cast<size_t>(root)] = std::max(bytes[static_cast<size_t>(root)], bytes[static_cast<size_t>(to)]);
  }
  MemoryPlanner planner;
  std::vector<int> buffer_of(values.size(), -1);
  for (const Value* v : values) {
    int s = slot(v);
    if (!is_arena(v) || sets.find(s) != s) continue;
    buffer_of[static_cast<size_t>(s)] =
        planner.addBuffer(bytes[static_cast<size_t>(s)], first[static_cast<size_t>(s)], set_last[static_cast<size_t>(s)]);
  }
  planner.plan();
  plan->arenaBytes = planner.arenaBytes();
  void* mem = std::aligned_alloc(64, std::max<size_t>(64, (plan->arenaBytes + 63) / 64 * 64));
  if (!mem) return HQ_ERROR(kIo, "cannot allocate {} bytes for intermediates", plan->arenaBytes);
  plan->arena = std::shared_ptr<void>(mem, [](void* p) { std::free(p); });
  for (const Value* v : values) {
    int s = slot(v);
    if (v->isConstant()) {
      plan->slots[static_cast<size_t>(s)] = v->constant;
    } else if (is_arena(v)) {
      int b = buffer_of[static_cast<size_t>(sets.find(s))];
      plan->slots[static_cast<size_t>(s)] = Tensor::shared(v->dtype, v->shape, plan->arena,
                                        static_cast<char*>(mem) + planner.offset(b));
    } else if (v->producer) {
      plan->freshSlots.push_back({s, v});
    }
  }
  for (const Value* v : g.inputs()) plan->inputSlots.push_back(slot(v));
  for (const Value* o : g.outputs()) {
    plan->outputSlots.push_back(slot(o));
    plan->outputFresh.push_back(is_arena(o) || (o->producer && !o->isConstant()));
  }
  for (const auto& name : options_.keep) {
    if (const Value* v = g.findValue(name)) plan->keptSlots.push_back({name, slot(v)});
  }
  plan->observeAt.resize(nodes.size() + 1);
  for (const auto& name : options_.observe) {
    const Value* v = g.findValue(name);
    if (!v) return HQ_ERROR(kInternal, "observed tensor '{}' vanished from the plan", name);
    if (v->dtype != DType::kFloat32) {
      return HQ_ERROR(kUnsupported, "observed tensor '{}' must be float32, got {}", name,
                      dtypeName(v->dtype));
    }
    Plan::Observed o;
    o.name = name;
    o.slot = slot(v);
    o.physical = shapeNumel(v->shape);
    const dnnl::memory::desc& d = desc[static_cast<size_t>(o.slot)];
    if (d.data.ndims && !dnnl_rt::isPlain(d)) {
      o.blocked = d;
      o.physical = static_cast<int64_t>(d.get_size() / sizeof(float));
      o.padding = o.physical - shapeNumel(v->shape);
      plan->plainScratchBytes = std::max(plan->plainScratchBytes,
                                         static_cast<size_t>(shapeNumel(v->shape)) * sizeof(float));
    }
    size_t at = 0;
    if (v->producer && !v->isConstant()) at = index_of.at(v->producer) + 1;
    plan->observeAt[at].push_back(std::move(o));
  }
  return plan;
}

Status Executor::notifyObservers(Plan& plan, size_t at) {
  for (Plan::Observed& o : plan.observeAt[at]) {
    const Tensor& t = plan.slots[static_cast<size_t>(o.slot)];
    ObservedTensor ot;
    ot.data = t.data<float>();
    ot.n = o.blocked.data.ndims ? o.physical : t.numel();
    ot.paddingZeros = o.blocked.data.ndims ? o.padding : 0;
    ot.plain = o.blocked.data.ndims == 0;
    ot.shape = &t.shape();
    ot.toPlain = [&plan, &o, &t]() -> Tensor {
      if (!o.blocked.data.ndims) return t;
      if (!o.toPlain) {
        o.toPlain = std::make_shared<dnnl_rt::Reorder>(o.blocked, dnnl_rt::plainDesc(t.shape()));
      }
      if (!plan.plainScratch.mem) plan.plainScratch.allocate(plan.plainScratchBytes);
      Tensor out = Tensor::shared(DType::kFloat32, t.shape(), plan.plainScratch.mem,
                                  plan.plainScratch.mem.get());
      o.toPlain->run(t.raw(), out.raw());
      dnnl_rt::cpuStream().wait();
      return out;
    };
    HQ_RETURN_IF_ERROR(options_.onObserve(o.name, ot));
  }
  return Status::ok();
}

Expected<std::vector<Tensor>> Executor::run(const std::vector<Tensor>& inputs) {
  if (options_.threads > 0) omp_set_num_threads(options_.threads);
  HQ_ASSIGN_OR_RETURN(Plan * plan, planFor(inputs));
  last_ = plan;
  std::vector<Tensor>& slots = plan->slots;
  for (size_t i = 0; i < inputs.size(); ++i) slots[static_cast<size_t>(plan->inputSlots[i])] = inputs[i];
  for (const auto& [s, v] : plan->freshSlots) slots[static_cast<size_t>(s)] = Tensor(v->dtype, v->shape);
  HQ_RETURN_IF_ERROR(notifyObservers(*plan, 0));
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    Plan::Step& step = plan->steps[i];
    auto start = options_.profile ? std::chrono::steady_clock::now()
                                  : std::chrono::steady_clock::time_point();
    if (!step.kernel) {
      const Tensor& in = slots[static_cast<size_t>(step.viewIn)];
      slots[static_cast<size_t>(step.viewOut)] = in.reshaped(step.call.node.outputs[0]->shape);
    } else {
      HQ_RETURN_IF_ERROR(step.kernel->run(step.call));
    }
    if (options_.profile) {
      StepProfile& p = plan->profile[i];
      p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++p.runs;
    }
    if (!plan->observeAt[i + 1].empty()) HQ_RETURN_IF_ERROR(notifyObservers(*plan, i + 1));
  }
  std::vector<Tensor> outs;
  for (size_t i = 0; i < plan->outputSlots.size(); ++i) {
    const Tensor& t = slots[static_cast<size_t>(plan->outputSlots[i])];
    // Fresh outputs are the caller's now; an input or constant passed through is copied.
    outs.push_back(plan->outputFresh[i] ? t : t.clone());
  }
  kept_.clear();
  for (const auto& [name, s] : plan->keptSlots) kept_[name] = slots[static_cast<size_t>(s)];
  for (int s : plan->inputSlots) slots[static_cast<size_t>(s)] = Tensor();
  return outs;
}

}  // namespace hq
