#pragma once
// A coarse pelvis phantom case shared by the L2Plan tests: 4 x 4 x 5 mm CT, two arcs of
// 24 deg control points, 10 mm bixels, 6 mm reference dose grid, the default protocol.
#include <memory>

#include "vmatplan/learn/refine_problem.h"
#include "vmatplan/patient/pelvis_phantom.h"

namespace vmatplan::test {

struct LearnFixture {
  Patient patient;
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  Protocol protocol = load_protocol(kDefaultProtocol);
  StructureRoles roles = StructureRoles::load_default();
  RefineCaseOptions options;
  RefineCase refine;
  std::shared_ptr<const PlanObjective> objective;

  LearnFixture() {
    PelvisPhantomOptions po;
    po.seed = 3;
    po.spacing_mm = {4, 4, 5};
    patient = make_pelvis_phantom(po);
    machine.max_cp_spacing_deg = 24.0;
    options.plan.arcs = default_two_arcs(24.0);
    options.plan.bixel_width_mm = 10.0;
    options.plan.dose_spacing_mm = 6.0;
    options.predictor.coarse_spacing_mm = 12.0;
    refine = make_refine_case(patient, protocol, machine, roles, options);
    objective = std::make_shared<const PlanObjective>(patient, protocol, roles, refine.engine->dose_grid(),
                                                      refine.engine->compute_voxels());
  }

  RefineProblem problem() const {
    const FluenceOptimizerOptions w = protocol_optimizer_options(options.plan.optimizer, protocol, machine);
    return RefineProblem(refine.engine_dose(), objective, refine.geometry, refine.conformal_start, w);
  }
};

inline const LearnFixture& learn_fixture() {
  static const LearnFixture f;
  return f;
}

}  // namespace vmatplan::test
