// A dataset spec (schemas/dataset.schema.json) parsed into plain structs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "data/source.h"
#include "support/json.h"
#include "support/status.h"

namespace hq {

struct SubsetSpec {
  bool permute = false;          ///< draw from a permutation, else the source order
  uint64_t permutationSeed = 0;  ///< seed of permutation() (lib/data/random.h)
  int64_t start = 0;             ///< first position taken (in the permutation or source order)
  int64_t count = 0;             ///< samples taken
};

struct DatasetSpec {
  std::string name;  ///< "name", else the spec file's stem
  std::string description;
  std::string hint;  ///< appended to missing-file errors
  std::vector<std::string> classNames;
  SourceSpec source;
  std::vector<Step> steps;    ///< deterministic preprocessing
  std::vector<Step> augment;  ///< training-time only, before steps
  bool hasSubset = false;
  SubsetSpec subset;
  int64_t limit = 0;  ///< 0 = all
};

/// Validate `doc` against dataset.schema.json, then read it. Relative paths resolve against
/// `base_dir` ("" = the working directory). Errors name `what` and the JSON path.
Expected<DatasetSpec> parseDatasetSpec(const Json& doc, const std::string& base_dir,
                                       const std::string& what);

}  // namespace hq
