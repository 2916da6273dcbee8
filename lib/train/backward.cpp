#include "train/backward.h"

#include <map>

#include "train/backward/backward_fns.h"

namespace hq::train {

BackwardFn findBackward(const std::string& op_type) {
  static const std::map<std::string, BackwardFn> table = {
#define HQ_BACKWARD(Name) {#Name, &backward##Name},
#include "train/backward.def"
#undef HQ_BACKWARD
  };
  auto it = table.find(op_type);
  return it == table.end() ? nullptr : it->second;
}

const std::vector<std::string>& opsWithBackward() {
  static const std::vector<std::string> ops = {
#define HQ_BACKWARD(Name) #Name,
#include "train/backward.def"
#undef HQ_BACKWARD
  };
  return ops;
}

}  // namespace hq::train
