#include "train/qat.h"

namespace hq::train {

const char* qatScaleModeName(QatScaleMode m) {
  switch (m) {
    case QatScaleMode::kFixed:
      return "fixed";
    case QatScaleMode::kEma:
      return "ema";
    case QatScaleMode::kLsq:
      return "lsq";
  }
  return "?";
}

Expected<QatScaleMode> parseQatScaleMode(const std::string& s) {
  if (s == "fixed") return QatScaleMode::kFixed;
  if (s == "ema") return QatScaleMode::kEma;
  if (s == "lsq") return QatScaleMode::kLsq;
  return HQ_ERROR(kInvalidArgument,
                  "QAT scale mode: expected fixed, ema or lsq, got '{}'", s);
}

QatModel::~QatModel() = default;

Expected<std::unique_ptr<QatModel>> QatModel::create(const Graph&, const QatOptions&,
                                                     AutogradOptions) {
  return HQ_ERROR(kUnsupported, "QatModel::create: not implemented yet");
}

GradGraph& QatModel::grad() { return *grad_; }

void QatModel::setBatchNormFrozen(bool) {}

Expected<std::unique_ptr<Graph>> QatModel::exportQdq() const {
  return HQ_ERROR(kUnsupported, "QatModel::exportQdq: not implemented yet");
}

std::string QatModel::describe() const { return "QAT model (not implemented yet)"; }

}  // namespace hq::train
