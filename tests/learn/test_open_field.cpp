// The "open-field" baseline generator on a pelvis phantom: the open bixels are exactly those
// the target covers by more than half in the beam's eye view, every open bixel has the same
// fluence, that constant meets the protocol's normalisation, and the generator is
// deterministic.
#include <catch2/catch.hpp>

#include <algorithm>

#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/pipeline/fluence_stages.h"
#include "vmatplan/pipeline/open_field_generator.h"

using namespace vmatplan;

CATCH_TEST_CASE("open-field: a constant on the bixels the target covers by more than half", "[learn][baseline]") {
  PelvisPhantomOptions po;
  po.seed = 3;
  po.spacing_mm = {4, 4, 5};
  const Patient patient = make_pelvis_phantom(po);
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  machine.max_cp_spacing_deg = 24.0;  // coarse arcs: a test of seconds
  const Protocol protocol = load_protocol(kDefaultProtocol);
  const StructureRoles roles = StructureRoles::load_default();
  ClassicalPlanOptions options;
  options.arcs = default_two_arcs(24.0);
  options.bixel_width_mm = 5.0;
  options.dose_spacing_mm = 10.0;
  const FluenceStageContext context{patient, protocol, machine, roles, options, {}};

  const FluencePlan f = make_fluence_generator("open-field")->generate(context);
  const int cps = f.fluence.control_point_count;
  CATCH_REQUIRE(cps == static_cast<int>(f.geometry.beams[0].control_points.size() +
                                        f.geometry.beams[1].control_points.size()));
  // The conditioning computed again, independently of the generator, on its geometry and grid.
  const std::string target_role = protocol.prescription.targets.front().role;
  const BevConditioning cond =
      compute_bev_conditioning({patient, roles, target_role, f.geometry, f.fluence.grid, machine.sad_mm});
  // The constant, from the first open bixel; every open bixel must carry exactly it.
  const auto first_open =
      std::find_if(f.fluence.values.begin(), f.fluence.values.end(), [](float v) { return v != 0.0f; });
  CATCH_REQUIRE(first_open != f.fluence.values.end());
  const float constant = *first_open;
  CATCH_REQUIRE(constant > 0);
  int open = 0, partial_closed = 0, mismatches = 0, other_values = 0;
  for (int cp = 0; cp < cps; ++cp) {
    int open_here = 0;
    for (int r = 0; r < cond.rows; ++r)
      for (int b = 0; b < cond.bixels; ++b) {
        const float coverage = cond.at(cp, kChannelTarget, r, b);
        const float v = f.fluence.at(cp, r, b);
        if ((coverage > kOpenFieldCoverage) != (v != 0.0f)) ++mismatches;
        if (v != 0.0f && v != constant) ++other_values;
        if (v != 0.0f) ++open_here;
        if (coverage > 0.0f && coverage <= kOpenFieldCoverage) ++partial_closed;
      }
    CATCH_CHECK(open_here > 0);  // the isocentre is in the target: every control point sees it
    open += open_here;
  }
  CATCH_CHECK(mismatches == 0);
  CATCH_CHECK(other_values == 0);
  CATCH_CHECK(partial_closed > 0);  // the edge bixels the rule closes exist: the rule is exercised
  CATCH_CHECK(open < static_cast<int>(f.fluence.values.size()) / 2);
  CATCH_CHECK(f.info["generator"] == "open-field");
  CATCH_CHECK(f.info["open_bixels"] == open);
  CATCH_CHECK(f.info["open_fluence_mu"].get<float>() == constant);

  // The constant meets the normalisation rule (dose is linear in it), on the engine the
  // generator hands on to the meterset stage, and the unit field would not have.
  CATCH_REQUIRE(f.engine);
  const PlanEvaluation e = evaluate_plan(patient, f.engine->dose_image(f.fluence), protocol, roles);
  CATCH_CHECK(e.normalisation_scale == Approx(1.0).epsilon(1e-4));
  CATCH_CHECK(e.normalisation_value_gy == Approx(protocol.prescription.normalisation.value_gy).epsilon(1e-4));
  FluenceMaps unit = f.fluence;
  for (float& v : unit.values) v /= constant;
  CATCH_CHECK(evaluate_plan(patient, f.engine->dose_image(unit), protocol, roles).normalisation_scale ==
              Approx(constant).epsilon(1e-4));

  const FluencePlan again = make_fluence_generator("open-field")->generate(context);
  CATCH_CHECK(again.fluence.values == f.fluence.values);
}
