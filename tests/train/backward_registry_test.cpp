// The backward list: every op of train/backward.def is an op of ir/ops.def.
#include <catch2/catch.hpp>

#include "ir/op_registry.h"
#include "train/backward.h"

using namespace hq;

TEST_CASE("every op with a backward is a known op", "[train]") {
  REQUIRE(train::opsWithBackward().size() >= 30);
  for (const std::string& op : train::opsWithBackward()) {
    INFO(op);
    CHECK(findOp(op) != nullptr);
    CHECK(train::findBackward(op) != nullptr);
  }
  CHECK(train::findBackward("NoSuchOp") == nullptr);
}
