#pragma once
// The final dose of `generate` and its correction (issue 11, "what was optimised is what
// is delivered").
//
// The plan is optimised on a coarse dose grid (5 mm, the engine's stored operator) and
// judged on the final one (3 mm, streamed). Where the two disagree enough that a clinical
// goal met on the optimisation grid fails on the final dose (a steep gradient a 5 mm grid
// averages away, the target's surface at the scan's first or last slice), the final-grid
// correction runs the last optimisation stage again (the direct aperture optimisation, or
// after `--sequencer sweep` the MU re-optimisation) against the optimisation grid's
// dose plus a correction: the final dose read at each optimisation voxel centre minus the
// optimisation grid's dose of the same plan. The objective then sees what the final grid
// sees, while the gradient still comes from the fast engine. This is the correction-based
// optimisation of Siebers et al. (Med Phys 29:231, 2002: a fast dose model plus the
// difference of an accurate one, recomputed now and then), as in the "intermediate dose"
// of commercial VMAT optimisers. The corrected plan's final dose is computed again and
// kept only when it meets more goals than the plan before, or as many with the failed
// goals nearer their limits (the sum of each one's shortfall relative to its acceptable
// value); up to `max_rounds` rounds, each from the last plan kept.
//
//   FinalPlanDose final = final_plan_dose(delivery, fluence, ctx, machine, options);
//   FinalGridCorrection c = correct_for_final_grid(final, optimised_eval, fluence, ctx, machine, options);
//   if (c.applied) final = std::move(c.result);
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/pipeline/generate.h"

namespace vmatplan {

struct FinalPlanDose {
  DeliveryPlan plan;          // the delivery, its MU scaled when the renormalisation applied
  DoseImage dose;             // on the final grid (options.final_dose_spacing_mm)
  PlanEvaluation evaluation;  // of `dose`
  double mu_scale = 1.0;      // the renormalisation applied (1: none)
};

// The control points 0, k, 2k, ... of every beam, k the largest common divisor of the
// beams' interval counts whose gantry step stays within max_step_deg (at least 1).
PlanGeometry every_kth_control_point(const PlanGeometry& geometry, double max_step_deg);

// The delivery's dose on the final grid: the control points every
// options.final_dose_cp_spacing_deg with the apertures between integrated onto them,
// computed once, streaming (no stored operator), then evaluated. Sequencing and DAO change
// the dose a little; the protocol's normalisation is restored by scaling all MU (dose is
// linear in MU) when options.renormalise_mu, the scale is within (0.5, 2) and the scaled
// plan is still deliverable.
FinalPlanDose final_plan_dose(const DeliveryPlan& delivery, const FluencePlan& fluence,
                              const MetersetPlanContext& ctx, const Machine& machine,
                              const GenerateOptions& options);

// The correction on the optimisation grid: final_dose read (trilinear) at each voxel
// centre of optimisation_dose's grid minus optimisation_dose; 0 where the centre lies
// outside the final dose grid.
std::vector<float> final_grid_dose_correction(const DoseImage& final_dose, const DoseImage& optimisation_dose);

struct FinalGridCorrection {
  bool applied = false;  // `result` is better on the final grid than the input (see above)
  FinalPlanDose result;  // when applied
  // summary.json "final_grid_correction": status, goals lost before and after, rounds
  // (DAO iterations, goals met on the final grid, the correction's range), seconds.
  nlohmann::json info;
};

// Runs only for the aperture sequencer with DAO on (options.meterset) and
// options.final_grid_correction; else info.status says why not. `optimised` is the DAO's
// evaluation on the optimisation grid; goals it met and `current` fails are the lost ones.
FinalGridCorrection correct_for_final_grid(const FinalPlanDose& current, const PlanEvaluation& optimised,
                                           const FluencePlan& fluence, const MetersetPlanContext& ctx,
                                           const Machine& machine, const GenerateOptions& options,
                                           int max_rounds = 3);

}  // namespace vmatplan
