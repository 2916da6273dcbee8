// hq-bench: float inference throughput of hq's executor on one ONNX model, for
// bench/run_inference.sh. Random inputs (uniform [-1, 1), seed 0) of the model's input
// shape with the batch dim set; 3 warm-up batches, then batches until --seconds have
// passed (at least --min-iters); prints one JSON object with the median batch time.
//   hq-bench MODEL [--batch 256] [--threads 2] [--seconds 5] [--min-iters 10]
//            [--reference] [--profile]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ir/onnx_import.h"
#include "runtime/executor.h"

namespace {

int fail(const hq::Status& s) {
  std::fprintf(stderr, "hq-bench: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hq-bench MODEL [--batch N] [--threads N] [--seconds S] "
                         "[--min-iters N] [--reference] [--profile]\n");
    return 2;
  }
  std::string model = argv[1];
  int64_t batch = 256;
  int threads = 2, min_iters = 10;
  double seconds = 5;
  bool reference = false, profile = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (a == "--batch") batch = std::stoll(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--min-iters") min_iters = std::stoi(next());
    else if (a == "--reference") reference = true;
    else if (a == "--profile") profile = true;
    else {
      std::fprintf(stderr, "hq-bench: unknown option %s\n", a.c_str());
      return 2;
    }
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
