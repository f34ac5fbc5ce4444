// The protocol's normalisation of a dose (see normalisation.h).
#include "vmatplan/evaluation/normalisation.h"

namespace vmatplan {

NormalisedDose normalise_to_protocol(const Patient& patient, DoseImage& dose, const Protocol& protocol,
                                     const StructureRoles& roles) {
  const PlanEvaluation before = evaluate_plan(patient, dose, protocol, roles);
  NormalisedDose n;
  n.scale = before.normalisation_scale > 0 ? before.normalisation_scale : 1.0;
  for (float& v : dose.voxels) v = static_cast<float>(v * n.scale);
  n.evaluation = evaluate_plan(patient, dose, protocol, roles);
  return n;
}

}  // namespace vmatplan
