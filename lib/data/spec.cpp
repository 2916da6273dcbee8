#include "data/spec.h"

#include <filesystem>

namespace hq {

namespace {

std::string resolvePath(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

std::vector<float> numbers(const Json& j) {
  std::vector<float> out;
  if (j.is_array()) {
    for (const auto& x : j) out.push_back(x.get<float>());
  } else {
    out.push_back(j.get<float>());
  }
  return out;
}

void readPadding(const Json& j, Step* s) {
  if (j.contains("padding")) {
    const Json& p = j["padding"];
    if (p.is_array()) {
      s->padTop = p[0].get<int64_t>();
      s->padBottom = p[1].get<int64_t>();
      s->padLeft = p[2].get<int64_t>();
      s->padRight = p[3].get<int64_t>();
    } else {
      s->padTop = s->padBottom = s->padLeft = s->padRight = p.get<int64_t>();
    }
  }
  s->fill = j.value("value", 0.0f);
  s->padEdge = j.value("mode", std::string("constant")) == "edge";
}

void readSize(const Json& j, Step* s) {
  if (!j.contains("size")) return;
  s->height = j["size"][0].get<int64_t>();
  s->width = j["size"][1].get<int64_t>();
}

Step readStep(const Json& j, const std::string& path) {
  Step s;
  s.path = path;
  s.name = j["op"].get<std::string>();
  const std::string& op = s.name;
  if (op == "pad") {
    s.op = StepOp::kPad;
    readPadding(j, &s);
  } else if (op == "resize") {
    s.op = StepOp::kResize;
    readSize(j, &s);
    s.nearest = j.value("method", std::string("bilinear")) == "nearest";
  } else if (op == "center_crop") {
    s.op = StepOp::kCenterCrop;
    readSize(j, &s);
  } else if (op == "replicate_channels") {
    s.op = StepOp::kReplicateChannels;
    s.channels = j["channels"].get<int64_t>();
  } else if (op == "normalize") {
    s.op = StepOp::kNormalize;
    s.offset = numbers(j["offset"]);
    s.scale = numbers(j["scale"]);
  } else if (op == "rgb_to_centered_yuv444") {
    s.op = StepOp::kRgbToCenteredYuv444;
    s.fullSwing = j.value("swing", std::string("studio")) == "full";
  } else if (op == "layout") {
    s.op = StepOp::kLayout;
    s.toHwc = j["to"].get<std::string>() == "NHWC";
  } else if (op == "random_crop") {
    s.op = StepOp::kRandomCrop;
    readSize(j, &s);
    readPadding(j, &s);
  } else if (op == "random_hflip") {
    s.op = StepOp::kRandomHFlip;
    s.p = j.value("p", 0.5f);
  }
  return s;
}

Expected<DatasetSpec> readSpec(const Json& doc, const std::string& base_dir,
                               const std::string& what) {
  DatasetSpec spec;
  // The schema has checked every type and required field below.
  spec.name = doc.value("name", std::string());
  if (spec.name.empty()) spec.name = std::filesystem::path(what).stem().string();
  spec.description = doc.value("description", std::string());
  spec.hint = doc.value("hint", std::string());
  if (doc.contains("class_names"))
    spec.classNames = doc["class_names"].get<std::vector<std::string>>();

  const Json& src = doc["source"];
  SourceSpec& s = spec.source;
  s.kind = src["kind"].get<std::string>();
  if (s.kind == "npz") {
    s.path = resolvePath(base_dir, src["path"].get<std::string>());
    s.images = src["images"].get<std::string>();
    s.labels = src.value("labels", std::string());
  } else if (s.kind == "image_folder") {
    s.path = resolvePath(base_dir, src["path"].get<std::string>());
    s.channels = src.value("channels", int64_t{3});
  } else if (s.kind == "cifar10") {
    for (const auto& f : src["files"])
      s.files.push_back(resolvePath(base_dir, f.get<std::string>()));
  } else {
    s.images = resolvePath(base_dir, src["images"].get<std::string>());
    if (src.contains("labels")) s.labels = resolvePath(base_dir, src["labels"].get<std::string>());
  }
  s.layout = src.value("layout", std::string("NCHW"));

  if (doc.contains("steps")) {
    const Json& steps = doc["steps"];
    for (size_t i = 0; i < steps.size(); ++i) {
      spec.steps.push_back(readStep(steps[i], "/steps/" + std::to_string(i)));
      if (spec.steps.back().op == StepOp::kLayout && i + 1 != steps.size()) {
        return HQ_ERROR(kParse, "{}: at /steps/{}: the layout step must be the last step", what, i);
      }
    }
  }
  if (doc.contains("augment")) {
    const Json& aug = doc["augment"];
    for (size_t i = 0; i < aug.size(); ++i) {
      spec.augment.push_back(readStep(aug[i], "/augment/" + std::to_string(i)));
    }
  }
  if (doc.contains("subset")) {
    const Json& sub = doc["subset"];
    spec.hasSubset = true;
    spec.subset.permute = sub.contains("permutation_seed");
    spec.subset.permutationSeed = sub.value("permutation_seed", uint64_t{0});
    spec.subset.start = sub.value("start", int64_t{0});
    spec.subset.count = sub["count"].get<int64_t>();
  }
  spec.limit = doc.value("limit", int64_t{0});
  return spec;
}

const char* const kStepOps[] = {
    "pad",   "resize", "center_crop", "replicate_channels", "normalize", "rgb_to_centered_yuv444",
    "layout"};
const char* const kAugmentOps[] = {"random_crop", "random_hflip"};
const char* const kSourceKinds[] = {"idx", "cifar10", "npy", "npz", "image_folder"};

template <size_t N>
Status checkName(const Json& obj, const char* key, const char* const (&allowed)[N],
                 const std::string& path, const char* role, const std::string& what) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return Status::ok();
  std::string name = obj[key].get<std::string>();
  std::string list;
  for (const char* a : allowed) {
    if (name == a) return Status::ok();
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return HQ_ERROR(kParse, "{}: at {}/{}: unknown {} '{}' (expected one of: {})", what, path, key,
                  role, name, list);
}

// Friendlier messages than the schema's for the commonest mistake: a misspelled name.
Status checkNames(const Json& doc, const std::string& what) {
  if (!doc.is_object()) return Status::ok();
  if (doc.contains("source")) {
    HQ_RETURN_IF_ERROR(
        checkName(doc["source"], "kind", kSourceKinds, "/source", "source kind", what));
  }
  for (const char* list : {"steps", "augment"}) {
    if (!doc.contains(list) || !doc[list].is_array()) continue;
    bool steps = std::string(list) == "steps";
    for (size_t i = 0; i < doc[list].size(); ++i) {
      std::string path = "/" + std::string(list) + "/" + std::to_string(i);
      HQ_RETURN_IF_ERROR(
          steps ? checkName(doc[list][i], "op", kStepOps, path, "step op", what)
                : checkName(doc[list][i], "op", kAugmentOps, path, "augment op", what));
    }
  }
  return Status::ok();
}

}  // namespace

Expected<DatasetSpec> parseDatasetSpec(const Json& doc, const std::string& base_dir,
                                       const std::string& what) {
  HQ_RETURN_IF_ERROR(checkNames(doc, what));
  HQ_RETURN_IF_ERROR(validateJson(doc, "dataset.schema.json", what));
  try {
    return readSpec(doc, base_dir, what);
  } catch (const nlohmann::json::exception& e) {
    // The schema should have caught this: the schema and this reader disagree.
    return HQ_ERROR(kInternal, "{}: spec passed the schema but could not be read: {}", what,
                    e.what());
  }
}

}  // namespace hq
