#pragma once
// A coarse pelvis phantom planned for the optimiser tests after sequencing (4 x 4 x 5 mm
// CT, 10 mm bixels, 8 mm dose grid, two arcs of 24 deg control points, 25 fluence
// iterations), sequenced with the options given.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "vmatplan/core/error.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/optimize/objectives.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/sequence/arc_sequencer.h"

namespace vmatplan::test {

struct CoarsePlanFixture {
  Patient patient;
  Machine machine;
  Protocol protocol = load_protocol(kDefaultProtocol);
  StructureRoles roles = StructureRoles::load_default();
  ClassicalPlan fluence_plan;
  SequencedPlan sequenced;

  explicit CoarsePlanFixture(SequencerOptions so) {
    torch::set_num_threads(1);
    PelvisPhantomOptions po;
    po.seed = 3;
    po.spacing_mm = {4, 4, 5};
    patient = make_pelvis_phantom(po);
    machine = Machine::load_named("generic_6mv_mlc120");
    machine.max_cp_spacing_deg = 24.0;  // few control points keep the tests fast
    ClassicalPlanOptions co;
    co.arcs = default_two_arcs(24.0);
    co.bixel_width_mm = 10.0;
    co.dose_spacing_mm = 8.0;
    co.optimizer.max_iterations = 25;
    fluence_plan = make_classical_plan(patient, protocol, machine, roles, co);
    PlanFile pf;
    pf.machine_name = machine.name;
    pf.geometry = fluence_plan.geometry;
    pf.fluence = fluence_plan.fluence;
    so.fractions = protocol.prescription.fractions;
    so.prescription_dose_gy = protocol.prescription.targets.front().dose_gy;
    sequenced = sequence_arcs(pf, machine, so);
  }
};

// A fixture's optimisation-grid engine (8 mm), its protocol objective and the optimisers'
// context, in the order they depend on each other: what every optimiser test starts from.
struct CoarseDoseSetup {
  PencilBeamEngine engine;
  PlanObjective objective;
  MetersetPlanContext ctx;
  explicit CoarseDoseSetup(const CoarsePlanFixture& fx)
      : engine(fx.patient, fx.machine, fx.fluence_plan.geometry, fx.fluence_plan.fluence.grid, engine_options()),
        objective(fx.patient, fx.protocol, fx.roles, engine.dose_grid(), engine.compute_voxels()),
        ctx{fx.patient, fx.protocol, fx.roles} {}

 private:
  static DoseEngineOptions engine_options() {
    DoseEngineOptions eo;
    eo.dose_spacing_mm = 8.0;
    return eo;
  }
};

// The protocol objective of the engine's dose of a sequenced plan's apertures plus a
// uniform shift: what an optimiser given that dose correction must report for its start,
// computed without the optimiser.
inline double shifted_objective(const DeliveryPlan& plan, const PencilBeamEngine& engine,
                                const PlanGeometry& geometry, const Machine& machine,
                                const PlanObjective& objective, double shift_gy) {
  torch::NoGradGuard ng;
  const FluenceMaps seq = aperture_fluence_on_geometry(plan, engine.fluence_grid(), geometry, machine);
  const torch::Tensor f =
      torch::tensor(seq.values).view({seq.control_point_count, seq.grid.row_count(), seq.grid.bixel_count});
  return objective.value((engine.dose_at_voxels(f) + shift_gy).to(torch::kDouble)).item<double>();
}

// An optimiser that takes the fixture's plan, engine, objective and context:
// optimize_apertures or optimize_meterset.
template <class Result, class Options>
using CoarsePlanOptimiser = Result (*)(const DeliveryPlan&, const PencilBeamEngine&, const PlanGeometry&,
                                       const PlanObjective&, const MetersetPlanContext&, const Machine&,
                                       const Options&);

// The final-grid correction's contract (pipeline/final_dose_stage.h) for an optimiser that
// takes a per-voxel dose correction, run on the fixture's sequenced plan: a uniform -2 Gy
// shifts every dose metric by -2 Gy, so with no iterations the normalisation alone must
// scale the MU by (V + 2) / V (V its dose value) and the corrected dose meet it; the
// objective reported for the start is the corrected dose's, computed here without the
// optimiser to within objective_epsilon; a correction of another grid's size is refused.
// Returns the result of `iterations` iterations with the correction, for the caller's
// checks of its own convergence.
template <class Result, class Options>
Result check_uniform_dose_correction(const CoarsePlanFixture& fx, const CoarseDoseSetup& setup,
                                     CoarsePlanOptimiser<Result, Options> optimise, int iterations,
                                     double objective_epsilon) {
  auto run = [&](const Options& o) {
    return optimise(fx.sequenced.plan, setup.engine, fx.fluence_plan.geometry, setup.objective, setup.ctx,
                    fx.machine, o);
  };
  Options opt;
  opt.max_iterations = 0;
  const Result plain = run(opt);
  opt.dose_correction_gy.assign(static_cast<size_t>(setup.engine.dose_grid().voxel_count()), -2.0f);
  const Result shifted = run(opt);
  const double v = fx.protocol.prescription.normalisation.value_gy;
  CATCH_REQUIRE(v > 0);
  CATCH_INFO("MU " << plain.mu_final << " -> " << shifted.mu_final << ", V " << v);
  CATCH_CHECK(shifted.mu_final / plain.mu_final == Approx((v + 2.0) / v).epsilon(2e-3));
  CATCH_CHECK(shifted.evaluation.normalisation_scale == Approx(1.0).epsilon(2e-3));
  CATCH_CHECK(shifted.violations.empty());
  const double expected = shifted_objective(fx.sequenced.plan, setup.engine, fx.fluence_plan.geometry, fx.machine,
                                            setup.objective, -2.0);
  CATCH_CHECK(shifted.objective_sequenced == Approx(expected).epsilon(objective_epsilon));
  CATCH_CHECK(shifted.objective_sequenced != Approx(plain.objective_sequenced).epsilon(1e-3));
  opt.max_iterations = iterations;
  Result optimised = run(opt);
  CATCH_CHECK(optimised.violations.empty());
  opt.dose_correction_gy.pop_back();
  CATCH_CHECK_THROWS_AS(run(opt), ProcessingError);
  return optimised;
}

}  // namespace vmatplan::test
