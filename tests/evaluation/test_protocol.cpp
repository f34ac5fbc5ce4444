// Protocols: the shipped files load and agree with their prescriptions; malformed entries
// name the file and the entry; goals are evaluated with acceptable / ideal levels; a
// missing structure lists the patient's structures.
#include <catch2/catch.hpp>

#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/evaluation/plan_evaluation.h"

using namespace vmatplan;

namespace {

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string p = dir + "/" + name;
  std::ofstream(p) << text;
  return p;
}

const char* kMinimal = R"({
  "name": "mini",
  "prescription": {"total_dose_gy": 60, "fractions": 20,
                   "targets": [{"role": "ptv", "dose_gy": 60}],
                   "normalisation": {"role": "ptv", "metric": "D50%", "value_gy": 60}},
  "objectives": [{"role": "rectum", "type": "dvh_max", "dose_gy": 40, "volume_pct": 30, "weight": 2}],
  "goals": [
    {"role": "ptv", "metric": "D95%", "comparison": ">=", "acceptable": 57, "ideal": 58.8},
    {"role": "rectum", "metric": "V40Gy", "comparison": "<=", "acceptable": 60, "ideal": 50},
    {"role": "penile_bulb", "metric": "Dmean", "comparison": "<=", "acceptable": 50, "optional": true}
  ]
})";

// A 20 x 20 x 20 patient of 2 mm voxels: PTV block at 60 Gy, rectum block half in 45 Gy.
Patient box_patient(bool with_rectum) {
  Patient p;
  p.source = "box";
  p.ct_hu = CtImage([] {
    ImageGrid g;
    g.size = {20, 20, 20};
    g.spacing_mm = {2, 2, 2};
    return g;
  }(), 0.0f);
  const ImageGrid& g = p.ct_hu.grid;
  Structure body{1, "BODY", "EXTERNAL", {0, 255, 0}, Mask(g, 1), {}};
  Structure ptv{2, "PTV_60", "PTV", {255, 0, 0}, Mask(g, 0), {}};
  Structure rectum{3, "Rectum", "ORGAN", {150, 75, 0}, Mask(g, 0), {}};
  for (int k = 5; k < 15; ++k)
    for (int j = 5; j < 15; ++j)
      for (int i = 0; i < 20; ++i) {
        if (i >= 5 && i < 10) ptv.mask.at(i, j, k) = 1;
        if (i >= 12 && i < 16) rectum.mask.at(i, j, k) = 1;
      }
  p.structures = {body, ptv};
  if (with_rectum) p.structures.push_back(rectum);
  return p;
}

DoseImage box_dose(const ImageGrid& g) {
  DoseImage d(g, 10.0f);
  for (int k = 5; k < 15; ++k)
    for (int j = 5; j < 15; ++j)
      for (int i = 5; i < 14; ++i) d.at(i, j, k) = i < 10 ? 60.0f : 45.0f;
  return d;
}

}  // namespace

TEST_CASE("Shipped protocols load and are consistent", "[evaluation][protocol]") {
  for (const char* name : {"prostate_60gy_20fx", "prostate_78gy_39fx", "prostate_36p25gy_5fx"}) {
    INFO(name);
    const Protocol p = load_protocol(name);
    CHECK(p.name == name);
    CHECK(p.prescription.targets.front().dose_gy == p.prescription.total_dose_gy);
    CHECK(p.prescription.normalisation.role == "ptv");
    CHECK(p.goals.size() >= 10);
    CHECK(p.objectives.size() >= 8);
    for (const auto& g : p.goals) CHECK_FALSE(g.source.empty());
    const auto roles = StructureRoles::load_default();
    for (const auto& r : p.roles()) CHECK(roles.has_role(r));
  }
  const Protocol chhip = load_protocol(kDefaultProtocol);
  CHECK(chhip.prescription.total_dose_gy == 60.0);
  CHECK(chhip.prescription.fractions == 20);
  CHECK(chhip.prescription.dose_per_fraction_gy() == Approx(3.0));
  // The CHHiP rectum V40.8Gy < 60 % goal is there, in %.
  bool found = false;
  for (const auto& g : chhip.goals)
    if (g.role == "rectum" && g.metric.text == "V40.8Gy") {
      found = true;
      CHECK(g.acceptable == 60.0);
      CHECK(g.metric.kind == MetricKind::kVolumeAtDosePct);
    }
  CHECK(found);
}

