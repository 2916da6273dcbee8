// Optimizers vs torch.optim goldens (tests/fixtures/train_optim, written by
// gen_optim_goldens.py): 5 steps of SGD/Adam/AdamW variants with a per-step learning rate and a
// missing gradient; frozen parameters; gradient clipping; state save/restore; option errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "train/optimizer.h"

using namespace hq;
using namespace hq::train;

namespace {

using Lines = std::map<std::string, std::vector<double>>;

/// Read a fixture of `<key> <count> <values...>` lines.
Lines readLines(const std::string& file) {
  std::ifstream in(std::string(HQ_TEST_DATA) + "/train_optim/" + file);
  REQUIRE(in.good());
  Lines out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    size_t n = 0;
    ls >> key >> n;
    std::vector<double>& v = out[key];
    v.resize(n);
    for (size_t i = 0; i < n; ++i) ls >> v[i];
    REQUIRE(!ls.fail());
  }
  return out;
}

Tensor floatTensor(const std::vector<double>& shape, const std::vector<double>& values) {
  Shape s;
  for (double d : shape) s.push_back(static_cast<int64_t>(d));
  Tensor t(DType::kFloat32, s);
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = static_cast<float>(values[i]);
  return t;
}

/// The two parameters (w [3,4], b [4]) and gradients of inputs.txt.
struct Problem {
  Lines in = readLines("inputs.txt");
  std::map<std::string, Tensor> values;
  Problem() {
    for (const char* p : {"w", "b"}) {
      values[p] = floatTensor(in.at(std::string(p) + ".shape"), in.at(std::string(p) + ".init"));
    }
  }
  /// The gradient of `p` at step `s` (0-based), or undefined when it has none then.
  Tensor grad(const std::string& p, int s) const {
    auto it = in.find(p + ".grad" + std::to_string(s));
    if (it == in.end()) return Tensor();
    return floatTensor(in.at(p + ".shape"), it->second);
  }
  double lr(int s) const { return in.at("lr").at(static_cast<size_t>(s)); }
  /// Run steps [from, to) with `opt`.
  void run(Optimizer& opt, int from, int to) {
    for (int s = from; s < to; ++s) {
      std::vector<Tensor> grads = {grad("w", s), grad("b", s)};
      std::vector<ParamRef> params = {
          {"w", &values["w"], &grads[0]},
          {"b", &values["b"], grads[1].defined() ? &grads[1] : nullptr}};
      REQUIRE(opt.step(params, lr(s)).isOk());
    }
  }
};

void checkClose(const Tensor& t, const std::vector<double>& want, double rel = 1e-6) {
  REQUIRE(static_cast<size_t>(t.numel()) == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(t.data<float>()[i] == Approx(want[i]).epsilon(rel).margin(1e-7));
  }
}

OptimizerOptions caseOptions(const std::string& name) {
  OptimizerOptions o;
  if (name == "sgd_plain") {
  } else if (name == "sgd_wd") {
    o.weight_decay = 0.01;
  } else if (name == "sgd_momentum") {
    o.momentum = 0.9;
  } else if (name == "sgd_momentum_dampening") {
    o.momentum = 0.9;
    o.dampening = 0.1;
    o.weight_decay = 0.001;
  } else if (name == "sgd_nesterov") {
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 0.01;
  } else if (name == "adam") {
    o.kind = OptimizerKind::kAdam;
  } else if (name == "adam_wd") {
    o.kind = OptimizerKind::kAdam;
    o.beta1 = 0.8;
    o.beta2 = 0.99;
    o.eps = 1e-6;
    o.weight_decay = 0.1;
  } else if (name == "adamw") {
    o.kind = OptimizerKind::kAdamW;
    o.weight_decay = 0.01;  // torch.optim.AdamW's default
  } else if (name == "adamw_betas") {
    o.kind = OptimizerKind::kAdamW;
    o.beta1 = 0.5;
    o.beta2 = 0.9;
    o.eps = 1e-7;
    o.weight_decay = 0.1;
  } else {
    FAIL("unknown case " << name);
  }
  return o;
}

