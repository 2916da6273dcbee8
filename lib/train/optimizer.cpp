// SGD, Adam and AdamW with PyTorch's single-tensor update rules, computed in float32 in the
// same operation order as torch.optim (scalars rounded to float as PyTorch's CPU kernels do),
// so results match torch to float rounding.
#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace hq::train {

const char* optimizerKindName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kAdam: return "adam";
    case OptimizerKind::kAdamW: return "adamw";
  }
  return "?";
}

Expected<OptimizerKind> parseOptimizerKind(const std::string& name) {
  for (OptimizerKind k : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    if (name == optimizerKindName(k)) return k;
  }
  return HQ_ERROR(kInvalidArgument, "unknown optimizer '{}' (expected one of sgd, adam, adamw)",
                  name);
}

Status validateOptimizerOptions(const OptimizerOptions& o) {
  auto finiteNonNeg = [](double v) { return std::isfinite(v) && v >= 0.0; };
  if (!finiteNonNeg(o.weight_decay)) {
    return HQ_ERROR(kInvalidArgument, "weight_decay must be a finite value >= 0, got {}",
                    o.weight_decay);
  }
  if (o.kind == OptimizerKind::kSgd) {
    if (!finiteNonNeg(o.momentum)) {
      return HQ_ERROR(kInvalidArgument, "momentum must be a finite value >= 0, got {}", o.momentum);
    }
    if (!finiteNonNeg(o.dampening)) {
      return HQ_ERROR(kInvalidArgument, "dampening must be a finite value >= 0, got {}",
                      o.dampening);
    }
    if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0)) {
      return HQ_ERROR(kInvalidArgument,
                      "Nesterov momentum requires momentum > 0 and dampening == 0, got "
                      "momentum {} and dampening {}",
                      o.momentum, o.dampening);
    }
  } else {
    if (!(o.beta1 >= 0.0 && o.beta1 < 1.0)) {
      return HQ_ERROR(kInvalidArgument, "beta1 must be in [0, 1), got {}", o.beta1);
    }
    if (!(o.beta2 >= 0.0 && o.beta2 < 1.0)) {
      return HQ_ERROR(kInvalidArgument, "beta2 must be in [0, 1), got {}", o.beta2);
    }
    if (!(std::isfinite(o.eps) && o.eps > 0.0)) {
      return HQ_ERROR(kInvalidArgument, "eps must be a finite value > 0, got {}", o.eps);
    }
  }
  for (const std::string& p : o.frozen) {
    if (p.empty()) return HQ_ERROR(kInvalidArgument, "an empty frozen-parameter pattern");
  }
  return Status::ok();
}

Expected<OptimizerOptions> optimizerOptionsFromJson(const Json& doc, const std::string& what) {
  if (!doc.is_object()) {
    return HQ_ERROR(kParse, "{}: optimizer options must be a JSON object, got {}", what,
                    doc.type_name());
  }
  OptimizerOptions o;
  auto number = [&](const std::string& key, double* out) -> Status {
    const Json& v = doc.at(key);
    if (!v.is_number()) {
      return HQ_ERROR(kParse, "{}: at /{}: expected a number, got {}", what, key, v.dump());
    }
    *out = v.get<double>();
    return Status::ok();
  };
  if (!doc.contains("kind")) return HQ_ERROR(kParse, "{}: missing /kind", what);
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    if (key == "kind") {
      if (!v.is_string()) {
        return HQ_ERROR(kParse, "{}: at /kind: expected a string, got {}", what, v.dump());
      }
      auto kind = parseOptimizerKind(v.get<std::string>());
      if (!kind)
        return HQ_ERROR(kInvalidArgument, "{}: at /kind: {}", what, kind.status().message());
      o.kind = *kind;
    } else if (key == "momentum") {
      HQ_RETURN_IF_ERROR(number(key, &o.momentum));
    } else if (key == "dampening") {
      HQ_RETURN_IF_ERROR(number(key, &o.dampening));
    } else if (key == "weight_decay") {
      HQ_RETURN_IF_ERROR(number(key, &o.weight_decay));
    } else if (key == "eps") {
      HQ_RETURN_IF_ERROR(number(key, &o.eps));
    } else if (key == "nesterov") {
      if (!v.is_boolean()) {
        return HQ_ERROR(kParse, "{}: at /nesterov: expected true or false, got {}", what, v.dump());
      }
      o.nesterov = v.get<bool>();
    } else if (key == "betas") {
      if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
        return HQ_ERROR(kParse, "{}: at /betas: expected [beta1, beta2], got {}", what, v.dump());
      }
      o.beta1 = v[0].get<double>();
      o.beta2 = v[1].get<double>();
    } else if (key == "frozen") {
      if (!v.is_array()) {
        return HQ_ERROR(kParse, "{}: at /frozen: expected an array of patterns, got {}", what,
                        v.dump());
      }
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string()) {
          return HQ_ERROR(kParse, "{}: at /frozen/{}: expected a string, got {}", what, i,
                          v[i].dump());
        }
        o.frozen.push_back(v[i].get<std::string>());
      }
    } else {
      return HQ_ERROR(kParse,
                      "{}: at /{}: unknown optimizer option (expected kind, momentum, dampening, "
                      "nesterov, betas, eps, weight_decay, frozen)",
                      what, key);
    }
  }
  Status s = validateOptimizerOptions(o);
  if (!s.isOk()) return HQ_ERROR(kInvalidArgument, "{}: {}", what, s.message());
  return o;
}