TEST_CASE("Objective specs are plain structs read from the protocol", "[evaluation][protocol]") {
  const Protocol p = load_protocol("prostate_60gy_20fx");
  int geud = 0, falloff = 0, dvh_max = 0;
  for (const auto& o : p.objectives) {
    CHECK(o.weight > 0);
    if (o.kind == ObjectiveKind::kGeudMax) {
      ++geud;
      CHECK(o.geud_a == 8.0);
    }
    if (o.kind == ObjectiveKind::kFallOff) {
      ++falloff;
      CHECK(o.ring.target_role == "ptv");
      CHECK(o.ring.limit_gy(0.0, 60.0) == Approx(60.0));
      CHECK(o.ring.limit_gy(1000.0, 60.0) == Approx(0.4 * 60.0));
      CHECK(o.ring.limit_gy(10.0, 60.0) < o.ring.limit_gy(5.0, 60.0));
    }
    dvh_max += o.kind == ObjectiveKind::kDvhMax;
  }
  CHECK(geud == 1);
  CHECK(falloff == 1);
  CHECK(dvh_max >= 3);
}

TEST_CASE("Malformed protocols name the file and the entry", "[evaluation][protocol]") {
  const std::string dir = test::scratch_dir("protocol_errors");
  auto error_of = [&](const std::string& text) -> std::string {
    const std::string path = write_file(dir, "p.json", text);
    try {
      load_protocol(path);
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).find(path) != std::string::npos);
      return e.what();
    }
    return "no error";
  };
  std::string base = kMinimal;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  CHECK(error_of(replaced("\"acceptable\": 60", "\"acceptible\": 60")).find("goals[1]") !=
        std::string::npos);
  CHECK(error_of(replaced("\"V40Gy\"", "\"V40\"")).find("unknown metric") != std::string::npos);
  CHECK(error_of(replaced("\"dvh_max\"", "\"dvh_maxx\"")).find("objectives[0]") !=
        std::string::npos);
  CHECK(error_of(replaced("\"ideal\": 50", "\"ideal\": 70")).find("ideal") != std::string::npos);
  CHECK(error_of(replaced("\"total_dose_gy\": 60", "\"total_dose_gy\": 70")).find("highest") !=
        std::string::npos);
  CHECK(error_of("{\"name\": 3}").find("name") != std::string::npos);
  CHECK_THROWS_AS(load_protocol("no_such_protocol_name"), InputError);
  CHECK_NOTHROW(load_protocol(write_file(dir, "ok.json", kMinimal)));
}

