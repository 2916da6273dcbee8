// hq-eval on a compiled model (.hbm, run on the functional simulator): the same line and, for
// a DDR input, the same logits bit for bit as hq-eval on the integer model it came from;
// batches padded to the model's batch; the host-side quantization helpers.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

#include "sim/evaluate_hbm.h"
#include "support/atomic_file.h"
#include "support/json.h"
#include "tools/tool_runner.h"

using hq::testing::lineCount;
using hq::testing::runTool;
using hq::testing::scratchDir;
namespace fs = std::filesystem;

namespace {

const std::string kQdq = std::string(HQ_TEST_DATA) + "/convert/fmnist_cnn.calib.onnx";

std::string slurp(const std::string& path) {
  auto bytes = hq::readFile(path);
  REQUIRE(bytes.isOk());
  return *bytes;
}

/// "Acc@1 86.800 Acc@5 99.800  (40 images" from hq-eval's line (after the label).
std::string numbers(const std::string& line) {
  const size_t at = line.find("Acc@1 ");
  const size_t end = line.find(" images,");
  REQUIRE(at != std::string::npos);
  REQUIRE(end != std::string::npos);
  return line.substr(at, end + 7 - at);
}

}  // namespace

TEST_CASE("hq-eval model.hbm: the integer model's accuracy and logits, bit for bit",
          "[tools][hq-eval][hbm]") {
  fs::path dir = scratchDir("hq_eval_hbm");
  const std::string int_model = (dir / "fmnist.int.onnx").string();
  REQUIRE(runTool("hq-convert", kQdq + " --out " + int_model + " -q").exitCode == 0);
  const std::string data = " --data fashion-mnist-test --limit 30 -q";
  const std::string ref_npy = (dir / "int.npy").string();
  auto ref = runTool("hq-eval", int_model + data + " --dump-outputs " + ref_npy);
  INFO(ref.err);
  REQUIRE(ref.exitCode == 0);

  // -O1 batch 1, and -O2 batch 4 (30 images: the last run is padded with 2 copies).
  for (const std::string& opts : {std::string("-O1"), std::string("-O2 --batch 4")}) {
    const std::string hbm = (dir / "m.hbm").string();
    auto c = runTool("hq-compile", int_model + " " + opts + " -q --out " + hbm);
    INFO(opts << "\n" << c.err);
    REQUIRE(c.exitCode == 0);
    const std::string npy = (dir / "hbm.npy").string();
    auto r = runTool("hq-eval", hbm + data + " --batch 8 --dump-outputs " + npy);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(lineCount(r.out) == 1);
    CHECK(r.out.rfind(hbm + ": evaluation Acc@1 ", 0) == 0);
    CHECK(numbers(r.out) == numbers(ref.out));
    CHECK(numbers(r.out).find("(30 images") != std::string::npos);
    CHECK(slurp(npy) == slurp(ref_npy));  // same logits, same bytes
  }

  // --json carries the same numbers; a pyramid input (NV12 path) still classifies.
  const std::string pyr = (dir / "pyr.hbm").string();
  REQUIRE(runTool("hq-compile", int_model + " --input-source pyramid -q --out " + pyr).exitCode == 0);
  auto j = runTool("hq-eval", pyr + data + " --json");
  INFO(j.err);
  REQUIRE(j.exitCode == 0);
  hq::Json doc = hq::Json::parse(j.out);
  CHECK(doc["model"] == pyr);
  CHECK(doc["count"] == 30);
  CHECK(doc["top1"].get<double>() > 60.0);  // the integer model scores 80-90 here
}

