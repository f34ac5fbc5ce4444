#include "vmatplan/evaluation/clinical_goals.h"

#include <algorithm>
#include <cmath>

namespace vmatplan {

bool meets(const ClinicalGoal& goal, double value, double level) {
  const double tol = 1e-9 * std::max(1.0, std::abs(level));
  return goal.comparison == GoalComparison::kAtMost ? value <= level + tol
                                                    : value >= level - tol;
}

GoalResult evaluate_goal(const ClinicalGoal& goal, const std::string& structure_name,
                         const Dvh& dvh, const TargetIndices* target) {
  GoalResult r;
  r.goal = goal;
  r.structure = structure_name;
  r.value = metric_value(goal.metric, dvh, target);
  if (meets(goal, r.value, goal.ideal))
    r.status = GoalStatus::kIdeal;
  else if (meets(goal, r.value, goal.acceptable))
    r.status = GoalStatus::kAcceptable;
  else
    r.status = GoalStatus::kFail;
  r.pass = r.status != GoalStatus::kFail;
  return r;
}

GoalResult not_evaluated(const ClinicalGoal& goal) {
  GoalResult r;
  r.goal = goal;
  r.status = GoalStatus::kNotEvaluated;
  return r;
}

const char* to_string(GoalStatus s) {
  switch (s) {
    case GoalStatus::kIdeal: return "ideal";
    case GoalStatus::kAcceptable: return "acceptable";
    case GoalStatus::kFail: return "fail";
    case GoalStatus::kNotEvaluated: return "not_evaluated";
  }
  return "?";
}

}  // namespace vmatplan
