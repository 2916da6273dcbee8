// hq-convert: QDQ model -> integer model (schemas/int-ops.md), optionally compared layer by
// layer with the fake-quant and float models.
//   hq-convert model.calib.onnx --out model.int.onnx [--compare DATA] [--fail-below COS]
#include <cstdio>
#include <filesystem>

#include "common/cli.h"
#include "common/tool_common.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "quant/compare.h"
#include "quant/convert.h"
#include "support/atomic_file.h"
#include "support/json.h"
#include "support/log.h"
#include "support/sha256.h"

int main(int argc, char** argv) {
  CLI::App app{"hq-convert: turn a QDQ (fake-quant) model into an integer model"};
  std::string model_path, out_path, compare_data, float_path, report_path;
  hq::CompareOptions copt;
  double fail_below = -2;
  bool json = false, quiet = false;
  int verbose = 0;
  app.add_option("model", model_path, "QDQ model from hq-calib or hq-qat (.onnx)")->required();
  app.add_option("--out", out_path, "output integer model (.onnx)")->required();
  app.add_option("--compare", compare_data, "compare float, fake-quant and integer models on "
                                            "this dataset spec (file or bundled name)");
  app.add_option("--limit", copt.limit, "images for --compare (0 = all)")
      ->default_val(1000)->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--float", float_path, "the float model for --compare (default: the one in the "
                                        "QDQ model's lineage, if present and unchanged)");
  app.add_option("--fail-below", fail_below, "with --compare: exit 1 when a layer's cosine "
                                             "similarity to the float model (to the fake-quant "
                                             "model without one) is below this")->check(CLI::Range(-1.0, 1.0));
  app.add_option("--report", report_path, "write the conversion (and comparison) report (JSON)");
  app.add_flag("--json", json, "print the report as JSON on stdout");
  app.add_flag("-q,--quiet", quiet, "no progress or info on stderr");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-convert", argc, argv);

  hq::tool::applyVerbosity(quiet, verbose);
  std::string gate_message;
  int rc = hq::tool::runMain("hq-convert", [&]() -> hq::Status {
    if (fail_below > -2 && compare_data.empty()) {
      return HQ_ERROR(kInvalidArgument, "--fail-below needs --compare");
    }
    for (const char* opt : {"--limit", "--float"}) {
      if (app.count(opt) && compare_data.empty()) {
        return HQ_ERROR(kInvalidArgument, "{} needs --compare", opt);
      }
    }
    std::error_code same_ec;
    if (std::filesystem::equivalent(model_path, out_path, same_ec)) {
      return HQ_ERROR(kInvalidArgument,
                      "--out {} is the input model: refusing to overwrite it", out_path);
    }
    HQ_ASSIGN_OR_RETURN(auto qdq, hq::importOnnxFile(model_path));
    hq::ConvertOptions opt;
    opt.commandLine = hq::tool::lineageCommand(argc, argv, {"--out", "--report"});
    HQ_ASSIGN_OR_RETURN(opt.inputDigests["model"], hq::sha256File(model_path));
    HQ_ASSIGN_OR_RETURN(hq::ConvertResult conv, hq::convertModel(*qdq, opt));
    for (const std::string& w : conv.warnings) hq::logWarn("{}", w);

    hq::OrderedJson report;
    report["model"] = model_path;
    report["out"] = out_path;
    report["source_nodes"] = conv.sourceNodes;
    report["fused_units"] = conv.fusedUnits;
    report["nodes"] = conv.nodesPerOp;
    report["warnings"] = conv.warnings;

    // Compare before writing anything: no output file on any error.
    std::string compare_text;
    if (!compare_data.empty()) {
      std::unique_ptr<hq::Graph> float_model;
      if (float_path.empty()) {
        float_path = hq::floatModelFromLineage(
            *qdq, std::filesystem::path(model_path).parent_path().string());
        if (float_path.empty()) {
          hq::logInfo("no float model in the QDQ model's lineage (or it changed): float columns "
                      "empty; give one with --float");
        }
      }
      if (!float_path.empty()) {
        HQ_ASSIGN_OR_RETURN(float_model, hq::importOnnxFile(float_path));
      }
      copt.data = compare_data;
      copt.progress = !quiet;
      HQ_ASSIGN_OR_RETURN(hq::CompareReport cmp,
                          hq::compareModels(float_model.get(), *qdq, *conv.model, copt));
      hq::OrderedJson c = cmp.toJson();
      c["data"] = compare_data;
      c["float_model"] = float_path;
      report["compare"] = std::move(c);
      compare_text = cmp.toText();
      if (fail_below > -2) {
        // The gate: cosine vs the float model (vs fake-quant when there is none).
        auto low = cmp.below(fail_below);
        if (!low.empty()) {
          const hq::LayerComparison& w = *low.front();  // layers are sorted worst first
          gate_message = fmt::format(
              "gate: {} layer(s) below cosine {} vs {}; worst '{}' (node '{}') at {:.6f}",
              low.size(), fail_below, float_model ? "float" : "fake-quant", w.tensor, w.node,
              float_model ? w.cosineFloat : w.cosineFakeQuant);
        }
      }
    }
    HQ_RETURN_IF_ERROR(hq::exportOnnxFile(*conv.model, out_path));
    if (!report_path.empty()) {
      if (hq::Status s = hq::writeFileAtomic(report_path, report.dump(2) + "\n"); !s.isOk()) {
        std::remove(out_path.c_str());
        return s;
      }
    }
    if (!json) {  // the result goes to stdout even with --quiet (which silences stderr)
      std::string summary;
      for (const auto& [op, count] : conv.nodesPerOp) {
        summary += (summary.empty() ? "" : ", ") + std::to_string(count) + " " + op;
      }
      std::printf("Converted %lld nodes (%lld fused units) -> %s: %s; %zu warning(s)\n",
                  static_cast<long long>(conv.sourceNodes), static_cast<long long>(conv.fusedUnits),
                  out_path.c_str(), summary.c_str(), conv.warnings.size());
      std::printf("%s", compare_text.c_str());
    }
    if (json) std::printf("%s\n", report.dump(2).c_str());
    return hq::Status::ok();
  });
  if (rc == 0 && !gate_message.empty()) {
    std::fprintf(stderr, "hq-convert: %s\n", gate_message.c_str());
    return 1;
  }
  return rc;
}
