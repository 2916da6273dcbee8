// hq-qat: quantization-aware training of a calibrated QDQ model, or float training with
// --float, in C++ (lib/train). Prints the seed's per-epoch lines, keeps the best model by
// evaluation top-1, checkpoints each epoch and resumes exactly.
//   hq-qat model.calib.onnx --data fashion-mnist-train --eval-data fashion-mnist-test
//          --epochs 1 --out model.qat.onnx
//   hq-qat model.float-bn.onnx --float --data ... --epochs 3 --lr 1e-3 --out model.trained.onnx
#include <omp.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>

#include "common/cli.h"
#include "common/tool_common.h"
#include "data/dataset.h"
#include "eval/evaluate.h"
#include "ir/onnx_import.h"
#include "support/atomic_file.h"
#include "support/log.h"
#include "support/sha256.h"
#include "support/version.h"
#include "train/trainer.h"

namespace {

std::string digestOf(const std::string& spec) {
  if (auto d = hq::sha256File(spec)) return *d;
  return "builtin:" + spec;
}

/// The command for lineage, without output paths and without --resume (a resumed run writes
/// the same bytes as an uninterrupted one).
std::string lineage(int argc, char** argv) {
  std::vector<char*> kept;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--resume") {
      ++i;
      continue;
    }
    if (a.rfind("--resume=", 0) == 0) continue;
    kept.push_back(argv[i]);
  }
  return hq::tool::lineageCommand(static_cast<int>(kept.size()), kept.data(),
                                  {"--out", "--checkpoint", "--checkpoint-every"});
}

