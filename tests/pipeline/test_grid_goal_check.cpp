// goals_lost_on_final_grid: a goal met on the optimisation grid and failed on the final
// dose is reported with its values and where its cold voxels lie.
#include <catch2/catch.hpp>

#include <string>

#include "vmatplan/evaluation/metric_spec.h"
#include "vmatplan/pipeline/grid_goal_check.h"

using namespace vmatplan;

namespace {

// A 10 x 10 x 10 CT of 2 mm voxels with a cube target at voxels 2..7; dose 60 Gy
// everywhere but slice k = 2 (the target's first, 4 mm from the scan's first slice), 50 Gy.
struct Case {
  Patient patient;
  DoseImage dose;
  PlanEvaluation optimised, final_eval;
  Case() {
    ImageGrid g;
    g.size = {10, 10, 10};
    g.spacing_mm = {2, 2, 2};
    Structure ptv;
    ptv.name = "PTV";
    ptv.mask = Mask(g, 0);
    for (int k = 2; k < 8; ++k)
      for (int j = 2; j < 8; ++j)
        for (int i = 2; i < 8; ++i) ptv.mask.at(i, j, k) = 1;
    patient.structures.push_back(ptv);
    dose = DoseImage(g, 60.0f);
    for (int j = 0; j < 10; ++j)
      for (int i = 0; i < 10; ++i) dose.at(i, j, 2) = 50.0f;
    GoalResult goal;
    goal.goal.role = "ptv";
    goal.goal.metric = parse_metric("D95%");
    goal.goal.comparison = GoalComparison::kAtLeast;
    goal.goal.acceptable = 57.0;
    goal.structure = "PTV";
    goal.status = GoalStatus::kAcceptable, goal.pass = true, goal.value = 58.0;
    optimised.goals.push_back(goal);
    goal.status = GoalStatus::kFail, goal.pass = false, goal.value = 50.0;
    final_eval.goals.push_back(goal);
  }
};

}  // namespace

CATCH_TEST_CASE("a goal lost between the grids is reported with where its voxels lie", "[pipeline]") {
  const Case c;
  const auto lines = goals_lost_on_final_grid(c.patient, c.optimised, c.final_eval, c.dose, 5.0, 3.0);
  CATCH_REQUIRE(lines.size() == 1);
  const std::string& w = lines.front();
  CATCH_INFO(w);
  CATCH_CHECK(w.find("PTV D95%") != std::string::npos);
  CATCH_CHECK(w.find("(58.00)") != std::string::npos);
  CATCH_CHECK(w.find("(50.00)") != std::string::npos);
  // One slice of six is cold: 16.7 % of the target, all of it within 6 mm of the scan's
  // first slice (slice 2 is 4 mm from slice 0) and all on the target's surface (its
  // first slice).
  CATCH_CHECK(w.find("16.7 % of PTV is below 57 Gy") != std::string::npos);
  CATCH_CHECK(w.find("100 % within 6 mm of the scan's first or last slice") != std::string::npos);
  CATCH_CHECK(w.find("100 % on its surface") != std::string::npos);

  // A goal that passes on both grids, or fails on both, says nothing.
  CATCH_CHECK(goals_lost_on_final_grid(c.patient, c.optimised, c.optimised, c.dose, 5.0, 3.0).empty());
  CATCH_CHECK(goals_lost_on_final_grid(c.patient, c.final_eval, c.final_eval, c.dose, 5.0, 3.0).empty());
}
