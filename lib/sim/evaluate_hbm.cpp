#include "sim/evaluate_hbm.h"

#include <cmath>
#include <cstring>

#include "sim/host_io.h"
#include "support/fixed_point.h"

namespace hq {

namespace {

Expected<DType> tensorDType(const hbm::TensorDesc& desc) {
  const DType t = dtypeFromHbm(desc.dtype());
  if (t != DType::kUndefined && t != DType::kInt64) return t;  // int64 has no host form
  return HQ_ERROR(kUnsupported, "tensor '{}': dtype {} has no host form", desc.name(),
                  hbm::DType_Name(desc.dtype()));
}

fxp::IntRange rangeOf(DType t) {
  switch (t) {
    case DType::kInt8: return {-128, 127};
    case DType::kUInt8: return {0, 255};
    case DType::kInt16: return {-32768, 32767};
    default: return {INT32_MIN, INT32_MAX};
  }
}

/// The quantization parameters of `desc` for a tensor of `shape` ([N, ...desc.shape[1:]]):
/// element i uses channel (i / inner) % channels (channels 1 when per tensor).
struct QuantLayout {
  std::vector<float> scales;
  std::vector<int32_t> zeroPoints;  // same size as scales
  int64_t inner = 1;
  int64_t channels = 1;
  size_t channelOf(int64_t i) const {
    return channels == 1 ? 0 : static_cast<size_t>((i / inner) % channels);
  }
};

Expected<QuantLayout> quantLayout(const hbm::TensorDesc& desc, const Shape& shape) {
  QuantLayout q;
  if (desc.scales_size() == 0) {
    return HQ_ERROR(kData, "tensor '{}' of the .hbm has no scale", desc.name());
  }
  q.scales.assign(desc.scales().begin(), desc.scales().end());
  for (float s : q.scales) {
    if (!(s > 0) || !std::isfinite(s)) {
      return HQ_ERROR(kData, "tensor '{}' of the .hbm has scale {}, expected > 0", desc.name(), s);
    }
  }
  const size_t n = q.scales.size();
  if (desc.zero_points_size() != 0 && static_cast<size_t>(desc.zero_points_size()) != n) {
    return HQ_ERROR(kData, "tensor '{}' of the .hbm has {} scales but {} zero points", desc.name(),
                    n, desc.zero_points_size());
  }
  for (size_t c = 0; c < n; ++c) {
    q.zeroPoints.push_back(desc.zero_points_size() ? desc.zero_points(static_cast<int>(c)) : 0);
  }
  if (n > 1) {
    const int64_t axis = desc.quant_axis();
    if (axis < 1 || axis >= static_cast<int64_t>(shape.size()) ||
        shape[static_cast<size_t>(axis)] != static_cast<int64_t>(n)) {
      return HQ_ERROR(kData, "tensor '{}' of the .hbm: {} per-channel scales on axis {} of {}",
                      desc.name(), n, axis, shapeString(shape));
    }
    q.channels = static_cast<int64_t>(n);
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) q.inner *= shape[d];
  }
  return q;
}

template <typename Q>
void quantizeInto(const float* x, Q* y, int64_t n, const QuantLayout& q, fxp::IntRange r) {
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = q.channelOf(i);
    const int32_t zp = q.zeroPoints[c];
    // QuantizeLinear: clamp(nearbyint(x / s) + zp) == clamp(nearbyint(x / s), lo - zp, hi - zp) +
    // zp.
    const fxp::IntRange shifted{
        static_cast<int32_t>(std::max<int64_t>(int64_t{r.lo} - zp, INT32_MIN)),
        static_cast<int32_t>(std::min<int64_t>(int64_t{r.hi} - zp, INT32_MAX))};
    y[i] = static_cast<Q>(fxp::quantizeLinear(x[i], q.scales[c], shifted) + zp);
  }
}

template <typename Q>
void dequantizeInto(const Q* x, float* y, int64_t n, const QuantLayout& q) {
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = q.channelOf(i);
    y[i] = (static_cast<float>(x[i]) - static_cast<float>(q.zeroPoints[c])) * q.scales[c];
  }
}

}  // namespace

Expected<Tensor> hbmInputFromImages(const hbm::TensorDesc& desc, const Tensor& images) {
  if (images.dtype() != DType::kFloat32 || images.rank() < 1) {
    return HQ_ERROR(kShape, "input '{}': expected float32 images, got {} {}", desc.name(),
                    dtypeName(images.dtype()), shapeString(images.shape()));
  }
  Shape want(desc.shape().begin(), desc.shape().end());
  if (want.empty()) return HQ_ERROR(kData, "input '{}' of the .hbm has no shape", desc.name());
  want[0] = images.dim(0);
  if (images.shape() != want) {
    Shape frame(desc.shape().begin(), desc.shape().end());
    return HQ_ERROR(kShape, "data samples are {} but the .hbm input '{}' expects {}",
                    shapeString(Shape(images.shape().begin() + 1, images.shape().end())),
                    desc.name(), shapeString(Shape(frame.begin() + 1, frame.end())));
  }
  if (desc.source() == hbm::PYRAMID || desc.source() == hbm::RESIZER) {
    return imagesToNv12(images);
  }
  HQ_ASSIGN_OR_RETURN(DType dtype, tensorDType(desc));
  HQ_ASSIGN_OR_RETURN(QuantLayout q, quantLayout(desc, want));
  Tensor out(dtype, want);
  const float* x = images.data<float>();
  const int64_t n = images.numel();
  switch (dtype) {
    case DType::kInt8: quantizeInto(x, out.data<int8_t>(), n, q, rangeOf(dtype)); break;
    case DType::kUInt8: quantizeInto(x, out.data<uint8_t>(), n, q, rangeOf(dtype)); break;
    case DType::kInt16: quantizeInto(x, out.data<int16_t>(), n, q, rangeOf(dtype)); break;
    default: quantizeInto(x, out.data<int32_t>(), n, q, rangeOf(dtype)); break;
  }
  return out;
}

