// hq-convert: QDQ model -> integer model (schemas/int-ops.md), optionally compared layer by
// layer with the fake-quant and float models.
//   hq-convert model.calib.onnx --out model.int.onnx [--compare DATA] [--fail-below COS]
#include <algorithm>
#include <cmath>
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
  app.add_option("--fail-below", fail_below, "with --compare: exit 1 when a layer's cosine vs "
                                             "fake-quant is below this")->check(CLI::Range(-1.0, 1.0));
  app.add_option("--report", report_path, "write the conversion (and comparison) report (JSON)");
  app.add_flag("--json", json, "print the report as JSON on stdout");
  app.add_flag("-q,--quiet", quiet, "no progress or info on stderr");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-convert", argc, argv);

  hq::tool::applyVerbosity(quiet, verbose);
  bool gate_failed = false;
  int rc = hq::tool::runMain("hq-convert", [&]() -> hq::Status {
    if (fail_below > -2 && compare_data.empty()) {
      return HQ_ERROR(kInvalidArgument, "--fail-below needs --compare");
    }
    HQ_ASSIGN_OR_RETURN(auto qdq, hq::importOnnxFile(model_path));
    hq::ConvertOptions opt;
    opt.commandLine = hq::tool::lineageCommand(argc, argv, {"--out", "--report"});
    HQ_ASSIGN_OR_RETURN(opt.inputDigests["model"], hq::sha256File(model_path));
    HQ_ASSIGN_OR_RETURN(hq::ConvertResult conv, hq::convertModel(*qdq, opt));
    HQ_RETURN_IF_ERROR(hq::exportOnnxFile(*conv.model, out_path));

    hq::OrderedJson report;
    report["model"] = model_path;
    report["out"] = out_path;
    report["source_nodes"] = conv.sourceNodes;
    report["fused_units"] = conv.fusedUnits;
    report["nodes"] = conv.nodesPerOp;
    report["warnings"] = conv.warnings;
    std::string summary;
    for (const auto& [op, count] : conv.nodesPerOp) {
      summary += (summary.empty() ? "" : ", ") + std::to_string(count) + " " + op;
    }
    for (const std::string& w : conv.warnings) hq::logWarn("{}", w);
    if (!json && !quiet) {
      std::printf("Converted %lld nodes (%lld fused units) -> %s: %s; %zu warning(s)\n",
                  static_cast<long long>(conv.sourceNodes), static_cast<long long>(conv.fusedUnits),
                  out_path.c_str(), summary.c_str(), conv.warnings.size());
    }

    if (!compare_data.empty()) {
      std::unique_ptr<hq::Graph> float_model;
      if (float_path.empty()) {
        float_path = hq::floatModelFromLineage(
            *qdq, std::filesystem::path(model_path).parent_path().string());
        if (float_path.empty()) hq::logInfo("no float model found in the lineage: float columns empty");
      }
      if (!float_path.empty()) {
        auto f = hq::importOnnxFile(float_path);
        if (!f.isOk()) {
          std::remove(out_path.c_str());
          return f.status();
        }
        float_model = std::move(*f);
      }
      copt.data = compare_data;
      copt.progress = !quiet;
      auto compared = hq::compareModels(float_model.get(), *qdq, *conv.model, copt);
      if (!compared.isOk()) {  // no output on any error
        std::remove(out_path.c_str());
        return compared.status();
      }
      const hq::CompareReport& cmp = *compared;
      hq::OrderedJson layers = hq::OrderedJson::array();
      for (const auto& l : cmp.layers) {
        layers.push_back({{"tensor", l.tensor}, {"node", l.node}, {"op", l.op}, {"scale", l.scale},
                          {"cosine_float", l.cosineFloat}, {"sqnr_float_db", l.sqnrFloatDb},
                          {"cosine_fake_quant", l.cosineFakeQuant},
                          {"sqnr_fake_quant_db", l.sqnrFakeQuantDb}, {"max_err_lsb", l.maxErrLsb},
                          {"mismatch_fraction", l.mismatchFraction}});
      }
      report["compare"] = {{"data", compare_data}, {"float_model", float_path},
                           {"images", cmp.images}, {"top1_float", cmp.top1Float},
                           {"top1_fake_quant", cmp.top1FakeQuant}, {"top1_int", cmp.top1Int},
                           {"top1_disagreement", cmp.top1Disagreement}, {"layers", layers}};
      if (!json && !quiet) {
        int tw = 6, ow = 2;  // column widths: the longest tensor name and op type
        for (const auto& l : cmp.layers) {
          tw = std::max(tw, static_cast<int>(l.tensor.size()));
          ow = std::max(ow, static_cast<int>(l.op.size()));
        }
        std::printf("%-*s  %-*s %10s %10s %9s %9s\n", tw, "tensor", ow, "op", "cos float",
                    "cos fq", "SQNR dB", "max LSB");
        for (const auto& l : cmp.layers) {
          std::printf("%-*s  %-*s %10.6f %10.6f %9.2f %9.1f\n", tw, l.tensor.c_str(), ow,
                      l.op.c_str(), l.cosineFloat, l.cosineFakeQuant, l.sqnrFakeQuantDb,
                      l.maxErrLsb);
        }
        std::printf("top-1 on %lld images: float %.2f%%, fake-quant %.2f%%, integer %.2f%%; "
                    "fake-quant vs integer disagree on %.2f%%\n",
                    static_cast<long long>(cmp.images), cmp.top1Float, cmp.top1FakeQuant,
                    cmp.top1Int, 100.0 * cmp.top1Disagreement);
      }
      const hq::LayerComparison* worst = nullptr;  // the gate names the lowest cosine
      int below = 0;
      for (const auto& l : cmp.layers) {
        if (fail_below <= -2 || l.cosineFakeQuant >= fail_below) continue;
        ++below;
        if (!worst || !(l.cosineFakeQuant >= worst->cosineFakeQuant)) worst = &l;
      }
      if (worst) {
        std::fprintf(stderr, "hq-convert: gate: %d layer(s) below cosine %.6f vs fake-quant; worst "
                     "'%s' (%s) at %.6f\n", below, fail_below, worst->tensor.c_str(),
                     worst->node.c_str(), worst->cosineFakeQuant);
        gate_failed = true;
      }
    }
    if (!report_path.empty()) {
      if (hq::Status s = hq::writeFileAtomic(report_path, report.dump(2) + "\n"); !s.isOk()) {
        std::remove(out_path.c_str());
        return s;
      }
    }
    if (json) std::printf("%s\n", report.dump(2).c_str());
    return hq::Status::ok();
  });
  if (rc == 0 && gate_failed) return 1;
  return rc;
}
