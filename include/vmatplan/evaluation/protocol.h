#pragma once
// Protocol: prescription, optimisation objectives and clinical goals, read from
// configs/protocols/<name>.json. Structures are named by role (configs/structure_roles.json),
// never by the patient's spelling.
//
//   Protocol p = load_protocol("prostate_60gy_20fx");      // a shipped name, or a path
//   for (const auto& g : p.goals) ...                      // clinical goals (pass/fail)
//   for (const auto& o : p.objectives) ...                 // optimiser terms (weights)
//
// Objectives and goals are separate on purpose: objectives steer an optimiser (soft,
// weighted), goals are the clinic's pass/fail criteria with acceptable and ideal levels.
// The objective structs are plain data; the differentiable implementations live in the
// optimisation layer and read them from here.
#include <string>
#include <vector>

#include "vmatplan/evaluation/metric_spec.h"

namespace vmatplan {

// One dose level of a (possibly simultaneous-boost) prescription, e.g. PTV_60 at 60 Gy.
struct TargetLevel {
  std::string role;      // structure role, e.g. "ptv" or "ptv_48"
  double dose_gy = 0.0;  // total prescribed dose to this target
};

// Normalisation rule: scale the plan so that `metric` of `role` equals value_gy,
// e.g. D95% of the PTV = 60 Gy (role "ptv", metric "D95%", value 60).
struct Normalisation {
  std::string role;
  std::string metric = "D95%";
  double value_gy = 0.0;
};

struct Prescription {
  double total_dose_gy = 0.0;    // the highest target level
  int fractions = 0;
  std::vector<TargetLevel> targets;  // highest first
  Normalisation normalisation;
  double dose_per_fraction_gy() const {
    return fractions > 0 ? total_dose_gy / fractions : 0.0;
  }
};

enum class ObjectiveKind {
  kMinDose,      // penalise dose below dose_gy (squared underdose)
  kMaxDose,      // penalise dose above dose_gy (squared overdose)
  kMaxMeanDose,  // penalise mean dose above dose_gy
  kDvhMin,       // at least volume_pct of the structure >= dose_gy (Dx% >= D)
  kDvhMax,       // at most volume_pct of the structure >= dose_gy (Vx Gy <= v)
  kUniformDose,  // squared deviation from dose_gy (target homogeneity)
  kGeudMax,      // generalised EUD (Niemierko 1997) with parameter a must stay <= dose_gy
  kGeudMin,      // gEUD >= dose_gy (targets use a < 0)
  kFallOff,      // normal-tissue fall-off ring around the target (see FallOffRing)
};

// Normal-tissue objective: outside the target, max dose allowed at distance r (mm) from
// the target surface falls from start_dose_pct (at r <= start_mm) exponentially to
// end_dose_pct with rate per_mm, in % of the prescription (the shape Eclipse's NTO uses).
struct FallOffRing {
  std::string target_role = "ptv";
  double start_mm = 3.0;
  double start_dose_pct = 100.0;
  double end_dose_pct = 50.0;
  double per_mm = 0.05;
  // The allowed dose (Gy) at distance r_mm from the target for prescription rx_gy.
  double limit_gy(double r_mm, double rx_gy) const;
};

struct ObjectiveSpec {
  std::string role;  // structure role (for kFallOff: the region it applies to, e.g. "body")
  ObjectiveKind kind = ObjectiveKind::kMaxDose;
  double dose_gy = 0.0;
  double volume_pct = 0.0;  // kDvhMin / kDvhMax
  double geud_a = 1.0;      // kGeud*: 1 = mean dose, large = max, negative = min (targets)
  FallOffRing ring;         // kFallOff
  double weight = 1.0;
};

enum class GoalComparison { kAtMost, kAtLeast };  // value <= threshold, value >= threshold

// A clinical goal: pass when the metric meets `acceptable`; `ideal` is the stricter level
// clinics aim for (equal to acceptable when the source gives one number).
struct ClinicalGoal {
  std::string role;
  MetricSpec metric;
  GoalComparison comparison = GoalComparison::kAtMost;
  double acceptable = 0.0;
  double ideal = 0.0;
  bool optional = false;  // missing structure -> "not evaluated" instead of an error
  std::string source;     // where the threshold comes from
};

struct Protocol {
  std::string name;
  std::string description;
  std::string path;  // the file it was read from
  Prescription prescription;
  std::vector<ObjectiveSpec> objectives;
  std::vector<ClinicalGoal> goals;
  // Weight of the plan's MU in optimisation ("mu_weight", >= 0, default 0): the cost of
  // 100 MU/Gy equals that of a 1 Gy deviation per fraction, squared, times this weight
  // (fluence_optimizer.h, aperture_optimizer.h). Fewer MU: less leakage, shorter delivery.
  double mu_weight = 0.0;

  // Every role the protocol refers to (targets, objectives, goals), without duplicates.
  std::vector<std::string> roles() const;
};

// Reads a protocol file. `name_or_path` is a path to a .json file, or the name of a
// shipped protocol (configs/protocols/<name>.json). InputError naming the file on any
// malformed entry (which entry and why).
Protocol load_protocol(const std::string& name_or_path);

// The shipped protocol used when none is given.
constexpr const char* kDefaultProtocol = "prostate_60gy_20fx";

const char* to_string(ObjectiveKind kind);
const char* to_string(GoalComparison comparison);

}  // namespace vmatplan
