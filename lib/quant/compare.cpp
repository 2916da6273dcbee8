#include "quant/compare.h"

namespace hq {

Expected<CompareReport> compareModels(const Graph*, const Graph&, const Graph&,
                                      const CompareOptions&) {
  return HQ_ERROR(kUnsupported, "--compare is not implemented yet");
}

}  // namespace hq
