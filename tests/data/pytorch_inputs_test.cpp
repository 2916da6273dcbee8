// The built-in Fashion-MNIST specs reproduce, bit for bit, the inputs PyTorch fed the
// reference models (HQ_SHARED_MODELS/*.test_data_set_0/input_0.pb: the first 16 t10k images).
#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"

using namespace hq;
namespace fs = std::filesystem;

TEST_CASE("fashion-mnist-test and -test-32 samples equal PyTorch's model inputs exactly") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  const std::pair<const char*, const char*> cases[] = {{"fmnist_cnn", "fashion-mnist-test"},
                                                       {"mobilenetv2_32", "fashion-mnist-test-32"}};
  for (const auto& [model, spec] : cases) {
    std::string path =
        std::string(HQ_SHARED_MODELS) + "/" + model + ".float.test_data_set_0/input_0.pb";
    if (!fs::exists(path)) {
      WARN(path << " not found; skipped");
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    onnx::TensorProto tp;
    REQUIRE(tp.ParseFromString(bytes));
    REQUIRE(tp.data_type() == onnx::TensorProto::FLOAT);
    Shape shape(tp.dims().begin(), tp.dims().end());
    std::vector<float> want(static_cast<size_t>(shapeNumel(shape)));
    if (!tp.raw_data().empty()) {
      REQUIRE(tp.raw_data().size() == want.size() * 4);
      std::memcpy(want.data(), tp.raw_data().data(), tp.raw_data().size());
    } else {
      REQUIRE(static_cast<size_t>(tp.float_data_size()) == want.size());
      std::copy(tp.float_data().begin(), tp.float_data().end(), want.begin());
    }
    auto ds = openDataset(spec);
    REQUIRE(ds.isOk());
    Shape sample = (*ds)->sampleShape();
    REQUIRE(shape.size() == 4);
    REQUIRE(Shape(shape.begin() + 1, shape.end()) == sample);
    int64_t per = shapeNumel(sample);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < shape[0]; ++i) {
      auto s = (*ds)->get(i);
      REQUIRE(s.isOk());
      for (int64_t k = 0; k < per; ++k)
        mismatches += s->image.data<float>()[k] != want[i * per + k];
    }
    INFO(model << " vs " << spec);
    CHECK(mismatches == 0);
  }
}