double peakRssMiB() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hq-qat: quantization-aware training of a calibrated QDQ model (or float "
               "training with --float); writes a QDQ model that hq-eval and hq-convert take"};
  std::string model_path, data_spec, eval_spec, out_path, ckpt_path, resume_path, float_bn;
  std::string optimizer = "adam", schedule = "constant", scale_mode, optimizer_json,
              schedule_json;
  std::vector<std::string> frozen;
  std::vector<int64_t> milestones;
  hq::train::TrainerOptions opt;
  bool float_mode = false, json = false, quiet = false, reference = false, nesterov = false;
  int verbose = 0;
  int64_t limit = 0, eval_limit = 0, warmup = 0, step_size = 1;
  double lr = 0, momentum = 0, weight_decay = 0, gamma = 0.1, eta_min = 0;
  app.add_option("model", model_path, "calibrated QDQ model (hq-calib), or a float model with "
                                      "--float")->required();
  app.add_flag("--float", float_mode, "float training/finetuning of a float model (BatchNorm and "
                                      "Dropout of training-mode exports train)");
  app.add_option("--data", data_spec, "training dataset spec (file or bundled name, e.g. "
                                      "fashion-mnist-train)")->required();
  app.add_option("--eval-data", eval_spec, "evaluation dataset: top-1/top-5 after each epoch; "
                                           "the best epoch's model is written");
  app.add_option("--limit", limit, "train on the first N images only (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--eval-limit", eval_limit, "evaluate on the first N images only (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--out", out_path, "output model (.onnx): QDQ for QAT, float with --float")
      ->required();
  app.add_option("--epochs", opt.epochs, "epochs")->default_val(1)->check(CLI::Range(1, 100000));
  app.add_option("--batch", opt.batchSize, "images per step")->default_val(128)
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--eval-batch", opt.evalBatchSize, "images per evaluation batch")
      ->default_val(256)->check(CLI::Range(1, 1 << 16));
  app.add_option("--seed", opt.seed, "seed of the batch order and Dropout masks")->default_val(0);
  app.add_option("--threads", opt.threads, "worker threads (0 = all cores); part of the result: "
                                           "the same seed and threads give the same bytes")
      ->default_val(0)->check(CLI::Range(0, 1024));
  app.add_option("--optimizer", optimizer, "sgd, adam or adamw")->default_str("adam")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--optimizer-config", optimizer_json,
                 "optimizer options as a JSON file (kind, momentum, nesterov, betas, eps, "
                 "weight_decay, frozen); replaces --optimizer/--momentum/--weight-decay");
  app.add_option("--lr", lr, "learning rate (default 1e-4 for QAT, 1e-3 with --float)")
      ->check(CLI::PositiveNumber);
  app.add_option("--momentum", momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0));
  app.add_flag("--nesterov", nesterov, "SGD Nesterov momentum");
  app.add_option("--weight-decay", weight_decay, "L2 weight decay (AdamW: decoupled)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--frozen", frozen, "parameters not to train (glob on names, repeatable)");
  app.add_option("--schedule", schedule, "learning-rate schedule over steps: constant, step, "
                                         "multistep, cosine (to 0 at the last step)")
      ->default_str("constant")->check(CLI::IsMember({"constant", "step", "multistep", "cosine"}));
  app.add_option("--schedule-config", schedule_json, "schedule as a JSON file (kind, lr, unit, "
                                                     "t_max, milestones, warmup...)");
  app.add_option("--warmup", warmup, "linear warmup steps")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--step-size", step_size, "step schedule: steps between decays")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--milestones", milestones, "multistep schedule: steps of the decays");
  app.add_option("--gamma", gamma, "step/multistep decay factor")->check(CLI::PositiveNumber);
  app.add_option("--eta-min", eta_min, "cosine: final learning rate")->check(CLI::NonNegativeNumber);
  app.add_option("--clip-grad-norm", opt.clipGradNorm, "clip the global gradient norm")
      ->check(CLI::PositiveNumber);
  app.add_option("--clip-grad-value", opt.clipGradValue, "clamp each gradient element")
      ->check(CLI::PositiveNumber);
  app.add_option("--label-smoothing", opt.labelSmoothing, "cross-entropy label smoothing")
      ->check(CLI::Range(0.0, 0.999));
  app.add_option("--freeze-bn-after", opt.freezeBnAfter,
                 "from this epoch on (0-based), BatchNorm uses and keeps its running statistics")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  app.add_option("--scale-mode", scale_mode, "QAT scales that are not fixed: ema (moving "
                                             "min/max), lsq (learned) or fixed; default: the "
                                             "qconfig's")
      ->check(CLI::IsMember({"ema", "lsq", "fixed"}));
  app.add_option("--float-bn", float_bn, "QAT: the training-mode float model (with "
                                         "BatchNormalization) the QDQ model was calibrated from; "
                                         "its Conv+BN pairs train as PyTorch's ConvBn QAT modules");
  app.add_option("--checkpoint", ckpt_path, "checkpoint file written after each epoch (default: "
                                            "OUT.ckpt)");
  app.add_option("--checkpoint-every", opt.checkpointEvery, "also checkpoint every N steps")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--resume", resume_path, "continue from a checkpoint of the same command");
  app.add_flag("--reference", reference, "reference kernels only (slow; for debugging)");
  app.add_flag("--json", json, "print a JSON summary on stdout");
  app.add_flag("-q,--quiet", quiet, "no progress or info on stderr");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-qat", argc, argv);
  hq::tool::applyVerbosity(quiet, verbose);

  return hq::tool::runMain("hq-qat", [&]() -> hq::Status {
    using namespace hq;
    using namespace hq::train;
    if (float_mode && (!scale_mode.empty() || !float_bn.empty())) {
      return HQ_ERROR(kInvalidArgument, "--scale-mode and --float-bn are QAT options; leave "
                      "them out with --float");
    }
    if (!optimizer_json.empty() && (app.count("--optimizer") || app.count("--momentum") ||
                                    app.count("--weight-decay") || nesterov)) {
      return HQ_ERROR(kInvalidArgument, "--optimizer-config replaces --optimizer, --momentum, "
                      "--nesterov and --weight-decay; give one or the other");
    }
    if (!schedule_json.empty()) {
      for (const char* flag : {"--schedule", "--lr", "--warmup", "--step-size", "--gamma",
                               "--milestones", "--eta-min"}) {
        if (app.count(flag)) {
          return HQ_ERROR(kInvalidArgument, "--schedule-config replaces {}; give one or the "
                          "other", flag);
        }
      }
    }
    if (ckpt_path.empty()) ckpt_path = out_path + ".ckpt";
    if (ckpt_path == out_path || ckpt_path == model_path || out_path == model_path) {
      return HQ_ERROR(kInvalidArgument, "--out, --checkpoint and the input model must be "
                      "different files");
    }
    if (!resume_path.empty() && !std::ifstream(resume_path).good()) {
      return HQ_ERROR(kNotFound, "--resume {}: no such file", resume_path);
    }

    HQ_ASSIGN_OR_RETURN(auto graph, importOnnxFile(model_path));
    DatasetOptions dopt;
    dopt.limit = limit;
    dopt.training = true;
    dopt.seed = opt.seed;
    HQ_ASSIGN_OR_RETURN(auto train_data, openDataset(data_spec, dopt));
    HQ_RETURN_IF_ERROR(checkModelFitsData(*graph, *train_data));
    std::unique_ptr<Dataset> eval_data;
    if (!eval_spec.empty()) {
      DatasetOptions eopt;
      eopt.limit = eval_limit;
      HQ_ASSIGN_OR_RETURN(eval_data, openDataset(eval_spec, eopt));
      HQ_RETURN_IF_ERROR(checkModelFitsData(*graph, *eval_data));
    }

    // Optimizer and schedule.
    if (!optimizer_json.empty()) {
      HQ_ASSIGN_OR_RETURN(std::string text, readFile(optimizer_json));
      Json doc = Json::parse(text, nullptr, false);
      if (doc.is_discarded()) return HQ_ERROR(kParse, "{}: not valid JSON", optimizer_json);
      HQ_ASSIGN_OR_RETURN(opt.optimizer, optimizerOptionsFromJson(doc, optimizer_json));
    } else {
      HQ_ASSIGN_OR_RETURN(opt.optimizer.kind, parseOptimizerKind(optimizer));
      opt.optimizer.momentum = momentum;
      opt.optimizer.nesterov = nesterov;
      opt.optimizer.weight_decay = weight_decay;
    }
    for (const std::string& f : frozen) opt.optimizer.frozen.push_back(f);
    HQ_RETURN_IF_ERROR(validateOptimizerOptions(opt.optimizer));
    const int64_t steps = (train_data->size() + opt.batchSize - 1) / opt.batchSize * opt.epochs;
    if (!schedule_json.empty()) {
      HQ_ASSIGN_OR_RETURN(std::string text, readFile(schedule_json));
      Json doc = Json::parse(text, nullptr, false);
      if (doc.is_discarded()) return HQ_ERROR(kParse, "{}: not valid JSON", schedule_json);
      HQ_ASSIGN_OR_RETURN(opt.schedule, scheduleOptionsFromJson(doc, schedule_json));
    } else {
      ScheduleOptions& s = opt.schedule;
      s.base_lr = lr > 0 ? lr : (float_mode ? 1e-3 : 1e-4);
      s.kind = schedule == "step"        ? ScheduleKind::kStep
               : schedule == "multistep" ? ScheduleKind::kMultiStep
               : schedule == "cosine"    ? ScheduleKind::kCosine
                                         : ScheduleKind::kConstant;
      s.step_size = step_size;
      s.gamma = gamma;
      s.milestones = milestones;
      s.t_max = std::max<int64_t>(1, steps - warmup);
      s.eta_min = eta_min;
      s.warmup = warmup;
    }
    HQ_RETURN_IF_ERROR(validateScheduleOptions(opt.schedule));

    // The model.
    AutogradOptions ao;
    ao.kernels.referenceOnly = reference;
    ao.seed = opt.seed;
    std::unique_ptr<TrainModel> model;
    std::unique_ptr<Graph> bn_graph;
    if (float_mode) {
      HQ_ASSIGN_OR_RETURN(model, makeFloatTrainModel(*graph, ao));
    } else {
      QatOptions qo;
      if (!scale_mode.empty()) {
        HQ_ASSIGN_OR_RETURN(QatScaleMode m, parseQatScaleMode(scale_mode));
        qo.scaleMode = m;
      }
      if (!float_bn.empty()) {
        HQ_ASSIGN_OR_RETURN(bn_graph, importOnnxFile(float_bn));
        qo.bnModel = bn_graph.get();
      }
      HQ_ASSIGN_OR_RETURN(model, makeQatTrainModel(*graph, qo, ao));
    }

    // Identity of the run (checkpoints refuse to resume another) and lineage.
    OrderedJson& cfg = opt.config;
    cfg["mode"] = model->mode();
    HQ_ASSIGN_OR_RETURN(cfg["model"], sha256File(model_path));
    if (!float_bn.empty()) {
      HQ_ASSIGN_OR_RETURN(cfg["float_bn"], sha256File(float_bn));
    }
    cfg["data"] = digestOf(data_spec);
    cfg["limit"] = limit;
    cfg["eval_data"] = eval_spec.empty() ? "" : digestOf(eval_spec);
    cfg["eval_limit"] = eval_limit;
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
    cfg["scale_mode"] = scale_mode;
    cfg["reference"] = reference;
    OrderedJson lin;
    lin["tool"] = "hq-qat";
    lin["version"] = kHqVersion;
    lin["command"] = lineage(argc, argv);
    lin["inputs"] = {{"model", cfg["model"]}, {"data", cfg["data"]}};
    if (!eval_spec.empty()) lin["inputs"]["eval_data"] = cfg["eval_data"];
    if (!float_bn.empty()) lin["inputs"]["float_bn"] = cfg["float_bn"];
    opt.metadata["hq.lineage"] = lin.dump();

    opt.outPath = out_path;
    opt.checkpointPath = ckpt_path;
    opt.progress = !quiet && !json;
    if (!json && !quiet) {
      opt.print = [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      };
    }
    logInfo("{} training: {}; {} training images ({} steps per epoch){}", model->mode(),
            model->describe(), train_data->size(),
            (train_data->size() + opt.batchSize - 1) / opt.batchSize,
            eval_data ? fmt::format(", {} evaluation images", eval_data->size()) : "");

    HQ_ASSIGN_OR_RETURN(TrainResult r,
                        trainModel(*model, *train_data, eval_data.get(), opt, resume_path));
    if (json) {
      OrderedJson j;
      j["mode"] = model->mode();
      j["model"] = model_path;
      j["out"] = out_path;
      j["checkpoint"] = ckpt_path;
      j["epochs"] = OrderedJson::array();
      for (const EpochResult& e : r.epochs) j["epochs"].push_back(e.toJson());
      j["best_epoch"] = r.bestEpoch;
      if (eval_data) {
        j["best_top1"] = r.bestTop1;
        j["best_top5"] = r.bestTop5;
      }
      j["resumed_from_epoch"] = r.resumedFromEpoch;
      j["train_images"] = r.trainImages;
      j["train_seconds"] = r.trainSeconds;
      j["images_per_second"] = r.imagesPerSecond();
      j["peak_rss_mib"] = peakRssMiB();
      std::printf("%s\n", j.dump(2).c_str());
    } else if (!quiet) {
      if (eval_data) {
        std::printf("Best: epoch %lld, Acc@1 %.3f Acc@5 %.3f -> %s\n",
                    static_cast<long long>(r.bestEpoch), r.bestTop1, r.bestTop5, out_path.c_str());
      } else {
        std::printf("Trained %lld epochs -> %s\n", static_cast<long long>(r.epochs.size()),
                    out_path.c_str());
      }
    }
    return Status::ok();
  });
}
