// IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary sources, label arrays, and the dispatch.
#include "data/source.h"

#include <cmath>
#include <cstring>

namespace hq {

int64_t LabelArray::at(int64_t i) const {
  const uint8_t* p = bytes.data + static_cast<size_t>(i) * dtypeSize(dtype);
  switch (dtype) {
    case DType::kUInt8: return p[0];
    case DType::kInt8: return static_cast<int8_t>(p[0]);
    case DType::kUInt16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case DType::kInt16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case DType::kInt32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::kInt64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
    default: return -1;
  }
}

Expected<int64_t> LabelArray::scan(const std::string& what) const {
  switch (dtype) {
    case DType::kUInt8:
    case DType::kInt8:
    case DType::kUInt16:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64: break;
    default:
      return HQ_ERROR(kUnsupported, "{}: labels must be integers (uint8..int64), found {}", what,
                      dtypeName(dtype));
  }
  int64_t max = -1;
  for (int64_t i = 0; i < count; ++i) {
    int64_t v = at(i);
    if (v < 0) return HQ_ERROR(kData, "{}: label {} of sample {} is negative", what, v, i);
    max = std::max(max, v);
  }
  return max + 1;
}

namespace {

void bytesToFloat(const uint8_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

struct IdxFile {
  std::vector<int64_t> dims;
  size_t dataOffset = 0;
  Bytes bytes;
};

// Parse an IDX header (big-endian): 00 00 <type> <rank>, then rank uint32 dims; uint8 data
// (type 0x08) must fill the rest of the file exactly.
Expected<IdxFile> readIdx(const std::string& path, size_t in_memory_limit, int want_rank,
                          const char* role) {
  IdxFile f;
  HQ_ASSIGN_OR_RETURN(f.bytes, mapMaybeGzip(path, in_memory_limit));
  const uint8_t* d = f.bytes.data;
  if (f.bytes.size < 4 || d[0] != 0 || d[1] != 0) {
    return HQ_ERROR(kParse, "{}: not an IDX file (expected the magic 00 00 <type> <rank>{})", path,
                    f.bytes.size < 4 ? ", the file is too short" : "");
  }
  int rank = d[3];
  if (d[2] != 0x08) {
    return HQ_ERROR(kUnsupported,
                    "{}: IDX element type 0x{:02x}; only unsigned bytes (0x08) are "
                    "supported",
                    path, d[2]);
  }
  if (rank != want_rank) {
    return HQ_ERROR(kParse, "{}: IDX file has {} dimension(s), expected {} for {}", path, rank,
                    want_rank, role);
  }
  f.dataOffset = 4 + 4 * static_cast<size_t>(rank);
  if (f.bytes.size < f.dataOffset) {
    return HQ_ERROR(kParse, "{}: truncated IDX header ({} bytes)", path, f.bytes.size);
  }
  uint64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t* p = d + 4 + 4 * i;
    uint32_t v = static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                 static_cast<uint32_t>(p[2]) << 8 | p[3];
    f.dims.push_back(v);
    total *= v;
    if (total > (uint64_t{1} << 48))
      return HQ_ERROR(kParse, "{}: IDX dims are implausibly large", path);
  }
  size_t have = f.bytes.size - f.dataOffset;
  if (have != total) {
    return HQ_ERROR(kParse, "{}: IDX header says {} = {} bytes of data, the file has {}{}", path,
                    shapeString(f.dims), total, have, have < total ? " (truncated)" : "");
  }
  return f;
}

class IdxSource : public ImageSource {
 public:
  int64_t size() const override { return n_; }
  Shape imageShape() const override { return {1, h_, w_}; }
  bool hasLabels() const override { return labels_.count > 0; }
  int64_t numClasses() const override { return classes_; }
  Status read(int64_t index, Image* image, int64_t* label) const override {
    image->resize(1, h_, w_);
    size_t n = static_cast<size_t>(h_ * w_);
    bytesToFloat(images_.data + static_cast<size_t>(index) * n, n, image->data.data());
    *label = hasLabels() ? labels_.at(index) : -1;
    return Status::ok();
  }
  std::string describe() const override {
    return fmt::format("idx {} ({} images, 1x{}x{})", path_, n_, h_, w_);
  }