const char* const kCases[] = {"sgd_plain",    "sgd_wd", "sgd_momentum", "sgd_momentum_dampening",
                              "sgd_nesterov", "adam",   "adam_wd",      "adamw",
                              "adamw_betas"};

}  // namespace

TEST_CASE("optimizers match torch.optim over 5 steps", "[train]") {
  for (const char* name : kCases) {
    SECTION(name) {
      Lines want = readLines(std::string(name) + ".txt");
      auto opt = Optimizer::create(caseOptions(name));
      REQUIRE(opt.isOk());
      Problem pb;
      for (int s = 0; s < 5; ++s) {
        INFO(name << " step " << s + 1);
        pb.run(*opt, s, s + 1);
        checkClose(pb.values["w"], want.at("w.step" + std::to_string(s + 1)));
        checkClose(pb.values["b"], want.at("b.step" + std::to_string(s + 1)));
      }
    }
  }
}

TEST_CASE("a parameter without a gradient is left alone and keeps its state", "[train]") {
  // Step index 2 has no gradient for b: b is unchanged by that step (goldens check the rest).
  auto opt = Optimizer::create(caseOptions("adam"));
  REQUIRE(opt.isOk());
  Problem pb;
  pb.run(*opt, 0, 2);
  Tensor b_before = pb.values["b"].clone();
  pb.run(*opt, 2, 3);
  CHECK(pb.values["b"].equals(b_before));
  std::vector<NamedTensor> state = opt->saveState();
  for (const NamedTensor& nt : state) {
    if (nt.name == "b/step") CHECK(nt.tensor.data<int64_t>()[0] == 2);
    if (nt.name == "w/step") CHECK(nt.tensor.data<int64_t>()[0] == 3);
  }
}

TEST_CASE("frozen parameters are never updated and get no state", "[train]") {
  CHECK(globMatch("*.bias", "conv1.bias"));
  CHECK_FALSE(globMatch("*.bias", "conv1.bias_extra"));
  CHECK(globMatch("features.0.*", "features.0.weight"));
  CHECK_FALSE(globMatch("features.0.*", "features.10.weight"));
  CHECK(globMatch("f?.w", "f1.w"));
  CHECK_FALSE(globMatch("f?.w", "f12.w"));
  CHECK(globMatch("*", ""));
  CHECK(globMatch("a*b*c", "axxbyybc"));

  OptimizerOptions o = caseOptions("sgd_momentum");
  o.frozen = {"b*"};
  auto opt = Optimizer::create(o);
  REQUIRE(opt.isOk());
  Problem pb;
  Tensor b0 = pb.values["b"].clone();
  pb.run(*opt, 0, 5);
  CHECK(pb.values["b"].equals(b0));
  Lines want = readLines("sgd_momentum.txt");
  checkClose(pb.values["w"], want.at("w.step5"));  // w trains exactly as without freezing
  std::vector<NamedTensor> state = opt->saveState();
  REQUIRE(state.size() == 1);
  CHECK(state[0].name == "w/momentum_buffer");
}

TEST_CASE("gradient clipping matches torch.nn.utils", "[train]") {
  Lines want = readLines("clip.txt");
  Problem pb;
  for (const char* tag : {"norm0.5", "norm100"}) {
    INFO(tag);
    Tensor w = pb.grad("w", 0), b = pb.grad("b", 0);
    auto total = clipGradNorm({&w, &b}, std::string(tag) == "norm0.5" ? 0.5 : 100.0);
    REQUIRE(total.isOk());
    CHECK(*total == Approx(want.at(std::string(tag) + ".total")[0]).epsilon(1e-6));
    checkClose(w, want.at(std::string(tag) + ".w"));
    checkClose(b, want.at(std::string(tag) + ".b"));
  }
  Tensor w = pb.grad("w", 0);
  REQUIRE(clipGradValue({&w}, 0.3).isOk());
  checkClose(w, want.at("value0.3.w"), 0.0);

  Tensor bad = pb.grad("w", 0);
  bad.data<float>()[3] = std::nanf("");
  Tensor copy = bad.clone();
  auto r = clipGradNorm({&bad}, 1.0);
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().code() == ErrorCode::kData);
  CHECK_THAT(r.status().message(), Catch::Contains("NaN or Inf"));
  CHECK(std::isnan(bad.data<float>()[3]));
  CHECK(bad.data<float>()[0] == copy.data<float>()[0]);
  CHECK_FALSE(clipGradNorm({&w}, 0.0).isOk());
  CHECK_FALSE(clipGradValue({&w}, -1.0).isOk());
}