OrderedJson optimizerOptionsToJson(const OptimizerOptions& o) {
  OrderedJson j;
  j["kind"] = optimizerKindName(o.kind);
  j["momentum"] = o.momentum;
  j["dampening"] = o.dampening;
  j["nesterov"] = o.nesterov;
  j["betas"] = {o.beta1, o.beta2};
  j["eps"] = o.eps;
  j["weight_decay"] = o.weight_decay;
  j["frozen"] = o.frozen;
  return j;
}

bool globMatch(const std::string& pattern, const std::string& name) {
  // Iterative wildcard matching with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Expected<Optimizer> Optimizer::create(const OptimizerOptions& options) {
  HQ_RETURN_IF_ERROR(validateOptimizerOptions(options));
  return Optimizer(options);
}

bool Optimizer::isFrozen(const std::string& name) const {
  return std::any_of(options_.frozen.begin(), options_.frozen.end(),
                     [&](const std::string& pat) { return globMatch(pat, name); });
}

Status Optimizer::checkParam(const ParamRef& p) const {
  if (p.value == nullptr) {
    return HQ_ERROR(kInvalidArgument, "parameter '{}': no value tensor", p.name);
  }
  if (p.value->dtype() != DType::kFloat32 || p.grad->dtype() != DType::kFloat32) {
    return HQ_ERROR(kUnsupported,
                    "parameter '{}': expected float32 value and gradient, got {} "
                    "and {}",
                    p.name, dtypeName(p.value->dtype()), dtypeName(p.grad->dtype()));
  }
  if (p.grad->shape() != p.value->shape()) {
    return HQ_ERROR(kShape, "parameter '{}': gradient shape {} differs from the value's {}", p.name,
                    shapeString(p.grad->shape()), shapeString(p.value->shape()));
  }
  auto it = state_.find(p.name);
  if (it != state_.end()) {
    for (const Tensor* t :
         {&it->second.momentum_buffer, &it->second.exp_avg, &it->second.exp_avg_sq}) {
      if (t->defined() && t->shape() != p.value->shape()) {
        return HQ_ERROR(kShape, "parameter '{}': optimizer state has shape {}, the parameter {}",
                        p.name, shapeString(t->shape()), shapeString(p.value->shape()));
      }
    }
  }
  return Status::ok();
}

Status Optimizer::step(const std::vector<ParamRef>& params, double lr) {
  if (!(std::isfinite(lr) && lr >= 0.0)) {
    return HQ_ERROR(kInvalidArgument, "learning rate must be a finite value >= 0, got {}", lr);
  }
  std::set<std::string> names;
  for (const ParamRef& p : params) {
    if (!names.insert(p.name).second) {
      return HQ_ERROR(kInvalidArgument, "parameter '{}' is listed twice", p.name);
    }
    if (p.grad == nullptr || isFrozen(p.name)) continue;
    HQ_RETURN_IF_ERROR(checkParam(p));
  }
  for (const ParamRef& p : params) {
    if (p.grad == nullptr || isFrozen(p.name)) continue;
    ParamState& s = state_[p.name];
    if (options_.kind == OptimizerKind::kSgd) {
      stepSgd(p, s, lr);
    } else {
      stepAdam(p, s, lr);
    }
  }
  return Status::ok();
}

