// Golden fixtures of the training tests: "name numel values..." text lines written by the
// generator scripts in tests/fixtures/<folder>/, and a tolerance check against them.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace hq::train::testing {

inline Tensor floats(Shape s, std::vector<float> v) {
  return Tensor::fromVector<float>(std::move(s), v);
}

/// Tensors of a "name numel values..." text fixture in tests/fixtures/`folder`/, by name.
inline std::map<std::string, std::vector<float>> readFixture(const std::string& folder,
                                                             const std::string& name) {
  std::ifstream in(std::string(HQ_TEST_DATA) + "/" + folder + "/" + name);
  REQUIRE(in.good());
  std::map<std::string, std::vector<float>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    size_t n = 0;
    ls >> key >> n;
    std::vector<float> v(n);
    for (float& f : v) ls >> f;
    REQUIRE(ls);
    out[key] = v;
  }
  return out;
}

/// Every element of `got` within tol * (1 + |want|) of `want`.
inline void checkNear(const Tensor& got, const std::vector<float>& want, double tol) {
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": got " << got.data<float>()[i] << " want " << want[i]);
    CHECK(std::fabs(got.data<float>()[i] - want[i]) <= tol * (1.0 + std::fabs(want[i])));
  }
}

}  // namespace hq::train::testing
