// Learning-rate schedules: closed forms of torch.optim.lr_scheduler's StepLR, MultiStepLR,
// CosineAnnealingLR and LinearLR warmup (see schedule.h).
#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace hq::train {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

const char* scheduleKindName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant: return "constant";
    case ScheduleKind::kStep: return "step";
    case ScheduleKind::kMultiStep: return "multistep";
    case ScheduleKind::kCosine: return "cosine";
  }
  return "?";
}

Status validateScheduleOptions(const ScheduleOptions& o) {
  if (!(std::isfinite(o.base_lr) && o.base_lr > 0.0)) {
    return HQ_ERROR(kInvalidArgument, "learning rate must be a finite value > 0, got {}",
                    o.base_lr);
  }
  if (o.warmup < 0) {
    return HQ_ERROR(kInvalidArgument, "warmup must be >= 0, got {}", o.warmup);
  }
  if (!(o.warmup_start_factor > 0.0 && o.warmup_start_factor <= 1.0)) {
    return HQ_ERROR(kInvalidArgument, "warmup_start_factor must be in (0, 1], got {}",
                    o.warmup_start_factor);
  }
  switch (o.kind) {
    case ScheduleKind::kConstant: break;
    case ScheduleKind::kStep:
      if (o.step_size < 1) {
        return HQ_ERROR(kInvalidArgument, "step_size must be >= 1, got {}", o.step_size);
      }
      [[fallthrough]];
    case ScheduleKind::kMultiStep:
      if (!(std::isfinite(o.gamma) && o.gamma > 0.0)) {
        return HQ_ERROR(kInvalidArgument, "gamma must be a finite value > 0, got {}", o.gamma);
      }
      if (o.kind == ScheduleKind::kMultiStep) {
        for (size_t i = 0; i < o.milestones.size(); ++i) {
          if (o.milestones[i] < 1 || (i > 0 && o.milestones[i] <= o.milestones[i - 1])) {
            return HQ_ERROR(kInvalidArgument,
                            "milestones must be strictly increasing values >= 1, got {} at "
                            "index {}",
                            o.milestones[i], i);
          }
        }
      }
      break;
    case ScheduleKind::kCosine:
      if (o.t_max < 1) return HQ_ERROR(kInvalidArgument, "t_max must be >= 1, got {}", o.t_max);
      if (!(std::isfinite(o.eta_min) && o.eta_min >= 0.0)) {
        return HQ_ERROR(kInvalidArgument, "eta_min must be a finite value >= 0, got {}", o.eta_min);
      }
      break;
  }
  return Status::ok();
}