// torch.optim.SGD: d = g + wd*p; buf = d (first step) or momentum*buf + (1-dampening)*d;
// d = d + momentum*buf (Nesterov) or buf; p = p - lr*d.
void Optimizer::stepSgd(const ParamRef& p, ParamState& s, double lr) {
  const int64_t n = p.value->numel();
  float* w = p.value->data<float>();
  const float* g = p.grad->data<float>();
  const float wd = static_cast<float>(options_.weight_decay);
  const float mom = static_cast<float>(options_.momentum);
  const float damp1 = static_cast<float>(1.0 - options_.dampening);
  const float neg_lr = static_cast<float>(-lr);
  const bool use_mom = options_.momentum != 0.0;
  const bool first = use_mom && !s.momentum_buffer.defined();
  if (first) s.momentum_buffer = Tensor(DType::kFloat32, p.value->shape());
  float* buf = use_mom ? s.momentum_buffer.data<float>() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (options_.weight_decay != 0.0) d = d + wd * w[i];
    if (use_mom) {
      buf[i] = first ? d : buf[i] * mom + damp1 * d;
      d = options_.nesterov ? d + mom * buf[i] : buf[i];
    }
    w[i] = w[i] + neg_lr * d;
  }
}

// torch.optim.Adam / AdamW: (AdamW: p *= 1 - lr*wd; Adam: g += wd*p); m = b1*m + (1-b1)*g;
// v = b2*v + (1-b2)*g*g; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
void Optimizer::stepAdam(const ParamRef& p, ParamState& s, double lr) {
  const int64_t n = p.value->numel();
  if (!s.exp_avg.defined()) {
    s.exp_avg = Tensor(DType::kFloat32, p.value->shape());
    s.exp_avg_sq = Tensor(DType::kFloat32, p.value->shape());
    std::fill_n(s.exp_avg.data<float>(), n, 0.0f);
    std::fill_n(s.exp_avg_sq.data<float>(), n, 0.0f);
  }
  s.step += 1;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double step_size = lr / (1.0 - std::pow(b1, static_cast<double>(s.step)));
  const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, double(s.step))));
  const float neg_step = static_cast<float>(-step_size);
  const float eps = static_cast<float>(options_.eps);
  const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
  const float one_b1 = static_cast<float>(1.0 - b1), one_b2 = static_cast<float>(1.0 - b2);
  const bool adamw = options_.kind == OptimizerKind::kAdamW;
  const float decay = static_cast<float>(1.0 - lr * options_.weight_decay);
  const float wd = static_cast<float>(options_.weight_decay);
  float* w = p.value->data<float>();
  const float* g = p.grad->data<float>();
  float* m = s.exp_avg.data<float>();
  float* v = s.exp_avg_sq.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    if (options_.weight_decay != 0.0) {
      if (adamw) {
        w[i] = w[i] * decay;
      } else {
        gi = gi + wd * w[i];
      }
    }
    m[i] = m[i] * fb1 + one_b1 * gi;
    v[i] = v[i] * fb2 + one_b2 * (gi * gi);
    const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    w[i] = w[i] + neg_step * (m[i] / denom);
  }
}

