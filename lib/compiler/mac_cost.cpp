// The MAC array cost formula (see mac_cost.h).
#include "compiler/mac_cost.h"

#include <cmath>

namespace hq {

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return b <= 0 ? a : (a + b - 1) / b; }
}  // namespace

int64_t macCycles(const MacWork& w, int64_t rows, int64_t columns, double int16_rate,
                  hbm::TileGeometry::MacMapping mapping) {
  int64_t cycles = 0;
  if (isDepthwise(w)) {
    cycles = ceilDiv(w.outPixels, columns) * w.taps * ceilDiv(w.outChannels, rows);
  } else {
    const int64_t g = w.gemm ? 1 : w.group;
    const int64_t cin = w.inChannels / g, cout = w.outChannels / g;
    const int64_t taps = w.gemm ? 1 : w.taps;
    const int64_t reduce = mapping == hbm::TileGeometry::IM2COL ? ceilDiv(cin * taps, columns)
                                                                : taps * ceilDiv(cin, columns);
    cycles = w.outPixels * reduce * ceilDiv(cout, rows) * g;
  }
  if (w.int16 && int16_rate > 0 && int16_rate < 1)
    cycles = static_cast<int64_t>(std::ceil(static_cast<double>(cycles) / int16_rate));
  return cycles;
}

hbm::TileGeometry::MacMapping bestMacMapping(const MacWork& w, int64_t rows, int64_t columns) {
  const int64_t a = macCycles(w, rows, columns, 1.0, hbm::TileGeometry::CHANNELS);
  const int64_t b = macCycles(w, rows, columns, 1.0, hbm::TileGeometry::IM2COL);
  return b < a ? hbm::TileGeometry::IM2COL : hbm::TileGeometry::CHANNELS;
}

}  // namespace hq
