// Resize (opset 11-18) and Upsample (opset 7-9) parameters resolved against an input
// shape, shared by the shape functions (ir/ops/resize.cpp) and the reference kernel
// (runtime/kernels/resize.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "support/status.h"

namespace hq::ops {

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class CoordTransform {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfCropAndResize
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

/// Everything needed to map output coordinates to input coordinates, per data axis.
struct ResizeParams {
  ResizeMode mode = ResizeMode::kNearest;
  CoordTransform coord = CoordTransform::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubicA = -0.75;
  bool excludeOutside = false;
  double extrapolation = 0.0;
  /// Per axis: the scale (output length / input length) used by the coordinate transform.
  std::vector<double> scales;
  /// Per axis: the "resized length" of the transforms (scale * input length; equal to the
  /// output dim when sizes are given), as in the ONNX reference implementation.
  std::vector<double> resizedLength;
  /// Output dims (-1 where the input dim is unknown and scales were given).
  Shape outShape;
  /// Per axis: normalized crop box (tf_crop_and_resize); 0 and 1 otherwise.
  std::vector<double> roiStart, roiEnd;
};

/// Read and validate Resize's attributes (mode, coordinate_transformation_mode, ...).
/// Unsupported values (antialias=1, unknown modes) are kUnsupported errors naming the
/// attribute and its value.
Status parseResizeAttributes(const Node& node, ResizeParams* params);

/// Resolve a Resize node against input shape `in`: `roi`, `scales`, `sizes` are its
/// inputs 1-3 (nullptr when absent; empty scales count as absent). A node with two
/// inputs is opset 10's Resize(X, scales), resolved like Upsample.
Expected<ResizeParams> resolveResize(const Node& node, const Shape& in, const Tensor* roi,
                                     const Tensor* scales, const Tensor* sizes);

/// Resolve an Upsample node: scales from the attribute (opset 7) or input 1 (opset 9).
/// Upsample is asymmetric resizing with nearest = floor.
Expected<ResizeParams> resolveUpsample(const Node& node, const Shape& in, const Tensor* scales);

}  // namespace hq::ops
