#include "train/autograd.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "data/random.h"
#include "ir/op_registry.h"
#include "ir/ops/window.h"
#include "runtime/passes/fake_quant.h"
#include "train/backward/binary.h"
#include "train/backward/dnnl_backward.h"
#include "train/batchnorm.h"
#include "train/tensor_pool.h"
#include "train/bn_fold_factor.h"
#include "train/dropout.h"
#include "train/fake_quant.h"

namespace hq::train {

NodeBackward referenceBackwardOf(const Node& node) {
  BackwardFn fn = node.domain.empty() ? findBackward(node.opType) : nullptr;
  return fn ? NodeBackward(fn) : NodeBackward();
}

NodeBackward defaultBackwardOf(const Node& node) {
  NodeBackward fast = fastBackwardOf(node);
  return fast ? fast : referenceBackwardOf(node);
}

std::vector<std::string> defaultParameters(const Graph& graph) {
  std::set<const Value*> chosen;
  std::map<const Value*, const Node*> producer;
  for (const Node* n : graph.nodes()) {
    for (const Value* v : n->outputs) producer[v] = n;
  }
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
      auto p = producer.find(v);
      if (v && p != producer.end() && passes::isFakeQuant(*p->second)) v = p->second->input(0);
      // A Conv+BN QAT unit (train/conv_bn_qat.h): FakeQuant(Mul(W, BnFoldFactor)) trains W.
      p = v ? producer.find(v) : producer.end();
      if (p != producer.end() && p->second->opType == "Mul" && p->second->domain.empty()) {
        auto f = producer.find(p->second->input(1));
        if (f != producer.end() && isBnFoldFactor(*f->second)) v = p->second->input(0);
      }
      if (v && v->isConstant() && v->constant.dtype() == DType::kFloat32) chosen.insert(v);
    }
  }
  std::vector<std::string> names;
  for (const Value* v : graph.constants()) {
    if (chosen.count(v)) names.push_back(v->name);
  }
  return names;
}

