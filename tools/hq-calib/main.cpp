// hq-calib: post-training quantization. Observers watch every quantization point while
// calibration data flows through the float model; the output is a QDQ ONNX model.
//   hq-calib model.float.onnx --qconfig q.json --data calib.json --out model.calib.onnx
#include <cstdio>

#include "common/cli.h"
#include "common/tool_common.h"
#include "data/dataset.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "support/atomic_file.h"
#include "support/log.h"
#include "support/sha256.h"

int main(int argc, char** argv) {
  CLI::App app{"hq-calib: calibrate a float ONNX model and write a QDQ (fake-quant) model"};
  std::string model_path, qconfig_path = "default", data_spec, out_path, report_path, march;
  std::string bias_correction = "weights";
  hq::CalibOptions calib;
  int64_t limit = 0;
  bool json = false, quiet = false;
  int verbose = 0;
  app.add_option("model", model_path, "float model (.onnx)")->required();
  app.add_option("--qconfig", qconfig_path,
                 "qconfig JSON file, or a bundled one (default, default-32bit-out)")
      ->default_str("default");
  app.add_option("--data", data_spec, "calibration dataset spec (file or bundled name, e.g. "
                                      "fashion-mnist-calib)")
      ->required();
  app.add_option("--out", out_path, "output QDQ model (.onnx)")->required();
  app.add_option("--report", report_path, "write the per-tensor calibration report (JSON)");
  app.add_option("--observer", calib.observer,
                 "override the activation observer: minmax, ema_minmax, percentile, kl, mse, "
                 "or all (try each, keep the best on held-out calibration data)")
      ->check(CLI::IsMember({"minmax", "ema_minmax", "percentile", "kl", "mse", "all"}));
  app.add_option("--bias-correction", bias_correction,
                 "correct each Conv/Gemm bias for the mean shift of quantizing its weights "
                 "(weights), also its input (local: one more pass over part of the data), or off")
      ->check(CLI::IsMember({"off", "weights", "local"}))
      ->default_str("weights");
  app.add_option("--march", march,
                 "target march (bayes, bernoulli2: configs/marches/); the qconfig's dtypes must "
                 "be ones it runs");
  app.add_option("--batch", calib.batchSize, "images per batch")->default_val(256)->check(CLI::Range(1, 1 << 20));
  app.add_option("--limit", limit, "use only the first N calibration images (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--threads", calib.threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app.add_flag("--json", json, "print a JSON summary on stdout");
  app.add_flag("-q,--quiet", quiet, "no progress or info on stderr");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-calib", argc, argv);

  hq::tool::applyVerbosity(quiet, verbose);
  return hq::tool::runMain("hq-calib", [&]() -> hq::Status {
    HQ_ASSIGN_OR_RETURN(auto graph, hq::importOnnxFile(model_path));
    HQ_ASSIGN_OR_RETURN(hq::QConfig qconfig, hq::QConfig::load(qconfig_path));
    if (!march.empty()) qconfig.setMarch(march);  // --march wins over the qconfig's
    std::vector<std::string> names, ops, inputs;
    for (const hq::Node* n : graph->nodes()) {
      names.push_back(n->name);
      ops.push_back(n->opType);
    }
    for (const hq::Value* v : graph->inputs()) inputs.push_back(v->name);
    for (const std::string& w : qconfig.unusedSelectors(names, ops, inputs)) {
      hq::logWarn("{}: {}", qconfig_path, w);
    }
    hq::DatasetOptions dopt;
    dopt.limit = limit;
    HQ_ASSIGN_OR_RETURN(auto dataset, hq::openDataset(data_spec, dopt));

    HQ_ASSIGN_OR_RETURN(calib.biasCorrection, hq::parseBiasCorrectionMode(bias_correction));
    calib.progress = !quiet;
    calib.commandLine = hq::tool::lineageCommand(argc, argv, {"--out", "--report"});
    HQ_ASSIGN_OR_RETURN(calib.inputDigests["model"], hq::sha256File(model_path));
    if (auto q = hq::sha256File(qconfig_path)) calib.inputDigests["qconfig"] = *q;
    else calib.inputDigests["qconfig"] = "builtin:" + qconfig_path;
    if (auto d = hq::sha256File(data_spec)) calib.inputDigests["data"] = *d;
    else calib.inputDigests["data"] = "builtin:" + data_spec;
    if (!march.empty()) calib.inputDigests["march"] = march;

    HQ_ASSIGN_OR_RETURN(auto result, hq::calibrate(*graph, *dataset, qconfig, calib));
    // The report first: if the model cannot be written, the report is removed again, so a
    // failed run leaves neither file.
    if (!report_path.empty()) {
      HQ_RETURN_IF_ERROR(hq::writeFileAtomic(report_path, result.report.dump(2) + "\n"));
    }
    if (hq::Status s = hq::exportOnnxFile(*result.model, out_path); !s.isOk()) {
      if (!report_path.empty()) std::remove(report_path.c_str());
      return s;
    }
    const auto& s = result.report["summary"];
    if (json) {
      hq::OrderedJson j = s;
      j["model"] = model_path;
      j["out"] = out_path;
      std::printf("%s\n", j.dump(2).c_str());
    } else if (!quiet) {
      std::printf("Calibration: %lld images, %lld activation + %lld weight quantization points "
                  "(%lld fused units)%s -> %s (%.0f img/s)\n",
                  static_cast<long long>(result.images),
                  static_cast<long long>(s["activation_points"].get<int64_t>()),
                  static_cast<long long>(s["weight_points"].get<int64_t>()),
                  static_cast<long long>(s["fused_units"].get<int64_t>()),
                  result.chosenObserver.empty() ? "" : (", observer " + result.chosenObserver).c_str(),
                  out_path.c_str(), s["images_per_s"].get<double>());
    }
    return hq::Status::ok();
  });
}
