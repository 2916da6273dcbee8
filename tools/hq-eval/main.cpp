// hq-eval: top-1 / top-5 accuracy and throughput of a model on a labeled dataset.
//   hq-eval MODEL.onnx --data SPEC.json [--batch N] [--limit N] [--threads N] [--json]
//   hq-eval MODEL.hbm --data SPEC.json ...     (a compiled model, run on the NPU simulator)
#include <cstdio>

#include "common/cli.h"
#include "common/tool_common.h"
#include "data/dataset.h"
#include "compiler/hbm.h"
#include "eval/evaluate.h"
#include "ir/onnx_import.h"
#include "sim/evaluate_hbm.h"
#include "support/atomic_file.h"

int main(int argc, char** argv) {
  CLI::App app{"hq-eval: accuracy (top-1, top-5) and images/s of a model on a labeled dataset"};
  std::string model_path, data_spec, dump_outputs, label, report;
  hq::EvalOptions eval;
  int64_t limit = 0;
  bool json = false, quiet = false, reference = false;
  int verbose = 0;
  app.add_option("model", model_path, "model file (.onnx, or a compiled .hbm)")->required();
  app.add_option("--data", data_spec,
                 "dataset spec: a JSON file, or the name of a bundled spec "
                 "(fashion-mnist-test, fashion-mnist-test-32, ...)")
      ->required();
  app.add_option("--batch", eval.batchSize, "images per batch")->default_val(256)->check(CLI::Range(1, 1 << 20));
  app.add_option("--limit", limit, "evaluate only the first N images (0 = all)")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--threads", eval.threads, "worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app.add_option("--dump-outputs", dump_outputs, "write all logits to this .npy file");
  app.add_option("--dump-tensors", eval.dumpTensors,
                 "intermediate tensors (or nodes: their first output) to write as .npy, "
                 "comma-separated; integer models give int8/int16/int32 arrays")
      ->delimiter(',');
  app.add_option("--dump-dir", eval.dumpDir, "folder for --dump-tensors files")->default_val(".");
  app.add_option("--label", label, "name printed before the result (default: the model path)");
  app.add_option("--report", report, "also write the JSON result to this file");
  app.add_flag("--reference", reference, "use only the reference kernels (slow; the test oracle)");
  app.add_flag("--json", json, "print one JSON object on stdout");
  app.add_flag("-q,--quiet", quiet, "no progress or info on stderr");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr (-vv for debug)");
  HQ_PARSE_ARGS(app, "hq-eval", argc, argv);

  hq::tool::applyVerbosity(quiet, verbose);
  return hq::tool::runMain("hq-eval", [&]() -> hq::Status {
    const bool hbm = hq::looksLikeHbm(model_path);
    hq::hbm::Model compiled;
    std::unique_ptr<hq::Graph> graph;
    if (hbm) {
      HQ_ASSIGN_OR_RETURN(compiled, hq::readHbm(model_path));
    } else {
      HQ_ASSIGN_OR_RETURN(graph, hq::importOnnxFile(model_path));
    }
    hq::DatasetOptions dopt;
    dopt.limit = limit;
    HQ_ASSIGN_OR_RETURN(auto dataset, hq::openDataset(data_spec, dopt));
    eval.referenceOnly = reference;
    eval.modelName = model_path;
    eval.dumpOutputs = dump_outputs;
    eval.progress = !quiet;
    hq::EvalResult result;
    if (hbm) {
      HQ_ASSIGN_OR_RETURN(result, hq::evaluateHbm(compiled, *dataset, eval));
    } else {
      HQ_ASSIGN_OR_RETURN(result, hq::evaluateModel(*graph, *dataset, eval));
    }
    hq::OrderedJson j;
    j["model"] = model_path;
    j["data"] = dataset->describe();
    hq::OrderedJson numbers = result.toJson();
    for (auto& [k, v] : numbers.items()) j[k] = v;
    if (!report.empty()) HQ_RETURN_IF_ERROR(hq::writeFileAtomic(report, j.dump(2) + "\n"));
    if (json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      // The seed's line: "Calibration: evaluation Acc@1 77.890 Acc@5 98.640".
      std::printf("%s: evaluation Acc@1 %.3f Acc@5 %.3f  (%lld images, %.0f img/s)\n",
                  (label.empty() ? model_path : label).c_str(), result.top1, result.top5,
                  static_cast<long long>(result.count), result.imagesPerSecond);
    }
    return hq::Status::ok();
  });
}
