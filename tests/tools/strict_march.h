// A user march file that fmnist_cnn breaks: bernoulli2 with 3x3 kernels forbidden and no max
// pool (its 3 convs and 2 pools), for the tests of refusals by hq-check and hq-compile.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/json.h"

namespace hq::testing {

/// Writes `dir`/strict.json and returns its path.
inline std::string writeStrictMarch(const std::filesystem::path& dir) {
  const std::string* text = embeddedFile("configs/marches/bernoulli2.json");
  REQUIRE(text);
  Json doc = Json::parse(*text);
  doc["name"] = "strict";
  doc["ops"]["QConv"]["max_kernel"] = 2;
  doc["ops"].erase("QMaxPool");
  const std::string path = (dir / "strict.json").string();
  std::ofstream(path) << doc.dump(2);
  return path;
}

}  // namespace hq::testing
