// Conv+BN QAT units (see conv_bn_qat.h). One expanded unit, for a Conv 'c' of the training
// graph whose weight W' (BN folded by hq-calib) feeds a FakeQuant:
//
//   gamma, running_var -> hq.BnFoldFactor -> f_w [C,1,1,1], f_y [1,C,1,1], 1/std [C]
//   W (unfolded) * f_w -> FakeQuant (scale, zero point as before) -> Conv 'c' (no bias)
//   -> Div by f_y -> [Add conv bias [C,1,1]] -> BatchNormalization(gamma, beta, mean, var)
//   -> the value the folded Conv wrote (its name unchanged)
//
// The BnFoldFactor node records in its attributes what folding back needs to restore the
// structure before expansion: "folded_weight" (the weight initializer's name) and
// "folded_bias" (the bias initializer's name).
#include "train/conv_bn_qat.h"

#include <algorithm>
#include <map>
#include <memory>

#include "runtime/passes/fake_quant.h"
#include "train/bn_fold_factor.h"

namespace hq::train {

namespace {

constexpr const char* kFoldedWeightAttr = "folded_weight";
constexpr const char* kFoldedBiasAttr = "folded_bias";

/// The only node reading `v` (and v is not a graph output), else nullptr.
Node* soleConsumer(const Graph& g, const Value* v) {
  if (!v || g.isGraphOutput(v)) return nullptr;
  auto users = g.consumers(v);
  return users.size() == 1 ? users[0] : nullptr;
}

/// A float32 initializer with `n` elements, else nullptr.
const Tensor* floatConst(const Value* v, int64_t n) {
  if (!v || !v->isConstant() || v->constant.dtype() != DType::kFloat32) return nullptr;
  return v->constant.numel() == n ? &v->constant : nullptr;
}

/// A BatchNormalization of bn_model right after `conv` (its output's only reader), or nullptr.
const Node* batchNormAfter(const Graph& g, const Node& conv) {
  if (conv.outputs.size() != 1) return nullptr;
  const Node* bn = soleConsumer(g, conv.outputs[0]);
  if (!bn || bn->opType != "BatchNormalization" || !bn->domain.empty()) return nullptr;
  return bn->input(0) == conv.outputs[0] ? bn : nullptr;
}

Value* addFloatValue(Graph& g, const std::string& name, Shape shape) {
  return g.addValue(g.uniqueName(name), DType::kFloat32, std::move(shape), true);
}

/// A node inserted right before `before` (appended when nullptr), so that the stable
/// topological sort keeps every other node where it was (fold then restores the old order).
Node* insertBefore(Graph& g, const Node* before, const std::string& op, const std::string& name,
                   std::vector<Value*> inputs, std::vector<Value*> outputs, Attributes attrs = {},
                   const std::string& domain = "") {
  auto n = std::make_unique<Node>();
  n->opType = op;
  n->name = g.uniqueName(name);
  n->domain = domain;
  n->inputs = std::move(inputs);
  n->outputs = std::move(outputs);
  n->attrs = std::move(attrs);
  return g.insertNodeBefore(before, std::move(n));
}

/// The node after `n` in the graph's order, or nullptr.
const Node* nodeAfter(const Graph& g, const Node* n) {
  const std::vector<Node*> nodes = g.nodes();
  auto it = std::find(nodes.begin(), nodes.end(), n);
  return it == nodes.end() || it + 1 == nodes.end() ? nullptr : *(it + 1);
}

Value* addCopy(Graph& g, const std::string& name, const Tensor& t) {
  return g.addConstant(g.uniqueName(name), t.clone());
}

/// Expands one unit; `tconv` is the training graph's Conv named as `bconv`.
Status expandOne(Graph& g, Node* tconv, const Node& bconv, const Node& bn) {
  const Value* bw = bconv.input(1);
  if (!bw || !bw->isConstant() || bw->constant.dtype() != DType::kFloat32 ||
      bw->constant.rank() < 3) {
    return HQ_ERROR(kInvalidArgument,
                    "expandConvBnForQat: {} of the BN model: expected a float32 initializer "
                    "weight [O, I, k...]",
                    bconv.describe());
  }
  const Tensor& w = bw->constant;
  const int64_t oc = w.dim(0);
  const Tensor* bias = bconv.input(2) ? floatConst(bconv.input(2), oc) : nullptr;
  if (bconv.input(2) && !bias) {
    return HQ_ERROR(kShape, "expandConvBnForQat: {} of the BN model: bias must be float32 [{}]",
                    bconv.describe(), oc);
  }
  if (bn.inputs.size() != 5) {
    return HQ_ERROR(kInvalidArgument, "expandConvBnForQat: {}: expected 5 inputs, found {}",
                    bn.describe(), bn.inputs.size());
  }
  for (size_t i = 1; i < 5; ++i) {
    if (!floatConst(bn.input(i), oc)) {
      return HQ_ERROR(kShape,
                      "expandConvBnForQat: {}: input {} must be a float32 initializer [{}] "
                      "(the output channels of {})",
                      bn.describe(), i, oc, bconv.describe());
    }
  }

  if (tconv->outputs.size() != 1 || !tconv->outputs[0]) {
    return HQ_ERROR(kUnsupported, "expandConvBnForQat: {}: expected one output", tconv->describe());
  }
  Value* y = tconv->outputs[0];
  for (const Node* user : g.consumers(y)) {
    if (user->opType == "BatchNormalization") {
      return HQ_ERROR(kInvalidArgument,
                      "expandConvBnForQat: {} is already followed by {} (expanded twice, or "
                      "not folded by hq-calib)",
                      tconv->describe(), user->describe());
    }
  }

  // The training graph's weight: W' -> FakeQuant -> Conv, or W' -> Conv.
  Value* tw = tconv->input(1);
  Node* fq = tw ? tw->producer : nullptr;
  if (fq && !passes::isFakeQuant(*fq)) {
    return HQ_ERROR(kUnsupported,
                    "expandConvBnForQat: {}: the weight comes from {}, expected a FakeQuant "
                    "of a float initializer (the QAT rewrite of a QDQ model) or an initializer",
                    tconv->describe(), fq->describe());
  }
  Value* folded_w = fq ? fq->input(0) : tw;
  const Node* mul = folded_w ? folded_w->producer : nullptr;
  if (mul && mul->opType == "Mul" && mul->input(1) && mul->input(1)->producer &&
      isBnFoldFactor(*mul->input(1)->producer)) {
    return HQ_ERROR(kInvalidArgument, "expandConvBnForQat: {} is already expanded (by {})",
                    tconv->describe(), mul->input(1)->producer->describe());
  }
  if (!folded_w || !folded_w->isConstant() || folded_w->constant.dtype() != DType::kFloat32) {
    return HQ_ERROR(kInvalidArgument,
                    "expandConvBnForQat: {}: the weight{} is not a float32 initializer",
                    tconv->describe(), fq ? " behind " + fq->describe() : std::string());
  }
  if (folded_w->constant.shape() != w.shape()) {
    return HQ_ERROR(kShape,
                    "expandConvBnForQat: {}: weight '{}' is {}, but the BN model's '{}' is {}",
                    tconv->describe(), folded_w->name, shapeString(folded_w->constant.shape()),
                    bw->name, shapeString(w.shape()));
  }
  if (fq && g.consumers(fq->outputs[0]).size() != 1) {
    return HQ_ERROR(kUnsupported, "expandConvBnForQat: {}: the weight {} has other readers",
                    tconv->describe(), fq->describe());
  }
  if (g.consumers(folded_w).size() != 1) {
    return HQ_ERROR(kUnsupported, "expandConvBnForQat: {}: weight '{}' has other readers",
                    tconv->describe(), folded_w->name);
  }
  Value* tb = tconv->input(2);
  if (tb && (!floatConst(tb, oc) || g.consumers(tb).size() != 1)) {
    return HQ_ERROR(kUnsupported,
                    "expandConvBnForQat: {}: bias '{}' must be a float32 initializer [{}] "
                    "read by this Conv only",
                    tconv->describe(), tb->name, oc);
  }

  const int64_t rank = w.rank();
  const float eps = bn.attrs.getFloat("epsilon", 1e-5f);
  // beta absorbs what the calibrated bias adds to the fold of bn_model (hq-calib's bias
  // correction, rounding), so that the evaluation forward equals the calibrated model's.
  Tensor beta_t = bn.input(2)->constant.clone();
  {
    const float* gm = bn.input(1)->constant.data<float>();
    const float* mn = bn.input(3)->constant.data<float>();
    const float* vr = bn.input(4)->constant.data<float>();
    float* bt = beta_t.data<float>();
    for (int64_t o = 0; o < oc; ++o) {
      const double f = bnFoldFactorValue(gm[o], vr[o], eps);
      const double b = bias ? bias->data<float>()[o] : 0.0;
      const double folded = (b - mn[o]) * f + bt[o];
      const double calibrated = tb ? tb->constant.data<float>()[o] : 0.0;
      bt[o] = static_cast<float>(bt[o] + (calibrated - folded));
    }
  }
  Value* tw_param = addCopy(g, bw->name, w);
  Value* gamma = addCopy(g, bn.input(1)->name, bn.input(1)->constant);
  Value* beta = g.addConstant(g.uniqueName(bn.input(2)->name), std::move(beta_t));
  Value* mean = addCopy(g, bn.input(3)->name, bn.input(3)->constant);
  Value* var = addCopy(g, bn.input(4)->name, bn.input(4)->constant);

  Shape fw_shape(static_cast<size_t>(rank), 1), fy_shape(static_cast<size_t>(rank), 1);
  fw_shape[0] = oc;
  fy_shape[1] = oc;
  Value* fw = addFloatValue(g, bn.name + "_fold_factor_w", fw_shape);
  Value* fy = addFloatValue(g, bn.name + "_fold_factor_y", fy_shape);
  Value* inv = addFloatValue(g, bn.name + "_inv_std", {oc});
  Attributes fa;
  fa.set("epsilon", Attribute::ofFloat(eps));
  fa.set("weight_rank", Attribute::ofInt(rank));
  fa.set("output_rank", Attribute::ofInt(rank));
  fa.set(kFoldedWeightAttr, Attribute::ofString(folded_w->name));
  fa.set(kFoldedBiasAttr, Attribute::ofString(tb ? tb->name : tconv->name + "_bnfolded_bias"));
  const Node* wfirst = fq ? fq : tconv;
  insertBefore(g, wfirst, kBnFoldFactor, bn.name + "_fold_factor", {gamma, var}, {fw, fy, inv}, fa,
               passes::kHqDomain);

  Value* scaled = addFloatValue(g, bw->name + "_scaled", w.shape());
  insertBefore(g, wfirst, "Mul", tconv->name + "_scale_weight", {tw_param, fw}, {scaled});
  if (fq) {
    fq->inputs[0] = scaled;
  } else {
    tconv->inputs[1] = scaled;
  }

  const Node* after = nodeAfter(g, tconv);
  const Shape yshape = y->shape;
  const bool yhas = y->hasShape;
  Value* yc = g.addValue(g.uniqueName(bconv.outputs[0] ? bconv.outputs[0]->name : tconv->name),
                         DType::kFloat32, yshape, yhas);
  tconv->inputs.resize(2);
  tconv->outputs[0] = yc;
  yc->producer = tconv;
  Value* yd = g.addValue(g.uniqueName(yc->name + "_unscaled"), DType::kFloat32, yshape, yhas);
  insertBefore(g, after, "Div", tconv->name + "_unscale", {yc, fy}, {yd});
  Value* bn_in = yd;
  if (bias) {
    Value* b = g.addConstant(g.uniqueName(bconv.input(2)->name), bias->reshaped(fy_shape).clone());
    bn_in = g.addValue(g.uniqueName(yc->name + "_biased"), DType::kFloat32, yshape, yhas);
    insertBefore(g, after, "Add", tconv->name + "_add_bias", {yd, b}, {bn_in});
  }
  Attributes ba = bn.attrs;
  ba.set("training_mode", Attribute::ofInt(1));
  insertBefore(g, after, "BatchNormalization", bn.name, {bn_in, gamma, beta, mean, var}, {y}, ba);
  return Status::ok();
}

}  // namespace

Status expandConvBnForQat(Graph& training_graph, const Graph& bn_model,
                          std::vector<std::string>* expanded) {
  Graph& g = training_graph;
  if (expanded) expanded->clear();
  std::vector<std::string> done;
  for (const Node* bconv : bn_model.nodes()) {
    if (bconv->opType != "Conv" || !bconv->domain.empty()) continue;
    const Node* bn = batchNormAfter(bn_model, *bconv);
    if (!bn) continue;
    Node* tconv = g.findNode(bconv->name);
    if (!tconv || tconv->opType != "Conv" || !tconv->domain.empty()) {
      return HQ_ERROR(kNotFound,
                      "expandConvBnForQat: {} of the BN model (followed by {}) has no Conv of "
                      "that name in the training graph{}",
                      bconv->describe(), bn->describe(),
                      tconv ? " (found " + tconv->describe() + ")" : std::string());
    }
    HQ_RETURN_IF_ERROR(expandOne(g, tconv, *bconv, *bn));
    done.push_back(bconv->name);
  }
  g.removeDeadValues();
  HQ_RETURN_IF_ERROR(g.sortTopologically());
  if (expanded) *expanded = std::move(done);
  return Status::ok();
}

namespace {

/// The parts of one expanded unit, found from its BnFoldFactor node.
struct Unit {
  Node* factor = nullptr;
  Node* mul = nullptr;
  Node* fq = nullptr;  // may be null (an unquantized weight)
  Node* conv = nullptr;
  Node* div = nullptr;
  Node* add = nullptr;  // may be null (no conv bias)
  Node* bn = nullptr;
};

Expected<Unit> matchUnit(const Graph& g, Node* factor) {
  Unit u;
  u.factor = factor;
  auto broken = [&](const char* what) {
    return HQ_ERROR(kInvalidArgument,
                    "foldConvBnForExport: {}: the Conv+BN unit is not as expandConvBnForQat "
                    "left it ({})",
                    factor->describe(), what);
  };
  if (factor->outputs.size() != 3 || factor->inputs.size() != 2) return broken("inputs/outputs");
  u.mul = soleConsumer(g, factor->outputs[0]);
  if (!u.mul || u.mul->opType != "Mul" || u.mul->input(1) != factor->outputs[0])
    return broken("no Mul of the weight by f");
  Node* next = soleConsumer(g, u.mul->outputs[0]);
  if (next && passes::isFakeQuant(*next) && next->input(0) == u.mul->outputs[0]) {
    u.fq = next;
    next = soleConsumer(g, u.fq->outputs[0]);
  }
  if (!next || next->opType != "Conv" || next->inputs.size() != 2) return broken("no Conv");
  u.conv = next;
  u.div = soleConsumer(g, u.conv->outputs[0]);
  if (!u.div || u.div->opType != "Div" || u.div->input(1) != factor->outputs[1])
    return broken("no Div of the Conv output by f");
  next = soleConsumer(g, u.div->outputs[0]);
  if (next && next->opType == "Add") {
    u.add = next;
    next = soleConsumer(g, u.add->outputs[0]);
  }
  if (!next || next->opType != "BatchNormalization" || next->inputs.size() != 5 ||
      next->input(1) != factor->input(0) || next->input(4) != factor->input(1))
    return broken("no BatchNormalization with the factor's gamma and running_var");
  u.bn = next;
  return u;
}

Status foldOne(Graph& g, const Unit& u) {
  const Value* wv = u.mul->input(0);
  const int64_t oc = u.factor->input(0)->constant.numel();
  if (!wv || !wv->isConstant() || wv->constant.dtype() != DType::kFloat32 ||
      wv->constant.rank() < 1 || wv->constant.dim(0) != oc) {
    return HQ_ERROR(kShape,
                    "foldConvBnForExport: {}: the weight must be a float32 initializer "
                    "[{}, ...]",
                    u.mul->describe(), oc);
  }
  const Tensor* gamma = floatConst(u.bn->input(1), oc);
  const Tensor* beta = floatConst(u.bn->input(2), oc);
  const Tensor* mean = floatConst(u.bn->input(3), oc);
  const Tensor* var = floatConst(u.bn->input(4), oc);
  const Tensor* bias = u.add ? floatConst(u.add->input(1), oc) : nullptr;
  if (!gamma || !beta || !mean || !var || (u.add && !bias)) {
    return HQ_ERROR(kShape,
                    "foldConvBnForExport: {}: parameters must be float32 initializers "
                    "with {} elements",
                    u.bn->describe(), oc);
  }
  const float eps = u.factor->attrs.getFloat("epsilon", 1e-5f);
  const Tensor& w = wv->constant;
  const int64_t per = w.numel() / oc;
  Tensor nw(DType::kFloat32, w.shape());
  Tensor nb(DType::kFloat32, {oc});
  for (int64_t o = 0; o < oc; ++o) {
    // f exactly as the training forward computes it, and W * f as its Mul does (float).
    const float f = bnFoldFactorValue(gamma->data<float>()[o], var->data<float>()[o], eps);
    for (int64_t i = 0; i < per; ++i)
      nw.data<float>()[o * per + i] = w.data<float>()[o * per + i] * f;
    const double b = bias ? bias->data<float>()[o] : 0.0;
    nb.data<float>()[o] =
        static_cast<float>((b - mean->data<float>()[o]) * f + beta->data<float>()[o]);
  }
  const std::string wname = u.factor->attrs.getString(kFoldedWeightAttr, wv->name + "_bnfolded");
  const std::string bname =
      u.factor->attrs.getString(kFoldedBiasAttr, u.conv->name + "_bnfolded_bias");
  Value* y = u.bn->outputs.empty() ? nullptr : u.bn->outputs[0];
  if (!y)
    return HQ_ERROR(kInvalidArgument, "foldConvBnForExport: {}: no output Y", u.bn->describe());

  std::vector<Node*> drop = {u.factor, u.mul, u.div, u.bn};
  if (u.add) drop.push_back(u.add);
  for (Node* n : drop) g.removeNode(n);
  g.removeDeadValues();  // frees the folded names (they were dropped at expansion)
  Value* nwv = g.addConstant(g.uniqueName(wname), std::move(nw));
  Value* nbv = g.addConstant(g.uniqueName(bname), std::move(nb));
  if (u.fq) {
    u.fq->inputs[0] = nwv;
  } else {
    u.conv->inputs[1] = nwv;
  }
  u.conv->inputs.resize(3);
  u.conv->inputs[2] = nbv;
  u.conv->outputs[0] = y;
  y->producer = u.conv;
  return Status::ok();
}

}  // namespace

Status foldConvBnForExport(Graph& graph) {
  std::vector<Node*> factors;
  for (Node* n : graph.nodes()) {
    if (isBnFoldFactor(*n)) factors.push_back(n);
  }
  // Match every unit before changing anything: a broken unit leaves the graph as it was.
  std::vector<Unit> units;
  for (Node* f : factors) {
    HQ_ASSIGN_OR_RETURN(Unit u, matchUnit(graph, f));
    units.push_back(u);
  }
  for (const Unit& u : units) HQ_RETURN_IF_ERROR(foldOne(graph, u));
  graph.removeDeadValues();
  return graph.sortTopologically();
}

}  // namespace hq::train
