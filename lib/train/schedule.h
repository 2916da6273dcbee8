// Learning-rate schedules as pure functions of the step index, matching
// torch.optim.lr_scheduler: a constant rate, StepLR, MultiStepLR, CosineAnnealingLR
// (closed form, periodic past t_max as PyTorch's), and a linear warmup (LinearLR) placed
// before any of them as SequentialLR does: the main schedule starts at 0 after the warmup.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/json.h"
#include "support/status.h"

namespace hq::train {

enum class ScheduleKind { kConstant, kStep, kMultiStep, kCosine };

/// Whether the schedule index counts optimizer steps (iterations) or epochs.
enum class ScheduleUnit { kStep, kEpoch };

/// "constant", "step", "multistep", "cosine".
const char* scheduleKindName(ScheduleKind kind);

/// Schedule parameters. All counts are in `unit`s (steps or epochs).
struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  ScheduleUnit unit = ScheduleUnit::kStep;
  double base_lr = 1e-3;                   ///< the learning rate at index 0 (after warmup), > 0
  int64_t step_size = 1;                   ///< step: multiply by gamma every step_size units, >= 1
  double gamma = 0.1;                      ///< step/multistep: decay factor, > 0
  std::vector<int64_t> milestones;         ///< multistep: strictly increasing, >= 1
  int64_t t_max = 1;                       ///< cosine: half period, >= 1
  double eta_min = 0.0;                    ///< cosine: the minimum learning rate, >= 0
  int64_t warmup = 0;                      ///< linear warmup length (0 = none), >= 0
  double warmup_start_factor = 1.0 / 3.0;  ///< warmup starts at base_lr * this, in (0, 1]
};

/// Check the options; errors name the field and the allowed range.
Status validateScheduleOptions(const ScheduleOptions& options);

/// Parse a schedule from JSON, e.g.
///   {"kind": "cosine", "lr": 0.001, "t_max": 1000, "eta_min": 0, "unit": "step",
///    "warmup": 100, "warmup_start_factor": 0.1}
///   {"kind": "step", "lr": 0.1, "step_size": 30, "gamma": 0.1, "unit": "epoch"}
///   {"kind": "multistep", "lr": 0.1, "milestones": [30, 80], "gamma": 0.1}
///   {"kind": "constant", "lr": 1e-4}
/// Keys: kind (required), lr (required: base_lr), unit ("step" default, or "epoch"), the
/// kind's fields, warmup, warmup_start_factor; unknown keys or keys of another kind are
/// errors naming the JSON path. `what` names the origin (a file path). Validated.
Expected<ScheduleOptions> scheduleOptionsFromJson(const Json& doc, const std::string& what);

/// The options as JSON in the form scheduleOptionsFromJson reads (kind, lr, unit, the kind's
/// own fields, warmup, warmup_start_factor; fixed order), for checkpoints and logs.
OrderedJson scheduleOptionsToJson(const ScheduleOptions& options);

class Schedule {
 public:
  /// Validates the options.
  static Expected<Schedule> create(const ScheduleOptions& options);

  const ScheduleOptions& options() const { return options_; }

  /// The learning rate at schedule index `t` (>= 0; in the schedule's unit): for t < warmup,
  /// base_lr * (f + (1 - f) * t / warmup) with f = warmup_start_factor; then the main
  /// schedule at t - warmup:
  ///   constant: base_lr; step: base_lr * gamma^floor(t / step_size);
  ///   multistep: base_lr * gamma^(number of milestones <= t);
  ///   cosine: eta_min + (base_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2.
  double lr(int64_t t) const;

  /// The learning rate for optimizer iteration `iteration` (0-based, counted over the whole
  /// run) when an epoch has `steps_per_epoch` iterations: lr(iteration) for unit step,
  /// lr(iteration / steps_per_epoch) for unit epoch.
  double lrAtIteration(int64_t iteration, int64_t steps_per_epoch) const;

 private:
  explicit Schedule(ScheduleOptions options) : options_(std::move(options)) {}
  ScheduleOptions options_;
};

}  // namespace hq::train
