#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "data/npy.h"
#include "runtime/executor.h"
#include "support/log.h"
#include "support/progress.h"

namespace hq {

OrderedJson EvalResult::toJson() const {
  OrderedJson j;
  j["top1"] = top1;
  j["top5"] = top5;
  j["count"] = count;
  j["correct_top1"] = correct1;
  j["correct_top5"] = correct5;
  j["seconds"] = seconds;
  j["images_per_s"] = imagesPerSecond;
  return j;
}

int64_t trueClassRank(const float* row, int64_t classes, int64_t label) {
  const float target = row[label];
  int64_t higher = 0;
  for (int64_t c = 0; c < classes; ++c) {
    if (row[c] > target || (row[c] == target && c < label)) ++higher;
  }
  return higher;
}

Status checkModelFitsData(const Graph& graph, const Dataset& dataset, bool need_labels) {
  if (graph.inputs().size() != 1) {
    return HQ_ERROR(kUnsupported, "evaluation needs a model with one input, this one has {}",
                    graph.inputs().size());
  }
  if (graph.outputs().empty()) return HQ_ERROR(kUnsupported, "the model has no outputs");
  const Value* in = graph.inputs()[0];
  Shape sample = dataset.sampleShape();
  if (in->dtype != DType::kFloat32) {
    return HQ_ERROR(kUnsupported, "model input '{}' is {}, evaluation feeds float32 images",
                    in->name, dtypeName(in->dtype));
  }
  bool fits = in->hasShape && in->shape.size() == sample.size() + 1;
  for (size_t d = 0; fits && d < sample.size(); ++d) {
    if (in->shape[d + 1] >= 0 && in->shape[d + 1] != sample[d]) fits = false;
  }
  if (!fits) {
    return HQ_ERROR(kShape, "data samples are {} ({}) but model input '{}' expects {}",
                    shapeString(sample), dataset.describe(), in->name, shapeString(in->shape));
  }
  if (need_labels && !dataset.hasLabels()) {
    return HQ_ERROR(kInvalidArgument, "{} has no labels; accuracy needs labeled data",
                    dataset.describe());
  }
  return Status::ok();
}

std::string dumpFileName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (out.empty() || out[0] == '.') out = "_" + out;  // never hidden, never "." or ".."
  return out + ".npy";
}

namespace {

/// Tensor names for --dump-tensors: a value name as is, a node name as its first output.
Expected<std::vector<std::string>> resolveDumpNames(const Graph& graph,
                                                    const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (graph.findValue(name)) {
      out.push_back(name);
    } else if (const Node* n = graph.findNode(name); n && !n->outputs.empty() && n->outputs[0]) {
      out.push_back(n->outputs[0]->name);
    } else {
      return HQ_ERROR(kNotFound, "--dump-tensors: the model has no tensor or node named '{}'",
                      name);
    }
  }
  return out;
}

/// Copy batch rows [first, first + n) of `part` into `whole` (allocated on first use with
/// `total` rows).
Status appendRows(Tensor& whole, const Tensor& part, int64_t first, int64_t total,
                  const std::string& name) {
  if (part.rank() < 1) return HQ_ERROR(kShape, "--dump-tensors: tensor '{}' is a scalar", name);
  if (!whole.defined()) {
    Shape s = part.shape();
    s[0] = total;
    whole = Tensor(part.dtype(), s);
  }
  const size_t row = part.nbytes() / static_cast<size_t>(std::max<int64_t>(part.dim(0), 1));
  if (whole.dtype() != part.dtype() || whole.nbytes() / static_cast<size_t>(total) != row) {
    return HQ_ERROR(kShape, "--dump-tensors: tensor '{}' changes shape between batches ({})", name,
                    shapeString(part.shape()));
  }
  std::memcpy(static_cast<char*>(whole.raw()) + static_cast<size_t>(first) * row, part.raw(),
              part.nbytes());
  return Status::ok();
}

}  // namespace

AccuracyTally::AccuracyTally(const Dataset& dataset, const EvalOptions& options)
    : dataset_(dataset), options_(options), start_(std::chrono::steady_clock::now()) {
  if (options.progress)
    progress_ = std::make_unique<Progress>(options.progressLabel, dataset.size(), "img");
}

AccuracyTally::~AccuracyTally() = default;

