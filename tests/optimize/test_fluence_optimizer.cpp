// The classical fluence optimiser on a coarse pelvis phantom (4 x 4 x 5 mm CT, 10 mm dose
// grid, 10 mm bixels, two arcs of 15 control points): the objective decreases at every
// iteration, the bounds hold, two runs are identical, and the normalised plan meets the
// protocol's PTV coverage goal.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <algorithm>

#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/optimize/fluence_optimizer.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;

namespace {

struct FluenceFixture {
  Patient patient;
  Machine machine;
  Protocol protocol = load_protocol(kDefaultProtocol);
  StructureRoles roles = StructureRoles::load_default();
  ClassicalPlanOptions options;

  FluenceFixture() {
    PelvisPhantomOptions po;
    po.seed = 2;
    po.spacing_mm = {4, 4, 5};
    patient = make_pelvis_phantom(po);
    machine = Machine::load_named("generic_6mv_mlc120");
    machine.max_cp_spacing_deg = 24.0;  // few control points keep the test fast
    options.arcs = default_two_arcs(24.0);
    options.bixel_width_mm = 10.0;
    options.dose_spacing_mm = 6.0;
    options.optimizer.max_iterations = 60;
  }
};

const FluenceFixture& fluence_fixture() {
  static const FluenceFixture f;
  return f;
}

}  // namespace

CATCH_TEST_CASE("fluence optimizer: monotone, bounded, deterministic", "[optimize][optimizer]") {
  const FluenceFixture& fx = fluence_fixture();
  const Structure& ptv = fx.roles.resolve(fx.patient, "ptv");
  PlanGeometry geometry = build_plan_geometry(fx.patient, fx.machine, fx.options.arcs, ptv.name, 5.0, {});
  FluenceGrid grid = fluence_grid_for_plan(geometry, fx.machine, fx.options.bixel_width_mm);
  DoseEngineOptions eo;
  eo.dose_spacing_mm = fx.options.dose_spacing_mm;
  PencilBeamEngine engine(fx.patient, fx.machine, geometry, grid, eo);
  PlanObjective objective(fx.patient, fx.protocol, fx.roles, engine.dose_grid(), engine.compute_voxels());
  // Start: the PTV's beam's-eye view scaled so that the PTV's mean dose is 60 Gy.
  FluenceMaps f0 = target_projection(ptv.mask, geometry, fx.machine, grid);
  {
    torch::NoGradGuard ng;
    VoxelWeights w = structure_on_dose_grid(ptv.mask, engine.dose_grid(), engine.compute_voxels());
    torch::Tensor d = engine.dose_at_voxels(torch::tensor(f0.values).view(
        {f0.control_point_count, grid.row_count(), grid.bixel_count}));
    double mean = 0;
    for (size_t n = 0; n < w.index.size(); ++n) mean += w.fraction[n] * d[w.index[n]].item<double>();
    mean /= w.total();
    for (float& v : f0.values) v = static_cast<float>(v * 60.0 / mean);
  }
  const float f_max = 1.2f * *std::max_element(f0.values.begin(), f0.values.end());

  FluenceOptimizerOptions opt;
  opt.max_iterations = 15;
  opt.relative_tolerance = 0;  // run all iterations
  opt.f_max_mu = f_max;        // tight enough that the bound is reached
  int reported = 0;
  opt.progress = [&](const IterationRecord&) { ++reported; };
  FluenceOptimizationResult a = optimize_fluence(engine, objective, geometry, f0, opt);
  CATCH_REQUIRE(a.history.size() >= 2);
  CATCH_CHECK(reported == static_cast<int>(a.history.size()));
  CATCH_CHECK(a.history.back().objective < 0.5 * a.history.front().objective);
  for (size_t i = 1; i < a.history.size(); ++i)
    CATCH_CHECK(a.history[i].objective <= a.history[i - 1].objective);
  const auto [lo, hi] = std::minmax_element(a.fluence.values.begin(), a.fluence.values.end());
  CATCH_CHECK(*lo >= 0.0f);
  CATCH_CHECK(*hi <= f_max);
  CATCH_CHECK(*hi == Approx(f_max));  // the upper bound is active somewhere

  opt.progress = nullptr;
  FluenceOptimizationResult b = optimize_fluence(engine, objective, geometry, f0, opt);
  CATCH_CHECK(b.iterations == a.iterations);
  CATCH_CHECK(b.fluence.values == a.fluence.values);
  CATCH_CHECK(b.history.back().objective == a.history.back().objective);
}

CATCH_TEST_CASE("classical planner: a small phantom plan meets the PTV coverage goal", "[optimize][planner]") {
  const FluenceFixture& fx = fluence_fixture();
  ClassicalPlan plan = make_classical_plan(fx.patient, fx.protocol, fx.machine, fx.roles, fx.options);
  CATCH_CHECK(plan.optimization.iterations > 0);
  CATCH_CHECK(plan.optimization.history.back().objective < plan.optimization.history.front().objective);
  CATCH_CHECK(plan.normalisation_scale > 0.8);
  CATCH_CHECK(plan.normalisation_scale < 1.25);
  CATCH_CHECK(plan.evaluation.normalisation_scale == Approx(1.0).epsilon(1e-3));
  bool found = false;
  for (const GoalResult& g : plan.evaluation.goals)
    if (g.goal.role == "ptv" && g.goal.metric.text == "D95%") {
      found = true;
      CATCH_INFO("PTV D95% = " << g.value << " Gy");
      CATCH_CHECK(g.pass);
    }
  CATCH_CHECK(found);
  const auto goals = goals_table_json(plan.evaluation);
  CATCH_CHECK(goals.size() == plan.evaluation.goals.size());
}
