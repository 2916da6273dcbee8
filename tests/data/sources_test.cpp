// Sources end to end through dataset specs: IDX (synthetic and the real Fashion-MNIST),
// CIFAR-10 batches, .npy, .npz and image folders.
#include <catch2/catch.hpp>

#include <jpeglib.h>
#include <png.h>

#include <cstdio>
#include <cstring>
#include <numeric>

#include "data/dataset.h"
#include "data/npy.h"
#include "data/source.h"
#include "data_test_util.h"

using namespace hq;
using namespace hq::testing;
namespace fs = std::filesystem;

namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";
bool haveFashion() { return fs::exists(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz"); }

std::unique_ptr<Dataset> open(const fs::path& spec_file, const std::string& json,
                              const DatasetOptions& o = {}) {
  writeBytes(spec_file, json);
  auto ds = openDataset(spec_file.string(), o);
  INFO((ds.isOk() ? std::string("ok") : ds.status().message()));
  REQUIRE(ds.isOk());
  return std::move(ds).value();
}

std::string openError(const fs::path& spec_file, const std::string& json) {
  writeBytes(spec_file, json);
  auto ds = openDataset(spec_file.string());
  REQUIRE_FALSE(ds.isOk());
  return ds.status().message();
}

// Three 2x2 images with pixel values 10*i + k, labels 2, 0, 1.
void writeTinyIdx(const fs::path& dir, bool gz) {
  std::vector<uint8_t> px;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) px.push_back(static_cast<uint8_t>(10 * i + k));
  std::string images = idxBytes({3, 2, 2}, px), labels = idxBytes({3}, {2, 0, 1});
  writeBytes(dir / (gz ? "img.gz" : "img.idx"), gz ? gzipBytes(images) : images);
  writeBytes(dir / (gz ? "lab.gz" : "lab.idx"), gz ? gzipBytes(labels) : labels);
}

void writePng(const fs::path& p, int w, int h, int channels, const std::vector<uint8_t>& px) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  REQUIRE(png_image_write_to_file(&img, p.c_str(), 0, px.data(), 0, nullptr));
}

void writeGrayJpeg(const fs::path& p, int w, int h, uint8_t value) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  FILE* f = std::fopen(p.c_str(), "wb");
  REQUIRE(f);
  jpeg_stdio_dest(&c, f);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = 1;
  c.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(w), value);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
}

}  // namespace

TEST_CASE("IDX source: tiny gzipped and plain files with labels") {
  auto dir = dataScratch("idx");
  for (bool gz : {true, false}) {
    writeTinyIdx(dir, gz);
    std::string im = gz ? "img.gz" : "img.idx", lb = gz ? "lab.gz" : "lab.idx";
    auto ds = open(dir / "s.json", R"({"format_version": 1, "source": {"kind": "idx",
        "images": ")" + im + R"(", "labels": ")" +
                                       lb + R"("},
        "steps": [{"op": "normalize", "offset": 128, "scale": 0.0078125}]})");
    CHECK(ds->size() == 3);
    CHECK(ds->sampleShape() == Shape{1, 2, 2});
    CHECK(ds->numClasses() == 3);
    CHECK(ds->hasLabels());
    auto s = ds->get(1);
    REQUIRE(s.isOk());
    CHECK(s->label == 0);
    const float* p = s->image.data<float>();
    for (int k = 0; k < 4; ++k) CHECK(p[k] == (10 + k - 128) / 128.0f);
    CHECK(ds->get(2)->label == 1);
    CHECK_FALSE(ds->get(3).isOk());
  }
  // The temp-file path for large gzip files gives the same bytes.
  writeTinyIdx(dir, true);
  SourceSpec spec;
  spec.kind = "idx";
  spec.images = (dir / "img.gz").string();
  spec.inMemoryLimit = 4;
  auto src = openIdxSource(spec);
  REQUIRE(src.isOk());
  Image im;
  int64_t label;
  REQUIRE((*src)->read(2, &im, &label).isOk());
  CHECK(im.data == std::vector<float>{20, 21, 22, 23});
  CHECK(label == -1);
}

