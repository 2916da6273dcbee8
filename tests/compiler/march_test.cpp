// The compiler layer (lib/compiler): march profiles and the .hbm payload, being written for
// issue 6. For now: the generated .hbm protobuf code links and round-trips a field.
#include <catch2/catch.hpp>

#include <string>

#include "compiler/march.h"
#include "hbm.pb.h"

TEST_CASE("compiler: the .hbm payload message round-trips", "[compiler]") {
  hq::hbm::Model m;
  m.set_march("bayes");
  std::string bytes;
  REQUIRE(m.SerializeToString(&bytes));
  hq::hbm::Model back;
  REQUIRE(back.ParseFromString(bytes));
  CHECK(back.march() == "bayes");
  CHECK_FALSE(back.ParseFromString(std::string("\xff\xff\xff", 3)));
}