namespace {

/// What a built-in training forward keeps for its backward.
struct BuiltinState {
  bool trained = false;  // the last forward was a training one
  bool frozen = false;   // ... with frozen BatchNormalization statistics (running stats)
  BatchNormSaved bn;
  Tensor mask;
  float ratio = 0.5f;
};

void zeroFill(Tensor& t) { std::fill(t.data<float>(), t.data<float>() + t.numel(), 0.0f); }

bool isBatchNorm(const Node& n) { return n.domain.empty() && n.opType == "BatchNormalization"; }
bool isDropout(const Node& n) { return n.domain.empty() && n.opType == "Dropout"; }

NodeBackward builtinBackwardOf(const Node& node, std::shared_ptr<BuiltinState> state) {
  if (passes::isFakeQuant(node)) return NodeBackward(&backwardFakeQuant);
  if (isBnFoldFactor(node)) return NodeBackward(&backwardBnFoldFactor);
  if (isBatchNorm(node)) {
    return [state](const BackwardCall& call) -> Status {
      if (!state->trained && !state->frozen) {
        return call.error(ErrorCode::kInvalidArgument, "no statistics from a training forward");
      }
      for (size_t i = 3; i < 5; ++i) {
        if (call.wantsGrad(i)) zeroFill(call.gradIn(i));
      }
      if (!call.hasGradOut(0)) {
        for (size_t i = 0; i < 3; ++i) {
          if (call.wantsGrad(i)) zeroFill(call.gradIn(i));
        }
        return Status::ok();
      }
      if (state->frozen) {  // the affine backward with the running statistics
        HQ_ASSIGN_OR_RETURN(float eps, ops::floatAttr(call.node, "epsilon", 1e-5f));
        return batchNormEvalBackward(call.in(0), call.in(1), call.in(3), call.in(4), eps,
                                     call.gradOut(0),
                                     call.wantsGrad(0) ? &call.gradIn(0) : nullptr,
                                     call.wantsGrad(1) ? &call.gradIn(1) : nullptr,
                                     call.wantsGrad(2) ? &call.gradIn(2) : nullptr);
      }
      return batchNormTrainBackward(call.in(0), call.in(1), state->bn, call.gradOut(0),
                                    call.wantsGrad(0) ? &call.gradIn(0) : nullptr,
                                    call.wantsGrad(1) ? &call.gradIn(1) : nullptr,
                                    call.wantsGrad(2) ? &call.gradIn(2) : nullptr);
    };
  }
  if (isDropout(node)) {
    return [state](const BackwardCall& call) -> Status {
      if (!call.wantsGrad(0)) return Status::ok();
      if (!call.hasGradOut(0)) {
        zeroFill(call.gradIn(0));
        return Status::ok();
      }
      return dropoutBackward(call.gradOut(0), state->trained ? &state->mask : nullptr,
                             state->ratio, state->trained, call.gradIn(0));
    };
  }
  return NodeBackward();
}

/// BatchNormalization: batch statistics and running-stat updates in training, the
/// inference-mode reference kernel in evaluation.
class BatchNormKernel : public PreparedKernel {
 public:
  BatchNormKernel(const Node& node, Value* mean, Value* var, std::shared_ptr<BuiltinState> state,
                  bool training, const bool* frozen)
      : node_(node),
        mean_(mean),
        var_(var),
        state_(std::move(state)),
        training_(training),
        frozen_(frozen) {
    evalNode_.opType = node.opType;
    evalNode_.name = node.name;
    evalNode_.attrs = node.attrs;
    evalNode_.attrs.erase("training_mode");
  }
  std::string name() const override { return training_ ? "train:batchnorm" : "reference"; }
  Status run(const KernelCall& call) override {
    Tensor& y = call.out(0);
    state_->frozen = training_ && *frozen_;
    if (training_ && !*frozen_) {
      BatchNormOptions opt;
      HQ_ASSIGN_OR_RETURN(opt.epsilon, ops::floatAttr(node_, "epsilon", 1e-5f));
      HQ_ASSIGN_OR_RETURN(opt.momentum, ops::floatAttr(node_, "momentum", 0.9f));
      Tensor* rm = mean_ && mean_->isConstant() ? &mean_->constant : nullptr;
      Tensor* rv = var_ && var_->isConstant() ? &var_->constant : nullptr;
      HQ_RETURN_IF_ERROR(
          batchNormTrainForward(call.in(0), call.in(1), call.in(2), rm, rv, opt, y, &state_->bn));
      state_->trained = true;
    } else {
      KernelCall eval{evalNode_, call.inputs, {&y}};
      HQ_RETURN_IF_ERROR(findReferenceKernel("BatchNormalization")(eval));
      state_->trained = false;
    }
    for (size_t i = 1; i < 3; ++i) {
      if (call.hasOut(i) && call.has(i + 2)) call.out(i) = call.in(i + 2).clone();
    }
    return Status::ok();
  }

 private:
  const Node& node_;
  Node evalNode_;
  Value *mean_, *var_;
  std::shared_ptr<BuiltinState> state_;
  bool training_;
  const bool* frozen_;  // GradGraph::setBatchNormFrozen
};

/// Dropout: the seeded mask in training, the identity in evaluation.
class DropoutKernel : public PreparedKernel {
 public:
  DropoutKernel(std::shared_ptr<BuiltinState> state, const uint64_t* forwards, uint64_t seed,
                size_t index, bool training)
      : state_(std::move(state)),
        forwards_(forwards),
        seed_(seed),
        index_(index),
        training_(training) {}
  std::string name() const override { return "train:dropout"; }
  Status run(const KernelCall& call) override {
    float ratio = 0.5f;
    if (call.has(1)) ratio = static_cast<float>(call.in(1).toDouble().at(0));
    state_->ratio = ratio;
    state_->trained = training_;
    const uint64_t seed = combineSeeds(combineSeeds(seed_, *forwards_), index_);
    Tensor* mask = nullptr;
    if (training_) {
      state_->mask = Tensor(DType::kBool, call.in(0).shape());
      mask = &state_->mask;
    }
    HQ_RETURN_IF_ERROR(dropoutForward(call.in(0), ratio, training_, seed, call.out(0), mask));
    if (call.hasOut(1)) {
      if (training_) {
        call.out(1) = state_->mask.clone();
      } else {
        bool* m = call.out(1).data<bool>();
        std::fill(m, m + call.out(1).numel(), true);
      }
    }
    return Status::ok();
  }

 private:
  std::shared_ptr<BuiltinState> state_;
  const uint64_t* forwards_;
  uint64_t seed_;
  size_t index_;
  bool training_;
};

}  // namespace

