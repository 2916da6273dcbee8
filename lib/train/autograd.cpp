#include "train/autograd.h"

#include <algorithm>
#include <set>

#include "ir/op_registry.h"

namespace hq::train {

NodeBackward defaultBackwardOf(const Node& node) {
  BackwardFn fn = node.domain.empty() ? findBackward(node.opType) : nullptr;
  return fn ? NodeBackward(fn) : NodeBackward();
}

std::vector<std::string> defaultParameters(const Graph& graph) {
  std::set<const Value*> chosen;
  for (const Node* n : graph.nodes()) {
    if (!n->domain.empty()) continue;
    std::vector<size_t> slots;
    const std::string& op = n->opType;
    if (op == "Conv" || op == "ConvTranspose" || op == "Gemm") slots = {1, 2};
    if (op == "MatMul") slots = {0, 1};
    if (op == "PRelu") slots = {1};
    if (op == "BatchNormalization") slots = {1, 2};  // scale and bias (not the running stats)
    for (size_t s : slots) {
      const Value* v = n->input(s);
      if (v && v->isConstant() && v->constant.dtype() == DType::kFloat32) chosen.insert(v);
    }
  }
  std::vector<std::string> names;
  for (const Value* v : graph.constants()) {
    if (chosen.count(v)) names.push_back(v->name);
  }
  return names;
}

struct GradGraph::NodeInfo {
  Node* node = nullptr;
  std::vector<int> in, out;  // value ids, -1 for omitted
  bool runsBackward = false;
  NodeBackward backward;
  std::vector<int> touched;  // distinct ids of inputs and outputs (backward readers)
  bool readsParam = false;
};

struct GradGraph::PlanStep {
  std::unique_ptr<PreparedKernel> kernel;
  std::vector<ValueInfo> outInfos;
  bool rebake = false;  // a fast kernel that copies parameters: prepare again each forward
  bool custom = false;  // from AutogradOptions::forwardOf
};

struct GradGraph::Plan {
  std::vector<PlanStep> steps;
};

GradGraph::~GradGraph() = default;

Expected<std::unique_ptr<GradGraph>> GradGraph::create(const Graph& graph,
                                                       AutogradOptions options) {
  std::unique_ptr<GradGraph> g(new GradGraph());
  g->graph_ = graph.clone();
  HQ_RETURN_IF_ERROR(g->graph_->sortTopologically());
  if (!options.backwardOf) options.backwardOf = &defaultBackwardOf;
  if (options.parameters.empty()) options.parameters = defaultParameters(*g->graph_);
  g->options_ = std::move(options);
  HQ_RETURN_IF_ERROR(g->analyze());
  return g;
}

Status GradGraph::analyze() {
  Graph& graph = *graph_;
  for (Value* v : graph.values()) {
    id_[v] = static_cast<int>(values_.size());
    values_.push_back(v);
  }
  const size_t nv = values_.size();
  isParam_.assign(nv, false);
  requiresGrad_.assign(nv, false);
  reachesOutput_.assign(nv, false);
  fwdReaders_.assign(nv, 0);
  bwdReaders_.assign(nv, 0);

  // Own buffers for every initializer: parameter updates and running-statistic updates never
  // reach the caller's graph.
  for (Value* v : values_) {
    if (v->isConstant()) v->constant = v->constant.clone();
  }
  for (const std::string& name : options_.parameters) {
    Value* v = graph.findValue(name);
    if (!v || !v->isConstant()) {
      return HQ_ERROR(kNotFound,
                      "autograd: trainable parameter '{}' is not an initializer of the "
                      "graph",
                      name);
    }
    if (v->constant.dtype() != DType::kFloat32) {
      return HQ_ERROR(kInvalidArgument,
                      "autograd: trainable parameter '{}' must be float32, found {}", name,
                      dtypeName(v->constant.dtype()));
    }
    if (isParam_[id_[v]]) continue;
    isParam_[id_[v]] = true;
    requiresGrad_[id_[v]] = true;
    paramNames_.push_back(name);
  }

  if (options_.output.empty()) {
    if (graph.outputs().empty())
      return HQ_ERROR(kInvalidArgument, "autograd: the graph has no output");
    outputId_ = id_[graph.outputs()[0]];
  } else {
    Value* v = graph.findValue(options_.output);
    if (!v)
      return HQ_ERROR(kNotFound, "autograd: output '{}' is not a value of the graph",
                      options_.output);
    outputId_ = id_[v];
  }

  for (Node* n : graph.nodes()) {
    NodeInfo info;
    info.node = n;
    for (Value* v : n->inputs) info.in.push_back(v ? id_.at(v) : -1);
    for (Value* v : n->outputs) info.out.push_back(v ? id_.at(v) : -1);
    nodes_.push_back(std::move(info));
  }
  // Which values depend on a parameter (forward), and which the output depends on (reverse).
  for (NodeInfo& n : nodes_) {
    bool any = false;
    for (int v : n.in) {
      if (v < 0) continue;
      any = any || requiresGrad_[v];
      n.readsParam = n.readsParam || isParam_[v];
      ++fwdReaders_[v];
    }
    for (int v : n.out) {
      const DType t = values_[v >= 0 ? v : 0]->dtype;
      if (v >= 0 && any && (t == DType::kFloat32 || t == DType::kUndefined))
        requiresGrad_[v] = true;
    }
  }
  reachesOutput_[outputId_] = true;
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    bool reaches = false;
    for (int v : it->out) reaches = reaches || (v >= 0 && reachesOutput_[v]);
    if (!reaches) continue;
    for (int v : it->in) {
      if (v >= 0) reachesOutput_[v] = true;
    }
  }
  for (NodeInfo& n : nodes_) {
    bool wants_in = false, flows_out = false;
    for (int v : n.in) wants_in = wants_in || (v >= 0 && requiresGrad_[v]);
    for (int v : n.out) flows_out = flows_out || (v >= 0 && reachesOutput_[v] && requiresGrad_[v]);
    if (!wants_in || !flows_out) continue;
    n.runsBackward = true;
    n.backward = options_.backwardOf(*n.node);
    if (!n.backward) {
      return HQ_ERROR(
          kUnsupported,
          "autograd: {} (domain '{}') has no backward, and it lies on a "
          "gradient path from a trainable parameter to '{}' (train/backward.def lists the ops "
          "with one; AutogradOptions::backwardOf adds others)",
          n.node->describe(), n.node->domain, values_[outputId_]->name);
    }
    std::set<int> touched;
    for (int v : n.in) {
      if (v >= 0) touched.insert(v);
    }
    for (int v : n.out) {
      if (v >= 0) touched.insert(v);
    }
    n.touched.assign(touched.begin(), touched.end());
    for (int v : n.touched) ++bwdReaders_[v];
  }
  ++fwdReaders_[outputId_];  // the caller reads it
  return Status::ok();
}

