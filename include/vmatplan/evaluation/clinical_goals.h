#pragma once
// Clinical goals evaluated on a plan: value, threshold, and a verdict.
//
//   GoalResult r = evaluate_goal(goal, dvh, &target_indices);
//   r.status   // kIdeal (meets the ideal level), kAcceptable (meets only acceptable),
//              // kFail, or kNotEvaluated (optional goal whose structure is absent)
//   r.pass     // status is kIdeal or kAcceptable
#include <string>

#include "vmatplan/evaluation/dose_metrics.h"
#include "vmatplan/evaluation/protocol.h"

namespace vmatplan {

enum class GoalStatus { kIdeal, kAcceptable, kFail, kNotEvaluated };

struct GoalResult {
  ClinicalGoal goal;
  std::string structure;  // the patient's structure name ("" when not evaluated)
  double value = 0.0;     // in goal.metric.value_unit()
  GoalStatus status = GoalStatus::kNotEvaluated;
  bool pass = false;
  double threshold() const { return goal.acceptable; }
};

// Meets `level` under the goal's comparison (<= or >=). Values within 1e-9 relative of
// the level meet it, so a threshold read from text is not failed by rounding.
bool meets(const ClinicalGoal& goal, double value, double level);

GoalResult evaluate_goal(const ClinicalGoal& goal, const std::string& structure_name,
                         const Dvh& dvh, const TargetIndices* target = nullptr);

// A goal whose optional structure is missing.
GoalResult not_evaluated(const ClinicalGoal& goal);

const char* to_string(GoalStatus status);  // "ideal", "acceptable", "fail", "not_evaluated"

}  // namespace vmatplan
