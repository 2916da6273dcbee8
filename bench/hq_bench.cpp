// hq-bench: float inference throughput of hq's executor on one ONNX model, for
// bench/run_inference.sh. Random inputs (uniform [-1, 1), seed 0) of the model's input
// shape with the batch dim set; 3 warm-up batches, then batches until --seconds have
// passed (at least --min-iters); prints one JSON object with the median batch time.
//   hq-bench MODEL [--batch 256] [--threads 2] [--seconds 5] [--min-iters 10]
//            [--reference] [--profile]
// With --train: training throughput of train::GradGraph instead (bench/run_training.sh):
// each step is GradGraph::step (forward, softmax cross-entropy against random labels,
// backward) plus an Adam update (lr 1e-3, weight decay 1e-4) of every parameter. A QDQ model
// (hq-calib output) trains through fake quantization (QAT); --qdq only labels the JSON.
// Default batch 128; 2 warm-up steps. --profile prints per-node forward / backward times.
//   hq-bench MODEL --train [--batch 128] [--threads 2] [--seconds 5] [--min-iters 10]
//            [--qdq] [--float-bn FLOAT_BN_MODEL] [--reference] [--profile]
// --float-bn (QAT with BatchNorm kept, bench "qat-bn"): MODEL is the QDQ model and the Conv+BN
// pairs of the training-mode export FLOAT_BN_MODEL train as ConvBn QAT units
// (train::QatModel with QatOptions::bnModel, as hq-qat --float-bn).
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ir/onnx_import.h"
#include "runtime/executor.h"
#include "train/autograd.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/qat.h"

