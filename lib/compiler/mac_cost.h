// What one conv/gemm tile costs on the MAC array, in cycles: the one formula the compiler (to
// choose TileGeometry.mac_mapping) and the timing model (lib/sim/timing.h) share. The array has
// `rows` output-channel lanes and `columns` reduction lanes (march mac_array); alignment waste
// is real: a partly filled row or column still takes its cycle.
#pragma once

#include <cstdint>
#include <string>

#include "hbm.pb.h"

namespace hq {

struct MacWork {
  int64_t outPixels = 0;  ///< output pixels of the tile (QConvTranspose: input pixels)
  int64_t inChannels = 0, outChannels = 0;
  int64_t taps = 1;  ///< kernel height x width
  int64_t group = 1;
  bool gemm = false;   ///< QGemm: one "pixel" per row of the input, taps 1
  bool int16 = false;  ///< int16 operands: throughput x int16_rate
};

/// The MAC work of one CONV tile: channels and pixels from its operands (inputs(0) and the
/// output), `taps` (kernel height x width) and `group` from its layer's op. QGemm: one
/// "pixel" per output row; QConvTranspose: each input pixel scatters, so its input pixels.
MacWork macWorkOf(const hbm::ComputeOp& op, const std::string& op_type, int64_t taps,
                  int64_t group);

/// True for a depthwise conv (group == input channels == output channels > 1).
inline bool isDepthwise(const MacWork& w) {
  return !w.gemm && w.group > 1 && w.group == w.inChannels && w.group == w.outChannels;
}

/// Cycles of `w` on a rows x columns array (Cin_g, Cout_g: channels per group):
/// - CHANNELS: pixels x taps x ceil(Cin_g / columns) x ceil(Cout_g / rows) x group;
/// - IM2COL: pixels x ceil(Cin_g x taps / columns) x ceil(Cout_g / rows) x group;
/// - PIXELS: when r = Cin_g x taps < columns, floor(columns / r) pixels share the columns:
///   ceil(pixels / floor(columns / r)) x ceil(Cout_g / rows) x group; else as IM2COL;
/// - depthwise: channels on rows: ceil(C / rows) x pixels x ceil(taps / columns) (CHANNELS,
///   IM2COL) or ceil(C / rows) x ceil(pixels / columns) x taps (PIXELS).
/// QGemm: pixels = rows of its input, taps 1. int16 divides throughput by int16_rate (rounded
/// up). No fixed overhead.
int64_t macCycles(const MacWork& w, int64_t rows, int64_t columns, double int16_rate,
                  hbm::TileGeometry::MacMapping mapping);

/// The mapping with the fewest cycles for `w` (the first of CHANNELS, IM2COL, PIXELS on ties).
hbm::TileGeometry::MacMapping bestMacMapping(const MacWork& w, int64_t rows, int64_t columns);

}  // namespace hq
