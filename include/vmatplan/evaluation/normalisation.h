#pragma once
// The protocol's normalisation of a plan's dose (e.g. D95% of the PTV = Rx): dose is linear
// in fluence and MU, so the plan is scaled by evaluate_plan's normalisation_scale and
// evaluated again. The classical planner normalises its fluence with it; benchmarks use it
// to compare any generator's fluence the way the pipeline would see it.
//
//   DoseImage dose = engine.dose_image(fluence);
//   NormalisedDose n = normalise_to_protocol(patient, dose, protocol, roles);
//   for (float& v : fluence.values) v = static_cast<float>(v * n.scale);   // dose is scaled
#include "vmatplan/evaluation/plan_evaluation.h"

namespace vmatplan {

struct NormalisedDose {
  double scale = 1.0;         // applied to the dose (1 when the rule finds no dose to scale)
  PlanEvaluation evaluation;  // of the scaled dose
};

// Scales `dose` in place. A dose with nothing where the rule looks (normalisation metric
// 0) is left as it is.
NormalisedDose normalise_to_protocol(const Patient& patient, DoseImage& dose, const Protocol& protocol,
                                     const StructureRoles& roles);

// evaluate_plan(...).normalisation_scale alone: only the normalisation structure's DVH,
// sampled at its mask voxels (no resampling of the whole dose, no other structures), for
// loops that rescale a dose several times and evaluate it once at the end.
double normalisation_scale(const Patient& patient, const DoseImage& dose, const Protocol& protocol,
                           const StructureRoles& roles);

}  // namespace vmatplan