namespace {

int fail(const hq::Status& s) {
  std::fprintf(stderr, "hq-bench: %s\n", s.message().c_str());
  return 1;
}

/// User + system CPU seconds of this process so far (all threads).
double cpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double peakRssMib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

struct TrainArgs {
  std::string model;
  std::string floatBn;  // --float-bn: the training-mode float export (empty: none)
  int64_t batch = 128;
  int threads = 2, minIters = 10;
  double seconds = 5;
  bool reference = false, profile = false, qdq = false;
};

// The --train mode (see the file comment).
int runTraining(const TrainArgs& a) {
  using Clock = std::chrono::steady_clock;
  auto graph = hq::importOnnxFile(a.model);
  if (!graph.isOk()) return fail(graph.status());
  const hq::Value* in = (*graph)->inputs().at(0);
  hq::Shape shape = in->shape;
  if (shape.empty()) return fail(HQ_ERROR(kShape, "input '{}' has no shape", in->name));
  shape[0] = a.batch;
  for (int64_t d : shape) {
    if (d < 0) return fail(HQ_ERROR(kShape, "input '{}' has unknown dims", in->name));
  }
  omp_set_num_threads(a.threads);
  hq::train::AutogradOptions opts;
  opts.kernels.referenceOnly = a.reference;
  opts.profile = a.profile;
  auto t0 = Clock::now();
  std::unique_ptr<hq::Graph> bn_graph;
  std::unique_ptr<hq::train::QatModel> qat;
  hq::train::GradGraph* grad = nullptr;
  std::unique_ptr<hq::train::GradGraph> owned;
  if (!a.floatBn.empty()) {
    auto bn = hq::importOnnxFile(a.floatBn);
    if (!bn.isOk()) return fail(bn.status());
    bn_graph = std::move(*bn);
    hq::train::QatOptions qo;
    qo.bnModel = bn_graph.get();
    auto q = hq::train::QatModel::create(**graph, qo, opts);
    if (!q.isOk()) return fail(q.status());
    qat = std::move(*q);
    grad = &qat->grad();
  } else {
    auto gg = hq::train::GradGraph::create(**graph, opts);
    if (!gg.isOk()) return fail(gg.status());
    owned = std::move(*gg);
    grad = owned.get();
  }
  hq::train::OptimizerOptions oo;
  oo.kind = hq::train::OptimizerKind::kAdam;
  oo.weight_decay = 1e-4;
  auto opt = hq::train::Optimizer::create(oo);
  if (!opt.isOk()) return fail(opt.status());

  std::mt19937 rng(0);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  hq::Tensor x(hq::DType::kFloat32, shape);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  const std::vector<hq::Tensor> inputs = {x};
  std::vector<int64_t> labels(static_cast<size_t>(a.batch));
  int64_t classes = 0;
  double loss = 0;
  auto step = [&]() -> hq::Status {
    auto lossFn = [&](const hq::Tensor& logits) -> hq::Expected<hq::train::LossResult> {
      if (logits.rank() != 2 || logits.dim(0) != a.batch) {
        return HQ_ERROR(kShape, "the output must be [batch, classes], found {}",
                        hq::shapeString(logits.shape()));
      }
      if (classes == 0) {
        classes = logits.dim(1);
        std::uniform_int_distribution<int64_t> pick(0, classes - 1);
        for (int64_t& l : labels) l = pick(rng);
      }
      return hq::train::softmaxCrossEntropy(logits, labels);
    };
    HQ_ASSIGN_OR_RETURN(hq::train::StepResult r, grad->step(inputs, lossFn));
    loss = r.loss;
    std::vector<hq::train::ParamRef> params;
    for (const std::string& name : grad->parameterNames()) {
      params.push_back({name, grad->parameter(name), &r.grads.at(name)});
    }
    return opt->step(params, 1e-3);
  };
  if (auto s = step(); !s.isOk()) return fail(s);
  const double prepare_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (auto s = step(); !s.isOk()) return fail(s);
  grad->resetProfile();
  std::vector<double> times;
  auto start = Clock::now();
  const double cpu0 = cpuSeconds();
  while (static_cast<int>(times.size()) < a.minIters ||
         std::chrono::duration<double>(Clock::now() - start).count() < a.seconds) {
    auto s = Clock::now();
    if (auto st = step(); !st.isOk()) return fail(st);
    times.push_back(std::chrono::duration<double>(Clock::now() - s).count());
  }
  const double cpu_per_step = (cpuSeconds() - cpu0) / static_cast<double>(times.size());
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  if (a.profile) {
    std::vector<hq::train::NodeProfile> prof = grad->profile();
    double total = 0;
    for (const auto& p : prof) total += p.forwardSeconds + p.backwardSeconds;
    std::sort(prof.begin(), prof.end(), [](const auto& l, const auto& r) {
      return l.forwardSeconds + l.backwardSeconds > r.forwardSeconds + r.backwardSeconds;
    });
    const double steps = static_cast<double>(times.size());
    std::fprintf(stderr, "%9s %9s %6s  %-22s %s\n", "fwd ms", "bwd ms", "share", "kernel", "node");
    for (const auto& p : prof) {
      std::fprintf(stderr, "%9.3f %9.3f %5.1f%%  %-22s %s\n", 1e3 * p.forwardSeconds / steps,
                   1e3 * p.backwardSeconds / steps,
                   100 * (p.forwardSeconds + p.backwardSeconds) / std::max(total, 1e-12),
                   p.kernel.c_str(), p.node.c_str());
    }
    std::fprintf(stderr, "nodes total %.3f ms of %.3f ms per step\n", 1e3 * total / steps,
                 1e3 * median);
  }
  std::printf("{\"runtime\": \"hq%s\", \"mode\": \"%s\", \"model\": \"%s\", "
              "\"batch\": %lld, \"threads\": %d, \"iters\": %zu, \"ms_per_step\": %.3f, "
              "\"images_per_second\": %.1f, \"cpu_ms_per_step\": %.1f, \"prepare_s\": %.3f, "
              "\"final_loss\": %.4f, \"peak_rss_mib\": %.1f}\n",
              a.reference ? "-reference" : "",
              !a.floatBn.empty() ? "qat-bn" : a.qdq ? "qat" : "train", a.model.c_str(),
              static_cast<long long>(a.batch), a.threads, times.size(), 1e3 * median,
              a.batch / median, 1e3 * cpu_per_step, prepare_s, loss, peakRssMib());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hq-bench MODEL [--batch N] [--threads N] [--seconds S] "
                         "[--min-iters N] [--reference] [--profile] "
                         "[--train [--qdq] [--float-bn FLOAT_BN_MODEL]]\n");
    return 2;
  }
  std::string model = argv[1];
  int64_t batch = 256;
  int threads = 2, min_iters = 10;
  double seconds = 5;
  bool reference = false, profile = false, train = false, qdq = false, batch_set = false;
  std::string float_bn;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (a == "--batch") batch = std::stoll(next()), batch_set = true;
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--min-iters") min_iters = std::stoi(next());
    else if (a == "--reference") reference = true;
    else if (a == "--profile") profile = true;
    else if (a == "--train") train = true;
    else if (a == "--qdq") qdq = true;
    else if (a == "--float-bn") float_bn = next(), qdq = true;
    else {
      std::fprintf(stderr, "hq-bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (train) {
    TrainArgs t;
    t.model = model;
    t.batch = batch_set ? batch : 128;
    t.threads = threads;
    t.minIters = min_iters;
    t.seconds = seconds;
    t.reference = reference;
    t.profile = profile;
    t.qdq = qdq;
    t.floatBn = float_bn;
    return runTraining(t);
  }
  auto graph = hq::importOnnxFile(model);
  if (!graph.isOk()) return fail(graph.status());
  const hq::Value* in = (*graph)->inputs().at(0);
  hq::Shape shape = in->shape;
  if (shape.empty()) return fail(HQ_ERROR(kShape, "input '{}' has no shape", in->name));
  shape[0] = batch;
  for (int64_t d : shape) {
    if (d < 0) return fail(HQ_ERROR(kShape, "input '{}' has unknown dims", in->name));
  }
  hq::Tensor x(hq::DType::kFloat32, shape);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);

  hq::ExecutorOptions opts;
  opts.threads = threads;
  opts.kernels.referenceOnly = reference;
  opts.profile = profile;
  auto t0 = std::chrono::steady_clock::now();
  auto ex = hq::Executor::create(**graph, opts);
  if (!ex.isOk()) return fail(ex.status());
  std::vector<hq::Tensor> inputs = {x};
  auto first = (*ex)->run(inputs);  // builds the plan
  if (!first.isOk()) return fail(first.status());
  double prepare_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < 2; ++i) {
    if (auto r = (*ex)->run(inputs); !r.isOk()) return fail(r.status());
  }
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (static_cast<int>(times.size()) < min_iters ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    auto s = std::chrono::steady_clock::now();
    auto r = (*ex)->run(inputs);
    if (!r.isOk()) return fail(r.status());
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted[sorted.size() / 2];
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  if (profile) {
    double total = 0;
    for (const auto& p : (*ex)->profile()) total += p.seconds;
    for (const auto& p : (*ex)->profile()) {
      std::fprintf(stderr, "%8.3f ms %5.1f%%  %-16s %s\n", 1e3 * p.seconds / std::max<int64_t>(1, p.runs),
                   100 * p.seconds / total, p.kernel.c_str(), p.node.c_str());
    }
  }
  std::printf("{\"runtime\": \"hq%s\", \"model\": \"%s\", \"batch\": %lld, \"threads\": %d, "
              "\"iters\": %zu, \"median_batch_ms\": %.3f, \"img_per_s\": %.1f, "
              "\"prepare_s\": %.3f, \"arena_mib\": %.1f, \"peak_rss_mib\": %.1f}\n",
              reference ? "-reference" : "", model.c_str(), static_cast<long long>(batch), threads,
              times.size(), 1e3 * median, batch / median, prepare_s,
              (*ex)->arenaBytes() / 1048576.0, ru.ru_maxrss / 1024.0);
  return 0;
}
