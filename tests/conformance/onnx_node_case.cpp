#include "conformance/onnx_node_case.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "ir/onnx_import.h"
#include "runtime/executor.h"

namespace fs = std::filesystem;

namespace hq::conformance {

const char* outcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "pass";
    case Outcome::kSkip: return "skip";
    case Outcome::kFail: return "FAIL";
  }
  return "?";
}

namespace {

Expected<std::string> readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return HQ_ERROR(kNotFound, "{}: cannot open", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal
  } else if (exp == 31) {
    f = man ? std::nanf("") : INFINITY;
  } else {
    f = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= sign;
  std::memcpy(&f, &bits, 4);
  return f;
}

bool isFloat(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16;
}

double floatAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kFloat64: return t.data<double>()[i];
    case DType::kFloat16: return halfToFloat(static_cast<const uint16_t*>(t.raw())[i]);
    default: return 0.0;
  }
}

int64_t intAt(const Tensor& t, int64_t i) {
  const void* p = t.raw();
  switch (t.dtype()) {
    case DType::kUInt8: return static_cast<const uint8_t*>(p)[i];
    case DType::kInt8: return static_cast<const int8_t*>(p)[i];
    case DType::kUInt16: return static_cast<const uint16_t*>(p)[i];
    case DType::kInt16: return static_cast<const int16_t*>(p)[i];
    case DType::kInt32: return static_cast<const int32_t*>(p)[i];
    case DType::kInt64: return static_cast<const int64_t*>(p)[i];
    case DType::kBool: return static_cast<const uint8_t*>(p)[i] != 0;
    default: return 0;
  }
}

std::string indexString(const Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = shape[k] ? flat % shape[k] : 0;
    flat = shape[k] ? flat / shape[k] : 0;
  }
  return shapeString(idx);
}

/// Copies a typed repeated field into the tensor buffer as element type T.
template <typename T, typename Field>
Status copyTyped(const Field& field, Tensor& t, const std::string& path) {
  if (static_cast<int64_t>(field.size()) != t.numel()) {
    return HQ_ERROR(kParse, "{}: {} typed values for shape {} ({} elements)", path, field.size(),
                    shapeString(t.shape()), t.numel());
  }
  T* d = static_cast<T*>(t.raw());
  for (int i = 0; i < field.size(); ++i) d[i] = static_cast<T>(field.Get(i));
  return Status::ok();
}

