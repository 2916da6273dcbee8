#include "ir/onnx_import.h"

namespace hq {

Expected<std::unique_ptr<Graph>> importOnnxFile(const std::string& path, const ImportOptions& options) {
  return HQ_ERROR(kUnsupported, "{}: ONNX import not written yet", path);
}

Expected<std::unique_ptr<Graph>> importOnnxBytes(const std::string& bytes, const std::string& what,
                                                 const ImportOptions& options) {
  return HQ_ERROR(kUnsupported, "{}: ONNX import not written yet", what);
}

}  // namespace hq
