// Labeled datasets described by a JSON spec (schemas/dataset.schema.json): a source
// (IDX, CIFAR-10 binary, .npy/.npz, image folder) and preprocessing steps, streamed in
// deterministic batches from a background thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// One preprocessed sample: float32 CHW image (HWC after a layout NHWC step) and its label
/// (-1 when unlabeled).
struct Sample {
  Tensor image;
  int64_t label = -1;
};

/// Random access to preprocessed samples. Implementations are thread-compatible:
/// get() may be called from the loader thread while the caller holds other samples.
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of samples (after --limit).
  virtual int64_t size() const = 0;
  /// Shape of one preprocessed sample, CHW (HWC after a layout NHWC step).
  virtual Shape sampleShape() const = 0;
  virtual bool hasLabels() const = 0;
  /// Number of classes when known (labels are 0..n-1), else 0.
  virtual int64_t numClasses() const = 0;
  /// Sample `index` in [0, size()); `epoch` seeds training-time augmentation.
  virtual Expected<Sample> get(int64_t index, int64_t epoch = 0) = 0;
  /// "fashion-mnist t10k (10000 images, 1x28x28)".
  virtual std::string describe() const = 0;
  /// Write sample `index` to `image` (shapeNumel(sampleShape()) floats) and `*label`: the
  /// allocation-free path BatchLoader uses. The default copies from get().
  virtual Status readInto(int64_t index, int64_t epoch, float* image, int64_t* label);
  /// Class names by label when the spec or the source gives them, else empty.
  virtual std::vector<std::string> classNames() const { return {}; }
  /// True when reading a sample is costly (decoding PNG/JPEG), so that BatchLoader uses
  /// several threads per batch.
  virtual bool costlySamples() const { return false; }
};

struct DatasetOptions {
  /// Take only the first N samples (after the spec's subset), 0 = all. Overrides a larger
  /// "limit" in the spec.
  int64_t limit = 0;
  /// Apply the spec's training-time augmentation steps (random crop, flip).
  bool training = false;
  /// Seed for augmentation: sample i of epoch e draws from
  /// SplitMix64(combineSeeds(combineSeeds(seed, e), i)) (lib/data/random.h).
  uint64_t seed = 0;
};

/// Open a dataset spec file (JSON, validated against schemas/dataset.schema.json), or a
/// built-in spec by name ("fashion-mnist-test" = configs/datasets/fashion-mnist-test.json,
/// used when no file of that name exists). Errors name the file and the JSON path, or the
/// data file and what is wrong with it.
Expected<std::unique_ptr<Dataset>> openDataset(const std::string& spec_path,
                                               const DatasetOptions& options = {});
/// Same from an already parsed spec; `base_dir` resolves relative paths, `what` names it.
Expected<std::unique_ptr<Dataset>> openDatasetFromJson(const std::string& spec_json_text,
                                                       const std::string& base_dir,
                                                       const std::string& what,
                                                       const DatasetOptions& options = {});

/// Names of the built-in dataset specs (configs/datasets/*.json), sorted.
std::vector<std::string> builtinDatasetNames();

/// A batch: images [N, C, H, W] float32 and labels [N] int64 (undefined if unlabeled).
struct Batch {
  Tensor images;
  Tensor labels;
  int64_t first = 0;  ///< index of the first sample in the epoch order
};

struct LoaderOptions {
  int64_t batchSize = 256;
  bool shuffle = false;  ///< seeded permutation per epoch
  uint64_t seed = 0;
  int64_t epoch = 0;
  bool dropLast = false;
  int prefetch = 2;  ///< batches prepared ahead by the background thread (at least 1)
  /// Threads that prepare the samples of one batch: 1 = the background thread alone;
  /// 0 = automatic (more only for sources that decode images, such as image folders).
  int workers = 0;
};

/// Streams batches from a background thread, in an order fixed by (seed, epoch): the
/// identity, or with shuffle permutation(size, combineSeeds(seed, epoch)) (lib/data/random.h).
/// The destructor stops the thread, also in the middle of an epoch.
class BatchLoader {
 public:
  BatchLoader(Dataset& dataset, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /// The next batch, std::nullopt at the end, or the error that stopped the loader.
  Expected<std::optional<Batch>> next();
  int64_t numBatches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hq