Expected<Tensor> dequantizeHbmOutput(const hbm::TensorDesc& desc, const Tensor& q) {
  HQ_ASSIGN_OR_RETURN(DType dtype, tensorDType(desc));
  if (q.dtype() != dtype) {
    return HQ_ERROR(kInternal, "output '{}' is {}, its descriptor says {}", desc.name(),
                    dtypeName(q.dtype()), dtypeName(dtype));
  }
  HQ_ASSIGN_OR_RETURN(QuantLayout layout, quantLayout(desc, q.shape()));
  Tensor out(DType::kFloat32, q.shape());
  float* y = out.data<float>();
  const int64_t n = q.numel();
  switch (dtype) {
    case DType::kInt8: dequantizeInto(q.data<int8_t>(), y, n, layout); break;
    case DType::kUInt8: dequantizeInto(q.data<uint8_t>(), y, n, layout); break;
    case DType::kInt16: dequantizeInto(q.data<int16_t>(), y, n, layout); break;
    default: dequantizeInto(q.data<int32_t>(), y, n, layout); break;
  }
  return out;
}

Expected<EvalResult> evaluateHbm(const hbm::Model& model, Dataset& dataset,
                                 const EvalOptions& options, const SimOptions& sim) {
  auto named = [&](Status s) {
    return options.modelName.empty() ? s : s.addContext(options.modelName);
  };
  if (options.batchSize <= 0) {
    return HQ_ERROR(kInvalidArgument, "batch size must be positive, got {}", options.batchSize);
  }
  if (!options.dumpTensors.empty()) {
    return HQ_ERROR(kInvalidArgument,
                    "--dump-tensors needs an ONNX model: an .hbm keeps no intermediate tensors");
  }
  if (options.referenceOnly) {
    return HQ_ERROR(kInvalidArgument,
                    "--reference applies to ONNX models; an .hbm runs on the "
                    "simulator");
  }
  if (model.inputs_size() != 1) {
    return named(HQ_ERROR(kUnsupported, "evaluation needs a model with one input, this one has {}",
                          model.inputs_size()));
  }
  if (model.outputs_size() == 0) return named(HQ_ERROR(kUnsupported, "the model has no outputs"));
  if (!dataset.hasLabels()) {
    return HQ_ERROR(kInvalidArgument, "{} has no labels; accuracy needs labeled data",
                    dataset.describe());
  }
  const hbm::TensorDesc& in_desc = model.inputs(0);
  const hbm::TensorDesc& out_desc = model.outputs(0);
  const int64_t frames = std::max<int64_t>(model.batch(), 1);
  const Shape sample = dataset.sampleShape();
  {
    Shape probe = sample;
    probe.insert(probe.begin(), 1);
    Tensor zero(DType::kFloat32, probe);
    auto fits = hbmInputFromImages(in_desc, zero);
    if (!fits.isOk()) {
      Status s = fits.status();
      return s.addContext(dataset.describe());
    }
  }
  auto created = Simulator::create(model, sim);
  if (!created.isOk()) return named(created.status());
  std::unique_ptr<Simulator> simulator = std::move(*created);

  LoaderOptions lo;
  lo.batchSize = (options.batchSize + frames - 1) / frames * frames;
  BatchLoader loader(dataset, lo);

  const int64_t sample_numel = shapeNumel(sample);
  Shape chunk_shape = sample;
  chunk_shape.insert(chunk_shape.begin(), frames);
  Tensor chunk(DType::kFloat32, chunk_shape);
  AccuracyTally tally(dataset, options);
  while (true) {
    HQ_ASSIGN_OR_RETURN(auto batch, loader.next());
    if (!batch) break;
    const int64_t n = batch->images.dim(0);
    const float* images = batch->images.data<float>();
    const int64_t* labels = batch->labels.data<int64_t>();
    for (int64_t first = 0; first < n; first += frames) {
      const int64_t m = std::min(frames, n - first);
      float* dst = chunk.data<float>();
      std::memcpy(dst, images + first * sample_numel,
                  static_cast<size_t>(m * sample_numel) * sizeof(float));
      for (int64_t f = m; f < frames; ++f) {  // pad with the last real frame
        std::memcpy(dst + f * sample_numel, images + (first + m - 1) * sample_numel,
                    static_cast<size_t>(sample_numel) * sizeof(float));
      }
      HQ_ASSIGN_OR_RETURN(Tensor input, hbmInputFromImages(in_desc, chunk));
      auto ran = simulator->run({input});
      if (!ran.isOk()) return named(ran.status());
      if (ran->empty()) return named(HQ_ERROR(kInternal, "the simulator returned no outputs"));
      auto deq = dequantizeHbmOutput(out_desc, (*ran)[0]);
      if (!deq.isOk()) return named(deq.status());
      const Tensor& logits = *deq;
      if (logits.rank() < 1 || logits.dim(0) != frames || logits.numel() % frames != 0) {
        return named(HQ_ERROR(kShape, "model output '{}' is {}, expected [{}, classes]",
                              out_desc.name(), shapeString(logits.shape()), frames));
      }
      // The padding frames' results are dropped.
      HQ_RETURN_IF_ERROR(tally.add(logits.data<float>(), m, logits.numel() / frames, labels + first,
                                   batch->first + first));
    }
  }
  return tally.finish();
}

}  // namespace hq