Status rewriteQdqForTraining(Graph& g) {
  for (Node* dq : g.nodes()) {
    if (dq->opType != "DequantizeLinear" || !dq->domain.empty()) continue;
    Value* q = dq->input(0);
    if (!q || !q->isConstant() || dq->outputs.size() != 1 || !dq->outputs[0]) continue;
    const DType t = q->constant.dtype();
    if (t != DType::kInt8 && t != DType::kUInt8 && t != DType::kInt32) continue;
    std::vector<const Tensor*> ins;
    for (Value* v : dq->inputs) ins.push_back(v && v->isConstant() ? &v->constant : nullptr);
    if (ins.size() < 2 || !ins[1]) continue;
    auto deq = runReference(*dq, ins);
    if (!deq.isOk()) {
      return HQ_ERROR(kInvalidArgument, "autograd: cannot dequantize {}: {}", dq->describe(),
                      deq.status().message());
    }
    std::string base = q->name;
    const std::string suffix = "_quantized";
    if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(),
                                                     suffix) == 0) {
      base.resize(base.size() - suffix.size());
    } else {
      base += "_float";
    }
    Value* w = g.addConstant(g.findValue(base) ? g.uniqueName(base) : base, (*deq)[0]);
    Value* y = dq->outputs[0];
    if (t == DType::kInt32) {
      g.replaceAllUses(y, w);
      g.removeNode(dq);
      continue;
    }
    std::vector<Value*> inputs(dq->inputs.begin(), dq->inputs.end());
    inputs[0] = w;
    g.addNode(passes::kFakeQuant, dq->name, inputs, {y}, dq->attrs, passes::kHqDomain);
    g.removeNode(dq);
  }
  passes::PassContext ctx;
  HQ_RETURN_IF_ERROR(passes::fuseQuantizeDequantize(g, ctx).status());
  g.removeDeadNodes();
  g.removeDeadValues();
  return g.sortTopologically();
}

struct GradGraph::NodeInfo {
  Node* node = nullptr;
  std::vector<int> in, out;  // value ids, -1 for omitted
  bool runsBackward = false;
  NodeBackward backward;
  std::vector<int> touched;  // distinct ids of inputs and outputs (backward readers)
  bool readsParam = false;
  size_t index = 0;
  std::shared_ptr<BuiltinState> state;  // shared by the built-in forward and backward
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
  g->pool_ = TensorPool::create();
  g->graph_ = graph.clone();
  HQ_RETURN_IF_ERROR(g->graph_->sortTopologically());
  if (options.fakeQuantQdq) HQ_RETURN_IF_ERROR(rewriteQdqForTraining(*g->graph_));
  if (!options.backwardOf) {
    options.backwardOf =
        options.kernels.referenceOnly ? &referenceBackwardOf : &defaultBackwardOf;
  }
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
    info.index = nodes_.size();
    info.state = std::make_shared<BuiltinState>();
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
    if (!n.backward) n.backward = builtinBackwardOf(*n.node, n.state);
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
  }
  if (!step.kernel) {
    HQ_ASSIGN_OR_RETURN(step.kernel, builtinForward(n, infos, step.outInfos, training));
  }
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
  if (!inferred.isOk()) return inferred.status();
  HQ_ASSIGN_OR_RETURN(step.kernel, prepareKernel(*n.node, infos, step.outInfos, options_.kernels));
  step.rebake = n.readsParam && step.kernel->name() != "reference";
  return Status::ok();
}

