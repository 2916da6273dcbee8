// BatchLoader: a background thread fills up to `prefetch` batches ahead of the consumer.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <numeric>
#include <thread>

#include "data/dataset.h"
#include "data/random.h"

namespace hq {

struct BatchLoader::Impl {
  Dataset& dataset;
  LoaderOptions options;
  std::vector<int64_t> order;  ///< dataset index at each epoch position
  int64_t numBatches = 0;
  int workers = 1;

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> ready;
  Status error;
  bool finished = false;  ///< producer is done (end of epoch or error)
  std::atomic<bool> stop{false};
  std::thread thread;

  /// Image buffers for reuse (producer thread only): a buffer whose only owner is the pool
  /// is free, so steady state allocates nothing and touches no fresh pages.
  std::vector<std::shared_ptr<void>> pool;
  size_t bufferBytes = 0;

  Impl(Dataset& d, const LoaderOptions& o) : dataset(d), options(o) {}

  // Fill samples [begin, end) of batch `b` (positions in `order`).
  Status fill(Batch* batch, int64_t first, int64_t begin, int64_t end) {
    int64_t per = shapeNumel(dataset.sampleShape());
    float* images = batch->images.data<float>();
    int64_t* labels = batch->labels.defined() ? batch->labels.data<int64_t>() : nullptr;
    for (int64_t i = begin; i < end; ++i) {
      if (stop.load(std::memory_order_relaxed)) return Status::ok();
      int64_t label = -1;
      HQ_RETURN_IF_ERROR(dataset.readInto(order[static_cast<size_t>(first + i)], options.epoch,
                                          images + i * per, &label));
      if (labels) labels[i] = label;
    }
    return Status::ok();
  }

  // A float32 tensor of `shape` over a pooled buffer; its contents are overwritten by fill().
  Tensor imagesTensor(const Shape& shape) {
    size_t bytes = static_cast<size_t>(shapeNumel(shape)) * sizeof(float);
    for (auto& buf : pool) {
      if (buf.use_count() == 1) {
        std::atomic_thread_fence(std::memory_order_acquire);  // the consumer is done with it
        return Tensor::shared(DType::kFloat32, shape, buf, buf.get());
      }
    }
    size_t alloc = std::max<size_t>(64, (std::max(bytes, bufferBytes) + 63) / 64 * 64);
    void* p = std::aligned_alloc(64, alloc);
    if (!p) return Tensor(DType::kFloat32, shape);  // throws bad_alloc like any tensor
    std::shared_ptr<void> buf(p, [](void* q) { std::free(q); });
    if (pool.size() < static_cast<size_t>(std::max(1, options.prefetch)) + 3) pool.push_back(buf);
    return Tensor::shared(DType::kFloat32, shape, buf, p);
  }

  Status makeBatch(int64_t b, Batch* batch) {
    int64_t first = b * options.batchSize;
    int64_t n = std::min(options.batchSize, static_cast<int64_t>(order.size()) - first);
    Shape shape = dataset.sampleShape();
    shape.insert(shape.begin(), n);
    batch->images = imagesTensor(shape);
    if (dataset.hasLabels()) batch->labels = Tensor(DType::kInt64, {n});
    batch->first = first;
    if (workers <= 1 || n < 2) return fill(batch, first, 0, n);
    int k = static_cast<int>(std::min<int64_t>(workers, n));
    std::vector<Status> status(static_cast<size_t>(k));
    std::vector<std::thread> threads;
    for (int t = 0; t < k; ++t) {
      threads.emplace_back([&, t] { status[t] = fill(batch, first, n * t / k, n * (t + 1) / k); });
    }
    for (auto& th : threads) th.join();
    for (auto& s : status) HQ_RETURN_IF_ERROR(s);
    return Status::ok();
  }

  void run() {
    for (int64_t b = 0; b < numBatches; ++b) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] {
          return stop.load() || static_cast<int64_t>(ready.size()) < std::max(1, options.prefetch);
        });
        if (stop.load()) break;
      }
      Batch batch;
      Status st = makeBatch(b, &batch);
      std::lock_guard<std::mutex> lock(mutex);
      if (stop.load()) break;
      if (!st.isOk()) {
        error = st;
        break;
      }
      ready.push_back(std::move(batch));
      changed.notify_all();
    }
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
    changed.notify_all();
  }
};

BatchLoader::BatchLoader(Dataset& dataset, const LoaderOptions& options)
    : impl_(std::make_unique<Impl>(dataset, options)) {
  Impl& m = *impl_;
  int64_t n = dataset.size();
  if (options.batchSize <= 0) {
    m.error = HQ_ERROR(kInvalidArgument, "batch size must be positive, got {}", options.batchSize);
    m.finished = true;
    return;
  }
  if (options.shuffle) {
    m.order = permutation(n, combineSeeds(options.seed, static_cast<uint64_t>(options.epoch)));
  } else {
    m.order.resize(static_cast<size_t>(n));
    std::iota(m.order.begin(), m.order.end(), int64_t{0});
  }
  m.bufferBytes = static_cast<size_t>(std::max<int64_t>(0, shapeNumel(dataset.sampleShape()))) *
                  static_cast<size_t>(options.batchSize) * sizeof(float);
  m.numBatches =
      options.dropLast ? n / options.batchSize : (n + options.batchSize - 1) / options.batchSize;
  m.workers = options.workers > 0 ? options.workers
              : dataset.costlySamples()
                  ? static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u))
                  : 1;
  m.thread = std::thread([&m] { m.run(); });
}

BatchLoader::~BatchLoader() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->changed.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Expected<std::optional<Batch>> BatchLoader::next() {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mutex);
  m.changed.wait(lock, [&] { return !m.ready.empty() || m.finished; });
  if (!m.ready.empty()) {
    Batch b = std::move(m.ready.front());
    m.ready.pop_front();
    m.changed.notify_all();
    return std::optional<Batch>(std::move(b));
  }
  if (!m.error.isOk()) return m.error;
  return std::optional<Batch>();
}

int64_t BatchLoader::numBatches() const { return impl_->numBatches; }

}  // namespace hq
