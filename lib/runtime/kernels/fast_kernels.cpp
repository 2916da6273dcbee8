#include "runtime/kernels/fast_kernels.h"

#include "runtime/kernels/dnnl_kernels.h"

namespace hq::kernels {

const std::vector<FastKernelEntry>& fastKernels() {
  static const std::vector<FastKernelEntry> entries = {
      {"Conv", &dnnl_rt::makeConv},
      {"Gemm", &dnnl_rt::makeGemm},
      {"MaxPool", &dnnl_rt::makePool},
      {"AveragePool", &dnnl_rt::makePool},
      {"GlobalAveragePool", &dnnl_rt::makePool},
      {"GlobalMaxPool", &dnnl_rt::makePool},
      {"QMaxPool", &dnnl_rt::makePool, "ai.hq"},
      {"QGlobalMaxPool", &dnnl_rt::makePool, "ai.hq"},
      {"Relu", &dnnl_rt::makeEltwise},
      {"LeakyRelu", &dnnl_rt::makeEltwise},
      {"Clip", &dnnl_rt::makeEltwise},
      {"Sigmoid", &dnnl_rt::makeEltwise},
      {"Tanh", &dnnl_rt::makeEltwise},
      {"Add", &dnnl_rt::makeBinary},
      {"Sub", &dnnl_rt::makeBinary},
      {"Mul", &dnnl_rt::makeBinary},
      {"Div", &dnnl_rt::makeBinary},
      {"QConv", &dnnl_rt::makeQConv, "ai.hq"},
      {"QGemm", &dnnl_rt::makeQGemm, "ai.hq"},
  };
  return entries;
}

}  // namespace hq::kernels
