// hq-viz: draw a model with Graphviz, like the seed's visualize_model(save_path=...).
//   hq-viz model.onnx --out model.svg            (float, QDQ or integer ONNX)
//   hq-viz model.hbm --out model.png             (layers, fused groups, costs from the timing
//   model)
#include <cstdio>

#include "common/cli.h"
#include "common/tool_common.h"
#include "report/viz.h"
#include "support/log.h"

int main(int argc, char** argv) {
  CLI::App app{"hq-viz: draw a model (ONNX or .hbm) as SVG, PNG or DOT with Graphviz"};
  std::string model_path, out_path, format_name, rankdir_name = "auto";
  bool quiet = false;
  int verbose = 0;
  app.add_option("model", model_path, "float, QDQ or integer ONNX model, or a compiled .hbm")
      ->required();
  app.add_option("--out", out_path, "output file (written atomically)")->required();
  app.add_option("--format", format_name,
                 "svg, dot or png (default: from --out's extension, "
                 "else svg)");
  app.add_option("--rankdir", rankdir_name,
                 "TB (top to bottom) or LR; default: TB below 40 boxes, LR from 40 on")
      ->default_str("auto");
  app.add_flag("-q,--quiet", quiet, "print nothing on success");
  app.add_flag("-v,--verbose", verbose, "more detail on stderr");
  HQ_PARSE_ARGS(app, "hq-viz", argc, argv);

  hq::tool::applyVerbosity(quiet, verbose);
  return hq::tool::runMain("hq-viz", [&]() -> hq::Status {
    hq::VizFormat format = hq::vizFormatForPath(out_path);
    if (!format_name.empty()) {
      HQ_ASSIGN_OR_RETURN(format, hq::parseVizFormat(format_name));
    }
    hq::VizOptions options;
    HQ_ASSIGN_OR_RETURN(options.rankDir, hq::parseVizRankDir(rankdir_name));
    HQ_ASSIGN_OR_RETURN(hq::VizSummary s,
                        hq::visualizeModelFile(model_path, out_path, format, options));
    if (!quiet) {
      std::printf("Wrote %s: %lld boxes, %lld edges", out_path.c_str(),
                  static_cast<long long>(s.nodes), static_cast<long long>(s.edges));
      if (s.hbm)
        std::printf(", %lld fused group%s", static_cast<long long>(s.clusters),
                    s.clusters == 1 ? "" : "s");
      std::printf("\n");
    }
    return hq::Status::ok();
  });
}