TEST_CASE("hq-eval model.hbm: bad files and options are one-line errors", "[tools][hq-eval][hbm]") {
  fs::path dir = scratchDir("hq_eval_hbm_err");
  const std::string hbm = (dir / "m.hbm").string();
  REQUIRE(runTool("hq-compile", kQdq + " -q --out " + hbm).exitCode == 0);
  const std::string bytes = slurp(hbm);
  const std::string cut = (dir / "cut.hbm").string();
  REQUIRE(hq::writeFileAtomic(cut, bytes.substr(0, bytes.size() / 2)).isOk());
  auto r = runTool("hq-eval", cut + " --data fashion-mnist-test --limit 5 -q");
  CHECK(r.exitCode == 3);
  CHECK(lineCount(r.err) == 1);
  CHECK(r.err.rfind("hq-eval: error: " + cut + ": truncated .hbm file: ", 0) == 0);
  auto t = runTool("hq-eval", hbm + " --data fashion-mnist-test --limit 5 -q --dump-tensors x");
  CHECK(t.exitCode == 2);
  CHECK(lineCount(t.err) == 1);
  CHECK(t.err.find("--dump-tensors needs an ONNX model") != std::string::npos);
  // Samples of another shape: the error names both.
  auto s = runTool("hq-eval", hbm + " --data fashion-mnist-test-32 --limit 5 -q");
  CHECK(s.exitCode == 3);
  CHECK(lineCount(s.err) == 1);
  CHECK(s.err.find("but the .hbm input 'input' expects [1, 28, 28]") != std::string::npos);
}

TEST_CASE("hbm host side: QuantizeLinear and DequantizeLinear bits", "[hbm]") {
  hq::hbm::TensorDesc in;
  in.set_name("x");
  for (int64_t d : {1, 1, 1, 6}) in.add_shape(d);
  in.set_dtype(hq::hbm::INT8);
  in.add_scales(0.5f);
  in.add_zero_points(3);
  in.set_source(hq::hbm::DDR);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  hq::Tensor x = hq::Tensor::fromVector<float>({1, 1, 1, 6}, {0.25f, 0.75f, -100.f, 100.f, nan, -1.25f});
  auto q = hq::hbmInputFromImages(in, x);
  INFO(q.status().message());
  REQUIRE(q.isOk());
  REQUIRE(q->dtype() == hq::DType::kInt8);
  // nearbyint(x / 0.5f) + 3, half to even, clamped to int8; NaN -> the zero point.
  CHECK(q->toInt64() == std::vector<int64_t>{3, 5, -128, 127, 3, 1});
  in.set_dtype(hq::hbm::UINT8);
  in.set_zero_points(0, 128);
  auto u = hq::hbmInputFromImages(in, x);
  REQUIRE(u.isOk());
  CHECK(u->dtype() == hq::DType::kUInt8);
  CHECK(u->toInt64() == std::vector<int64_t>{128, 130, 0, 255, 128, 126});
  // A shape that does not fit names both.
  auto bad = hq::hbmInputFromImages(in, hq::Tensor(hq::DType::kFloat32, {1, 1, 2, 3}));
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message() == "data samples are [1, 2, 3] but the .hbm input 'x' expects [1, 1, 6]");

  // int32 logits with one scale per class (axis 1), zero point 0.
  hq::hbm::TensorDesc out;
  out.set_name("y");
  out.add_shape(1);
  out.add_shape(3);
  out.set_dtype(hq::hbm::INT32);
  for (float s : {1.0f, 0.5f, 0.25f}) out.add_scales(s);
  out.set_quant_axis(1);
  auto y = hq::dequantizeHbmOutput(out, hq::Tensor::fromVector<int32_t>({2, 3}, {4, 4, 4, -8, 16777217, 1}));
  INFO(y.status().message());
  REQUIRE(y.isOk());
  const float* p = y->data<float>();
  CHECK(std::vector<float>(p, p + 6) ==
        std::vector<float>{4.0f, 2.0f, 1.0f, -8.0f, 8388608.0f, 0.25f});  // float(2^24+1) = 2^24
  out.set_quant_axis(0);
  CHECK_FALSE(hq::dequantizeHbmOutput(out, hq::Tensor(hq::DType::kInt32, {2, 3})).isOk());
}