TEST_CASE("IDX source rejects header/size mismatches and corrupted gzip, naming the file") {
  auto dir = dataScratch("idxbad");
  std::vector<uint8_t> eleven(11, 7);
  writeBytes(dir / "short.gz", gzipBytes(idxBytes({3, 2, 2}, eleven)));
  writeBytes(dir / "lab.gz", gzipBytes(idxBytes({4}, {0, 1, 2, 3})));
  writeBytes(dir / "img.gz", gzipBytes(idxBytes({3, 2, 2}, std::vector<uint8_t>(12, 1))));
  std::string gz = gzipBytes(idxBytes({3, 2, 2}, std::vector<uint8_t>(12, 1)));
  gz[gz.size() - 7] ^= 0x10;  // CRC-32
  writeBytes(dir / "crc.gz", gz);
  auto spec = [](const std::string& images, const std::string& labels) {
    return R"({"format_version": 1, "source": {"kind": "idx", "images": ")" + images + "\"" +
           (labels.empty() ? "" : R"(, "labels": ")" + labels + "\"") + "}}";
  };
  std::string e = openError(dir / "a.json", spec("short.gz", ""));
  CHECK(contains(e, (dir / "short.gz").string()));
  CHECK(contains(e, "IDX header says [3, 2, 2] = 12 bytes of data, the file has 11 (truncated)"));
  e = openError(dir / "b.json", spec("img.gz", "lab.gz"));
  CHECK(contains(e, "4 labels, but"));
  e = openError(dir / "c.json", spec("lab.gz", ""));
  CHECK(contains(e, "IDX file has 1 dimension(s), expected 3 for images"));
  e = openError(dir / "d.json", spec("crc.gz", ""));
  CHECK(contains(e, (dir / "crc.gz").string()));
  CHECK(contains(e, "CRC-32 mismatch"));
  e = openError(dir / "e.json", spec("missing.gz", ""));
  CHECK(contains(e, "missing.gz: no such file"));
}

TEST_CASE("real Fashion-MNIST t10k from Debian's dataset-fashion-mnist") {
  if (!haveFashion()) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  auto ds = openDataset("fashion-mnist-test");
  REQUIRE(ds.isOk());
  Dataset& d = **ds;
  CHECK(d.size() == 10000);
  CHECK(d.sampleShape() == Shape{1, 28, 28});
  CHECK(d.numClasses() == 10);
  CHECK(d.classNames().at(9) == "Ankle boot");
  auto s = d.get(0);
  REQUIRE(s.isOk());
  CHECK(s->label == 9);  // ankle boot, from the labels file
  // Values from numpy on the same file: sum of raw pixels 33456, pixel (14, 14) = 110.
  double sum = 0;
  const float* p = s->image.data<float>();
  for (int i = 0; i < 784; ++i) sum += p[i];
  CHECK(sum == Approx((33456.0 - 784 * 128) / 128).epsilon(1e-9));
  CHECK(p[14 * 28 + 14] == (110 - 128) / 128.0f);
  CHECK(d.get(9999)->label == 5);

  auto d32 = openDataset("fashion-mnist-test-32");
  REQUIRE(d32.isOk());
  CHECK((*d32)->sampleShape() == Shape{3, 32, 32});
  auto s32 = (*d32)->get(0);
  REQUIRE(s32.isOk());
  const float* q = s32->image.data<float>();
  for (int c = 0; c < 3; ++c) {
    CHECK(q[c * 1024 + 0] == -1.0f);
    CHECK(q[c * 1024 + 16 * 32 + 16] == (110 - 128) / 128.0f);
  }

  DatasetOptions lim;
  lim.limit = 300;
  CHECK((*openDataset("fashion-mnist-test", lim))->size() == 300);

  auto calib = openDataset("fashion-mnist-calib");
  REQUIRE(calib.isOk());
  CHECK((*calib)->size() == 2048);
  // permutation(60000, 0) starts 17103, 3854 (see preprocess_test); numpy says training
  // image 17103 has label 4 and pixel sum 75351, image 3854 label 9.
  auto c0 = (*calib)->get(0);
  REQUIRE(c0.isOk());
  CHECK(c0->label == 4);
  double csum = 0;
  for (int i = 0; i < 784; ++i) csum += c0->image.data<float>()[i] * 128.0 + 128.0;
  CHECK(csum == Approx(75351).epsilon(1e-9));
  CHECK((*calib)->get(1)->label == 9);
}

