// The protocol's normalisation of a dose (see normalisation.h).
#include "vmatplan/evaluation/normalisation.h"

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/dose_metrics.h"
#include "vmatplan/evaluation/dvh.h"

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

double normalisation_scale(const Patient& patient, const DoseImage& dose, const Protocol& protocol,
                           const StructureRoles& roles) {
  if (dose.empty()) throw ProcessingError("normalisation: the dose image is empty");
  const Normalisation& rule = protocol.prescription.normalisation;
  const Structure& s = roles.resolve(patient, rule.role);
  const double value = metric_value(parse_metric(rule.metric), compute_dvh_any_grid(dose, s.mask));
  return value > 0 ? rule.value_gy / value : 0.0;
}

}  // namespace vmatplan
