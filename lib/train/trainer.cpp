#include "train/trainer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include "eval/evaluate.h"
#include "ir/onnx_export.h"
#include "support/atomic_file.h"
#include "support/progress.h"
#include "train/checkpoint.h"
#include "train/loss.h"

namespace hq::train {

// ---------------------------------------------------------------------------------------------
// Models

Status toInferenceForm(Graph& graph) {
  auto ensureUnused = [&](const Node& n, size_t from) -> Status {
    for (size_t i = from; i < n.outputs.size(); ++i) {
      Value* v = n.outputs[i];
      if (v && (!graph.consumers(v).empty() || graph.isGraphOutput(v))) {
        return HQ_ERROR(kUnsupported,
                        "{}: output {} ('{}') is read by the model; it exists only "
                        "in training",
                        n.describe(), i, v->name);
      }
    }
    return Status::ok();
  };
  for (Node* n : graph.nodes()) {
    if (!n->domain.empty()) continue;
    if (n->opType == "BatchNormalization" && n->outputs.size() > 1) {
      HQ_RETURN_IF_ERROR(ensureUnused(*n, 1));
      n->outputs.resize(1);
    }
    if (n->opType == "BatchNormalization") n->attrs.erase("training_mode");
    if (n->opType == "Dropout") {
      HQ_RETURN_IF_ERROR(ensureUnused(*n, 1));
      n->outputs.resize(1);
      if (n->inputs.size() > 2) n->inputs.resize(2);
    }
  }
  graph.removeDeadNodes();
  graph.removeDeadValues();
  return Status::ok();
}

namespace {

class FloatTrainModel : public TrainModel {
 public:
  explicit FloatTrainModel(std::unique_ptr<GradGraph> g) : g_(std::move(g)) {}
  GradGraph& grad() override { return *g_; }
  Expected<std::unique_ptr<Graph>> exportModel() override {
    std::unique_ptr<Graph> out = g_->graph().clone();
    HQ_RETURN_IF_ERROR(toInferenceForm(*out));
    out->metadata["hq.stage"] = "float";
    return out;
  }
  void setBatchNormFrozen(bool frozen) override { g_->setBatchNormFrozen(frozen); }
  const char* mode() const override { return "float"; }
  std::string describe() const override {
    int64_t n = 0;
    for (const std::string& p : g_->parameterNames()) n += g_->parameter(p)->numel();
    return fmt::format("{} parameters in {} tensors", n, g_->parameterNames().size());
  }

 private:
  std::unique_ptr<GradGraph> g_;
};

class QatTrainModel : public TrainModel {
 public:
  explicit QatTrainModel(std::unique_ptr<QatModel> m) : m_(std::move(m)) {}
  GradGraph& grad() override { return m_->grad(); }
  Expected<std::unique_ptr<Graph>> exportModel() override { return m_->exportQdq(); }
  void setBatchNormFrozen(bool frozen) override { m_->setBatchNormFrozen(frozen); }
  const char* mode() const override { return "qat"; }
  std::string describe() const override { return m_->describe(); }

