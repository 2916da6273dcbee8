// Runs one ONNX backend node-test case (a folder with model.onnx and test_data_set_*/
// input_*.pb, output_*.pb, made by scripts/gen_onnx_node_tests.py) through hq: import,
// then hq::Executor with reference kernels only and with the default kernels, and compare
// with the expected outputs the way onnx's backend tests do.
#pragma once

#include <map>
#include <string>

#include "ir/tensor.h"
#include "support/status.h"

namespace hq::conformance {

enum class Outcome { kPass, kSkip, kFail };
const char* outcomeName(Outcome o);

struct CaseResult {
  Outcome outcome = Outcome::kPass;
  /// Skip: hq's kUnsupported message. Fail: what went wrong (first differing value...).
  std::string message;
};

/// onnx backend-test tolerances: |got - want| <= atol + rtol * |want|.
constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-5;

/// Runs the case folder `dir` in both kernel modes. A kUnsupported error from import,
/// plan or run makes it a skip; any other error, or a wrong dtype/shape/value, a failure
/// (a failure in either mode wins over a skip).
CaseResult runOnnxCase(const std::string& dir);

/// Reads a serialized onnx::TensorProto (raw_data or typed fields) into a Tensor; `name`
/// receives the proto's name. kUnsupported for dtypes hq has no DType for (string...).
Expected<Tensor> readTensorProtoFile(const std::string& path, std::string* name = nullptr);

/// "" when `got` matches `want` (same dtype and shape; floats within the tolerances with
/// NaN == NaN and equal infinities; integers and bools exact), else a message naming the
/// first differing element, its index and how many elements differ.
std::string compareTensors(const Tensor& got, const Tensor& want, double rtol = kRtol,
                           double atol = kAtol);

/// A case list file: one `case_name | reason` per line, '#' comments and blank lines
/// ignored. Errors name the file and line of a malformed or duplicated entry.
Expected<std::map<std::string, std::string>> readCaseList(const std::string& path);

}  // namespace hq::conformance