Tensor* GradGraph::parameter(const std::string& name) {
  Value* v = graph_->findValue(name);
  if (!v || !isParam_[id_.at(v)]) return nullptr;
  return &v->constant;
}

void GradGraph::setSlot(int v, Tensor t) {
  freeSlot(v);
  slots_[v] = std::move(t);
  liveBytes_ += slots_[v].nbytes();
  peakBytes_ = std::max(peakBytes_, liveBytes_);
}

void GradGraph::freeSlot(int v) {
  if (!slots_[v].defined()) return;
  if (!values_[v]->isConstant()) liveBytes_ -= slots_[v].nbytes();
  slots_[v] = Tensor();
}

std::vector<ValueInfo> GradGraph::infosFor(const NodeInfo& n) const {
  std::vector<ValueInfo> infos;
  for (int v : n.in) {
    ValueInfo vi;
    if (v >= 0) {
      const Tensor& t = slots_[v];
      vi.dtype = t.dtype();
      vi.shape = t.shape();
      vi.hasShape = true;
      // Initializers and integer tensors (shapes, axes) are constants to shape functions and
      // kernel factories; float activations are not.
      if (values_[v]->isConstant() || t.dtype() != DType::kFloat32) vi.constant = &t;
    }
    infos.push_back(std::move(vi));
  }
  return infos;
}

Tensor* GradGraph::initializer(const std::string& name) {
  Value* v = graph_->findValue(name);
  return v && v->isConstant() ? &v->constant : nullptr;
}

GradGraph::Plan* GradGraph::planFor(const std::vector<Tensor>& inputs, bool training) {
  std::pair<std::vector<Shape>, bool> key;
  for (const Tensor& t : inputs) key.first.push_back(t.shape());
  key.second = training;
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    auto plan = std::make_unique<Plan>();
    plan->steps.resize(nodes_.size());
    it = plans_.emplace(key, std::move(plan)).first;
  }
  return it->second.get();
}