 private:
  std::unique_ptr<QatModel> m_;
};

}  // namespace

Expected<std::unique_ptr<TrainModel>> makeFloatTrainModel(const Graph& model,
                                                          AutogradOptions options) {
  for (const Node* n : model.nodes()) {
    if (n->opType == "QuantizeLinear" || n->opType == "DequantizeLinear" || !n->domain.empty()) {
      return HQ_ERROR(kInvalidArgument,
                      "{}: a quantized model; float training takes a float "
                      "model (for QAT leave out --float)",
                      n->describe());
    }
  }
  options.fakeQuantQdq = false;
  HQ_ASSIGN_OR_RETURN(auto g, GradGraph::create(model, std::move(options)));
  return std::unique_ptr<TrainModel>(new FloatTrainModel(std::move(g)));
}

Expected<std::unique_ptr<TrainModel>> makeQatTrainModel(const Graph& qdq, const QatOptions& qat,
                                                        AutogradOptions options) {
  bool quantized = false;
  for (const Node* n : qdq.nodes()) quantized |= n->opType == "DequantizeLinear";
  if (!quantized) {
    return HQ_ERROR(kInvalidArgument,
                    "the model has no QuantizeLinear/DequantizeLinear: QAT "
                    "starts from a calibrated QDQ model (hq-calib); for float training pass "
                    "--float");
  }
  HQ_ASSIGN_OR_RETURN(auto m, QatModel::create(qdq, qat, std::move(options)));
  return std::unique_ptr<TrainModel>(new QatTrainModel(std::move(m)));
}

// ---------------------------------------------------------------------------------------------
// Results

OrderedJson EpochResult::toJson() const {
  OrderedJson j;
  j["epoch"] = epoch;
  j["lr"] = lr;
  j["train_loss"] = trainLoss;
  j["train_top1"] = trainTop1;
  j["train_top5"] = trainTop5;
  j["train_images"] = trainImages;
  j["train_seconds"] = trainSeconds;
  j["images_per_second"] = imagesPerSecond;
  if (evaluated) {
    j["eval_top1"] = evalTop1;
    j["eval_top5"] = evalTop5;
  }
  return j;
}

EpochResult EpochResult::fromJson(const Json& j) {
  EpochResult r;
  r.epoch = j.value("epoch", int64_t{0});
  r.lr = j.value("lr", 0.0);
  r.trainLoss = j.value("train_loss", 0.0);
  r.trainTop1 = j.value("train_top1", 0.0);
  r.trainTop5 = j.value("train_top5", 0.0);
  r.trainImages = j.value("train_images", int64_t{0});
  r.trainSeconds = j.value("train_seconds", 0.0);
  r.imagesPerSecond = j.value("images_per_second", 0.0);
  r.evaluated = j.contains("eval_top1");
  r.evalTop1 = j.value("eval_top1", 0.0);
  r.evalTop5 = j.value("eval_top5", 0.0);
  return r;
}

namespace {

/// Sums over the images of the current epoch so far (saved in mid-epoch checkpoints).
struct EpochSums {
  double loss = 0;  // sum of per-batch mean loss * batch size
  int64_t correct1 = 0, correct5 = 0, images = 0;
  double seconds = 0;
  OrderedJson toJson() const {
    OrderedJson j;
    j["loss_sum"] = loss;
    j["correct1"] = correct1;
    j["correct5"] = correct5;
    j["images"] = images;
    j["seconds"] = seconds;
    return j;
  }
  static EpochSums fromJson(const Json& j) {
    EpochSums s;
    s.loss = j.value("loss_sum", 0.0);
    s.correct1 = j.value("correct1", int64_t{0});
    s.correct5 = j.value("correct5", int64_t{0});
    s.images = j.value("images", int64_t{0});
    s.seconds = j.value("seconds", 0.0);
    return s;
  }
};

/// Top-1 and top-5 hits of a [N, C] logits batch (eval/evaluate.h's rank rule). Errors: a
/// label outside [0, C).
Status countHits(const Tensor& logits, const std::vector<int64_t>& labels, int64_t first,
                 int64_t* top1, int64_t* top5) {
  const int64_t n = logits.dim(0), c = logits.numel() / std::max<int64_t>(n, 1);
  const float* p = logits.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels[static_cast<size_t>(i)];
    if (label < 0 || label >= c) {
      return HQ_ERROR(kData, "label {} of training sample {} is outside the model's {} classes",
                      label, first + i, c);
    }
    const int64_t rank = trueClassRank(p + i * c, c, label);
    *top1 += rank < 1;
    *top5 += rank < 5;
  }
  return Status::ok();
}

const char* kModelPrefix = "model/";
const char* kOptimPrefix = "optim/";
const char* kBestModel = "best/model.onnx";  // uint8: the bytes written to --out

/// The first key where two configs differ ("" if none), ignoring "epochs".
std::string configDiff(const Json& a, const Json& b) {
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "epochs") continue;
    if (!b.contains(it.key())) return it.key();
    if (b[it.key()] != it.value()) return it.key();
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() != "epochs" && !a.contains(it.key())) return it.key();
  }
  return "";
}

class Trainer {
 public:
  Trainer(TrainModel& model, Dataset& train, Dataset* eval, const TrainerOptions& options)
      : model_(model), train_(train), eval_(eval), opt_(options) {}

  Expected<TrainResult> run(const std::string& resume_path);

