// NumPy sources: images and labels as two .npy files ("npy") or two members of one .npz
// archive ("npz"). Stored .npy data is memory-mapped, never copied whole.
#include <cstring>

#include "data/npy.h"
#include "data/source.h"
#include "data/zip.h"

namespace hq {

namespace {

struct NpyArray {
  Bytes data;  ///< the elements only
  NpyHeader header;
  std::string what;
};

Expected<NpyArray> arrayFromBytes(const Bytes& file, const std::string& what) {
  NpyArray a;
  a.what = what;
  HQ_ASSIGN_OR_RETURN(a.header, parseNpyHeader(file.data, file.size, what));
  a.data = file.slice(a.header.dataOffset, a.header.dataBytes);
  return a;
}

Expected<NpyArray> npzMember(const ZipArchive& zip, const std::string& zip_path,
                             const std::string& name, size_t in_memory_limit) {
  const ZipArchive::Entry* e = zip.find(name);
  if (!e) e = zip.find(name + ".npy");
  if (!e) {
    std::string names;
    for (const auto& x : zip.entries()) names += (names.empty() ? "" : ", ") + x.name;
    return HQ_ERROR(kNotFound, "{}: no array '{}' in the archive (it has: {})", zip_path, name,
                    names.empty() ? "nothing" : names);
  }
  HQ_ASSIGN_OR_RETURN(Bytes bytes, zip.extract(*e, in_memory_limit));
  return arrayFromBytes(bytes, zip_path + ":" + e->name);
}

class NpySource : public ImageSource {
 public:
  int64_t size() const override { return n_; }
  Shape imageShape() const override { return {c_, h_, w_}; }
  bool hasLabels() const override { return labels_.count > 0; }
  int64_t numClasses() const override { return classes_; }
  Status read(int64_t index, Image* image, int64_t* label) const override {
    image->resize(c_, h_, w_);
    size_t n = static_cast<size_t>(c_ * h_ * w_);
    size_t esize = dtypeSize(dtype_);
    const uint8_t* src = images_.data + static_cast<size_t>(index) * n * esize;
    float* dst = image->data.data();
    auto value = [&](size_t i) -> float {
      if (dtype_ == DType::kUInt8) return static_cast<float>(src[i]);
      float f;
      std::memcpy(&f, src + 4 * i, 4);
      return f;
    };
    if (!hwc_ || c_ == 1) {
      for (size_t i = 0; i < n; ++i) dst[i] = value(i);
    } else {
      size_t plane = static_cast<size_t>(h_ * w_);
      for (size_t p = 0; p < plane; ++p) {
        for (int64_t c = 0; c < c_; ++c) dst[c * plane + p] = value(p * c_ + c);
      }
    }
    *label = hasLabels() ? labels_.at(index) : -1;
    return Status::ok();
  }
  std::string describe() const override {
    return fmt::format("{} {} ({} images, {}x{}x{})", kind_, what_, n_, c_, h_, w_);
  }

  std::string kind_, what_;
  Bytes images_;
  DType dtype_ = DType::kUndefined;
  bool hwc_ = false;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0, classes_ = 0;
  LabelArray labels_;
};

}  // namespace

Expected<std::unique_ptr<ImageSource>> openNpySource(const SourceSpec& spec) {
  NpyArray images, labels;
  bool have_labels = !spec.labels.empty();
  std::string what;
  if (spec.kind == "npz") {
    HQ_ASSIGN_OR_RETURN(ZipArchive zip, ZipArchive::open(spec.path));
    HQ_ASSIGN_OR_RETURN(images, npzMember(zip, spec.path, spec.images, spec.inMemoryLimit));
    if (have_labels) {
      HQ_ASSIGN_OR_RETURN(labels, npzMember(zip, spec.path, spec.labels, spec.inMemoryLimit));
    }
    what = images.what;
  } else {
    HQ_ASSIGN_OR_RETURN(Bytes file, mapFile(spec.images));
    HQ_ASSIGN_OR_RETURN(images, arrayFromBytes(file, spec.images));
    if (have_labels) {
      HQ_ASSIGN_OR_RETURN(Bytes lfile, mapFile(spec.labels));
      HQ_ASSIGN_OR_RETURN(labels, arrayFromBytes(lfile, spec.labels));
    }
    what = spec.images;
  }
  auto src = std::make_unique<NpySource>();
  src->kind_ = spec.kind;
  src->what_ = what;
  src->dtype_ = images.header.dtype;
  if (src->dtype_ != DType::kUInt8 && src->dtype_ != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "{}: images are {}, expected uint8 or float32", what,
                    dtypeName(src->dtype_));
  }
  const Shape& s = images.header.shape;
  size_t want_rank = spec.layout == "NHW" ? 3 : 4;
  if (s.size() != want_rank) {
    return HQ_ERROR(kShape, "{}: images are {}, expected rank {} for layout {}{}", what,
                    shapeString(s), want_rank, spec.layout,
                    s.size() == 3 ? " (use \"layout\": \"NHW\" for single-channel images)" : "");
  }
  src->n_ = s[0];
  if (spec.layout == "NHW") {
    src->c_ = 1, src->h_ = s[1], src->w_ = s[2];
  } else if (spec.layout == "NHWC") {
    src->hwc_ = true;
    src->h_ = s[1], src->w_ = s[2], src->c_ = s[3];
  } else {
    src->c_ = s[1], src->h_ = s[2], src->w_ = s[3];
  }
  src->images_ = images.data;
  if (have_labels) {
    const Shape& ls = labels.header.shape;
    if (ls.size() != 1 || ls[0] != src->n_) {
      return HQ_ERROR(kShape, "{}: labels are {}, expected [{}] (one per image of {})", labels.what,
                      shapeString(ls), src->n_, what);
    }
    src->labels_.bytes = labels.data;
    src->labels_.dtype = labels.header.dtype;
    src->labels_.count = src->n_;
    HQ_ASSIGN_OR_RETURN(src->classes_, src->labels_.scan(labels.what));
  }
  return std::unique_ptr<ImageSource>(std::move(src));
}

}  // namespace hq
