// Image-folder source: root/<class>/<image>.{png,jpg,jpeg}, classes sorted by folder name
// (byte order), images sorted by file name within a class, decoded on demand with libpng
// and libjpeg.
#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <jpeglib.h>
#include <png.h>

#include "data/source.h"
#include "support/atomic_file.h"

namespace hq {

namespace fs = std::filesystem;

namespace {

enum class ImageKind { kPng, kJpeg, kOther };

ImageKind kindOf(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext == ".png") return ImageKind::kPng;
  if (ext == ".jpg" || ext == ".jpeg") return ImageKind::kJpeg;
  return ImageKind::kOther;
}

// 8-bit pixels, interleaved HWC with `channels` (1 gray or 3 RGB).
struct Decoded {
  std::vector<uint8_t> pixels;
  int64_t h = 0, w = 0;
};

Status decodePng(const std::string& bytes, int channels, const std::string& what, Decoded* out) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size())) {
    return HQ_ERROR(kParse, "{}: cannot decode PNG: {}", what, img.message);
  }
  img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  out->h = img.height;
  out->w = img.width;
  out->pixels.assign(PNG_IMAGE_SIZE(img), 0);  // alpha composites onto black
  if (!png_image_finish_read(&img, nullptr, out->pixels.data(), 0, nullptr)) {
    std::string msg = img.message;
    png_image_free(&img);
    return HQ_ERROR(kParse, "{}: cannot decode PNG: {}", what, msg);
  }
  return Status::ok();
}

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpegSilence(j_common_ptr, int) {}

// Plain C-style decode: no C++ objects are created between setjmp and a longjmp.
bool decodeJpegRaw(const std::string& bytes, int channels, std::vector<uint8_t>* pixels, int64_t* h,
                   int64_t* w, char* message) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpegErrorExit;
  err.mgr.emit_message = jpegSilence;
  if (setjmp(err.jump)) {
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  *h = cinfo.output_height;
  *w = cinfo.output_width;
  size_t stride = static_cast<size_t>(cinfo.output_width) * cinfo.output_components;
  pixels->resize(stride * cinfo.output_height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels->data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Status decodeFile(const std::string& path, int channels, Decoded* out) {
  HQ_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  if (kindOf(path) == ImageKind::kPng) return decodePng(bytes, channels, path, out);
  char message[JMSG_LENGTH_MAX] = {0};
  if (!decodeJpegRaw(bytes, channels, &out->pixels, &out->h, &out->w, message)) {
    return HQ_ERROR(kParse, "{}: cannot decode JPEG: {}", path, message);
  }
  return Status::ok();
}

class ImageFolderSource : public ImageSource {
 public:
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape imageShape() const override { return shape_; }
  bool hasLabels() const override { return true; }
  int64_t numClasses() const override { return static_cast<int64_t>(classes_.size()); }
  std::vector<std::string> classNames() const override { return classes_; }
  Status read(int64_t index, Image* image, int64_t* label) const override {
    Decoded d;
    HQ_RETURN_IF_ERROR(decodeFile(files_[index], channels_, &d));
    image->resize(channels_, d.h, d.w);
    size_t plane = static_cast<size_t>(d.h * d.w);
    for (size_t p = 0; p < plane; ++p) {
      for (int c = 0; c < channels_; ++c) image->data[c * plane + p] = d.pixels[p * channels_ + c];
    }
    *label = labels_[index];
    return Status::ok();
  }
  std::string describe() const override {
    return fmt::format("image_folder {} ({} images, {} classes, first image {}x{}x{})", root_,
                       files_.size(), classes_.size(), shape_[0], shape_[1], shape_[2]);
  }

  std::string root_;
  int channels_ = 3;
  std::vector<std::string> classes_, files_;
  std::vector<int64_t> labels_;
  Shape shape_;
};

}  // namespace

Expected<std::unique_ptr<ImageSource>> openImageFolderSource(const SourceSpec& spec) {
  std::error_code ec;
  if (!fs::is_directory(spec.path, ec)) {
    return HQ_ERROR(kNotFound,
                    "{}: no such folder (an image_folder source is a folder with one "
                    "subfolder of images per class)",
                    spec.path);
  }
  auto src = std::make_unique<ImageFolderSource>();
  src->root_ = spec.path;
  src->channels_ = static_cast<int>(spec.channels);
  std::vector<fs::path> class_dirs;
  for (const auto& e : fs::directory_iterator(spec.path, ec)) {
    std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '.' && e.is_directory(ec)) class_dirs.push_back(e.path());
  }
  if (ec) return HQ_ERROR(kIo, "{}: cannot list the folder: {}", spec.path, ec.message());
  std::sort(class_dirs.begin(), class_dirs.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  for (const fs::path& dir : class_dirs) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || kindOf(e.path()) == ImageKind::kOther) continue;
      if (e.is_regular_file(ec)) files.push_back(e.path().string());
    }
    if (ec) return HQ_ERROR(kIo, "{}: cannot list the folder: {}", dir.string(), ec.message());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      src->files_.push_back(std::move(f));
      src->labels_.push_back(static_cast<int64_t>(src->classes_.size()));
    }
    src->classes_.push_back(dir.filename().string());
  }
  if (src->files_.empty()) {
    return HQ_ERROR(kNotFound, "{}: no .png/.jpg/.jpeg images in its {} class subfolder(s)",
                    spec.path, class_dirs.size());
  }
  Image first;
  int64_t label;
  HQ_RETURN_IF_ERROR(src->read(0, &first, &label));
  src->shape_ = {first.c, first.h, first.w};
  return std::unique_ptr<ImageSource>(std::move(src));
}

}  // namespace hq
