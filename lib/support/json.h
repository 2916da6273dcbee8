// JSON files: parse with line/column errors, validate against the schemas in schemas/
// (embedded into the library at build time), and report the JSON path of a violation.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "support/status.h"

namespace hq {

using Json = nlohmann::json;
/// Insertion-ordered JSON, for output that diffs cleanly run to run.
using OrderedJson = nlohmann::ordered_json;

/// Parse a JSON text; `what` names its origin in messages (a file path).
Expected<Json> parseJson(const std::string& text, const std::string& what);
/// Read and parse a JSON file.
Expected<Json> readJsonFile(const std::string& path);

/// Validate `doc` against the embedded schema `schema_name` (e.g. "dataset.schema.json").
/// The error names `what` and the JSON path of the first violation, e.g.
/// `spec.json: at /steps/1/kind: value not in enumeration (expected one of ...)`.
Status validateJson(const Json& doc, const std::string& schema_name, const std::string& what);

/// A file embedded from schemas/ or configs/ at build time ("schemas/dataset.schema.json",
/// "configs/datasets/fashion-mnist-test.json"); nullptr when absent.
const std::string* embeddedFile(const std::string& path);

}  // namespace hq