 private:
  Status resume(const std::string& path);
  Status restore(Checkpoint& ck, const std::string& path);
  Status saveCheckpoint(int64_t epochs_done);
  Status finishEpoch(int64_t epoch, const EpochSums& sums, double lr);
  Status nanStop(int64_t epoch, int64_t step, const std::string& what) const;
  Status nanStop(int64_t epoch, int64_t step, const Status& cause) const;
  void say(const std::string& line) const {
    if (opt_.print) opt_.print(line);
  }

  TrainModel& model_;
  Dataset& train_;
  Dataset* eval_;
  const TrainerOptions& opt_;
  std::optional<Optimizer> optimizer_;
  std::optional<Schedule> schedule_;
  int64_t stepsPerEpoch_ = 0;
  int64_t iteration_ = 0;  // optimizer steps done over the whole run
  EpochSums sums_;         // of the epoch in progress
  TrainResult result_;
  std::string bestBytes_;  // the best exported model as written to --out (kept in checkpoints)
  int64_t lastCheckpointStep_ = -1;
};

Status Trainer::nanStop(int64_t epoch, int64_t step, const std::string& what) const {
  std::string keep;
  if (opt_.checkpointPath.empty()) {
    keep = "no checkpoint was asked for";
  } else if (lastCheckpointStep_ < 0) {
    keep = "no checkpoint was written yet";
  } else {
    keep = fmt::format("the last good checkpoint is {} (after {} steps; resume with --resume)",
                       opt_.checkpointPath, lastCheckpointStep_);
  }
  return HQ_ERROR(kData,
                  "epoch {} step {}: {} is not finite; training stopped ({}). Try a "
                  "lower learning rate or gradient clipping",
                  epoch, step, what, keep);
}

/// The same, for a message that already says what is not finite.
Status Trainer::nanStop(int64_t epoch, int64_t step, const Status& cause) const {
  return nanStop(epoch, step, "a value (" + cause.message() + ")");
}

Status Trainer::saveCheckpoint(int64_t epochs_done) {
  if (opt_.checkpointPath.empty()) return Status::ok();
  Checkpoint ck;
  ck.state["format"] = "hq-qat checkpoint";
  ck.state["mode"] = model_.mode();
  ck.state["config"] = opt_.config;
  ck.state["epochs_done"] = epochs_done;
  ck.state["iteration"] = iteration_;
  ck.state["train_forwards"] = model_.grad().trainForwards();
  ck.state["epoch_sums"] = sums_.toJson();
  ck.state["best_epoch"] = result_.bestEpoch;
  ck.state["best_top1"] = result_.bestTop1;
  ck.state["best_top5"] = result_.bestTop5;
  OrderedJson history = OrderedJson::array();
  for (const EpochResult& e : result_.epochs) history.push_back(e.toJson());
  ck.state["history"] = history;
  for (const Value* v : model_.grad().graph().constants()) {
    ck.tensors.push_back({kModelPrefix + v->name, v->constant});
  }
  if (!bestBytes_.empty()) {
    Tensor best(DType::kUInt8, {static_cast<int64_t>(bestBytes_.size())});
    std::copy(bestBytes_.begin(), bestBytes_.end(), static_cast<char*>(best.raw()));
    ck.tensors.push_back({kBestModel, std::move(best)});
  }
  for (NamedTensor& t : optimizer_->saveState()) {
    ck.tensors.push_back({kOptimPrefix + t.name, std::move(t.tensor)});
  }
  HQ_RETURN_IF_ERROR(writeCheckpoint(opt_.checkpointPath, ck));
  lastCheckpointStep_ = iteration_;
  return Status::ok();
}

Status Trainer::resume(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(Checkpoint ck, readCheckpoint(path));
  try {
    return restore(ck, path);
  } catch (const Json::exception& e) {
    return HQ_ERROR(kParse, "{}: malformed checkpoint state: {}", path, e.what());
  }
}

