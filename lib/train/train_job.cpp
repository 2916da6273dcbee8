#include "train/train_job.h"

#include <omp.h>

#include <algorithm>
#include <fstream>

#include "data/dataset.h"
#include "eval/evaluate.h"
#include "ir/onnx_import.h"
#include "support/atomic_file.h"
#include "support/log.h"
#include "support/sha256.h"
#include "support/version.h"

namespace hq::train {

namespace {

std::string digestOf(const std::string& spec) {
  if (auto d = sha256File(spec)) return *d;
  return "builtin:" + spec;
}

Expected<Json> readJson(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(std::string text, readFile(path));
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded()) return HQ_ERROR(kParse, "{}: not valid JSON", path);
  return doc;
}

Status checkOptions(TrainJob& job) {
  if (job.floatMode && (!job.scaleMode.empty() || !job.floatBnPath.empty())) {
    return HQ_ERROR(kInvalidArgument,
                    "--scale-mode and --float-bn are QAT options; leave "
                    "them out with --float");
  }
  if (!job.optimizerJson.empty()) {
    for (const char* flag : {"--optimizer", "--momentum", "--nesterov", "--weight-decay"}) {
      if (job.given.count(flag)) {
        return HQ_ERROR(kInvalidArgument,
                        "--optimizer-config replaces {}; give one or the "
                        "other",
                        flag);
      }
    }
  }
  if (!job.scheduleJson.empty()) {
    for (const char* flag : {"--schedule", "--lr", "--warmup", "--step-size", "--gamma",
                             "--milestones", "--eta-min"}) {
      if (job.given.count(flag)) {
        return HQ_ERROR(kInvalidArgument,
                        "--schedule-config replaces {}; give one or the "
                        "other",
                        flag);
      }
    }
  }
  if (job.checkpointPath.empty()) job.checkpointPath = job.outPath + ".ckpt";
  if (job.checkpointPath == job.outPath || job.checkpointPath == job.modelPath ||
      job.outPath == job.modelPath) {
    return HQ_ERROR(kInvalidArgument,
                    "--out, --checkpoint and the input model must be "
                    "different files");
  }
  if (!job.resumePath.empty() && !std::ifstream(job.resumePath).good()) {
    return HQ_ERROR(kNotFound, "--resume {}: no such file", job.resumePath);
  }
  return Status::ok();
}

Status buildOptimizerAndSchedule(TrainJob& job, int64_t train_images) {
  TrainerOptions& opt = job.trainer;
  if (!job.optimizerJson.empty()) {
    HQ_ASSIGN_OR_RETURN(Json doc, readJson(job.optimizerJson));
    HQ_ASSIGN_OR_RETURN(opt.optimizer, optimizerOptionsFromJson(doc, job.optimizerJson));
  } else {
    HQ_ASSIGN_OR_RETURN(opt.optimizer.kind, parseOptimizerKind(job.optimizer));
    opt.optimizer.momentum = job.momentum;
    opt.optimizer.nesterov = job.nesterov;
    opt.optimizer.weight_decay = job.weightDecay;
  }
  for (const std::string& f : job.frozen) opt.optimizer.frozen.push_back(f);
  HQ_RETURN_IF_ERROR(validateOptimizerOptions(opt.optimizer));
  if (!job.scheduleJson.empty()) {
    HQ_ASSIGN_OR_RETURN(Json doc, readJson(job.scheduleJson));
    HQ_ASSIGN_OR_RETURN(opt.schedule, scheduleOptionsFromJson(doc, job.scheduleJson));
  } else {
    const int64_t steps = (train_images + opt.batchSize - 1) / opt.batchSize * opt.epochs;
    ScheduleOptions& s = opt.schedule;
    s.base_lr = job.lr > 0 ? job.lr : (job.floatMode ? 1e-3 : 1e-4);
    s.kind = job.schedule == "step"        ? ScheduleKind::kStep
             : job.schedule == "multistep" ? ScheduleKind::kMultiStep
             : job.schedule == "cosine"    ? ScheduleKind::kCosine
                                           : ScheduleKind::kConstant;
    s.step_size = job.stepSize;
    s.gamma = job.gamma;
    s.milestones = job.milestones;
    s.t_max = std::max<int64_t>(1, steps - job.warmup);
    s.eta_min = job.etaMin;
    s.warmup = job.warmup;
  }
  return validateScheduleOptions(opt.schedule);
}

/// The run's identity (a checkpoint refuses to resume another run) and the output's lineage.
Status describeRun(TrainJob& job, const TrainModel& model) {
  TrainerOptions& opt = job.trainer;
  OrderedJson& cfg = opt.config;
  cfg = OrderedJson::object();
  cfg["mode"] = model.mode();
  HQ_ASSIGN_OR_RETURN(cfg["model"], sha256File(job.modelPath));
  if (!job.floatBnPath.empty()) {
    HQ_ASSIGN_OR_RETURN(cfg["float_bn"], sha256File(job.floatBnPath));
  }
  cfg["data"] = digestOf(job.dataSpec);
  cfg["limit"] = job.limit;
  cfg["eval_data"] = job.evalSpec.empty() ? "" : digestOf(job.evalSpec);
  cfg["eval_limit"] = job.evalLimit;
  cfg["epochs"] = opt.epochs;
  cfg["batch"] = opt.batchSize;
  cfg["seed"] = opt.seed;
  // The thread count the run really uses (0 = all cores of this machine): part of the result.
  cfg["threads"] = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  cfg["optimizer"] = optimizerOptionsToJson(opt.optimizer);
  cfg["schedule"] = scheduleOptionsToJson(opt.schedule);
  cfg["clip_grad_norm"] = opt.clipGradNorm;
  cfg["clip_grad_value"] = opt.clipGradValue;
  cfg["label_smoothing"] = opt.labelSmoothing;
  cfg["freeze_bn_after"] = opt.freezeBnAfter;
  cfg["scale_mode"] = job.scaleMode;
  cfg["reference"] = job.reference;
  OrderedJson lin;
  lin["tool"] = "hq-qat";
  lin["version"] = kHqVersion;
  lin["command"] = job.command;
  lin["inputs"] = {{"model", cfg["model"]}, {"data", cfg["data"]}};
  if (!job.evalSpec.empty()) lin["inputs"]["eval_data"] = cfg["eval_data"];
  if (!job.floatBnPath.empty()) lin["inputs"]["float_bn"] = cfg["float_bn"];
  opt.metadata["hq.lineage"] = lin.dump();
  return Status::ok();
}

}  // namespace