TEST_CASE("save state, restore into a new optimizer, continue == uninterrupted", "[train]") {
  for (const char* name : kCases) {
    SECTION(name) {
      OptimizerOptions o = caseOptions(name);
      auto full = Optimizer::create(o);
      REQUIRE(full.isOk());
      Problem a;
      a.run(*full, 0, 5);

      auto first = Optimizer::create(o);
      REQUIRE(first.isOk());
      Problem b;
      b.run(*first, 0, 3);
      std::vector<NamedTensor> saved = first->saveState();
      auto second = Optimizer::create(o);
      REQUIRE(second.isOk());
      REQUIRE(second->loadState(saved).isOk());
      // Restored state is a deep copy: changing the saved list does not affect the optimizer.
      for (NamedTensor& nt : saved) {
        if (nt.tensor.dtype() == DType::kFloat32) nt.tensor.data<float>()[0] += 1.0f;
      }
      b.run(*second, 3, 5);
      CHECK(b.values["w"].equals(a.values["w"]));
      CHECK(b.values["b"].equals(a.values["b"]));
    }
  }
}

TEST_CASE("state names and dtypes are documented ones", "[train]") {
  auto opt = Optimizer::create(caseOptions("adam"));
  REQUIRE(opt.isOk());
  Problem pb;
  pb.run(*opt, 0, 1);
  std::vector<NamedTensor> s = opt->saveState();
  REQUIRE(s.size() == 6);
  CHECK(s[0].name == "b/exp_avg");
  CHECK(s[1].name == "b/exp_avg_sq");
  CHECK(s[2].name == "b/step");
  CHECK(s[2].tensor.dtype() == DType::kInt64);
  CHECK(s[3].name == "w/exp_avg");
  CHECK(s[3].tensor.shape() == Shape{3, 4});

  auto sgd = Optimizer::create(caseOptions("sgd_momentum"));
  REQUIRE(sgd.isOk());
  Status st = sgd->loadState(s);
  REQUIRE_FALSE(st.isOk());
  CHECK_THAT(st.message(), Catch::Contains("not used by sgd"));
  auto adam = Optimizer::create(caseOptions("adam"));
  std::vector<NamedTensor> missing(s.begin(), s.begin() + 2);  // b without its step
  CHECK_FALSE(adam->loadState(missing).isOk());
  CHECK_FALSE(adam->loadState({{"noslash", Tensor::scalar<float>(1.0f)}}).isOk());

  // State of the wrong shape is caught at the next step, and nothing changes.
  std::vector<NamedTensor> wrong = s;
  wrong[3].tensor = Tensor(DType::kFloat32, {12});
  wrong[4].tensor = Tensor(DType::kFloat32, {12});
  REQUIRE(adam->loadState(wrong).isOk());
  Tensor w = pb.values["w"].clone(), g = pb.grad("w", 1);
  Status bad = adam->step({{"w", &w, &g}}, 0.1);
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.code() == ErrorCode::kShape);
  CHECK(w.equals(pb.values["w"]));
}

