#include "data/dataset.h"

namespace hq {

Expected<std::unique_ptr<Dataset>> openDataset(const std::string& spec_path, const DatasetOptions& options) {
  return HQ_ERROR(kUnsupported, "{}: datasets not written yet", spec_path);
}

BatchLoader::BatchLoader(Dataset& dataset, const LoaderOptions& options) {}
BatchLoader::~BatchLoader() = default;
Expected<std::optional<Batch>> BatchLoader::next() { return HQ_ERROR(kUnsupported, "not written yet"); }
struct BatchLoader::Impl {};

}  // namespace hq
