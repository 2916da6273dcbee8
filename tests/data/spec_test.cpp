// Dataset specs: schema violations name the JSON path; named built-in specs; subset, limit.
#include <catch2/catch.hpp>

#include "data/dataset.h"
#include "data_test_util.h"
#include "support/json.h"

using namespace hq;
using namespace hq::testing;

namespace {

// A valid IDX source with 5 one-pixel images (values 0, 50, 100, 150, 200; labels 0..4).
std::string tinyDir() {
  static std::string dir = [] {
    auto d = dataScratch("spec");
    writeBytes(d / "img.gz", gzipBytes(idxBytes({5, 1, 1}, {0, 50, 100, 150, 200})));
    writeBytes(d / "lab.gz", gzipBytes(idxBytes({5}, {0, 1, 2, 3, 4})));
    return d.string();
  }();
  return dir;
}

const std::string kSource = R"("source": {"kind": "idx", "images": "img.gz", "labels": "lab.gz"})";

Expected<std::unique_ptr<Dataset>> fromJson(const std::string& json, const DatasetOptions& o = {}) {
  return openDatasetFromJson(json, tinyDir(), "spec.json", o);
}

std::string errorOf(const std::string& json) {
  auto ds = fromJson(json);
  REQUIRE_FALSE(ds.isOk());
  return ds.status().message();
}

}  // namespace

TEST_CASE("schema violations report the JSON path") {
  struct Case {
    const char* what;
    std::string json;
    std::string path;
    std::string detail;
  };
  const Case cases[] = {
      {"unknown step op",
       R"({"format_version": 1, )" + kSource +
           R"(, "steps": [{"op": "normalize", "offset": 1, "scale": 1}, {"op": "blur"}]})",
       "at /steps/1/op",
       "unknown step op 'blur' (expected one of: pad, resize, center_crop, "
       "replicate_channels, normalize, rgb_to_centered_yuv444, layout)"},
      {"wrong type",
       R"({"format_version": 1, )" + kSource +
           R"(, "steps": [{"op": "normalize", "offset": 128, "scale": "big"}]})",
       "at /steps/0/scale", ""},
      {"missing source", R"({"format_version": 1, "steps": []})", "at /:", "source"},
      {"unknown source kind", R"({"format_version": 1, "source": {"kind": "tfrecord"}})",
       "at /source/kind", "unknown source kind 'tfrecord' (expected one of: idx, cifar10"},
      {"source without its file", R"({"format_version": 1, "source": {"kind": "idx"}})",
       "at /source", "images"},
      {"resize size of 3 numbers",
       R"({"format_version": 1, )" + kSource +
           R"(, "steps": [{"op": "resize", "size": [1, 2, 3]}]})",
       "at /steps/0/size", ""},
      {"misspelled step field",
       R"({"format_version": 1, )" + kSource +
           R"(, "steps": [{"op": "pad", "padding": 2, "valeu": 0}]})",
       "at /steps/0", "valeu"},
      {"unknown augment op",
       R"({"format_version": 1, )" + kSource + R"(, "augment": [{"op": "rotate"}]})",
       "at /augment/0/op", "unknown augment op 'rotate'"},
      {"wrong format version", R"({"format_version": 2, )" + kSource + "}", "at /format_version",
       ""},
      {"negative limit", R"({"format_version": 1, )" + kSource + R"(, "limit": -1})", "at /limit",
       ""},
      {"layout not last",
       R"({"format_version": 1, )" + kSource +
           R"(, "steps": [{"op": "layout", "to": "NHWC"}, {"op": "normalize", "offset": 0, "scale": 1}]})",
       "at /steps/0", "must be the last step"},
  };
  for (const Case& c : cases) {
    std::string e = errorOf(c.json);
    INFO(c.what << ": " << e);
    CHECK(contains(e, "spec.json: "));
    CHECK(contains(e, c.path));
    CHECK(contains(e, c.detail));
  }
}

TEST_CASE("step shape problems name the step's JSON path") {
  std::string e = errorOf(
      R"({"format_version": 1, )" + kSource +
      R"(, "steps": [{"op": "normalize", "offset": 0, "scale": 1}, {"op": "center_crop", "size": [2, 2]}]})");
  CHECK(contains(e, "at /steps/1 (center_crop): crop 2x2 is larger than the 1x1 image"));
  e = errorOf(R"({"format_version": 1, )" + kSource +
              R"(, "steps": [{"op": "rgb_to_centered_yuv444"}]})");
  CHECK(contains(e, "at /steps/0 (rgb_to_centered_yuv444): needs a 3-channel RGB image, got 1"));
  e = errorOf(
      R"({"format_version": 1, )" + kSource +
      R"(, "augment": [{"op": "random_crop", "size": [1, 1], "padding": 1}, {"op": "random_crop", "size": [2, 2], "padding": 1}]})");
  CHECK(contains(e, "augmentation must keep the image shape"));
}

TEST_CASE("invalid JSON reports line and column") {
  auto ds = openDatasetFromJson("{\n  \"format_version\": 1,\n  \"source\": }", "", "bad.json");
  REQUIRE_FALSE(ds.isOk());
  CHECK(contains(ds.status().message(), "bad.json:3:"));
}

TEST_CASE("built-in specs are found by name and unknown names list them") {
  auto names = builtinDatasetNames();
  for (const char* n : {"fashion-mnist-train", "fashion-mnist-test", "fashion-mnist-train-32",
                        "fashion-mnist-test-32", "fashion-mnist-calib"}) {
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
  }
  auto ds = openDataset("no-such-dataset");
  REQUIRE_FALSE(ds.isOk());
  CHECK(ds.status().code() == ErrorCode::kNotFound);
  CHECK(contains(ds.status().message(), "built-in: "));
  CHECK(contains(ds.status().message(), "fashion-mnist-test"));
}