std::vector<NamedTensor> Optimizer::saveState() const {
  std::vector<NamedTensor> out;  // std::map iterates in name order; fields sorted per param
  for (const auto& [name, s] : state_) {
    if (s.exp_avg.defined()) {
      out.push_back({name + "/exp_avg", s.exp_avg.clone()});
      out.push_back({name + "/exp_avg_sq", s.exp_avg_sq.clone()});
    }
    if (s.momentum_buffer.defined()) {
      out.push_back({name + "/momentum_buffer", s.momentum_buffer.clone()});
    }
    if (options_.kind != OptimizerKind::kSgd) {
      out.push_back({name + "/step", Tensor::scalar<int64_t>(s.step)});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  return out;
}

Status Optimizer::loadState(const std::vector<NamedTensor>& state) {
  std::map<std::string, ParamState> loaded;
  const bool sgd = options_.kind == OptimizerKind::kSgd;
  for (const NamedTensor& nt : state) {
    const size_t slash = nt.name.rfind('/');
    if (slash == std::string::npos || slash == 0) {
      return HQ_ERROR(kParse, "optimizer state '{}': expected '<param>/<field>'", nt.name);
    }
    const std::string param = nt.name.substr(0, slash);
    const std::string field = nt.name.substr(slash + 1);
    ParamState& s = loaded[param];
    const bool is_step = field == "step";
    const DType want = is_step ? DType::kInt64 : DType::kFloat32;
    Tensor* slot = nullptr;
    if (sgd && field == "momentum_buffer") {
      slot = &s.momentum_buffer;
    } else if (!sgd && field == "exp_avg") {
      slot = &s.exp_avg;
    } else if (!sgd && field == "exp_avg_sq") {
      slot = &s.exp_avg_sq;
    } else if (!(!sgd && is_step)) {
      return HQ_ERROR(kParse, "optimizer state '{}': field '{}' is not used by {} (expected {})",
                      nt.name, field, optimizerKindName(options_.kind),
                      sgd ? "momentum_buffer" : "exp_avg, exp_avg_sq, step");
    }
    if (nt.tensor.dtype() != want || (is_step && nt.tensor.numel() != 1)) {
      return HQ_ERROR(kParse, "optimizer state '{}': expected {}{}, got {} {}", nt.name,
                      dtypeName(want), is_step ? " scalar" : "", dtypeName(nt.tensor.dtype()),
                      shapeString(nt.tensor.shape()));
    }
    if (is_step) {
      s.step = nt.tensor.data<int64_t>()[0];
    } else {
      *slot = nt.tensor.clone();
    }
  }
  if (!sgd) {
    for (const auto& [name, s] : loaded) {
      if (!s.exp_avg.defined() || !s.exp_avg_sq.defined() ||
          s.exp_avg.shape() != s.exp_avg_sq.shape() || s.step < 1) {
        return HQ_ERROR(kParse,
                        "optimizer state of '{}': expected exp_avg and exp_avg_sq of "
                        "one shape and a step >= 1",
                        name);
      }
    }
  }
  state_ = std::move(loaded);
  return Status::ok();
}

Expected<double> clipGradNorm(const std::vector<Tensor*>& grads, double max_norm) {
  if (!(std::isfinite(max_norm) && max_norm > 0.0)) {
    return HQ_ERROR(kInvalidArgument, "max gradient norm must be a finite value > 0, got {}",
                    max_norm);
  }
  double sumsq = 0.0;
  for (const Tensor* g : grads) {
    if (g == nullptr) continue;
    if (g->dtype() != DType::kFloat32) {
      return HQ_ERROR(kUnsupported, "gradient clipping: expected float32 gradients, got {}",
                      dtypeName(g->dtype()));
    }
    const float* d = g->data<float>();
    for (int64_t i = 0; i < g->numel(); ++i) sumsq += double(d[i]) * double(d[i]);
  }
  const double total = std::sqrt(sumsq);
  if (!std::isfinite(total)) {
    return HQ_ERROR(kData,
                    "gradient clipping: the gradients' total L2 norm is {} (NaN or Inf "
                    "in a gradient)",
                    total);
  }
  const double coef = std::min(1.0, max_norm / (total + 1e-6));
  if (coef < 1.0) {
    const float c = static_cast<float>(coef);
    for (Tensor* g : grads) {
      if (g == nullptr) continue;
      float* d = g->data<float>();
      for (int64_t i = 0; i < g->numel(); ++i) d[i] *= c;
    }
  }
  return total;
}

Status clipGradValue(const std::vector<Tensor*>& grads, double clip_value) {
  if (!(std::isfinite(clip_value) && clip_value > 0.0)) {
    return HQ_ERROR(kInvalidArgument, "gradient clip value must be a finite value > 0, got {}",
                    clip_value);
  }
  for (const Tensor* g : grads) {
    if (g != nullptr && g->dtype() != DType::kFloat32) {
      return HQ_ERROR(kUnsupported, "gradient clipping: expected float32 gradients, got {}",
                      dtypeName(g->dtype()));
    }
  }
  const float c = static_cast<float>(clip_value);
  for (Tensor* g : grads) {
    if (g == nullptr) continue;
    float* d = g->data<float>();
    for (int64_t i = 0; i < g->numel(); ++i) d[i] = std::min(c, std::max(-c, d[i]));
  }
  return Status::ok();
}

}  // namespace hq::train
