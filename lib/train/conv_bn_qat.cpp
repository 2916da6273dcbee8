#include "train/conv_bn_qat.h"

namespace hq::train {

Status expandConvBnForQat(Graph& training_graph, const Graph& bn_model,
                          std::vector<std::string>* expanded) {
  (void)training_graph;
  (void)bn_model;
  if (expanded) expanded->clear();
  return HQ_ERROR(kUnsupported, "expandConvBnForQat: not implemented yet");
}

Status foldConvBnForExport(Graph& graph) {
  (void)graph;
  return HQ_ERROR(kUnsupported, "foldConvBnForExport: not implemented yet");
}

}  // namespace hq::train
