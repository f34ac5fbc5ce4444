// Issue 5's fidelity criterion at test size: a classical fluence plan on a coarse pelvis
// phantom (4 x 4 x 5 mm CT, 8 mm dose grid, 10 mm bixels, two arcs of 8 deg control
// points, leaf transmission modelled in the fluence) is sequenced with the default
// sliding-window options; the dose from the apertures (partial bixel opening, leaf and jaw
// transmission, minimum gap) must match the fluence plan's dose: gamma 3 %/2 mm global,
// 10 % threshold, >= 95 %, with the sequenced MU as they are (no renormalisation), and the
// plan must keep the clinical goals the fluence plan met.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/deliverability.h"

using namespace vmatplan;

CATCH_TEST_CASE("dose from the sequenced apertures matches the fluence plan (gamma 3%/2mm >= 95%)",
                "[optimize][sequence][fidelity]") {
  torch::set_num_threads(1);
  PelvisPhantomOptions po;
  po.seed = 5;
  po.spacing_mm = {4, 4, 5};
  const Patient patient = make_pelvis_phantom(po);
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  machine.max_cp_spacing_deg = 8.0;
  const Protocol protocol = load_protocol(kDefaultProtocol);
  const StructureRoles roles = StructureRoles::load_default();
  ClassicalPlanOptions co;
  co.arcs = default_two_arcs(8.0);
  co.bixel_width_mm = 10.0;
  co.dose_spacing_mm = 8.0;
  co.optimizer.max_iterations = 30;
  const ClassicalPlan fp = make_classical_plan(patient, protocol, machine, roles, co);

  PlanFile pf;
  pf.machine_name = machine.name;
  pf.geometry = fp.geometry;
  pf.fluence = fp.fluence;
  SequencerOptions so;
  so.method = SequencerMethod::kSweep;  // the sweep; apertures: test_aperture_optimizer.cpp
  so.fractions = protocol.prescription.fractions;
  so.prescription_dose_gy = protocol.prescription.targets.front().dose_gy;
  const SequencedPlan s = sequence_arcs(pf, machine, so);
  CATCH_REQUIRE(check_deliverability(s.plan, machine).empty());

  DoseEngineOptions eo;
  eo.dose_spacing_mm = 8.0;
  const PencilBeamEngine engine(patient, machine, fp.geometry, fp.fluence.grid, eo);
  const DoseImage reference = engine.dose_image(fp.fluence);
  const DoseImage apertures = engine.dose_image(
      aperture_fluence_on_geometry(s.plan, fp.fluence.grid, fp.geometry, machine));
  const GammaResult g = compute_gamma(reference, apertures, GammaOptions{});
  CATCH_INFO("gamma pass rate " << g.pass_rate_pct << " % over " << g.evaluated_voxels << " voxels");
  CATCH_CHECK(g.evaluated_voxels > 1000);
  CATCH_CHECK(g.pass_rate_pct >= 95.0);

  const PlanEvaluation e_flu = evaluate_plan(patient, reference, protocol, roles);
  const PlanEvaluation e_seq = evaluate_plan(patient, apertures, protocol, roles);
  CATCH_REQUIRE(e_flu.goals.size() == e_seq.goals.size());
  for (size_t k = 0; k < e_flu.goals.size(); ++k) {
    CATCH_INFO(e_flu.goals[k].structure << " " << e_flu.goals[k].goal.metric.text << ": fluence "
                                       << e_flu.goals[k].value << ", apertures " << e_seq.goals[k].value);
    if (e_flu.goals[k].pass) CATCH_CHECK(e_seq.goals[k].pass);
  }
}
