// The final-grid correction's pieces (pipeline/final_dose_stage.h): the correction field
// against a linear dose, which trilinear interpolation reproduces exactly, and the goals
// lost between two evaluations.
#include <catch2/catch.hpp>

#include "vmatplan/evaluation/metric_spec.h"
#include "vmatplan/pipeline/final_dose_stage.h"
#include "vmatplan/pipeline/grid_goal_check.h"
#include "vmatplan/patient/structure_roles.h"

using namespace vmatplan;

namespace {

double linear_dose_gy(const Vec3& p) { return 1.0 + 0.1 * p[0] + 0.2 * p[1] + 0.3 * p[2]; }

GoalResult goal_result(const char* structure, bool pass, GoalStatus status) {
  GoalResult g;
  g.structure = structure;
  g.goal.metric = parse_metric("D95%");
  g.pass = pass;
  g.status = status;
  return g;
}

}  // namespace

CATCH_TEST_CASE("final-grid correction: the final dose at each optimisation voxel minus that grid's dose",
                "[pipeline][final_grid]") {
  ImageGrid fine;  // 3 mm, centres 0..57 x 0..57 x 0..27 mm
  fine.size = {20, 20, 10};
  fine.spacing_mm = {3, 3, 3};
  DoseImage final_dose(fine, 0.0f);
  for (int64_t k = 0; k < fine.size[2]; ++k)
    for (int64_t j = 0; j < fine.size[1]; ++j)
      for (int64_t i = 0; i < fine.size[0]; ++i)
        final_dose.at(i, j, k) = static_cast<float>(linear_dose_gy(fine.index_to_physical({double(i), double(j), double(k)})));
  ImageGrid coarse;  // 5 mm, centres -10..60 in x: the first two and the last outside
  coarse.size = {15, 8, 6};
  coarse.spacing_mm = {5, 5, 5};
  coarse.origin_mm = {-10, 0, 0};
  const DoseImage optimisation_dose(coarse, 5.0f);
  const std::vector<float> c = final_grid_dose_correction(final_dose, optimisation_dose);
  CATCH_REQUIRE(c.size() == optimisation_dose.voxels.size());
  int inside = 0, outside = 0;
  for (int64_t k = 0; k < coarse.size[2]; ++k)
    for (int64_t j = 0; j < coarse.size[1]; ++j)
      for (int64_t i = 0; i < coarse.size[0]; ++i) {
        const Vec3 p = coarse.index_to_physical({double(i), double(j), double(k)});
        const float v = c[static_cast<size_t>((k * coarse.size[1] + j) * coarse.size[0] + i)];
        if (p[0] < -1.5 || p[0] > 58.5) {
          CATCH_CHECK(v == 0.0f);
          ++outside;
        } else {
          CATCH_CHECK(v == Approx(linear_dose_gy(p) - 5.0).margin(1e-4));
          ++inside;
        }
      }
  CATCH_CHECK(outside == 3 * 8 * 6);
  CATCH_CHECK(inside == 12 * 8 * 6);
}

CATCH_TEST_CASE("goals lost between the optimisation and the final grid", "[pipeline][final_grid]") {
  PlanEvaluation optimised, final_eval;
  optimised.goals = {goal_result("PTV", true, GoalStatus::kAcceptable), goal_result("Rectum", true, GoalStatus::kAcceptable),
                     goal_result("Bladder", false, GoalStatus::kFail), goal_result("Femur", true, GoalStatus::kAcceptable)};
  final_eval.goals = {goal_result("PTV", false, GoalStatus::kFail), goal_result("Rectum", true, GoalStatus::kAcceptable),
                      goal_result("Bladder", false, GoalStatus::kFail),
                      goal_result("Femur", false, GoalStatus::kNotEvaluated)};
  // Only a goal met before and failed (evaluated) after is lost.
  CATCH_CHECK(goals_lost_between(optimised, final_eval) == std::vector<size_t>{0});
  CATCH_CHECK(goals_lost_between(final_eval, optimised).empty());
  CATCH_CHECK(goals_lost_between(optimised, optimised).empty());
}

CATCH_TEST_CASE("final-grid correction says why it did not run", "[pipeline][final_grid]") {
  // Nothing is computed before these answers: empty patient, plan and machine do.
  const Patient patient;
  const Protocol protocol;
  const StructureRoles roles = StructureRoles::load_default();
  const Machine machine;
  const FluencePlan fluence;
  const MetersetPlanContext ctx{patient, protocol, roles};
  FinalPlanDose current;
  PlanEvaluation optimised;
  optimised.goals = {goal_result("PTV", true, GoalStatus::kAcceptable)};
  current.evaluation.goals = {goal_result("PTV", true, GoalStatus::kAcceptable)};
  GenerateOptions options;
  auto status = [&] {
    return correct_for_final_grid(current, optimised, fluence, ctx, machine, options).info["status"].get<std::string>();
  };
  CATCH_CHECK(status() == "not needed");
  current.evaluation.goals = {goal_result("PTV", false, GoalStatus::kFail)};
  options.final_grid_correction = false;
  CATCH_CHECK(status() == "off (--no-final-grid-correction)");
  options.final_grid_correction = true;
  options.meterset = false;
  CATCH_CHECK(status().rfind("not available", 0) == 0);
  const FinalGridCorrection off = correct_for_final_grid(current, optimised, fluence, ctx, machine, options);
  CATCH_CHECK(!off.applied);
  CATCH_CHECK(off.info["goals_lost"] == nlohmann::json::array({"PTV D95%"}));
}