Status AccuracyTally::add(const float* logits, int64_t rows, int64_t classes, const int64_t* labels,
                          int64_t first) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = logits + i * classes;
    const int64_t label = labels[i];
    if (label < 0 || label >= classes) {
      return HQ_ERROR(kData, "label {} of sample {} is outside the model's {} classes", label,
                      first + i, classes);
    }
    if (std::isnan(row[label])) {
      return HQ_ERROR(kData, "model output for sample {} is NaN", first + i);
    }
    const int64_t higher = trueClassRank(row, classes, label);
    r_.correct1 += higher < 1;
    r_.correct5 += higher < 5;
  }
  if (!options_.dumpOutputs.empty()) {
    if (!dump_.defined()) dump_ = Tensor(DType::kFloat32, {dataset_.size(), classes});
    std::memcpy(dump_.data<float>() + first * classes, logits,
                static_cast<size_t>(rows * classes) * sizeof(float));
  }
  r_.count += rows;
  if (progress_) {
    progress_->setSuffix(fmt::format("Acc@1 {:.3f}", 100.0 * r_.correct1 / r_.count));
    progress_->advance(rows);
  }
  return Status::ok();
}

Expected<EvalResult> AccuracyTally::finish() {
  if (progress_) progress_->finish();
  EvalResult r = r_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  r.imagesPerSecond = r.seconds > 0 ? r.count / r.seconds : 0;
  if (r.count == 0) return HQ_ERROR(kData, "{} has no samples", dataset_.describe());
  r.top1 = 100.0 * r.correct1 / r.count;
  r.top5 = 100.0 * r.correct5 / r.count;
  if (!options_.dumpOutputs.empty()) HQ_RETURN_IF_ERROR(writeNpy(options_.dumpOutputs, dump_));
  return r;
}

Expected<EvalResult> evaluateModel(const Graph& graph, Dataset& dataset,
                                   const EvalOptions& options) {
  if (options.batchSize <= 0) {
    return HQ_ERROR(kInvalidArgument, "batch size must be positive, got {}", options.batchSize);
  }
  HQ_RETURN_IF_ERROR(checkModelFitsData(graph, dataset));
  ExecutorOptions eo;
  eo.threads = options.threads;
  eo.kernels.referenceOnly = options.referenceOnly;
  HQ_ASSIGN_OR_RETURN(eo.keep, resolveDumpNames(graph, options.dumpTensors));
  auto created = Executor::create(graph, eo);
  if (!created.isOk()) {
    Status s = created.status();
    return options.modelName.empty() ? s : s.addContext(options.modelName);
  }
  std::unique_ptr<Executor> executor = std::move(*created);
  std::vector<Tensor> dumped(eo.keep.size());

  LoaderOptions lo;
  lo.batchSize = options.batchSize;
  BatchLoader loader(dataset, lo);

  AccuracyTally tally(dataset, options);
  while (true) {
    HQ_ASSIGN_OR_RETURN(auto batch, loader.next());
    if (!batch) break;
    auto ran = executor->run({batch->images});
    if (!ran.isOk()) {
      Status s = ran.status();
      return options.modelName.empty() ? s : s.addContext(options.modelName);
    }
    std::vector<Tensor>& outs = *ran;
    const Tensor& logits = outs[0];
    int64_t n = batch->images.dim(0);
    if (logits.dtype() != DType::kFloat32 || logits.rank() != 2 || logits.dim(0) != n) {
      return HQ_ERROR(kShape, "model output '{}' is {} {}, expected float32 [{}, classes]",
                      graph.outputs()[0]->name, dtypeName(logits.dtype()),
                      shapeString(logits.shape()), n);
    }
    HQ_RETURN_IF_ERROR(tally.add(logits.data<float>(), n, logits.dim(1),
                                 batch->labels.data<int64_t>(), batch->first));
    for (size_t k = 0; k < eo.keep.size(); ++k) {
      auto it = executor->kept().find(eo.keep[k]);
      if (it == executor->kept().end()) {
        return HQ_ERROR(kInternal, "--dump-tensors: tensor '{}' was not kept", eo.keep[k]);
      }
      HQ_RETURN_IF_ERROR(
          appendRows(dumped[k], it->second, batch->first, dataset.size(), eo.keep[k]));
    }
  }
  HQ_ASSIGN_OR_RETURN(EvalResult r, tally.finish());
  const std::string dir = options.dumpDir.empty() ? "." : options.dumpDir;
  if (!eo.keep.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return HQ_ERROR(kIo, "--dump-dir {}: cannot create the folder: {}", dir, ec.message());
    }
  }
  for (size_t k = 0; k < eo.keep.size(); ++k) {
    HQ_RETURN_IF_ERROR(writeNpy(dir + "/" + dumpFileName(eo.keep[k]), dumped[k]));
  }
  return r;
}

}  // namespace hq
