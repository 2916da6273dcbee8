// Data sources: where a dataset's raw images and labels come from ("source" in
// schemas/dataset.schema.json). A source gives random access to decoded images, as float CHW
// values in the file's own units (0..255 for 8-bit pixels), without loading the whole
// dataset: uncompressed files are memory-mapped, images in folders are decoded on demand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/bytes.h"
#include "data/preprocess.h"
#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

/// The "source" object of a spec, with paths already resolved against the spec's folder.
struct SourceSpec {
  std::string kind;                ///< idx | cifar10 | npy | npz | image_folder
  std::string images;              ///< idx/npy: images file; npz: member name
  std::string labels;              ///< idx/npy: labels file; npz: member name ("" = none)
  std::string path;                ///< npz: the archive; image_folder: the root folder
  std::vector<std::string> files;  ///< cifar10: batch files, in order
  std::string layout = "NCHW";     ///< npy/npz images: NCHW | NHWC | NHW
  int64_t channels = 3;            ///< image_folder: decode to 1 (gray) or 3 (RGB)
  /// Decompressed data above this many bytes goes to a temp file (tests lower it).
  size_t inMemoryLimit = size_t{256} << 20;
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual int64_t size() const = 0;
  /// CHW shape of every image, or of the first one when sizes vary (image folders).
  virtual Shape imageShape() const = 0;
  virtual bool hasLabels() const = 0;
  /// Number of classes (labels are 0..n-1), 0 when unknown.
  virtual int64_t numClasses() const = 0;
  /// Class names when the source knows them (image folders), else empty.
  virtual std::vector<std::string> classNames() const { return {}; }
  /// Decode image `index` into `image` (CHW) and its label (-1 when unlabeled).
  /// Safe to call from several threads at once.
  virtual Status read(int64_t index, Image* image, int64_t* label) const = 0;
  /// "idx /path/t10k-images-idx3-ubyte.gz (10000 images, 1x28x28)".
  virtual std::string describe() const = 0;
};

Expected<std::unique_ptr<ImageSource>> openIdxSource(const SourceSpec& spec);
Expected<std::unique_ptr<ImageSource>> openCifar10Source(const SourceSpec& spec);
/// kind "npy" (two .npy files) and "npz" (members of one archive).
Expected<std::unique_ptr<ImageSource>> openNpySource(const SourceSpec& spec);
Expected<std::unique_ptr<ImageSource>> openImageFolderSource(const SourceSpec& spec);

/// Dispatch on spec.kind.
Expected<std::unique_ptr<ImageSource>> openSource(const SourceSpec& spec);

/// Integer labels kept in their file (mapped or decompressed), read one at a time.
struct LabelArray {
  Bytes bytes;  ///< `count` little-endian elements of `dtype` (uint8 for IDX)
  DType dtype = DType::kUndefined;
  int64_t count = 0;

  int64_t at(int64_t i) const;
  /// Check that every label is >= 0 (and integral); returns max + 1, the number of classes.
  /// `what` names the file in messages.
  Expected<int64_t> scan(const std::string& what) const;
};

}  // namespace hq