  Bytes images_;
  LabelArray labels_;
  int64_t n_ = 0, h_ = 0, w_ = 0, classes_ = 0;
  std::string path_;
};

constexpr int64_t kCifarRecord = 1 + 3 * 32 * 32;

class Cifar10Source : public ImageSource {
 public:
  int64_t size() const override { return n_; }
  Shape imageShape() const override { return {3, 32, 32}; }
  bool hasLabels() const override { return true; }
  int64_t numClasses() const override { return 10; }
  Status read(int64_t index, Image* image, int64_t* label) const override {
    size_t f = 0;
    while (index >= starts_[f + 1]) ++f;
    const uint8_t* rec = files_[f].data + static_cast<size_t>((index - starts_[f]) * kCifarRecord);
    *label = rec[0];
    image->resize(3, 32, 32);
    bytesToFloat(rec + 1, 3 * 32 * 32, image->data.data());
    return Status::ok();
  }
  std::string describe() const override {
    return fmt::format("cifar10 {}{} ({} images, 3x32x32)", paths_.front(),
                       paths_.size() > 1 ? fmt::format(" and {} more", paths_.size() - 1) : "", n_);
  }

  std::vector<Bytes> files_;
  std::vector<std::string> paths_;
  std::vector<int64_t> starts_;  ///< first index of each file, plus the total
  int64_t n_ = 0;
};

}  // namespace

Expected<std::unique_ptr<ImageSource>> openIdxSource(const SourceSpec& spec) {
  auto src = std::make_unique<IdxSource>();
  HQ_ASSIGN_OR_RETURN(IdxFile images, readIdx(spec.images, spec.inMemoryLimit, 3, "images"));
  src->path_ = spec.images;
  src->n_ = images.dims[0];
  src->h_ = images.dims[1];
  src->w_ = images.dims[2];
  src->images_ = images.bytes.slice(images.dataOffset, images.bytes.size - images.dataOffset);
  if (!spec.labels.empty()) {
    HQ_ASSIGN_OR_RETURN(IdxFile labels, readIdx(spec.labels, spec.inMemoryLimit, 1, "labels"));
    if (labels.dims[0] != src->n_) {
      return HQ_ERROR(kShape, "{}: {} labels, but {} has {} images", spec.labels, labels.dims[0],
                      spec.images, src->n_);
    }
    src->labels_.bytes =
        labels.bytes.slice(labels.dataOffset, labels.bytes.size - labels.dataOffset);
    src->labels_.dtype = DType::kUInt8;
    src->labels_.count = src->n_;
    HQ_ASSIGN_OR_RETURN(src->classes_, src->labels_.scan(spec.labels));
  }
  return std::unique_ptr<ImageSource>(std::move(src));
}

Expected<std::unique_ptr<ImageSource>> openCifar10Source(const SourceSpec& spec) {
  auto src = std::make_unique<Cifar10Source>();
  src->starts_.push_back(0);
  for (const std::string& path : spec.files) {
    HQ_ASSIGN_OR_RETURN(Bytes b, mapFile(path));
    if (b.size == 0 || b.size % kCifarRecord != 0) {
      return HQ_ERROR(kParse,
                      "{}: {} bytes is not a whole number of CIFAR-10 records (1 label "
                      "byte + 3072 pixel bytes = {} bytes each)",
                      path, b.size, kCifarRecord);
    }
    int64_t records = static_cast<int64_t>(b.size) / kCifarRecord;
    for (int64_t r = 0; r < records; ++r) {
      uint8_t label = b.data[r * kCifarRecord];
      if (label >= 10) {
        return HQ_ERROR(kData,
                        "{}: record {} has label {}, CIFAR-10 labels are 0..9 (is this a "
                        "CIFAR-100 file?)",
                        path, r, label);
      }
    }
    src->files_.push_back(b);
    src->paths_.push_back(path);
    src->n_ += records;
    src->starts_.push_back(src->n_);
  }
  return std::unique_ptr<ImageSource>(std::move(src));
}

Expected<std::unique_ptr<ImageSource>> openSource(const SourceSpec& spec) {
  if (spec.kind == "idx") return openIdxSource(spec);
  if (spec.kind == "cifar10") return openCifar10Source(spec);
  if (spec.kind == "npy" || spec.kind == "npz") return openNpySource(spec);
  if (spec.kind == "image_folder") return openImageFolderSource(spec);
  return HQ_ERROR(kInvalidArgument, "unknown source kind '{}'", spec.kind);
}

}  // namespace hq
