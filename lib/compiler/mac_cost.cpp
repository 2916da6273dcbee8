// The MAC array cost formula (see mac_cost.h).
#include "compiler/mac_cost.h"

#include <algorithm>
#include <cmath>

namespace hq {

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return b <= 0 ? a : (a + b - 1) / b; }
}  // namespace

MacWork macWorkOf(const hbm::ComputeOp& op, const std::string& op_type, int64_t taps,
                  int64_t group) {
  auto pixelsAndChannels = [](const hbm::Operand& o, int64_t* pixels, int64_t* channels) {
    int64_t n = 1;
    for (int64_t d : o.shape()) n *= d;
    *channels = o.shape_size() >= 2 ? o.shape(1) : 1;
    *pixels = *channels > 0 ? n / *channels : 0;
  };
  int64_t out_pixels = 0, out_channels = 1, in_pixels = 0, in_channels = 1;
  pixelsAndChannels(op.output(), &out_pixels, &out_channels);
  if (op.inputs_size() > 0 && !op.inputs(0).absent())
    pixelsAndChannels(op.inputs(0), &in_pixels, &in_channels);
  MacWork w;
  w.int16 = op.inputs_size() > 0 && op.inputs(0).dtype() == hbm::INT16;
  w.inChannels = in_channels;
  w.outChannels = out_channels;
  w.taps = taps;
  w.group = std::max<int64_t>(1, group);
  w.gemm = op_type == "QGemm";
  w.outPixels = w.gemm ? std::max<int64_t>(1, out_pixels)
                       : (op_type == "QConvTranspose" ? in_pixels : out_pixels);
  return w;
}

int64_t macCycles(const MacWork& w, int64_t rows, int64_t columns, double int16_rate,
                  hbm::TileGeometry::MacMapping mapping) {
  int64_t cycles = 0;
  if (isDepthwise(w)) {
    cycles = ceilDiv(w.outChannels, rows) * (mapping == hbm::TileGeometry::PIXELS
                                                 ? ceilDiv(w.outPixels, columns) * w.taps
                                                 : w.outPixels * ceilDiv(w.taps, columns));
  } else {
    const int64_t g = w.gemm ? 1 : w.group;
    const int64_t cin = w.inChannels / g, cout = w.outChannels / g;
    const int64_t taps = w.gemm ? 1 : w.taps;
    int64_t per_row = 0;  // cycles for all pixels, one output-row block of the array
    if (mapping == hbm::TileGeometry::CHANNELS) {
      per_row = w.outPixels * taps * ceilDiv(cin, columns);
    } else if (mapping == hbm::TileGeometry::PIXELS && cin * taps < columns) {
      per_row = ceilDiv(w.outPixels, columns / std::max<int64_t>(1, cin * taps));
    } else {
      per_row = w.outPixels * ceilDiv(cin * taps, columns);
    }
    cycles = per_row * ceilDiv(cout, rows) * g;
  }
  if (w.int16 && int16_rate > 0 && int16_rate < 1)
    cycles = static_cast<int64_t>(std::ceil(static_cast<double>(cycles) / int16_rate));
  return cycles;
}

hbm::TileGeometry::MacMapping bestMacMapping(const MacWork& w, int64_t rows, int64_t columns) {
  hbm::TileGeometry::MacMapping best = hbm::TileGeometry::CHANNELS;
  int64_t best_cycles = macCycles(w, rows, columns, 1.0, best);
  for (auto m : {hbm::TileGeometry::IM2COL, hbm::TileGeometry::PIXELS}) {
    const int64_t c = macCycles(w, rows, columns, 1.0, m);
    if (c < best_cycles) best = m, best_cycles = c;
  }
  return best;
}

}  // namespace hq
