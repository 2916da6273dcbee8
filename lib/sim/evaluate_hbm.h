// Accuracy of a compiled model (.hbm) on a labeled dataset, run on the functional simulator:
// `hq-eval model.hbm` prints what `hq-eval model.int.onnx` prints, and for a DDR input the
// same numbers bit for bit (the float images are quantized exactly as the integer model's
// input QuantizeLinear quantizes them; outputs are dequantized as its DequantizeLinear).
// Pyramid/resizer inputs go through NV12 (imagesToNv12), as the camera path would deliver
// them, so their accuracy may differ slightly from the integer model's.
#pragma once

#include "data/dataset.h"
#include "eval/evaluate.h"
#include "hbm.pb.h"
#include "ir/tensor.h"
#include "sim/simulator.h"
#include "support/status.h"

namespace hq {

/// Float32 images [N, C, H, W] (on the model's input grid) -> the host tensor the simulator
/// takes for input `desc`: for a DDR input the integer tensor [N, C, H, W] of desc.dtype,
/// q = clamp(round_half_even(x / scale) + zero_point) per tensor or per channel of
/// desc.quant_axis (the bits of ONNX QuantizeLinear); for a pyramid/resizer input uint8
/// NV12 [N, H * 3 / 2, W]. kShape when the images do not fit desc.shape (naming both).
Expected<Tensor> hbmInputFromImages(const hbm::TensorDesc& desc, const Tensor& images);

/// An integer output [N, ...desc.shape[1:]] of desc.dtype -> float32 of the same shape:
/// (float(q) - zero_point) * scale, per tensor or per channel of desc.quant_axis (the bits of
/// ONNX DequantizeLinear).
Expected<Tensor> dequantizeHbmOutput(const hbm::TensorDesc& desc, const Tensor& q);

/// Run `model` (one input, first output [N, classes] or [N, classes, 1, 1]) on the simulator
/// over `dataset`, model.batch() frames per run (a short last run is padded with copies of
/// its last frame, whose results are dropped). Uses batchSize (rounded up to a multiple of
/// the model's batch), progress, progressLabel, modelName and dumpOutputs of `options`;
/// dumpTensors and referenceOnly apply to ONNX models only (kInvalidArgument when set).
Expected<EvalResult> evaluateHbm(const hbm::Model& model, Dataset& dataset,
                                 const EvalOptions& options, const SimOptions& sim = {});

}  // namespace hq
