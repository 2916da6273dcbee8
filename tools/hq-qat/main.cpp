// hq-qat: quantization-aware training of a calibrated QDQ model, or float training with
// --float, in C++ (lib/train/train_job.h). Prints the seed's per-epoch lines, keeps the best
// model by evaluation top-1, checkpoints each epoch and resumes exactly.
//   hq-qat model.calib.onnx --data fashion-mnist-train --eval-data fashion-mnist-test
//          --epochs 1 --out model.qat.onnx
//   hq-qat model.float-bn.onnx --float --data ... --epochs 3 --lr 1e-3 --out model.trained.onnx
#include <sys/resource.h>

#include <cstdio>

#include "common/cli.h"
#include "common/tool_common.h"
#include "train/train_job.h"

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "hq-qat: quantization-aware training of a calibrated QDQ model (or float "
      "training with --float); writes a QDQ model that hq-eval and hq-convert take"};
  hq::train::TrainJob job;
  hq::train::TrainerOptions& opt = job.trainer;
  bool json = false, quiet = false;
  int verbose = 0;
  app.add_option("model", job.modelPath,
                 "calibrated QDQ model (hq-calib), or a float model with "
                 "--float")
      ->required();
  app.add_flag("--float", job.floatMode,
               "float training/finetuning of a float model (BatchNorm and "
               "Dropout of training-mode exports train)");
  app.add_option("--data", job.dataSpec,
                 "training dataset spec (file or bundled name, e.g. "
                 "fashion-mnist-train)")
      ->required();
  app.add_option("--eval-data", job.evalSpec,
                 "evaluation dataset: top-1/top-5 after each epoch; "
                 "the best epoch's model is written");
  app.add_option("--limit", job.limit, "train on the first N images only (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--eval-limit", job.evalLimit, "evaluate on the first N images only (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--out", job.outPath, "output model (.onnx): QDQ for QAT, float with --float")
      ->required();
  app.add_option("--epochs", opt.epochs, "epochs")->default_val(1)->check(CLI::Range(1, 100000));
  app.add_option("--batch", opt.batchSize, "images per step")
      ->default_val(128)
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--eval-batch", opt.evalBatchSize, "images per evaluation batch")
      ->default_val(256)
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--seed", opt.seed, "seed of the batch order and Dropout masks")->default_val(0);
  app.add_option("--threads", opt.threads,
                 "worker threads (0 = all cores); part of the result: "
                 "the same seed and threads give the same bytes")
      ->default_val(0)
      ->check(CLI::Range(0, 1024));
  app.add_option("--optimizer", job.optimizer, "sgd, adam or adamw")
      ->default_str("adam")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--optimizer-config", job.optimizerJson,
                 "optimizer options as a JSON file (kind, momentum, nesterov, betas, eps, "
                 "weight_decay, frozen); replaces --optimizer/--momentum/--weight-decay");
  app.add_option("--lr", job.lr, "learning rate (default 1e-4 for QAT, 1e-3 with --float)")
      ->check(CLI::PositiveNumber);
  app.add_option("--momentum", job.momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0));
  app.add_flag("--nesterov", job.nesterov, "SGD Nesterov momentum");
  app.add_option("--weight-decay", job.weightDecay, "L2 weight decay (AdamW: decoupled)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--frozen", job.frozen, "parameters not to train (glob on names, repeatable)");
  app.add_option("--schedule", job.schedule,
                 "learning-rate schedule over steps: constant, step, "
                 "multistep, cosine (to --eta-min at the last step)")
      ->default_str("constant")
      ->check(CLI::IsMember({"constant", "step", "multistep", "cosine"}));
  app.add_option("--schedule-config", job.scheduleJson,
                 "schedule as a JSON file (kind, lr, unit, "
                 "t_max, milestones, warmup...)");
  app.add_option("--warmup", job.warmup, "linear warmup steps")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--step-size", job.stepSize, "step schedule: steps between decays")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--milestones", job.milestones, "multistep schedule: steps of the decays");
  app.add_option("--gamma", job.gamma, "step/multistep decay factor")->check(CLI::PositiveNumber);
  app.add_option("--eta-min", job.etaMin, "cosine: final learning rate")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--clip-grad-norm", opt.clipGradNorm, "clip the global gradient norm")
      ->check(CLI::PositiveNumber);
  app.add_option("--clip-grad-value", opt.clipGradValue, "clamp each gradient element")
      ->check(CLI::PositiveNumber);
  app.add_option("--label-smoothing", opt.labelSmoothing, "cross-entropy label smoothing")
      ->check(CLI::Range(0.0, 0.999));
  app.add_option("--freeze-bn-after", opt.freezeBnAfter,
                 "from this epoch on (0-based), BatchNorm uses and keeps its running statistics")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  app.add_option("--scale-mode", job.scaleMode,
                 "QAT scales that are not fixed: ema (moving "
                 "min/max), lsq (learned) or fixed; default: the "
                 "qconfig's")
      ->check(CLI::IsMember({"ema", "lsq", "fixed"}));
  app.add_option("--float-bn", job.floatBnPath,
                 "QAT: the training-mode float model (with "
                 "BatchNormalization) the QDQ model was calibrated from; "
                 "its Conv+BN pairs train as PyTorch's ConvBn QAT modules");
  app.add_option("--checkpoint", job.checkpointPath,
                 "checkpoint file written after each epoch (default: "
                 "OUT.ckpt)");
  app.add_option("--checkpoint-every", opt.checkpointEvery, "also checkpoint every N steps")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--resume", job.resumePath, "continue from a checkpoint of the same command");
  app.add_flag("--reference", job.reference, "reference kernels only (slow; for debugging)");
  app.add_flag("--json", json, "print a JSON summary on stdout");
  app.add_flag("-q,--quiet", quiet, "no progress or info on stderr");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-qat", argc, argv);
  hq::tool::applyVerbosity(quiet, verbose);
  for (const CLI::Option* o : app.get_options()) {
    if (o->count() > 0 && !o->get_lnames().empty()) job.given.insert("--" + o->get_lnames()[0]);
  }
  job.command = lineage(argc, argv);
  opt.progress = !quiet && !json;
  if (!json && !quiet) {
    opt.print = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
  }

  return hq::tool::runMain("hq-qat", [&]() -> hq::Status {
    HQ_ASSIGN_OR_RETURN(hq::train::TrainJobResult r, hq::train::runTrainJob(job));
    const hq::train::TrainResult& t = r.result;
    if (json) {
      hq::OrderedJson j = r.toJson(job);
      struct rusage ru {};
      getrusage(RUSAGE_SELF, &ru);
      j["peak_rss_mib"] = ru.ru_maxrss / 1024.0;
      std::printf("%s\n", j.dump(2).c_str());
    } else if (!quiet && r.evaluated) {
      std::printf("Best: epoch %lld, Acc@1 %.3f Acc@5 %.3f -> %s\n",
                  static_cast<long long>(t.bestEpoch), t.bestTop1, t.bestTop5, job.outPath.c_str());
    } else if (!quiet) {
      std::printf("Trained %lld epochs -> %s\n", static_cast<long long>(t.epochs.size()),
                  job.outPath.c_str());
    }
    return hq::Status::ok();
  });
}