Expected<std::unique_ptr<PreparedKernel>> GradGraph::builtinForward(
    const NodeInfo& n, const std::vector<ValueInfo>& inputs, std::vector<ValueInfo>& outputs,
    bool training) {
  const Node& node = *n.node;
  std::unique_ptr<PreparedKernel> kernel;
  if (isBatchNorm(node) && (training || node.attrs.getInt("training_mode", 0) != 0)) {
    if (inputs.size() != 5 || !inputs[0].hasShape) {
      return HQ_ERROR(kInvalidArgument, "autograd: {}: expected 5 inputs", node.describe());
    }
    outputs.assign(node.outputs.size(), ValueInfo());
    outputs[0].dtype = DType::kFloat32;
    outputs[0].shape = inputs[0].shape;
    outputs[0].hasShape = true;
    for (size_t i = 1; i < outputs.size() && i < 3; ++i) outputs[i] = inputs[i + 2];
    for (ValueInfo& o : outputs) o.constant = nullptr;
    return std::unique_ptr<PreparedKernel>(new BatchNormKernel(
        node, values_[n.in[3]], values_[n.in[4]], n.state, training, &bnFrozen_));
  }
  if (isBnFoldFactor(node)) return makeBnFoldFactorKernel(node, inputs, outputs);
  if (!options_.kernels.referenceOnly && node.domain.empty() && node.opType == "Conv") {
    // Weights read at every run (no re-preparation per step).
    kernel = makeTrainConv(node, inputs, outputs);
    if (kernel) return kernel;
  }
  if (!options_.kernels.referenceOnly) {
    kernel = makeTrainBinary(node, inputs, outputs);  // operands read at every run
    if (kernel) return kernel;
  }
  if (isDropout(node)) {
    if (inputs.empty() || !inputs[0].hasShape) {
      return HQ_ERROR(kInvalidArgument, "autograd: {}: input X has no shape", node.describe());
    }
    if (inputs.size() > 1 && inputs[1].dtype != DType::kUndefined && !inputs[1].constant) {
      return HQ_ERROR(kUnsupported, "autograd: {}: the ratio must be a constant",
                      node.describe());
    }
    outputs.assign(node.outputs.size(), ValueInfo());
    outputs[0].dtype = DType::kFloat32;
    outputs[0].shape = inputs[0].shape;
    outputs[0].hasShape = true;
    if (outputs.size() > 1) {
      outputs[1] = outputs[0];
      outputs[1].dtype = DType::kBool;
    }
    return std::unique_ptr<PreparedKernel>(
        new DropoutKernel(n.state, &trainForwards_, options_.seed, n.index, training));
  }
  if (passes::isFakeQuant(node)) {
    if (inputs.empty() || !inputs[0].hasShape) {
      return HQ_ERROR(kInvalidArgument, "autograd: {}: input X has no shape", node.describe());
    }
    std::vector<ValueInfo> ins = inputs;
    ins[0].constant = nullptr;  // a trained weight changes between forwards
    outputs.assign(1, ValueInfo());
    outputs[0].dtype = DType::kFloat32;
    outputs[0].shape = inputs[0].shape;
    outputs[0].hasShape = true;
    if (!options_.kernels.referenceOnly) kernel = passes::makeFastFakeQuant(node, ins, outputs);
    if (!kernel) kernel = passes::makeReferenceFakeQuant();
    return kernel;
  }
  return kernel;
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

  if (training) ++trainForwards_;
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
      setSlot(v, pool_->uninitialized(vi.dtype, vi.shape));  // kernels write outputs whole
      call.outputs.push_back(&slots_[v]);
    }
    const auto t0 = std::chrono::steady_clock::now();
    HQ_RETURN_IF_ERROR(step.kernel->run(call));
    if (options_.profile) {
      fwdSeconds_.resize(nodes_.size(), 0.0);
      fwdSeconds_[k] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
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
      fresh[i] = pool_->zeros(DType::kFloat32, slots_[v].shape());
      call.gradInputs[i] = &fresh[i];
    }
    const auto t0 = std::chrono::steady_clock::now();
    HQ_RETURN_IF_ERROR(n.backward(call));
    if (options_.profile) {
      bwdSeconds_.resize(nodes_.size(), 0.0);
      bwdSeconds_[n.index] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
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

std::vector<NodeProfile> GradGraph::profile() const {
  std::vector<NodeProfile> r;
  if (!options_.profile) return r;
  const std::vector<std::string> kernels = kernelNames();
  for (size_t k = 0; k < nodes_.size(); ++k) {
    NodeProfile p;
    p.node = nodes_[k].node->describe();
    if (k < kernels.size()) p.kernel = kernels[k];
    if (k < fwdSeconds_.size()) p.forwardSeconds = fwdSeconds_[k];
    if (k < bwdSeconds_.size()) p.backwardSeconds = bwdSeconds_[k];
    r.push_back(std::move(p));
  }
  return r;
}

void GradGraph::resetProfile() {
  fwdSeconds_.assign(nodes_.size(), 0.0);
  bwdSeconds_.assign(nodes_.size(), 0.0);
}

std::vector<std::string> GradGraph::kernelNames() const {
  std::vector<std::string> names;
  if (!last_) return names;
  for (const PlanStep& s : last_->steps) names.push_back(s.kernel ? s.kernel->name() : "");
  return names;
}

}  // namespace hq::train