TEST_CASE("CIFAR-10 binary batches") {
  auto dir = dataScratch("cifar");
  std::string batch1, batch2;
  for (int r = 0; r < 3; ++r) {
    batch1 += static_cast<char>(r);  // labels 0, 1, 2
    for (int i = 0; i < 3072; ++i) batch1 += static_cast<char>((i / 1024) * 100 + r);
  }
  batch2 += static_cast<char>(9);
  for (int i = 0; i < 3072; ++i) batch2 += static_cast<char>(i % 256);
  writeBytes(dir / "data_batch_1.bin", batch1);
  writeBytes(dir / "data_batch_2.bin", batch2);
  auto ds = open(dir / "c.json", R"({"format_version": 1, "source": {"kind": "cifar10",
      "files": ["data_batch_1.bin", "data_batch_2.bin"]},
      "steps": [{"op": "rgb_to_centered_yuv444"}, {"op": "normalize", "offset": 0, "scale": 0.0078125}]})");
  CHECK(ds->size() == 4);
  CHECK(ds->sampleShape() == Shape{3, 32, 32});
  auto s = ds->get(2);
  REQUIRE(s.isOk());
  CHECK(s->label == 2);
  // RGB = (2, 102, 202): Y = trunc((66*2 + 129*102 + 25*202 + 128)/256 + 16) - 128
  //                        = trunc(18468/256 + 16) - 128 = trunc(88.14) - 128 = -40, then /128
  CHECK(s->image.data<float>()[0] == -40 / 128.0f);
  CHECK(ds->get(3)->label == 9);
  writeBytes(dir / "bad.bin", batch1.substr(0, 3000));
  std::string e = openError(dir / "d.json", R"({"format_version": 1, "source": {"kind": "cifar10",
      "files": ["bad.bin"]}})");
  CHECK(contains(e, "bad.bin: 3000 bytes is not a whole number of CIFAR-10 records"));
}

TEST_CASE("npy source: NHWC uint8 images and int64 labels written by writeNpy") {
  auto dir = dataScratch("npysrc");
  std::vector<uint8_t> px(2 * 2 * 2 * 3);
  std::iota(px.begin(), px.end(), 0);
  REQUIRE(writeNpy((dir / "x.npy").string(), Tensor::fromVector<uint8_t>({2, 2, 2, 3}, px)).isOk());
  REQUIRE(writeNpy((dir / "y.npy").string(), Tensor::fromVector<int64_t>({2}, {7, 3})).isOk());
  auto ds = open(dir / "n.json", R"({"format_version": 1, "source": {"kind": "npy",
      "images": "x.npy", "labels": "y.npy", "layout": "NHWC"}})");
  CHECK(ds->sampleShape() == Shape{3, 2, 2});
  CHECK(ds->numClasses() == 8);
  auto s = ds->get(1);
  REQUIRE(s.isOk());
  CHECK(s->label == 3);
  // Sample 1 starts at element 12; channel c of pixel p is 12 + 3p + c.
  const float* q = s->image.data<float>();
  CHECK(std::vector<float>(q, q + 12) ==
        std::vector<float>{12, 15, 18, 21, 13, 16, 19, 22, 14, 17, 20, 23});
  std::string e = openError(dir / "m.json", R"({"format_version": 1, "source": {"kind": "npy",
      "images": "x.npy", "labels": "x.npy", "layout": "NHWC"}})");
  CHECK(contains(e, "labels are [2, 2, 2, 3], expected [2]"));
}