/// One mode (reference or default kernels) over all data sets.
CaseResult runMode(const Graph& graph, bool reference_only,
                   const std::vector<fs::path>& data_sets) {
  const std::string mode = reference_only ? "[reference] " : "[default] ";
  auto error = [&](const Status& s, const std::string& where) {
    Outcome o = s.code() == ErrorCode::kUnsupported ? Outcome::kSkip : Outcome::kFail;
    return CaseResult{o, mode + where + errorCodeName(s.code()) + ": " + s.message()};
  };
  ExecutorOptions options;
  options.kernels.referenceOnly = reference_only;
  auto exec = Executor::create(graph, options);
  if (!exec) return error(exec.status(), "Executor::create: ");
  const Graph& g = (*exec)->graph();

  for (const fs::path& ds : data_sets) {
    // Inputs: input_<j>.pb, matched to graph inputs by name, else by position.
    std::vector<Tensor> files;
    std::vector<std::string> names;
    for (int j = 0;; ++j) {
      fs::path p = ds / ("input_" + std::to_string(j) + ".pb");
      if (!fs::exists(p)) break;
      std::string name;
      auto t = readTensorProtoFile(p.string(), &name);
      if (!t) return CaseResult{Outcome::kFail, mode + "test reader: " + t.status().message()};
      files.push_back(std::move(*t));
      names.push_back(name);
    }
    if (g.inputs().size() != files.size()) {
      return CaseResult{Outcome::kFail, fmt::format("{}{}: hq's graph has {} inputs, the case {}",
                                                    mode, ds.filename().string(),
                                                    g.inputs().size(), files.size())};
    }
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < g.inputs().size(); ++i) {
      auto it = std::find(names.begin(), names.end(), g.inputs()[i]->name);
      inputs.push_back(it != names.end() ? files[it - names.begin()] : files[i]);
    }

    auto outs = (*exec)->run(inputs);
    if (!outs) return error(outs.status(), ds.filename().string() + ": run: ");

    // Expected outputs: output_<j>.pb, matched to graph outputs by name, else by position.
    size_t j = 0;
    for (;; ++j) {
      fs::path p = ds / ("output_" + std::to_string(j) + ".pb");
      if (!fs::exists(p)) break;
      std::string name;
      auto want = readTensorProtoFile(p.string(), &name);
      if (!want) {
        return CaseResult{Outcome::kFail, mode + "test reader: " + want.status().message()};
      }
      size_t k = j;
      for (size_t o = 0; o < g.outputs().size(); ++o) {
        if (g.outputs()[o]->name == name) k = o;
      }
      if (k >= outs->size()) {
        return CaseResult{Outcome::kFail, fmt::format("{}{}: no hq output for expected output {} "
                                                      "'{}' (hq has {})",
                                                      mode, ds.filename().string(), j, name,
                                                      outs->size())};
      }
      std::string diff = compareTensors((*outs)[k], *want);
      if (!diff.empty()) {
        return CaseResult{Outcome::kFail, fmt::format("{}{}: output {} '{}': {}", mode,
                                                      ds.filename().string(), j, name, diff)};
      }
    }
    if (j != outs->size()) {
      return CaseResult{Outcome::kFail, fmt::format("{}{}: hq returned {} outputs, the case has {}",
                                                    mode, ds.filename().string(), outs->size(),
                                                    j)};
    }
  }
  return CaseResult{};
}

}  // namespace

Expected<Tensor> readTensorProtoFile(const std::string& path, std::string* name) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) return HQ_ERROR(kParse, "{}: not a TensorProto", path);
  if (name) *name = proto.name();
  DType dtype = dtypeFromOnnx(proto.data_type());
  if (dtype == DType::kUndefined) {
    return HQ_ERROR(kUnsupported, "{}: TensorProto data_type {} has no hq dtype", path,
                    proto.data_type());
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    return HQ_ERROR(kUnsupported, "{}: external data", path);
  }
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape) {
    if (d < 0) return HQ_ERROR(kParse, "{}: negative dim in {}", path, shapeString(shape));
  }
  Tensor t(dtype, shape);
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != t.nbytes()) {
      return HQ_ERROR(kParse, "{}: raw_data has {} bytes, {} {} needs {}", path,
                      proto.raw_data().size(), dtypeName(dtype), shapeString(shape), t.nbytes());
    }
    if (t.nbytes()) std::memcpy(t.raw(), proto.raw_data().data(), t.nbytes());
    return t;
  }
  Status s;
  switch (dtype) {
    case DType::kFloat32: s = copyTyped<float>(proto.float_data(), t, path); break;
    case DType::kFloat64: s = copyTyped<double>(proto.double_data(), t, path); break;
    case DType::kInt64: s = copyTyped<int64_t>(proto.int64_data(), t, path); break;
    case DType::kInt32: s = copyTyped<int32_t>(proto.int32_data(), t, path); break;
    case DType::kInt16: s = copyTyped<int16_t>(proto.int32_data(), t, path); break;
    case DType::kInt8: s = copyTyped<int8_t>(proto.int32_data(), t, path); break;
    case DType::kUInt16:
    case DType::kFloat16: s = copyTyped<uint16_t>(proto.int32_data(), t, path); break;
    case DType::kUInt8:
    case DType::kBool: s = copyTyped<uint8_t>(proto.int32_data(), t, path); break;
    case DType::kUndefined: break;
  }
  HQ_RETURN_IF_ERROR(s);
  return t;
}

