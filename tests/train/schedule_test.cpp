// Learning-rate schedules vs torch.optim.lr_scheduler (tests/fixtures/train_optim/
// schedules.txt, written by gen_optim_goldens.py: the lr after t scheduler steps, t = 0..13),
// per-epoch indexing, JSON options and their errors.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "train/schedule.h"

using namespace hq;
using namespace hq::train;

namespace {

std::map<std::string, std::vector<double>> torchSchedules() {
  std::ifstream in(std::string(HQ_TEST_DATA) + "/train_optim/schedules.txt");
  REQUIRE(in.good());
  std::map<std::string, std::vector<double>> out;
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

Schedule make(const ScheduleOptions& o) {
  auto s = Schedule::create(o);
  REQUIRE(s.isOk());
  return *s;
}

}  // namespace

TEST_CASE("schedules match torch.optim.lr_scheduler", "[train]") {
  auto want = torchSchedules();
  std::map<std::string, ScheduleOptions> cases;
  ScheduleOptions o;
  o.base_lr = 0.1;
  cases["constant"] = o;
  o.kind = ScheduleKind::kStep;
  o.step_size = 3;
  o.gamma = 0.5;
  cases["step"] = o;
  o.kind = ScheduleKind::kMultiStep;
  o.milestones = {2, 5, 6};
  o.gamma = 0.3;
  cases["multistep"] = o;
  o.kind = ScheduleKind::kCosine;
  o.t_max = 7;
  o.eta_min = 1e-3;
  cases["cosine"] = o;  // 14 steps: past t_max the cosine comes back up, as in PyTorch
  o.t_max = 5;
  o.eta_min = 0.0;
  o.warmup = 3;
  o.warmup_start_factor = 0.25;
  cases["warmup_cosine"] = o;
  o.kind = ScheduleKind::kStep;
  o.step_size = 2;
  o.gamma = 0.1;
  o.warmup = 4;
  o.warmup_start_factor = 0.5;
  cases["warmup_step"] = o;
  REQUIRE(want.size() == cases.size());
  for (const auto& [name, opts] : cases) {
    Schedule s = make(opts);
    const std::vector<double>& lrs = want.at(name);
    REQUIRE(lrs.size() == 14);
    for (size_t t = 0; t < lrs.size(); ++t) {
      INFO(name << " t=" << t);
      CHECK(s.lr(static_cast<int64_t>(t)) == Approx(lrs[t]).epsilon(1e-12).margin(1e-15));
    }
  }
}

TEST_CASE("per-epoch schedules advance once per epoch", "[train]") {
  ScheduleOptions o;
  o.kind = ScheduleKind::kStep;
  o.base_lr = 1.0;
  o.step_size = 1;
  o.gamma = 0.5;
  o.unit = ScheduleUnit::kEpoch;
  Schedule s = make(o);
  CHECK(s.lrAtIteration(0, 10) == 1.0);
  CHECK(s.lrAtIteration(9, 10) == 1.0);
  CHECK(s.lrAtIteration(10, 10) == 0.5);
  CHECK(s.lrAtIteration(25, 10) == 0.25);
  o.unit = ScheduleUnit::kStep;
  Schedule per_step = make(o);
  CHECK(per_step.lrAtIteration(3, 10) == 0.125);
}

TEST_CASE("schedule options from JSON", "[train]") {
  auto o = scheduleOptionsFromJson(
      Json::parse(R"({"kind": "cosine", "lr": 0.01, "t_max": 100, "eta_min": 1e-5,
                      "unit": "epoch", "warmup": 5, "warmup_start_factor": 0.1})"),
      "sched.json");
  REQUIRE(o.isOk());
  CHECK(o->kind == ScheduleKind::kCosine);
  CHECK(o->base_lr == 0.01);
  CHECK(o->t_max == 100);
  CHECK(o->eta_min == 1e-5);
  CHECK(o->unit == ScheduleUnit::kEpoch);
  CHECK(o->warmup == 5);
  CHECK(o->warmup_start_factor == 0.1);
  Schedule s = make(*o);
  CHECK(s.lr(0) == Approx(0.001));
  CHECK(s.lr(5) == Approx(0.01));
  auto m = scheduleOptionsFromJson(
      Json::parse(R"({"kind": "multistep", "lr": 0.1, "milestones": [3, 8], "gamma": 0.5})"), "x");
  REQUIRE(m.isOk());
  CHECK(make(*m).lr(8) == Approx(0.025));

  auto err = [](const char* text) {
    auto r = scheduleOptionsFromJson(Json::parse(text), "sched.json");
    REQUIRE_FALSE(r.isOk());
    return r.status().message();
  };
  CHECK_THAT(err(R"({"kind": "poly", "lr": 0.1})"), Catch::Contains("unknown schedule 'poly'"));
  CHECK_THAT(err(R"({"kind": "step"})"), Catch::Contains("missing /lr"));
  CHECK_THAT(err(R"({"kind": "step", "lr": -0.1})"),
             Catch::Contains("learning rate must be a finite value > 0, got -0.1"));
  CHECK_THAT(err(R"({"kind": "constant", "lr": 0.1, "t_max": 3})"),
             Catch::Contains("sched.json: at /t_max: not an option of the 'constant' schedule"));
  CHECK_THAT(err(R"({"kind": "step", "lr": 0.1, "step_size": 0})"),
             Catch::Contains("step_size must be >= 1"));
  CHECK_THAT(err(R"({"kind": "multistep", "lr": 0.1, "milestones": [5, 3]})"),
             Catch::Contains("strictly increasing"));
  CHECK_THAT(err(R"({"kind": "cosine", "lr": 0.1, "t_max": 1.5})"),
             Catch::Contains("at /t_max: expected an integer"));
  CHECK_THAT(err(R"({"kind": "cosine", "lr": 0.1, "unit": "batch"})"), Catch::Contains("/unit"));
  CHECK_THAT(err(R"({"kind": "constant", "lr": 0.1, "warmup": -1})"),
             Catch::Contains("warmup must be >= 0"));
  CHECK_THAT(err(R"({"kind": "constant", "lr": 0.1, "warmup_start_factor": 0})"),
             Catch::Contains("warmup_start_factor must be in (0, 1]"));
  CHECK_THAT(err(R"({"kind": "constant", "lr": 0.1, "foo": 1})"),
             Catch::Contains("at /foo: unknown schedule option"));
  CHECK_THAT(err("[1]"), Catch::Contains("must be a JSON object"));
}

TEST_CASE("schedule options round-trip through JSON", "[train]") {
  const char* docs[] = {
      R"({"kind":"constant","lr":0.001,"unit":"step","warmup":0,"warmup_start_factor":0.5})",
      R"({"kind":"step","lr":0.1,"unit":"epoch","step_size":30,"gamma":0.1,"warmup":2,)"
      R"("warmup_start_factor":0.25})",
      R"({"kind":"multistep","lr":0.1,"unit":"step","milestones":[3,8],"gamma":0.5,"warmup":0,)"
      R"("warmup_start_factor":1.0})",
      R"({"kind":"cosine","lr":0.01,"unit":"step","t_max":100,"eta_min":1e-05,"warmup":5,)"
      R"("warmup_start_factor":0.1})"};
  for (const char* doc : docs) {
    INFO(doc);
    auto o = scheduleOptionsFromJson(Json::parse(doc), "x");
    REQUIRE(o.isOk());
    CHECK(scheduleOptionsToJson(*o).dump() == doc);
  }
}
