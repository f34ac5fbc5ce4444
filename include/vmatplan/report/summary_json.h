#pragma once
// The plan summary as JSON: every structure's metrics, every goal with value, threshold
// and verdict, target indices, the normalisation check, and gamma when computed.
//
//   nlohmann::json j = build_summary_json(evaluation, inputs, gamma_or_null);
//
// Keys (units in names): structures[{name, role, type, volume_cc, mean_gy, min_gy, max_gy,
// d98_gy, d95_gy, d50_gy, d2_gy, d0_03cc_gy, homogeneity_index}], goals[{structure, role,
// metric, unit, comparison, threshold, acceptable, ideal, value, status, pass, source}],
// targets[...], prescription{...}, gamma{...}.
#include <string>

#include <nlohmann/json.hpp>

#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/evaluation/plan_evaluation.h"

namespace vmatplan {

struct ReportInputs {
  std::string patient;    // path or description of the patient
  std::string dose;       // the evaluated dose file
  std::string protocol;   // the protocol file
  std::string reference;  // the reference dose file (gamma), "" when none
};

struct GammaSummary {
  GammaOptions options;
  GammaResult result;
};

nlohmann::json build_summary_json(const PlanEvaluation& evaluation, const ReportInputs& inputs,
                                  const GammaSummary* gamma = nullptr);

}  // namespace vmatplan