Status GradGraph::prepareStep(const NodeInfo& n, PlanStep& step, bool training) {
  const std::vector<ValueInfo> infos = infosFor(n);
  auto inferred = inferNode(*n.node, infos);
  step.outInfos.clear();
  if (inferred.isOk()) step.outInfos = std::move(*inferred);
  if (options_.forwardOf) {
    HQ_ASSIGN_OR_RETURN(step.kernel, options_.forwardOf(*n.node, infos, step.outInfos, training));
    if (step.kernel) {
      step.custom = true;
      if (step.outInfos.size() != n.out.size()) {
        return HQ_ERROR(kInternal,
                        "autograd: {}: the training forward gave {} output infos, the "
                        "node has {} outputs",
                        n.node->describe(), step.outInfos.size(), n.out.size());
      }
      return Status::ok();
    }
  }
  if (!inferred.isOk()) return inferred.status();
  HQ_ASSIGN_OR_RETURN(step.kernel, prepareKernel(*n.node, infos, step.outInfos, options_.kernels));
  step.rebake = n.readsParam && step.kernel->name() != "reference";
  return Status::ok();
}

Expected<Tensor> GradGraph::forward(const std::vector<Tensor>& inputs, bool training) {
  const auto& graph_inputs = graph_->inputs();
  if (inputs.size() != graph_inputs.size()) {
    return HQ_ERROR(kInvalidArgument, "autograd: the graph has {} inputs, {} given",
                    graph_inputs.size(), inputs.size());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = graph_inputs[i];
    if (inputs[i].dtype() != v->dtype) {
      return HQ_ERROR(kShape, "autograd: input '{}' must be {}, found {}", v->name,
                      dtypeName(v->dtype), dtypeName(inputs[i].dtype()));
    }
    bool fits = !v->hasShape || v->shape.size() == inputs[i].shape().size();
    for (size_t d = 0; fits && v->hasShape && d < v->shape.size(); ++d) {
      fits = v->shape[d] < 0 || v->shape[d] == inputs[i].shape()[d];
    }
    if (!fits) {
      return HQ_ERROR(kShape, "autograd: input '{}' must have shape {}, found {}", v->name,
                      shapeString(v->shape), shapeString(inputs[i].shape()));
    }
  }
  Plan* plan = planFor(inputs, training);
  last_ = plan;
  slots_.assign(values_.size(), Tensor());
  liveBytes_ = 0;
  saved_ = false;
  fwdLeft_ = fwdReaders_;
  bwdLeft_ = training ? bwdReaders_ : std::vector<int>(values_.size(), 0);
  for (size_t v = 0; v < values_.size(); ++v) {
    if (values_[v]->isConstant()) slots_[v] = values_[v]->constant;
  }
  for (size_t i = 0; i < inputs.size(); ++i) setSlot(id_.at(graph_inputs[i]), inputs[i]);
  auto release = [&](int v) {
    if (v >= 0 && !values_[v]->isConstant() && fwdLeft_[v] <= 0 && bwdLeft_[v] <= 0) freeSlot(v);
  };

  for (size_t k = 0; k < nodes_.size(); ++k) {
    const NodeInfo& n = nodes_[k];
    PlanStep& step = plan->steps[k];
    for (int v : n.in) {
      if (v >= 0 && !slots_[v].defined()) {
        return HQ_ERROR(kInvalidArgument,
                        "autograd: {}: input '{}' has no value (not a graph "
                        "input, initializer or node output)",
                        n.node->describe(), values_[v]->name);
      }
    }
    if (!step.kernel) {
      HQ_RETURN_IF_ERROR(prepareStep(n, step, training));
    } else if (step.rebake) {
      HQ_ASSIGN_OR_RETURN(step.kernel,
                          prepareKernel(*n.node, infosFor(n), step.outInfos, options_.kernels));
    }
    KernelCall call{*n.node, {}, {}};
    for (int v : n.in) call.inputs.push_back(v >= 0 ? &slots_[v] : nullptr);
    for (size_t i = 0; i < n.out.size(); ++i) {
      const int v = n.out[i];
      const ValueInfo& vi = step.outInfos.at(i);
      if (v < 0 || vi.dtype == DType::kUndefined) {
        call.outputs.push_back(nullptr);
        continue;
      }
      if (!vi.hasShape || shapeNumel(vi.shape) < 0) {
        return HQ_ERROR(kShape, "autograd: {}: output {} has no concrete shape", n.node->describe(),
                        i);
      }
      setSlot(v, Tensor(vi.dtype, vi.shape));
      call.outputs.push_back(&slots_[v]);
    }
    HQ_RETURN_IF_ERROR(step.kernel->run(call));
    for (int v : n.in) {
      if (v >= 0) --fwdLeft_[v];
    }
    for (int v : n.in) release(v);
    for (int v : n.out) release(v);
  }
  const Tensor& out = slots_[outputId_];
  if (!out.defined()) {
    return HQ_ERROR(kInternal, "autograd: output '{}' was not computed", values_[outputId_]->name);
  }
  saved_ = training;
  return out;
}

