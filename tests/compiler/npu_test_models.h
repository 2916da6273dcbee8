// Integer models and compiles for the tests of the NPU side (compiler, simulator, reports):
// fmnist_cnn from its QDQ fixture, mobilenetv2_32 calibrated on a few Fashion-MNIST images,
// compileModel with the usual options, and the seed's mobilenetv2_32 layer table.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "compiler/compile.h"
#include "data/dataset.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant/convert.h"
#include "quant/qconfig.h"

namespace hq::testing {

/// fmnist_cnn's integer model: tests/fixtures/convert/fmnist_cnn.calib.onnx, converted.
inline std::unique_ptr<Graph> fmnistIntModel() {
  auto qdq = importOnnxFile(std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx");
  REQUIRE(qdq.isOk());
  auto g = convertToInteger(**qdq);
  REQUIRE(g.isOk());
  return std::move(*g);
}

/// mobilenetv2_32 (the shared model) calibrated with the default qconfig on the first `images`
/// images of `spec` (no bias correction), converted to an integer model; nullptr after a WARN
/// when the shared model or the dataset is missing (the test then skips).
inline std::unique_ptr<Graph> mobilenetIntModel(
    int64_t images = 4, const std::string& spec = "fashion-mnist-calib-32") {
  const std::string path = std::string(HQ_SHARED_MODELS) + "/mobilenetv2_32.float.onnx";
  if (!std::filesystem::exists(path)) {
    WARN(path << " not found; skipped");
    return nullptr;
  }
  auto float_model = importOnnxFile(path);
  REQUIRE(float_model.isOk());
  DatasetOptions dopt;
  dopt.limit = images;
  auto data = openDataset(spec, dopt);
  if (!data.isOk()) {
    WARN(spec << " unavailable (" << data.status().message() << "); skipped");
    return nullptr;
  }
  CalibOptions copt;
  copt.batchSize = images;
  copt.progress = false;
  copt.biasCorrection = BiasCorrectionMode::kOff;
  auto calib = calibrate(**float_model, **data, QConfig::defaults(), copt);
  REQUIRE(calib.isOk());
  auto g = convertToInteger(*calib->model);
  REQUIRE(g.isOk());
  return std::move(*g);
}

/// compileModel for march `march` at `level`, `batch` frames, input `source`; must succeed.
inline CompileResult compileFor(const Graph& g, int level, int64_t batch = 1,
                                InputSource source = InputSource::kDdr,
                                const char* march = "bayes") {
  auto m = loadMarch(march);
  REQUIRE(m.isOk());
  CompileOptions o;
  o.optLevel = level;
  o.batch = batch;
  o.inputSource = source;
  auto r = compileModel(g, *m, o);
  INFO(r.status().message());
  REQUIRE(r.isOk());
  return std::move(*r);
}

/// (name, ops per run at batch 256) rows of tests/fixtures/compiler/seed_mobilenetv2_layers.txt:
/// the seed's perf report layer table for mobilenetv2_32, in order.
inline std::vector<std::pair<std::string, int64_t>> seedMobilenetLayers() {
  std::ifstream in(std::string(HQ_TEST_DATA) + "/compiler/seed_mobilenetv2_layers.txt");
  REQUIRE(in.good());
  std::vector<std::pair<std::string, int64_t>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name;
    int64_t ops = -1;
    ls >> name >> ops;
    REQUIRE(ops >= 0);
    rows.emplace_back(name, ops);
  }
  return rows;
}

}  // namespace hq::testing