Expected<ScheduleOptions> scheduleOptionsFromJson(const Json& doc, const std::string& what) {
  if (!doc.is_object()) {
    return HQ_ERROR(kParse, "{}: a schedule must be a JSON object, got {}", what, doc.type_name());
  }
  ScheduleOptions o;
  if (!doc.contains("kind") || !doc.at("kind").is_string()) {
    return HQ_ERROR(kParse, "{}: at /kind: expected one of constant, step, multistep, cosine",
                    what);
  }
  const std::string kind = doc.at("kind").get<std::string>();
  bool found = false;
  for (ScheduleKind k : {ScheduleKind::kConstant, ScheduleKind::kStep, ScheduleKind::kMultiStep,
                         ScheduleKind::kCosine}) {
    if (kind == scheduleKindName(k)) {
      o.kind = k;
      found = true;
    }
  }
  if (!found) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: at /kind: unknown schedule '{}' (expected one of constant, step, "
                    "multistep, cosine)",
                    what, kind);
  }
  if (!doc.contains("lr")) return HQ_ERROR(kParse, "{}: missing /lr", what);
  auto number = [&](const std::string& key, double* out) -> Status {
    const Json& v = doc.at(key);
    if (!v.is_number()) {
      return HQ_ERROR(kParse, "{}: at /{}: expected a number, got {}", what, key, v.dump());
    }
    *out = v.get<double>();
    return Status::ok();
  };
  auto integer = [&](const std::string& key, int64_t* out) -> Status {
    const Json& v = doc.at(key);
    if (!v.is_number_integer()) {
      return HQ_ERROR(kParse, "{}: at /{}: expected an integer, got {}", what, key, v.dump());
    }
    *out = v.get<int64_t>();
    return Status::ok();
  };
  auto onlyFor = [&](const std::string& key, std::initializer_list<ScheduleKind> kinds) {
    if (std::find(kinds.begin(), kinds.end(), o.kind) != kinds.end()) return Status::ok();
    return HQ_ERROR(kParse, "{}: at /{}: not an option of the '{}' schedule", what, key, kind);
  };
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    if (key == "kind") continue;
    if (key == "lr") {
      HQ_RETURN_IF_ERROR(number(key, &o.base_lr));
    } else if (key == "unit") {
      if (v == "step") {
        o.unit = ScheduleUnit::kStep;
      } else if (v == "epoch") {
        o.unit = ScheduleUnit::kEpoch;
      } else {
        return HQ_ERROR(kParse, "{}: at /unit: expected \"step\" or \"epoch\", got {}", what,
                        v.dump());
      }
    } else if (key == "warmup") {
      HQ_RETURN_IF_ERROR(integer(key, &o.warmup));
    } else if (key == "warmup_start_factor") {
      HQ_RETURN_IF_ERROR(number(key, &o.warmup_start_factor));
    } else if (key == "step_size") {
      HQ_RETURN_IF_ERROR(onlyFor(key, {ScheduleKind::kStep}));
      HQ_RETURN_IF_ERROR(integer(key, &o.step_size));
    } else if (key == "gamma") {
      HQ_RETURN_IF_ERROR(onlyFor(key, {ScheduleKind::kStep, ScheduleKind::kMultiStep}));
      HQ_RETURN_IF_ERROR(number(key, &o.gamma));
    } else if (key == "milestones") {
      HQ_RETURN_IF_ERROR(onlyFor(key, {ScheduleKind::kMultiStep}));
      if (!v.is_array()) {
        return HQ_ERROR(kParse, "{}: at /milestones: expected an array of integers, got {}", what,
                        v.dump());
      }
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer()) {
          return HQ_ERROR(kParse, "{}: at /milestones/{}: expected an integer, got {}", what, i,
                          v[i].dump());
        }
        o.milestones.push_back(v[i].get<int64_t>());
      }
    } else if (key == "t_max") {
      HQ_RETURN_IF_ERROR(onlyFor(key, {ScheduleKind::kCosine}));
      HQ_RETURN_IF_ERROR(integer(key, &o.t_max));
    } else if (key == "eta_min") {
      HQ_RETURN_IF_ERROR(onlyFor(key, {ScheduleKind::kCosine}));
      HQ_RETURN_IF_ERROR(number(key, &o.eta_min));
    } else {
      return HQ_ERROR(kParse, "{}: at /{}: unknown schedule option", what, key);
    }
  }
  Status s = validateScheduleOptions(o);
  if (!s.isOk()) return HQ_ERROR(kInvalidArgument, "{}: {}", what, s.message());
  return o;
}

OrderedJson scheduleOptionsToJson(const ScheduleOptions& o) {
  OrderedJson j;
  j["kind"] = scheduleKindName(o.kind);
  j["lr"] = o.base_lr;
  j["unit"] = o.unit == ScheduleUnit::kStep ? "step" : "epoch";
  switch (o.kind) {
    case ScheduleKind::kConstant: break;
    case ScheduleKind::kStep:
      j["step_size"] = o.step_size;
      j["gamma"] = o.gamma;
      break;
    case ScheduleKind::kMultiStep:
      j["milestones"] = o.milestones;
      j["gamma"] = o.gamma;
      break;
    case ScheduleKind::kCosine:
      j["t_max"] = o.t_max;
      j["eta_min"] = o.eta_min;
      break;
  }
  j["warmup"] = o.warmup;
  j["warmup_start_factor"] = o.warmup_start_factor;
  return j;
}

Expected<Schedule> Schedule::create(const ScheduleOptions& options) {
  HQ_RETURN_IF_ERROR(validateScheduleOptions(options));
  return Schedule(options);
}

double Schedule::lr(int64_t t) const {
  const ScheduleOptions& o = options_;
  if (t < 0) t = 0;
  if (t < o.warmup) {
    const double f = o.warmup_start_factor;
    return o.base_lr * (f + (1.0 - f) * static_cast<double>(t) / static_cast<double>(o.warmup));
  }
  t -= o.warmup;
  switch (o.kind) {
    case ScheduleKind::kConstant: return o.base_lr;
    case ScheduleKind::kStep:
      return o.base_lr * std::pow(o.gamma, static_cast<double>(t / o.step_size));
    case ScheduleKind::kMultiStep: {
      const auto passed =
          std::upper_bound(o.milestones.begin(), o.milestones.end(), t) - o.milestones.begin();
      return o.base_lr * std::pow(o.gamma, static_cast<double>(passed));
    }
    case ScheduleKind::kCosine:
      return o.eta_min +
             (o.base_lr - o.eta_min) *
                 (1.0 + std::cos(kPi * static_cast<double>(t) / static_cast<double>(o.t_max))) /
                 2.0;
  }
  return o.base_lr;
}

double Schedule::lrAtIteration(int64_t iteration, int64_t steps_per_epoch) const {
  if (options_.unit == ScheduleUnit::kStep) return lr(iteration);
  return lr(iteration / std::max<int64_t>(1, steps_per_epoch));
}

}  // namespace hq::train