TEST_CASE("npz source: numpy-written stored and compressed archives") {
  std::string fixtures = std::string(HQ_TEST_DATA) + "/datasets/";
  auto dir = dataScratch("npzsrc");
  auto ds = open(dir / "a.json",
                 R"({"format_version": 1, "source": {"kind": "npz",
      "path": ")" + fixtures +
                     R"(tiny.npz", "images": "images", "labels": "labels", "layout": "NHWC"}})");
  CHECK(ds->size() == 4);
  CHECK(ds->sampleShape() == Shape{3, 2, 3});
  auto s = ds->get(3);
  REQUIRE(s.isOk());
  CHECK(s->label == 1);
  CHECK(s->image.data<float>()[0] == 54);  // arange(72)[3, 0, 0, 0]
  CHECK(s->image.data<float>()[6] == 55);  // channel 1 of the same pixel
  auto dz = open(dir / "b.json", R"({"format_version": 1, "source": {"kind": "npz",
      "path": ")" + fixtures + R"(tiny_compressed.npz", "images": "x.npy", "labels": "y"}})");
  auto z = dz->get(2);
  REQUIRE(z.isOk());
  CHECK(z->label == 2);
  CHECK(z->image.data<float>()[0] == 18.0f);  // arange(72)/2 [2, 0, 0, 0] = 36 / 2
  std::string e = openError(dir / "c.json", R"({"format_version": 1, "source": {"kind": "npz",
      "path": ")" + fixtures + R"(tiny.npz", "images": "pixels"}})");
  CHECK(contains(e, "no array 'pixels' in the archive (it has: images.npy, labels.npy)"));
}

TEST_CASE("image folder: classes sorted by name, PNG and JPEG decoded") {
  auto dir = dataScratch("folder");
  fs::create_directories(dir / "root" / "dog");
  fs::create_directories(dir / "root" / "cat");
  fs::create_directories(dir / "root" / ".hidden");
  writePng(dir / "root" / "dog" / "b.png", 2, 1, 3, {255, 0, 0, 10, 200, 30});
  writePng(dir / "root" / "cat" / "a.png", 2, 1, 3, {1, 2, 3, 4, 5, 6});
  writeBytes(dir / "root" / "cat" / "notes.txt", "not an image");
  auto ds = open(dir / "f.json", R"({"format_version": 1,
      "source": {"kind": "image_folder", "path": "root"},
      "steps": [{"op": "rgb_to_centered_yuv444"}]})");
  CHECK(ds->size() == 2);
  CHECK(ds->classNames() == std::vector<std::string>{"cat", "dog"});
  CHECK(ds->sampleShape() == Shape{3, 1, 2});
  auto cat = ds->get(0);
  REQUIRE(cat.isOk());
  CHECK(cat->label == 0);
  auto dog = ds->get(1);
  REQUIRE(dog.isOk());
  CHECK(dog->label == 1);
  // Red and (10, 200, 30) in centered YUV (see preprocess_test).
  const float* q = dog->image.data<float>();
  CHECK(std::vector<float>(q, q + 6) == std::vector<float>{-46, -6, -38, -46, 112, -71});

  // Different sizes need a resize; JPEG decodes too.
  writeGrayJpeg(dir / "root" / "dog" / "c.jpg", 8, 8, 100);
  auto mixed = open(dir / "g.json", R"({"format_version": 1,
      "source": {"kind": "image_folder", "path": "root", "channels": 1}})");
  auto bad = mixed->get(2);
  REQUIRE_FALSE(bad.isOk());
  CHECK(contains(bad.status().message(), "add resize/center_crop steps"));
  auto resized = open(dir / "h.json", R"({"format_version": 1,
      "source": {"kind": "image_folder", "path": "root", "channels": 1},
      "steps": [{"op": "resize", "size": [4, 4]}]})");
  auto jpg = resized->get(2);
  REQUIRE(jpg.isOk());
  for (int i = 0; i < 16; ++i) CHECK(std::abs(jpg->image.data<float>()[i] - 100) <= 1);

  writeBytes(dir / "root" / "dog" / "d.jpg", "\xff\xd8\xff garbage");
  auto reopened = open(dir / "h.json", readBytes(dir / "h.json"));
  auto broken = reopened->get(3);
  REQUIRE_FALSE(broken.isOk());
  CHECK(contains(broken.status().message(), "d.jpg: cannot decode JPEG"));
}