TEST_CASE("Goals: ideal, acceptable, fail, not evaluated", "[evaluation][protocol][goals]") {
  const std::string dir = test::scratch_dir("protocol_goals");
  const Protocol p = load_protocol(write_file(dir, "mini.json", kMinimal));
  const Patient patient = box_patient(true);
  const auto roles = StructureRoles::load_default();
  const PlanEvaluation e = evaluate_plan(patient, box_dose(patient.ct_hu.grid), p, roles);
  REQUIRE(e.goals.size() == 3);
  CHECK(e.goals[0].structure == "PTV_60");
  CHECK(e.goals[0].value == Approx(60.0));
  CHECK(e.goals[0].status == GoalStatus::kIdeal);
  // Rectum: columns i = 12, 13 of 12..15 get 45 Gy -> V40Gy = 50 % (ideal level 50 met).
  CHECK(e.goals[1].value == Approx(50.0));
  CHECK(e.goals[1].status == GoalStatus::kIdeal);
  CHECK(e.goals[2].status == GoalStatus::kNotEvaluated);
  CHECK_FALSE(e.goals[2].pass);
  CHECK(e.goals_passed() == 2);
  CHECK(e.goals_failed() == 0);
  CHECK(e.normalisation_value_gy == Approx(60.0));
  CHECK(e.normalisation_scale == Approx(1.0));
  REQUIRE(e.structures.size() == 3);
  CHECK(e.structures[1].role == "ptv");
  CHECK(e.structures[1].metrics.volume_cc == Approx(4.0));  // 500 voxels of 8 mm3
  REQUIRE(e.targets.size() == 1);
  CHECK(e.targets[0].indices.paddick_ci == Approx(1.0));

  // A hotter rectum: 42 Gy in all its voxels -> V40Gy 100 % fails.
  DoseImage hot = box_dose(patient.ct_hu.grid);
  for (size_t v = 0; v < hot.voxels.size(); ++v)
    if (patient.structures[2].mask.voxels[v]) hot.voxels[v] = 42.0f;
  const PlanEvaluation f = evaluate_plan(patient, hot, p, roles);
  CHECK(f.goals[1].status == GoalStatus::kFail);
  CHECK(f.goals_failed() == 1);

  ClinicalGoal g = p.goals[1];
  CHECK(evaluate_goal(g, "R", Dvh(std::vector<float>(10, 45.0f), 1.0)).status == GoalStatus::kFail);
  std::vector<float> mix(10, 10.0f);
  for (int i = 0; i < 6; ++i) mix[i] = 45.0f;  // V40 = 60 %: acceptable, not ideal
  CHECK(evaluate_goal(g, "R", Dvh(mix, 1.0)).status == GoalStatus::kAcceptable);
}

TEST_CASE("A missing structure lists the patient's structures", "[evaluation][protocol][goals]") {
  const std::string dir = test::scratch_dir("protocol_missing");
  const Protocol p = load_protocol(write_file(dir, "mini.json", kMinimal));
  const Patient patient = box_patient(false);
  try {
    evaluate_plan(patient, box_dose(patient.ct_hu.grid), p, StructureRoles::load_default());
    FAIL("expected ProcessingError");
  } catch (const ProcessingError& e) {
    const std::string what = e.what();
    CHECK(what.find("rectum") != std::string::npos);
    CHECK(what.find("BODY, PTV_60") != std::string::npos);
  }
}

TEST_CASE("normalise_to_protocol scales the dose to the normalisation rule", "[evaluation][protocol]") {
  const std::string dir = test::scratch_dir("protocol_normalise");
  const Protocol p = load_protocol(write_file(dir, "mini.json", kMinimal));
  const Patient patient = box_patient(true);
  const auto roles = StructureRoles::load_default();
  // Half the box dose: the PTV's normalisation metric is 30 Gy, the rule asks 60.
  DoseImage half = box_dose(patient.ct_hu.grid);
  for (float& v : half.voxels) v *= 0.5f;
  const NormalisedDose n = normalise_to_protocol(patient, half, p, roles);
  CHECK(n.scale == Approx(2.0));
  CHECK(n.evaluation.normalisation_value_gy == Approx(60.0));
  CHECK(n.evaluation.normalisation_scale == Approx(1.0));
  CHECK(half.voxels[half.grid.linear_index(7, 7, 7)] == Approx(60.0));  // scaled in place
  CHECK(n.evaluation.goals_passed() == evaluate_plan(patient, box_dose(patient.ct_hu.grid), p, roles).goals_passed());
  // No dose where the rule looks: left as it is.
  DoseImage zero(patient.ct_hu.grid, 0.0f);
  CHECK(normalise_to_protocol(patient, zero, p, roles).scale == 1.0);
  CHECK(zero.voxels[0] == 0.0f);
}
