// Node attributes, typed as in ONNX (int, float, string, tensor and their lists).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace hq {

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kTensor, kInts, kFloats, kStrings };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0.0f;
  std::string s;
  Tensor t;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;

  static Attribute ofInt(int64_t v) { Attribute a; a.kind = Kind::kInt; a.i = v; return a; }
  static Attribute ofFloat(float v) { Attribute a; a.kind = Kind::kFloat; a.f = v; return a; }
  static Attribute ofString(std::string v) { Attribute a; a.kind = Kind::kString; a.s = std::move(v); return a; }
  static Attribute ofTensor(Tensor v) { Attribute a; a.kind = Kind::kTensor; a.t = std::move(v); return a; }
  static Attribute ofInts(std::vector<int64_t> v) { Attribute a; a.kind = Kind::kInts; a.ints = std::move(v); return a; }
  static Attribute ofFloats(std::vector<float> v) { Attribute a; a.kind = Kind::kFloats; a.floats = std::move(v); return a; }
  static Attribute ofStrings(std::vector<std::string> v) { Attribute a; a.kind = Kind::kStrings; a.strings = std::move(v); return a; }
};

const char* attributeKindName(Attribute::Kind k);

/// Attributes by name, sorted (so export and printing are deterministic).
/// Getters return the default when the attribute is absent; an attribute of the wrong
/// kind is caught by the op's verify step (op_registry), so getters stay simple.
class Attributes {
 public:
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  const Attribute* find(const std::string& name) const;
  void set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  void erase(const std::string& name) { map_.erase(name); }

  int64_t getInt(const std::string& name, int64_t def) const;
  float getFloat(const std::string& name, float def) const;
  std::string getString(const std::string& name, const std::string& def) const;
  std::vector<int64_t> getInts(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> getFloats(const std::string& name, std::vector<float> def = {}) const;
  const Tensor* getTensor(const std::string& name) const;

  const std::map<std::string, Attribute>& all() const { return map_; }
  size_t size() const { return map_.size(); }

 private:
  std::map<std::string, Attribute> map_;
};

}  // namespace hq
