#pragma once
// Evaluate a dose distribution for a patient against a protocol: per-structure DVHs and
// metrics, target indices per prescription level, and every clinical goal.
//
//   auto roles = StructureRoles::load_default();
//   PlanEvaluation e = evaluate_plan(patient, dose, load_protocol("prostate_60gy_20fx"), roles);
//
// The dose is resampled once onto the CT grid (trilinear, see dvh.h); masks are not touched.
// Roles named by the prescription and by non-optional goals must resolve, else
// ProcessingError lists the patient's structures.
#include <array>
#include <string>
#include <vector>

#include "vmatplan/evaluation/clinical_goals.h"
#include "vmatplan/evaluation/dose_metrics.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {

struct StructureEvaluation {
  std::string name;
  std::string role;  // "" when the structure plays no known role
  std::string type;  // RT ROI Interpreted Type
  std::array<uint8_t, 3> color_rgb{255, 0, 0};
  Dvh dvh;
  DoseMetrics metrics;
};

struct TargetEvaluation {
  TargetLevel level;
  std::string structure;
  TargetIndices indices;
};

struct PlanEvaluation {
  std::string protocol_name;
  Prescription prescription;
  std::vector<StructureEvaluation> structures;  // every structure of the patient
  std::vector<TargetEvaluation> targets;        // one per prescription level
  std::vector<GoalResult> goals;
  double normalisation_value_gy = 0.0;  // the normalisation metric as planned
  // Factor the dose would need to meet the normalisation rule exactly (1 = normalised).
  double normalisation_scale = 1.0;
  int64_t ct_voxels_outside_dose_grid = 0;

  int goals_passed() const;
  int goals_failed() const;
};

PlanEvaluation evaluate_plan(const Patient& patient, const DoseImage& dose,
                             const Protocol& protocol, const StructureRoles& roles);

}  // namespace vmatplan
