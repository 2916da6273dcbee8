// hq-calib-profile: where hq-calib's calibration time goes, phase by phase, with the
// library's public pieces (the same ones calibrate() in lib/quant/calibrate.cpp strings
// together): import + prepareForQuantization + planQuantization, loading the calibration
// batches, the float forward passes with and without keeping every activation point's
// tensor (ExecutorOptions::keep), and the observers' work per batch (the NaN/min/max scan
// and the histogram binning, timed apart). Prints one JSON object; with --steps also the
// executor's per-kernel time with and without keep.
//   hq-calib-profile MODEL --data SPEC [--batch 256] [--threads 2] [--limit 0] [--steps]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/histogram.h"
#include "quant/observer.h"
#include "quant/qconfig.h"
#include "quant/rules.h"
#include "runtime/executor.h"
#include "support/json.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int fail(const hq::Status& s) {
  std::fprintf(stderr, "hq-calib-profile: %s\n", s.message().c_str());
  return 1;
}

/// Kernel name -> seconds, summed over steps.
std::map<std::string, double> byKernel(const hq::Executor& ex) {
  std::map<std::string, double> m;
  for (const hq::StepProfile& p : ex.profile()) m[p.kernel] += p.seconds;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hq-calib-profile MODEL --data SPEC [--batch N] [--threads N] "
                         "[--limit N] [--steps]\n");
    return 2;
  }
  std::string model = argv[1], data;
  int64_t batch = 256, limit = 0;
  int threads = 2;
  bool steps = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (a == "--data") data = next();
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--limit") limit = std::stoll(next());
    else if (a == "--steps") steps = true;
    else {
      std::fprintf(stderr, "hq-calib-profile: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  omp_set_num_threads(threads);
  hq::OrderedJson out;

  auto t = Clock::now();
  auto imported = hq::importOnnxFile(model);
  if (!imported.isOk()) return fail(imported.status());
  auto graph = (*imported)->clone();
  if (auto s = hq::prepareForQuantization(*graph); !s.isOk()) return fail(s);
  auto qconfig = hq::QConfig::load("default");
  if (!qconfig.isOk()) return fail(qconfig.status());
  auto plan = hq::planQuantization(*graph, *qconfig);
  if (!plan.isOk()) return fail(plan.status());
  std::vector<std::string> keep;
  std::vector<std::unique_ptr<hq::Histogram>> hists;
  int64_t inputs = 0;
  for (const hq::QuantPoint& p : plan->points) {
    if (p.kind == hq::QuantPoint::Kind::kOutput) keep.push_back(p.value->name);
    if (p.kind == hq::QuantPoint::Kind::kInput) ++inputs;
  }
  for (size_t i = 0; i < keep.size() + static_cast<size_t>(inputs); ++i) {
    hists.push_back(std::make_unique<hq::Histogram>(2048));
  }
  out["import_plan_s"] = since(t);
  out["activation_points"] = keep.size() + static_cast<size_t>(inputs);

  t = Clock::now();
  hq::DatasetOptions dopt;
  dopt.limit = limit;
  auto dataset = hq::openDataset(data, dopt);
  if (!dataset.isOk()) return fail(dataset.status());
  std::vector<hq::Tensor> batches;
  int64_t images = 0;
  {
    hq::LoaderOptions lo;
    lo.batchSize = batch;
    hq::BatchLoader loader(**dataset, lo);
    while (true) {
      auto b = loader.next();
      if (!b.isOk()) return fail(b.status());
      if (!*b) break;
      images += (*b)->images.dim(0);
      batches.push_back((*b)->images);
    }
  }
  out["images"] = images;
  out["load_data_s"] = since(t);

  // Float forward passes without keep: the floor for calibration.
  hq::ExecutorOptions plain_opts;
  plain_opts.threads = threads;
  plain_opts.profile = steps;
  auto plain = hq::Executor::create(*graph, plain_opts);
  if (!plain.isOk()) return fail(plain.status());
  hq::ExecutorOptions keep_opts = plain_opts;
  keep_opts.keep = keep;
  auto kept = hq::Executor::create(*graph, keep_opts);
  if (!kept.isOk()) return fail(kept.status());
  // Build both plans first (first run per shape), then time.
  for (auto* ex : {&*plain, &*kept}) {
    for (const hq::Tensor& b : {batches.front(), batches.back()}) {
      if (auto r = (*ex)->run({b}); !r.isOk()) return fail(r.status());
    }
  }
  auto plainProfileBefore = byKernel(**plain);
  auto keptProfileBefore = byKernel(**kept);

  t = Clock::now();
  for (const hq::Tensor& b : batches) {
    if (auto r = (*plain)->run({b}); !r.isOk()) return fail(r.status());
  }
  out["forward_s"] = since(t);

  double run_s = 0, scan_s = 0, bin_s = 0;
  int64_t values = 0;
  for (const hq::Tensor& b : batches) {
    t = Clock::now();
    if (auto r = (*kept)->run({b}); !r.isOk()) return fail(r.status());
    run_s += since(t);
    std::vector<const hq::Tensor*> tensors;
    for (int64_t i = 0; i < inputs; ++i) tensors.push_back(&b);
    for (const std::string& name : keep) tensors.push_back(&(*kept)->kept().at(name));
    for (size_t i = 0; i < tensors.size(); ++i) {
      const float* d = tensors[i]->data<float>();
      const int64_t n = tensors[i]->numel();
      t = Clock::now();
      hq::BatchStats st = hq::scanBatch(d, n);
      scan_s += since(t);
      t = Clock::now();
      hists[i]->add(d, n, st);
      bin_s += since(t);
      values += n;
    }
  }
  out["forward_keep_s"] = run_s;
  out["observe_scan_s"] = scan_s;
  out["observe_histogram_s"] = bin_s;
  out["observed_values"] = values;
  out["observed_values_per_image"] = images ? values / images : 0;
  out["histogram_ns_per_value"] = values ? 1e9 * bin_s / static_cast<double>(values) : 0.0;
  out["scan_ns_per_value"] = values ? 1e9 * scan_s / static_cast<double>(values) : 0.0;
  out["calib_loop_img_per_s"] = images / (run_s + scan_s + bin_s);
  out["forward_img_per_s"] = images / out["forward_s"].get<double>();
  out["arena_bytes_plain"] = (*plain)->arenaBytes();
  out["arena_bytes_keep"] = (*kept)->arenaBytes();

  if (steps) {
    hq::OrderedJson k;
    auto plainAfter = byKernel(**plain);
    auto keptAfter = byKernel(**kept);
    for (const auto& [name, s] : keptAfter) {
      k[name]["keep_s"] = s - keptProfileBefore[name];
    }
    for (const auto& [name, s] : plainAfter) {
      k[name]["plain_s"] = s - plainProfileBefore[name];
    }
    out["kernels"] = k;
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