Status Trainer::restore(Checkpoint& ck, const std::string& path) {
  const Json state = Json::parse(ck.state.dump());
  if (!state.is_object() || state.value("format", "") != "hq-qat checkpoint") {
    return HQ_ERROR(kParse, "{}: not an hq-qat checkpoint", path);
  }
  if (state.at("mode").get<std::string>() != model_.mode()) {
    return HQ_ERROR(kInvalidArgument, "{}: a {} training checkpoint; this run is {} training", path,
                    state.at("mode").get<std::string>(), model_.mode());
  }
  const Json& theirs = state.at("config");
  const Json mine = Json::parse(opt_.config.dump());
  if (!theirs.is_object()) return HQ_ERROR(kParse, "{}: 'config' is not an object", path);
  std::string diff = configDiff(theirs, mine);
  if (!diff.empty()) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: the checkpoint was made with a different '{}' ({} "
                    "there, {} now); resume with the same model, data and options",
                    path, diff, theirs.value(diff, Json()).dump(), mine.value(diff, Json()).dump());
  }
  const int64_t iteration = state.at("iteration").get<int64_t>();
  const int64_t epochs_done = state.at("epochs_done").get<int64_t>();
  if (iteration < 0 || epochs_done < 0 || epochs_done * stepsPerEpoch_ > iteration ||
      iteration > (epochs_done + 1) * stepsPerEpoch_ || epochs_done > opt_.epochs) {
    return HQ_ERROR(kInvalidArgument,
                    "{}: {} steps and {} epochs done do not fit this run "
                    "({} epochs of {} steps)",
                    path, iteration, epochs_done, opt_.epochs, stepsPerEpoch_);
  }
  std::vector<NamedTensor> optim;
  GradGraph& g = model_.grad();
  std::set<std::string> restored;
  for (NamedTensor& t : ck.tensors) {
    if (t.name.rfind(kOptimPrefix, 0) == 0) {
      optim.push_back({t.name.substr(std::string(kOptimPrefix).size()), std::move(t.tensor)});
      continue;
    }
    if (t.name == kBestModel && t.tensor.dtype() == DType::kUInt8) {
      bestBytes_.assign(static_cast<const char*>(t.tensor.raw()), t.tensor.nbytes());
      continue;
    }
    if (t.name.rfind(kModelPrefix, 0) != 0) {
      return HQ_ERROR(kParse, "{}: unexpected tensor '{}'", path, t.name);
    }
    std::string name = t.name.substr(std::string(kModelPrefix).size());
    Tensor* dst = g.initializer(name);
    if (!dst) {
      return HQ_ERROR(kInvalidArgument,
                      "{}: tensor '{}' is not in this model (was the "
                      "checkpoint made from another model?)",
                      path, name);
    }
    if (dst->dtype() != t.tensor.dtype() || dst->shape() != t.tensor.shape()) {
      return HQ_ERROR(kInvalidArgument,
                      "{}: tensor '{}' is {} {} in the checkpoint, {} {} in "
                      "the model",
                      path, name, dtypeName(t.tensor.dtype()), shapeString(t.tensor.shape()),
                      dtypeName(dst->dtype()), shapeString(dst->shape()));
    }
    std::copy_n(static_cast<const char*>(t.tensor.raw()), t.tensor.nbytes(),
                static_cast<char*>(dst->raw()));
    restored.insert(name);
  }
  size_t constants = g.graph().constants().size();
  if (restored.size() != constants) {
    return HQ_ERROR(kInvalidArgument, "{}: holds {} of the model's {} tensors", path,
                    restored.size(), constants);
  }
  HQ_RETURN_IF_ERROR(optimizer_->loadState(optim));
  iteration_ = iteration;
  g.setTrainForwards(state.at("train_forwards").get<uint64_t>());
  sums_ = EpochSums::fromJson(state.at("epoch_sums"));
  result_.bestEpoch = state.at("best_epoch").get<int64_t>();
  result_.bestTop1 = state.at("best_top1").get<double>();
  result_.bestTop5 = state.at("best_top5").get<double>();
  for (const Json& e : state.at("history")) result_.epochs.push_back(EpochResult::fromJson(e));
  result_.resumedFromEpoch = epochs_done;
  lastCheckpointStep_ = iteration_;
  // The best model so far goes to --out again (the file may be gone or be another run's).
  if (!bestBytes_.empty() && !opt_.outPath.empty()) {
    HQ_RETURN_IF_ERROR(writeFileAtomic(opt_.outPath, bestBytes_));
  }
  return Status::ok();
}