TEST_CASE("a missing data file names the file and adds the spec's hint") {
  std::string e = errorOf(R"({"format_version": 1, "hint": "run get-data.sh",
      "source": {"kind": "idx", "images": "nope.gz"}})");
  CHECK(contains(e, "nope.gz: no such file"));
  CHECK(contains(e, "(run get-data.sh)"));
}

TEST_CASE("subset, limit and --limit choose samples") {
  auto label0 = [](Dataset& d) { return d.get(0)->label; };
  auto all = fromJson(R"({"format_version": 1, )" + kSource + "}");
  REQUIRE(all.isOk());
  CHECK((*all)->size() == 5);
  CHECK(contains((*all)->describe(), "spec: 5 samples 1x1x1 from idx "));

  auto ordered =
      fromJson(R"({"format_version": 1, )" + kSource + R"(, "subset": {"start": 2, "count": 3}})");
  REQUIRE(ordered.isOk());
  CHECK((*ordered)->size() == 3);
  CHECK(label0(**ordered) == 2);

  // permutation(5, 0) = [4, 1, 0, 2, 3]... whatever it is, the subset follows it.
  auto perm = fromJson(R"({"format_version": 1, )" + kSource +
                       R"(, "subset": {"permutation_seed": 0, "count": 5}})");
  REQUIRE(perm.isOk());
  std::vector<int64_t> labels;
  for (int i = 0; i < 5; ++i) labels.push_back((*perm)->get(i)->label);
  CHECK(labels != std::vector<int64_t>{0, 1, 2, 3, 4});
  std::vector<int64_t> sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3, 4});
  // Pixel value follows the label (image i has value 50 i).
  for (int i = 0; i < 5; ++i) CHECK((*perm)->get(i)->image.data<float>()[0] == 50.0f * labels[i]);

  DatasetOptions o;
  o.limit = 2;
  auto limited = fromJson(R"({"format_version": 1, )" + kSource +
                              R"(, "subset": {"start": 1, "count": 4}, "limit": 3})",
                          o);
  REQUIRE(limited.isOk());
  CHECK((*limited)->size() == 2);  // --limit 2 beats the spec's 3
  CHECK(label0(**limited) == 1);
  o.limit = 10;
  auto larger = fromJson(R"({"format_version": 1, )" + kSource + R"(, "limit": 3})", o);
  CHECK((*larger)->size() == 3);  // the spec's limit stays when --limit is larger

  std::string e =
      errorOf(R"({"format_version": 1, )" + kSource + R"(, "subset": {"start": 3, "count": 3}})");
  CHECK(contains(e, "subset takes samples 3..5 but"));
}

TEST_CASE("training-time augmentation is deterministic in (seed, epoch, index) and off for eval") {
  auto dir = dataScratch("augment");
  std::vector<uint8_t> px(2 * 8 * 8);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 3);
  writeBytes(dir / "img", idxBytes({2, 8, 8}, px));
  std::string spec = R"({"format_version": 1, "source": {"kind": "idx", "images": "img"},
      "augment": [{"op": "random_crop", "size": [8, 8], "padding": 2}, {"op": "random_hflip"}]})";
  DatasetOptions train;
  train.training = true;
  train.seed = 11;
  auto a = openDatasetFromJson(spec, dir.string(), "a.json", train);
  auto b = openDatasetFromJson(spec, dir.string(), "b.json", train);
  auto eval = openDatasetFromJson(spec, dir.string(), "c.json");
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  REQUIRE(eval.isOk());
  auto pixels = [](Dataset& d, int64_t i, int64_t epoch) {
    auto s = d.get(i, epoch);
    REQUIRE(s.isOk());
    const float* p = s->image.data<float>();
    return std::vector<float>(p, p + 64);
  };
  std::vector<float> raw(px.begin(), px.begin() + 64);
  CHECK(pixels(**eval, 0, 3) == raw);
  CHECK(pixels(**a, 0, 0) == pixels(**b, 0, 0));
  CHECK(pixels(**a, 1, 5) == pixels(**b, 1, 5));
  int changed = 0;
  for (int64_t epoch = 0; epoch < 6; ++epoch) changed += pixels(**a, 0, epoch) != pixels(**a, 0, 0);
  CHECK(changed >= 3);
  train.seed = 12;
  auto c = openDatasetFromJson(spec, dir.string(), "d.json", train);
  int differ = 0;
  for (int64_t epoch = 0; epoch < 6; ++epoch)
    differ += pixels(**c, 0, epoch) != pixels(**a, 0, epoch);
  CHECK(differ >= 3);
}

TEST_CASE("every op and source kind in the schema is known to the reader") {
  const std::string* text = embeddedFile("schemas/dataset.schema.json");
  REQUIRE(text);
  Json schema = Json::parse(*text);
  const Json& props = schema["properties"];
  for (const char* list : {"steps", "augment"}) {
    for (const auto& op : props[list]["items"]["properties"]["op"]["enum"]) {
      std::string json = R"({"format_version": 1, )" + kSource + R"(, ")" + list +
                         R"(": [{"op": ")" + op.get<std::string>() + R"("}]})";
      auto ds = fromJson(json);
      INFO(json);
      CHECK((ds.isOk() || !contains(ds.status().message(), "unknown")));
    }
  }
  for (const auto& kind : props["source"]["properties"]["kind"]["enum"]) {
    auto ds = fromJson(R"({"format_version": 1, "source": {"kind": ")" + kind.get<std::string>() +
                       R"("}})");
    REQUIRE_FALSE(ds.isOk());  // required fields missing, but the kind itself is known
    CHECK_FALSE(contains(ds.status().message(), "unknown"));
  }
}
