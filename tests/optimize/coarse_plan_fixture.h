#pragma once
// A coarse pelvis phantom planned for the optimiser tests after sequencing (4 x 4 x 5 mm
// CT, 10 mm bixels, 8 mm dose grid, two arcs of 24 deg control points, 25 fluence
// iterations), sequenced with the options given.
#include <torch/torch.h>

#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/optimize/objectives.h"
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

}  // namespace vmatplan::test
