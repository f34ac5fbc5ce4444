#pragma once
// "What was optimised is what is delivered" (issue 11): the plan is optimised on a coarse
// dose grid (5 mm) and judged on the final one (3 mm). A goal met on the optimisation grid
// but failed on the final dose is reported with where the difference lies: for a dose
// goal, the voxels of its structure beyond the goal's dose level, and how many of them lie
// at the edge of the scan (the first or last slices, where the dose grid ends) or on the
// structure's surface (within one final-grid spacing of its boundary), where a coarse
// grid cannot see a steep gradient.
//
//   for (auto& w : goals_lost_on_final_grid(patient, optimised_eval, final_eval, dose, 5, 3))
//     spdlog::warn("{}", w);
#include <string>
#include <vector>

#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/patient/patient.h"

namespace vmatplan {

// Indices of the goals met in `optimised` and failed (evaluated) in `final_eval`, same
// protocol, same goal order.
std::vector<size_t> goals_lost_between(const PlanEvaluation& optimised, const PlanEvaluation& final_eval);

// One line per goal met in `optimised` (same protocol, same goal order) and failed in
// `final_eval`, evaluated on `final_dose`.
std::vector<std::string> goals_lost_on_final_grid(const Patient& patient,
                                                  const PlanEvaluation& optimised,
                                                  const PlanEvaluation& final_eval,
                                                  const DoseImage& final_dose,
                                                  double optimisation_spacing_mm,
                                                  double final_spacing_mm);

}  // namespace vmatplan