Status Trainer::finishEpoch(int64_t epoch, const EpochSums& sums, double lr) {
  EpochResult r;
  r.epoch = epoch;
  r.lr = lr;
  r.trainImages = sums.images;
  r.trainSeconds = sums.seconds;
  double n = std::max<int64_t>(sums.images, 1);
  r.trainLoss = sums.loss / n;
  r.trainTop1 = 100.0 * sums.correct1 / n;
  r.trainTop5 = 100.0 * sums.correct5 / n;
  r.imagesPerSecond = sums.seconds > 0 ? sums.images / sums.seconds : 0;
  say(
      fmt::format("Full train set: Loss {:.3f} Acc@1 {:.3f} Acc@5 {:.3f} ({} images, {:.0f} "
                  "img/s)",
                  r.trainLoss, r.trainTop1, r.trainTop5, r.trainImages, r.imagesPerSecond));

  HQ_ASSIGN_OR_RETURN(auto exported, model_.exportModel());
  for (const auto& [k, v] : opt_.metadata) exported->metadata[k] = v;
  bool write = true;
  if (eval_) {
    EvalOptions eo;
    eo.batchSize = opt_.evalBatchSize;
    eo.threads = opt_.threads;
    eo.progress = opt_.progress;
    eo.progressLabel = fmt::format("eval epoch {}", epoch);
    HQ_ASSIGN_OR_RETURN(EvalResult ev, evaluateModel(*exported, *eval_, eo));
    r.evaluated = true;
    r.evalTop1 = ev.top1;
    r.evalTop5 = ev.top5;
    say(fmt::format("{} Epoch {}: evaluation Acc@1 {:.3f} Acc@5 {:.3f}",
                    std::string(model_.mode()) == "qat" ? "QAT" : "Float", epoch, ev.top1,
                    ev.top5));
    write = ev.top1 > result_.bestTop1;
    if (write) {
      result_.bestEpoch = epoch;
      result_.bestTop1 = ev.top1;
      result_.bestTop5 = ev.top5;
    }
  } else {
    result_.bestEpoch = epoch;
  }
  result_.epochs.push_back(r);
  if (write) {
    HQ_ASSIGN_OR_RETURN(bestBytes_, exportOnnxBytes(*exported));
    if (!opt_.outPath.empty()) HQ_RETURN_IF_ERROR(writeFileAtomic(opt_.outPath, bestBytes_));
  }
  return Status::ok();
}

