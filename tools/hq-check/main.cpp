// hq-check: does a model run on a march, within its limits? Lists every offending node with
// the rule it breaks and a suggestion.
//   hq-check model.int.onnx --march bayes [--json]     (a QDQ model is converted in memory)
#include <cstdio>

#include "common/cli.h"
#include "common/tool_common.h"
#include "compiler/check.h"
#include "compiler/compile.h"
#include "compiler/march.h"
#include "support/log.h"

int main(int argc, char** argv) {
  CLI::App app{"hq-check: check an integer (or QDQ) model against a march's ops and limits"};
  std::string model_path, march_name = "bayes";
  bool json = false, quiet = false;
  int verbose = 0;
  app.add_option("model", model_path, "integer model (.int.onnx) or QDQ model (.calib.onnx)")
      ->required();
  app.add_option("--march", march_name, "march: a bundled name (bayes, bernoulli2) or a JSON file")
      ->default_str("bayes");
  app.add_flag("--json", json, "print the report as JSON on stdout");
  app.add_flag("-q,--quiet", quiet, "print only the verdict line and the diagnostics");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-check", argc, argv);

  hq::tool::applyVerbosity(quiet, verbose);
  bool supported = true;
  int rc = hq::tool::runMain("hq-check", [&]() -> hq::Status {
    HQ_ASSIGN_OR_RETURN(hq::March march, hq::loadMarch(march_name));
    HQ_ASSIGN_OR_RETURN(auto graph, hq::tool::loadIntegerModel(model_path));
    HQ_ASSIGN_OR_RETURN(hq::CheckReport report, hq::checkModel(*graph, march));
    supported = report.supported;
    if (json) {
      hq::OrderedJson j;
      j["model"] = model_path;
      const hq::OrderedJson body = report.toJson();
      for (const auto& [k, v] : body.items()) j[k] = v;
      std::printf("%s\n", j.dump(2).c_str());
      return hq::Status::ok();
    }
    const auto& s = report.summary;
    if (report.supported) {
      std::printf("This model is supported!\n");
    } else {
      std::printf("This model is not supported on march '%s': %zu problem(s)\n", march.name.c_str(),
                  report.diagnostics.size());
      for (const hq::Diagnostic& d : report.diagnostics) {
        std::printf("  %s\n", hq::formatDiagnostic(d).c_str());
      }
    }
    if (!quiet) {
      std::printf("March %s: %lld nodes, %lld parameters, %lld MACs per frame\n",
                  march.name.c_str(), static_cast<long long>(s.nodes),
                  static_cast<long long>(s.parameters), static_cast<long long>(s.macsPerFrame));
      for (const auto& [op, count] : s.opCounts) {
        std::printf("  %-20s %lld\n", op.c_str(), static_cast<long long>(count));
      }
    }
    return hq::Status::ok();
  });
  if (rc == 0 && !supported) return 1;
  return rc;
}
