// Direct aperture optimisation on a coarse pelvis phantom (4 x 4 x 5 mm CT, 8 mm dose grid,
// 10 mm bixels, two arcs of 24 deg engine control points, apertures every 8 deg): classical
// plan -> one aperture per control point -> DAO of leaves and MU. Its fluence model matches
// the exact aperture fluence, the objective falls, the plan stays deliverable in about the
// sequenced beam-on time, and runs are identical; starting from the normalised sequenced
// plan changes none of that.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "optimize/coarse_plan_fixture.h"

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/optimize/aperture_optimizer.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/delivery_timing.h"

using namespace vmatplan;

namespace {

using ApertureFixture = test::CoarsePlanFixture;

const ApertureFixture& aperture_fixture() {
  SequencerOptions so;
  so.aperture_cp_spacing_deg = 8.0;
  so.aperture_sector_deg = 48.0;
  static const ApertureFixture f(so);
  return f;
}

// The fixture's 8 mm dose engine and protocol objective, made once.
const test::CoarseDoseSetup& dose_setup() {
  static const test::CoarseDoseSetup s(aperture_fixture());
  return s;
}

double plan_time_s(const DeliveryPlan& p, const Machine& m) {
  double t = 0;
  for (const DeliveryBeam& b : p.beams) t += beam_delivery_time_s(b, DeliveryLimits::of(m));
  return t;
}

}  // namespace

CATCH_TEST_CASE("aperture optimisation lowers the objective and stays deliverable", "[optimize][dao]") {
  const ApertureFixture& fx = aperture_fixture();
  CATCH_REQUIRE(check_deliverability(fx.sequenced.plan, fx.machine).empty());
  const auto& [engine, objective, ctx] = dose_setup();
  ApertureOptimizerOptions opt;
  opt.max_iterations = 12;
  const ApertureResult a = optimize_apertures(fx.sequenced.plan, engine, fx.fluence_plan.geometry,
                                              objective, ctx, fx.machine, opt);
  CATCH_INFO("sequenced " << a.objective_sequenced << " optimized " << a.objective_optimized
                          << " final " << a.objective_final << " MU " << a.mu_sequenced << " -> "
                          << a.mu_final);
  // The sampled leaf motion (3 instants per interval; the objective at the start of an
  // optimisation of no iterations) against the exact integral of delivered_fluence (the
  // engine on the sequenced apertures' fluence).
  {
    double exact = 0;
    {
      torch::NoGradGuard ng;
      const FluenceMaps seq = aperture_fluence_on_geometry(fx.sequenced.plan, engine.fluence_grid(),
                                                           fx.fluence_plan.geometry, fx.machine);
      torch::Tensor f = torch::tensor(seq.values).view(
          {seq.control_point_count, seq.grid.row_count(), seq.grid.bixel_count});
      exact = objective.value(engine.dose_at_voxels(f).to(torch::kDouble)).item<double>();
    }
    CATCH_CHECK(a.objective_sequenced == Approx(exact).epsilon(1e-5));
    ApertureOptimizerOptions none = opt;
    none.max_iterations = 0, none.normalise_first = false;
    const ApertureResult sampled = optimize_apertures(fx.sequenced.plan, engine, fx.fluence_plan.geometry,
                                                      objective, ctx, fx.machine, none);
    CATCH_CHECK(sampled.objective_optimized == Approx(exact).epsilon(0.03));
  }
  CATCH_CHECK(a.iterations > 0);
  CATCH_CHECK(a.objective_optimized < 0.8 * a.objective_sequenced);
  for (size_t k = 1; k < a.history.size(); ++k) CATCH_CHECK(a.history[k] <= a.history[k - 1]);
  // Normalised per the protocol, deliverable, in about the sequenced beam-on time (the
  // interval durations are kept; normalisation may add MU where the dose rate then binds).
  CATCH_CHECK(a.evaluation.normalisation_scale == Approx(1.0).epsilon(2e-3));
  CATCH_CHECK(a.violations.empty());
  CATCH_CHECK(check_deliverability(a.plan, fx.machine).empty());
  CATCH_CHECK(plan_time_s(a.plan, fx.machine) <= 1.05 * plan_time_s(fx.sequenced.plan, fx.machine));
  // Leaf pairs that never open stay where the sequencer parked them.
  for (size_t b = 0; b < a.plan.beams.size(); ++b)
    for (int p = 0; p < fx.machine.mlc.pair_count(); ++p) {
      bool moved_in_sequence = false;
      const auto& seq_cps = fx.sequenced.plan.beams[b].control_points;
      for (const auto& cp : seq_cps)
        moved_in_sequence |= cp.leaf_x1_mm[p] != seq_cps[0].leaf_x1_mm[p] ||
                             cp.leaf_x2_mm[p] - cp.leaf_x1_mm[p] > 1.0;
      if (moved_in_sequence) continue;
      for (const auto& cp : a.plan.beams[b].control_points) {
        CATCH_CHECK(cp.leaf_x1_mm[p] == seq_cps[0].leaf_x1_mm[p]);
        CATCH_CHECK(cp.leaf_x2_mm[p] == seq_cps[0].leaf_x2_mm[p]);
      }
    }
  // Deterministic on one thread.
  const ApertureResult again = optimize_apertures(fx.sequenced.plan, engine, fx.fluence_plan.geometry,
                                                  objective, ctx, fx.machine, opt);
  CATCH_CHECK(again.objective_final == a.objective_final);
  CATCH_CHECK(again.mu_final == a.mu_final);
}

CATCH_TEST_CASE("aperture optimisation from the normalised sequenced plan", "[optimize][dao]") {
  const ApertureFixture& fx = aperture_fixture();
  const auto& [engine, objective, ctx] = dose_setup();
  ApertureOptimizerOptions opt;
  opt.max_iterations = 8;
  opt.normalise_first = false;
  const ApertureResult plain = optimize_apertures(fx.sequenced.plan, engine, fx.fluence_plan.geometry,
                                                  objective, ctx, fx.machine, opt);
  opt.normalise_first = true;
  const ApertureResult a = optimize_apertures(fx.sequenced.plan, engine, fx.fluence_plan.geometry,
                                              objective, ctx, fx.machine, opt);
  CATCH_INFO("sequenced " << a.objective_sequenced << " first iterate " << a.history.front()
                          << " optimized " << a.objective_optimized);
  // The reported start is still the sequenced plan as given; the first iterate is the
  // normalised one, which the optimiser only improves on.
  CATCH_CHECK(a.objective_sequenced == Approx(plain.objective_sequenced).epsilon(1e-6));
  for (size_t k = 1; k < a.history.size(); ++k) CATCH_CHECK(a.history[k] <= a.history[k - 1]);
  CATCH_CHECK(a.objective_optimized < a.objective_sequenced);
  CATCH_CHECK(a.evaluation.normalisation_scale == Approx(1.0).epsilon(2e-3));
  CATCH_CHECK(a.violations.empty());
  CATCH_CHECK(check_deliverability(a.plan, fx.machine).empty());
}

CATCH_TEST_CASE("aperture optimisation sees its dose plus a given correction", "[optimize][dao]") {
  // The final-grid correction hands DAO a per-voxel dose to add (coarse_plan_fixture.h).
  const ApertureFixture& fx = aperture_fixture();
  const ApertureResult optimised = test::check_uniform_dose_correction(fx, dose_setup(), &optimize_apertures, 4, 1e-5);
  CATCH_CHECK(optimised.history.back() <= optimised.history.front());
}