Expected<TrainResult> Trainer::run(const std::string& resume_path) {
  if (opt_.epochs < 1)
    return HQ_ERROR(kInvalidArgument, "epochs must be >= 1, got {}", opt_.epochs);
  if (opt_.batchSize < 1) {
    return HQ_ERROR(kInvalidArgument, "batch size must be >= 1, got {}", opt_.batchSize);
  }
  if (!train_.hasLabels()) {
    return HQ_ERROR(kInvalidArgument, "the training data has no labels: {}", train_.describe());
  }
  if (eval_ && !eval_->hasLabels()) {
    return HQ_ERROR(kInvalidArgument, "the evaluation data has no labels: {}", eval_->describe());
  }
  if (train_.size() == 0) return HQ_ERROR(kInvalidArgument, "the training data is empty");
  if (opt_.threads > 0) omp_set_num_threads(opt_.threads);
  HQ_ASSIGN_OR_RETURN(Optimizer optimizer, Optimizer::create(opt_.optimizer));
  optimizer_.emplace(std::move(optimizer));
  HQ_ASSIGN_OR_RETURN(Schedule schedule, Schedule::create(opt_.schedule));
  schedule_.emplace(std::move(schedule));
  stepsPerEpoch_ = (train_.size() + opt_.batchSize - 1) / opt_.batchSize;
  if (!resume_path.empty()) HQ_RETURN_IF_ERROR(resume(resume_path));

  GradGraph& g = model_.grad();
  const std::vector<std::string>& names = g.parameterNames();
  std::vector<int64_t> labels;
  for (int64_t epoch = iteration_ / stepsPerEpoch_; epoch < opt_.epochs; ++epoch) {
    const int64_t skip = iteration_ - epoch * stepsPerEpoch_;
    if (skip == 0) sums_ = EpochSums();
    model_.setBatchNormFrozen(opt_.freezeBnAfter >= 0 && epoch >= opt_.freezeBnAfter);
    LoaderOptions lo;
    lo.batchSize = opt_.batchSize;
    lo.shuffle = true;
    lo.seed = opt_.seed;
    lo.epoch = epoch;
    BatchLoader loader(train_, lo);
    Progress progress(fmt::format("{} epoch {}", model_.mode(), epoch),
                      opt_.progress ? train_.size() : 0, "img");
    if (!opt_.progress) progress.finish();
    double lr = 0;
    for (int64_t step = 0;; ++step) {
      HQ_ASSIGN_OR_RETURN(auto batch, loader.next());
      if (!batch) break;
      if (step < skip) {
        if (opt_.progress) progress.advance(batch->images.dim(0));
        continue;
      }
      auto t0 = std::chrono::steady_clock::now();
      const int64_t n = batch->images.dim(0);
      labels.assign(batch->labels.data<int64_t>(), batch->labels.data<int64_t>() + n);
      lr = schedule_->lrAtIteration(iteration_, stepsPerEpoch_);
      const float smoothing = opt_.labelSmoothing;
      bool bad_logits = false;
      auto sr = g.step({batch->images}, [&](const Tensor& logits) -> Expected<LossResult> {
        const float* p = logits.data<float>();
        for (int64_t i = 0; i < logits.numel(); ++i) {
          if (!std::isfinite(p[i])) {
            bad_logits = true;
            return HQ_ERROR(kData, "non-finite logits");
          }
        }
        return softmaxCrossEntropy(logits, labels, smoothing);
      });
      if (bad_logits) return nanStop(epoch, step, "the model output");
      // A non-finite value met inside the graph (e.g. a QAT range) stops the run the same way.
      if (!sr.isOk() && sr.status().code() == ErrorCode::kData) {
        return nanStop(epoch, step, sr.status());
      }
      if (!sr.isOk()) return sr.status();
      if (!std::isfinite(sr->loss)) return nanStop(epoch, step, "the loss");
      std::vector<ParamRef> params;
      std::vector<Tensor*> grads;
      for (const std::string& name : names) {
        auto it = sr->grads.find(name);
        if (it == sr->grads.end()) continue;
        params.push_back({name, g.parameter(name), &it->second});
        if (!optimizer_->isFrozen(name)) grads.push_back(&it->second);
      }
      if (opt_.clipGradValue > 0) HQ_RETURN_IF_ERROR(clipGradValue(grads, opt_.clipGradValue));
      // The global norm also catches NaN/Inf gradients before they reach the parameters.
      auto norm = clipGradNorm(grads, opt_.clipGradNorm > 0 ? opt_.clipGradNorm : 1e300);
      if (!norm.isOk() && norm.status().code() == ErrorCode::kData) {
        return nanStop(epoch, step, "the gradient norm");
      }
      if (!norm.isOk()) return norm.status();
      HQ_RETURN_IF_ERROR(optimizer_->step(params, lr));
      ++iteration_;
      sums_.loss += sr->loss * n;
      HQ_RETURN_IF_ERROR(
          countHits(sr->output, labels, batch->first, &sums_.correct1, &sums_.correct5));
      sums_.images += n;
      const double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      sums_.seconds += dt;
      result_.trainSeconds += dt;
      result_.trainImages += n;
      if (opt_.progress) {
        progress.advance(n);
        progress.setSuffix(fmt::format("loss {:.4f} acc {:.2f}% lr {:.3g}",
                                       sums_.loss / sums_.images,
                                       100.0 * sums_.correct1 / sums_.images, lr));
      }
      if (opt_.checkpointEvery > 0 && iteration_ % opt_.checkpointEvery == 0 &&
          step + 1 < stepsPerEpoch_) {
        HQ_RETURN_IF_ERROR(saveCheckpoint(epoch));
      }
    }
    progress.finish();
    HQ_RETURN_IF_ERROR(finishEpoch(epoch, sums_, lr));
    sums_ = EpochSums();
    HQ_RETURN_IF_ERROR(saveCheckpoint(epoch + 1));
  }
  return std::move(result_);
}

}  // namespace

Expected<TrainResult> trainModel(TrainModel& model, Dataset& train_data, Dataset* eval_data,
                                 const TrainerOptions& options, const std::string& resume_path) {
  Trainer t(model, train_data, eval_data, options);
  return t.run(resume_path);
}

}  // namespace hq::train
