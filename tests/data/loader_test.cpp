// BatchLoader: order, shuffle determinism, dropLast, errors, clean stop, throughput.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "data/dataset.h"
#include "data/random.h"

using namespace hq;

namespace {

// Sample i is the image [i, -i] (1x1x2) with label i % 10; get() fails at `failAt`.
class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(int64_t n, int64_t fail_at = -1, int sleep_us = 0)
      : n_(n), failAt_(fail_at), sleepUs_(sleep_us) {}
  int64_t size() const override { return n_; }
  Shape sampleShape() const override { return {1, 1, 2}; }
  bool hasLabels() const override { return true; }
  int64_t numClasses() const override { return 10; }
  Expected<Sample> get(int64_t index, int64_t epoch) override {
    ++reads;
    if (sleepUs_) std::this_thread::sleep_for(std::chrono::microseconds(sleepUs_));
    if (index == failAt_) return HQ_ERROR(kData, "sample {} is broken", index);
    Sample s;
    s.image = Tensor::fromVector<float>({1, 1, 2}, {float(index), float(-index)});
    s.label = index % 10;
    return s;
  }
  std::string describe() const override { return "counting"; }
  std::atomic<int64_t> reads{0};

 private:
  int64_t n_, failAt_;
  int sleepUs_;
};

std::vector<int64_t> drain(BatchLoader& loader, std::vector<int64_t>* sizes = nullptr) {
  std::vector<int64_t> order;
  while (true) {
    auto b = loader.next();
    REQUIRE(b.isOk());
    if (!*b) break;
    const Batch& batch = **b;
    if (sizes) sizes->push_back(batch.images.dim(0));
    for (int64_t i = 0; i < batch.images.dim(0); ++i) {
      int64_t idx = static_cast<int64_t>(batch.images.data<float>()[i * 2]);
      CHECK(batch.images.data<float>()[i * 2 + 1] == -static_cast<float>(idx));
      CHECK(batch.labels.data<int64_t>()[i] == idx % 10);
      CHECK(batch.first + i == static_cast<int64_t>(order.size()));
      order.push_back(idx);
    }
  }
  return order;
}

}  // namespace

TEST_CASE("loader yields every sample in order, last batch partial unless dropLast") {
  CountingDataset ds(10);
  LoaderOptions o;
  o.batchSize = 4;
  BatchLoader loader(ds, o);
  CHECK(loader.numBatches() == 3);
  std::vector<int64_t> sizes;
  CHECK(drain(loader, &sizes) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  auto again = loader.next();  // stays at the end
  REQUIRE(again.isOk());
  CHECK_FALSE(again->has_value());

  o.dropLast = true;
  BatchLoader dropping(ds, o);
  CHECK(dropping.numBatches() == 2);
  sizes.clear();
  CHECK(drain(dropping, &sizes).size() == 8);
  CHECK(sizes == std::vector<int64_t>{4, 4});
}

TEST_CASE("shuffle order is fixed by (seed, epoch) and covers every sample once") {
  CountingDataset ds(37);
  LoaderOptions o;
  o.batchSize = 5;
  o.shuffle = true;
  o.seed = 3;
  o.epoch = 1;
  BatchLoader a(ds, o), b(ds, o);
  auto oa = drain(a), ob = drain(b);
  CHECK(oa == ob);
  CHECK(oa == permutation(37, combineSeeds(3, 1)));
  std::vector<int64_t> sorted = oa;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 37; ++i) CHECK(sorted[i] == i);
  o.epoch = 2;
  BatchLoader c(ds, o);
  CHECK(drain(c) != oa);
  o.epoch = 1;
  o.seed = 4;
  BatchLoader d(ds, o);
  CHECK(drain(d) != oa);
}

TEST_CASE("several workers per batch give the same batches") {
  CountingDataset ds(50);
  LoaderOptions o;
  o.batchSize = 16;
  o.shuffle = true;
  o.workers = 1;
  BatchLoader one(ds, o);
  o.workers = 3;
  BatchLoader three(ds, o);
  CHECK(drain(one) == drain(three));
}

TEST_CASE("a failing sample stops the loader: next() returns earlier batches, then the error") {
  CountingDataset ds(20, /*fail_at=*/9);
  LoaderOptions o;
  o.batchSize = 4;
  BatchLoader loader(ds, o);
  for (int b = 0; b < 2; ++b) {
    auto batch = loader.next();
    REQUIRE(batch.isOk());
    REQUIRE(batch->has_value());
  }
  auto err = loader.next();
  REQUIRE_FALSE(err.isOk());
  CHECK(err.status().message() == "sample 9 is broken");
  CHECK_FALSE(loader.next().isOk());  // stays failed

  o.batchSize = 0;
  BatchLoader bad(ds, o);
  auto e = bad.next();
  REQUIRE_FALSE(e.isOk());
  CHECK(e.status().message().find("batch size must be positive") != std::string::npos);
}

TEST_CASE("destroying a loader mid-epoch stops its thread promptly") {
  // 100,000 samples at 20 us each would take 2 s; the loader must not read them all.
  CountingDataset ds(100000, -1, 20);
  auto start = std::chrono::steady_clock::now();
  {
    LoaderOptions o;
    o.batchSize = 64;
    o.prefetch = 2;
    BatchLoader loader(ds, o);
    auto b = loader.next();
    REQUIRE(b.isOk());
    REQUIRE(b->has_value());
  }
  {
    LoaderOptions o;
    o.batchSize = 64;
    BatchLoader never_read(ds, o);  // destroyed while the first batches are being made
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 1.0);
  // At most the batch handed out plus `prefetch` more plus one in progress, per loader.
  CHECK(ds.reads.load() <= 64 * 4 + 64 * 3);
}

TEST_CASE("loader throughput on Fashion-MNIST t10k (loader only, no model)") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist not installed; skipped");
    return;
  }
  auto open_start = std::chrono::steady_clock::now();
  auto ds = openDataset("fashion-mnist-test");
  REQUIRE(ds.isOk());
  double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - open_start).count();
  for (const char* name : {"fashion-mnist-test", "fashion-mnist-test-32"}) {
    auto d = openDataset(name);
    REQUIRE(d.isOk());
    LoaderOptions o;
    o.batchSize = 256;
    auto start = std::chrono::steady_clock::now();
    BatchLoader loader(**d, o);
    int64_t n = 0;
    double checksum = 0;
    while (true) {
      auto b = loader.next();
      REQUIRE(b.isOk());
      if (!*b) break;
      n += (*b)->images.dim(0);
      checksum += (*b)->images.data<float>()[0];
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = n / s;
    std::printf("loader %s: %lld images in %.4f s = %.0f img/s (open %.3f s)\n", name,
                static_cast<long long>(n), s, rate, open_s);
    CHECK(n == 10000);
    CHECK(rate > 30000);
  }
}