TEST_CASE("bad options and bad steps are rejected clearly", "[train]") {
  auto expectError = [](OptimizerOptions o, const std::string& text) {
    auto r = Optimizer::create(o);
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains(text));
  };
  OptimizerOptions o;
  o.weight_decay = -1;
  expectError(o, "weight_decay");
  o = {};
  o.nesterov = true;
  expectError(o, "Nesterov momentum requires momentum > 0");
  o.momentum = 0.9;
  o.dampening = 0.1;
  expectError(o, "dampening == 0");
  o = {};
  o.momentum = -0.5;
  expectError(o, "momentum must be");
  for (OptimizerKind k : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    o = {};
    o.kind = k;
    o.beta1 = 1.0;
    expectError(o, "beta1 must be in [0, 1), got 1");
    o.beta1 = 0.9;
    o.beta2 = -0.1;
    expectError(o, "beta2 must be in [0, 1)");
    o.beta2 = 0.999;
    o.eps = 0.0;
    expectError(o, "eps must be");
  }

  auto opt = Optimizer::create(OptimizerOptions{});
  REQUIRE(opt.isOk());
  Tensor w(DType::kFloat32, {2}), g(DType::kFloat32, {2}), g3(DType::kFloat32, {3});
  Status s = opt->step({{"w", &w, &g}}, -0.1);
  CHECK_THAT(s.message(), Catch::Contains("learning rate must be a finite value >= 0, got -0.1"));
  CHECK_FALSE(opt->step({{"w", &w, &g}}, std::nan("")).isOk());
  s = opt->step({{"w", &w, &g3}}, 0.1);
  CHECK(s.code() == ErrorCode::kShape);
  CHECK_THAT(s.message(), Catch::Contains("'w'"));
  CHECK_FALSE(opt->step({{"w", &w, &g}, {"w", &w, &g}}, 0.1).isOk());
  Tensor gi(DType::kInt64, {2});
  CHECK(opt->step({{"w", &w, &gi}}, 0.1).code() == ErrorCode::kUnsupported);
}

TEST_CASE("optimizer options from JSON", "[train]") {
  auto o =
      optimizerOptionsFromJson(Json::parse(R"({"kind": "adamw", "betas": [0.8, 0.99], "eps": 1e-7,
                      "weight_decay": 0.05, "frozen": ["*.bias"]})"),
                               "opt.json");
  REQUIRE(o.isOk());
  CHECK(o->kind == OptimizerKind::kAdamW);
  CHECK(o->beta1 == 0.8);
  CHECK(o->beta2 == 0.99);
  CHECK(o->eps == 1e-7);
  CHECK(o->weight_decay == 0.05);
  CHECK(o->frozen == std::vector<std::string>{"*.bias"});
  auto s = optimizerOptionsFromJson(
      Json::parse(R"({"kind": "sgd", "momentum": 0.9, "nesterov": true})"), "x");
  REQUIRE(s.isOk());
  CHECK(s->nesterov);

  auto err = [](const char* text) {
    auto r = optimizerOptionsFromJson(Json::parse(text), "opt.json");
    REQUIRE_FALSE(r.isOk());
    return r.status().message();
  };
  CHECK_THAT(err(R"({"kind": "rmsprop"})"), Catch::Contains("expected one of sgd, adam, adamw"));
  CHECK_THAT(err(R"({"kind": "sgd", "momentun": 0.9})"), Catch::Contains("opt.json: at /momentun"));
  CHECK_THAT(err(R"({"kind": "adam", "betas": [0.9]})"), Catch::Contains("at /betas"));
  CHECK_THAT(err(R"({"kind": "sgd", "nesterov": true})"), Catch::Contains("Nesterov"));
  CHECK_THAT(err(R"({"momentum": 0.9})"), Catch::Contains("missing /kind"));
  CHECK_THAT(err(R"({"kind": "sgd", "frozen": [3]})"), Catch::Contains("at /frozen/0"));
}

TEST_CASE("optimizer options round-trip through JSON", "[train]") {
  for (const char* name : kCases) {
    INFO(name);
    OptimizerOptions o = caseOptions(name);
    o.frozen = {"*.bias", "features.0.*"};
    OrderedJson j = optimizerOptionsToJson(o);
    auto back = optimizerOptionsFromJson(Json::parse(j.dump()), "roundtrip");
    REQUIRE(back.isOk());
    CHECK(optimizerOptionsToJson(*back).dump() == j.dump());
  }
  CHECK(optimizerOptionsToJson(caseOptions("sgd_nesterov")).dump() ==
        R"({"kind":"sgd","momentum":0.9,"dampening":0.0,"nesterov":true,"betas":[0.9,0.999],)"
        R"("eps":1e-08,"weight_decay":0.01,"frozen":[]})");
}