OrderedJson TrainJobResult::toJson(const TrainJob& job) const {
  OrderedJson j;
  j["mode"] = mode;
  j["model"] = job.modelPath;
  j["out"] = job.outPath;
  j["checkpoint"] = job.checkpointPath;
  j["epochs"] = OrderedJson::array();
  for (const EpochResult& e : result.epochs) j["epochs"].push_back(e.toJson());
  j["best_epoch"] = result.bestEpoch;
  if (evaluated) {
    j["best_top1"] = result.bestTop1;
    j["best_top5"] = result.bestTop5;
  }
  j["resumed_from_epoch"] = result.resumedFromEpoch;
  j["train_images"] = result.trainImages;
  j["train_seconds"] = result.trainSeconds;
  j["images_per_second"] = result.imagesPerSecond();
  return j;
}

Expected<TrainJobResult> runTrainJob(TrainJob& job) {
  HQ_RETURN_IF_ERROR(checkOptions(job));
  HQ_ASSIGN_OR_RETURN(auto graph, importOnnxFile(job.modelPath));
  DatasetOptions dopt;
  dopt.limit = job.limit;
  dopt.training = true;
  dopt.seed = job.trainer.seed;
  HQ_ASSIGN_OR_RETURN(auto train_data, openDataset(job.dataSpec, dopt));
  HQ_RETURN_IF_ERROR(checkModelFitsData(*graph, *train_data));
  std::unique_ptr<Dataset> eval_data;
  if (!job.evalSpec.empty()) {
    DatasetOptions eopt;
    eopt.limit = job.evalLimit;
    HQ_ASSIGN_OR_RETURN(eval_data, openDataset(job.evalSpec, eopt));
    HQ_RETURN_IF_ERROR(checkModelFitsData(*graph, *eval_data));
  }
  HQ_RETURN_IF_ERROR(buildOptimizerAndSchedule(job, train_data->size()));

  AutogradOptions ao;
  ao.kernels.referenceOnly = job.reference;
  ao.seed = job.trainer.seed;
  std::unique_ptr<TrainModel> model;
  std::unique_ptr<Graph> bn_graph;
  if (job.floatMode) {
    HQ_ASSIGN_OR_RETURN(model, makeFloatTrainModel(*graph, ao));
  } else {
    QatOptions qo;
    if (!job.scaleMode.empty()) {
      HQ_ASSIGN_OR_RETURN(QatScaleMode m, parseQatScaleMode(job.scaleMode));
      qo.scaleMode = m;
    }
    if (!job.floatBnPath.empty()) {
      HQ_ASSIGN_OR_RETURN(bn_graph, importOnnxFile(job.floatBnPath));
      qo.bnModel = bn_graph.get();
    }
    HQ_ASSIGN_OR_RETURN(model, makeQatTrainModel(*graph, qo, ao));
  }
  HQ_RETURN_IF_ERROR(describeRun(job, *model));
  job.trainer.outPath = job.outPath;
  job.trainer.checkpointPath = job.checkpointPath;
  logInfo("{} training: {}; {} training images ({} steps per epoch){}", model->mode(),
          model->describe(), train_data->size(),
          (train_data->size() + job.trainer.batchSize - 1) / job.trainer.batchSize,
          eval_data ? fmt::format(", {} evaluation images", eval_data->size()) : "");

  TrainJobResult r;
  r.mode = model->mode();
  r.evaluated = eval_data != nullptr;
  HQ_ASSIGN_OR_RETURN(
      r.result, trainModel(*model, *train_data, eval_data.get(), job.trainer, job.resumePath));
  return r;
}

}  // namespace hq::train