std::string compareTensors(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype()) {
    return fmt::format("dtype {} (want {})", dtypeName(got.dtype()), dtypeName(want.dtype()));
  }
  if (got.shape() != want.shape()) {
    return fmt::format("shape {} (want {})", shapeString(got.shape()), shapeString(want.shape()));
  }
  int64_t n = want.numel(), bad = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    bool ok;
    if (isFloat(want.dtype())) {
      double a = floatAt(got, i), b = floatAt(want, i);
      if (std::isnan(a) || std::isnan(b)) {
        ok = std::isnan(a) && std::isnan(b);
      } else if (std::isinf(a) || std::isinf(b)) {
        ok = a == b;
      } else {
        ok = std::fabs(a - b) <= atol + rtol * std::fabs(b);
      }
    } else {
      ok = intAt(got, i) == intAt(want, i);
    }
    if (!ok && bad++ == 0) first = i;
  }
  if (!bad) return "";
  std::string at = indexString(want.shape(), first);
  if (isFloat(want.dtype())) {
    double a = floatAt(got, first), b = floatAt(want, first);
    return fmt::format("{} of {} values differ; first at {}: got {:.9g}, want {:.9g} "
                       "(|diff| {:.3g} > {:.3g})",
                       bad, n, at, a, b, std::fabs(a - b), atol + rtol * std::fabs(b));
  }
  return fmt::format("{} of {} values differ; first at {}: got {}, want {}", bad, n, at,
                     intAt(got, first), intAt(want, first));
}

CaseResult runOnnxCase(const std::string& dir) {
  auto graph = importOnnxFile((fs::path(dir) / "model.onnx").string());
  if (!graph) {
    const Status& s = graph.status();
    Outcome o = s.code() == ErrorCode::kUnsupported ? Outcome::kSkip : Outcome::kFail;
    return CaseResult{o, std::string("import: ") + errorCodeName(s.code()) + ": " + s.message()};
  }
  std::vector<fs::path> data_sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
      data_sets.push_back(e.path());
    }
  }
  std::sort(data_sets.begin(), data_sets.end());
  if (data_sets.empty()) return CaseResult{Outcome::kFail, dir + ": no test_data_set_* folder"};

  // The worse of the two modes; the other mode's message is appended when it differs
  // (a bug in one kind of kernel only, or in both).
  CaseResult modes[2];
  for (bool reference_only : {true, false}) {
    CaseResult& r = modes[reference_only ? 0 : 1];
    try {
      r = runMode(**graph, reference_only, data_sets);
    } catch (const std::exception& e) {
      r = CaseResult{Outcome::kFail, std::string(reference_only ? "[reference] " : "[default] ") +
                                         "exception: " + e.what()};
    }
  }
  auto body = [](const std::string& m) { return m.substr(m.find(']') + 1); };
  bool default_worse = static_cast<int>(modes[1].outcome) > static_cast<int>(modes[0].outcome);
  CaseResult worst = modes[default_worse ? 1 : 0];
  const CaseResult& other = modes[default_worse ? 0 : 1];
  if (other.outcome != Outcome::kPass && body(other.message) != body(worst.message)) {
    worst.message += "; " + other.message;
  } else if (other.outcome == Outcome::kPass && worst.outcome != Outcome::kPass) {
    worst.message += default_worse ? "; [reference] passes" : "; [default] passes";
  }
  return worst;
}

Expected<std::map<std::string, std::string>> readCaseList(const std::string& path) {
  HQ_ASSIGN_OR_RETURN(std::string text, readFile(path));
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  auto trim = [](std::string s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t bar = line.find('|');
    std::string name = trim(line.substr(0, bar));
    std::string reason = bar == std::string::npos ? "" : trim(line.substr(bar + 1));
    if (name.empty() || reason.empty()) {
      return HQ_ERROR(kParse, "{}:{}: expected 'case_name | reason', found '{}'", path, n, line);
    }
    if (!out.emplace(name, reason).second) {
      return HQ_ERROR(kParse, "{}:{}: case '{}' listed twice", path, n, name);
    }
  }
  return out;
}

}  // namespace hq::conformance