namespace {
void addInto(Tensor& acc, const Tensor& g) {
  float* a = acc.data<float>();
  const float* b = g.data<float>();
  const int64_t n = acc.numel();
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}
}  // namespace

Expected<Gradients> GradGraph::backward(const Tensor& grad_output) {
  if (!saved_) {
    return HQ_ERROR(kInvalidArgument,
                    "autograd: backward() needs a forward(inputs, /*training=*/true) before it");
  }
  saved_ = false;
  const Tensor& out = slots_[outputId_];
  if (grad_output.dtype() != DType::kFloat32 || grad_output.shape() != out.shape()) {
    return HQ_ERROR(kShape, "autograd: the gradient of '{}' must be float32 {}, found {} {}",
                    values_[outputId_]->name, shapeString(out.shape()),
                    dtypeName(grad_output.dtype()), shapeString(grad_output.shape()));
  }
  std::vector<Tensor> grads(values_.size());
  grads[outputId_] = grad_output.clone();
  // The caller's read of the output is done.
  --fwdLeft_[outputId_];
  if (fwdLeft_[outputId_] <= 0 && bwdLeft_[outputId_] <= 0) freeSlot(outputId_);

  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    const NodeInfo& n = *it;
    if (!n.runsBackward) continue;
    BackwardCall call{*n.node, {}, {}, {}, {}};
    for (int v : n.in) call.inputs.push_back(v >= 0 ? &slots_[v] : nullptr);
    for (int v : n.out) {
      call.outputs.push_back(v >= 0 && slots_[v].defined() ? &slots_[v] : nullptr);
      call.gradOutputs.push_back(v >= 0 && grads[v].defined() ? &grads[v] : nullptr);
    }
    std::vector<Tensor> fresh(n.in.size());
    call.gradInputs.assign(n.in.size(), nullptr);
    for (size_t i = 0; i < n.in.size(); ++i) {
      const int v = n.in[i];
      if (v < 0 || !requiresGrad_[v] || slots_[v].dtype() != DType::kFloat32) continue;
      fresh[i] = Tensor(DType::kFloat32, slots_[v].shape());
      call.gradInputs[i] = &fresh[i];
    }
    HQ_RETURN_IF_ERROR(n.backward(call));
    for (size_t i = 0; i < n.in.size(); ++i) {
      if (!fresh[i].defined()) continue;
      Tensor& acc = grads[n.in[i]];
      if (!acc.defined()) {
        acc = std::move(fresh[i]);
      } else {
        addInto(acc, fresh[i]);
      }
    }
    // Every consumer of the outputs has run its backward: their gradients are spent.
    for (int v : n.out) {
      if (v >= 0) grads[v] = Tensor();
    }
    for (int v : n.touched) {
      if (--bwdLeft_[v] <= 0 && fwdLeft_[v] <= 0 && !values_[v]->isConstant()) freeSlot(v);
    }
  }
  Gradients result;
  for (const std::string& name : paramNames_) {
    const int v = id_.at(graph_->findValue(name));
    result[name] = grads[v].defined() ? std::move(grads[v])
                                      : Tensor(DType::kFloat32, values_[v]->constant.shape());
  }
  // Anything still held (values read by no backward step) is released now.
  for (size_t v = 0; v < values_.size(); ++v) {
    if (!values_[v]->isConstant()) freeSlot(static_cast<int>(v));
  }
  return result;
}

Expected<StepResult> GradGraph::step(const std::vector<Tensor>& inputs, const LossFn& loss) {
  StepResult r;
  HQ_ASSIGN_OR_RETURN(r.output, forward(inputs, true));
  HQ_ASSIGN_OR_RETURN(LossResult l, loss(r.output));
  r.loss = l.loss;
  HQ_ASSIGN_OR_RETURN(r.grads, backward(l.grad));
  return r;
}

std::vector<std::string> GradGraph::kernelNames() const {
  std::vector<std::string> names;
  if (!last_) return names;
  for (const PlanStep& s : last_->steps) names.push_back(s.kernel ? s.kernel->name() : "");
  return names;
}

}  // namespace hq::train
