#include "vmatplan/evaluation/plan_evaluation.h"

#include <atomic>
#include <map>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {

int PlanEvaluation::goals_passed() const {
  int n = 0;
  for (const auto& g : goals) n += g.pass;
  return n;
}

int PlanEvaluation::goals_failed() const {
  int n = 0;
  for (const auto& g : goals) n += g.status == GoalStatus::kFail;
  return n;
}

PlanEvaluation evaluate_plan(const Patient& patient, const DoseImage& dose,
                             const Protocol& protocol, const StructureRoles& roles) {
  if (dose.empty()) throw ProcessingError("evaluate: the dose image is empty");
  // Resolve every required role first, so a missing structure fails before any work.
  const Prescription& rx = protocol.prescription;
  for (const auto& t : rx.targets) roles.resolve(patient, t.role);
  roles.resolve(patient, rx.normalisation.role);
  for (const auto& g : protocol.goals)
    if (!g.optional) roles.resolve(patient, g.role);

  PlanEvaluation e;
  e.protocol_name = protocol.name;
  e.prescription = rx;
  const DoseImage on_ct = resample_dose(dose, patient.ct_hu.grid, &e.ct_voxels_outside_dose_grid);

  std::map<const Structure*, size_t> index;
  const auto colors = roles.display_colors(patient);
  for (const auto& s : patient.structures) {
    StructureEvaluation se;
    se.name = s.name;
    se.role = roles.role_of(s.name);
    se.type = s.type;
    se.color_rgb = colors[e.structures.size()];
    index[&s] = e.structures.size();
    e.structures.push_back(std::move(se));
  }
  // The DVHs (a pass over the CT grid and a sort each) on the library's threads, each
  // thread taking the next structure: the body alone is most of the work.
  std::atomic<size_t> next{0};
  parallel_for(thread_count(), [&](long, long) {
    for (size_t i; (i = next.fetch_add(1)) < patient.structures.size();) {
      StructureEvaluation& se = e.structures[i];
      se.dvh = compute_dvh(on_ct, patient.structures[i].mask);
      se.metrics = compute_dose_metrics(se.dvh);
    }
  });
  auto dvh_of = [&](const Structure& s) -> const Dvh& { return e.structures[index.at(&s)].dvh; };

  const Structure* body = roles.find(patient, "body");
  for (const auto& t : rx.targets) {
    const Structure& s = roles.resolve(patient, t.role);
    e.targets.push_back(
        {t, s.name, compute_target_indices(on_ct, s.mask, t.dose_gy, body ? &body->mask : nullptr)});
  }

  const Structure& norm_s = roles.resolve(patient, rx.normalisation.role);
  e.normalisation_value_gy = metric_value(parse_metric(rx.normalisation.metric), dvh_of(norm_s));
  e.normalisation_scale =
      e.normalisation_value_gy > 0 ? rx.normalisation.value_gy / e.normalisation_value_gy : 0.0;

  for (const auto& g : protocol.goals) {
    const Structure* s = roles.find(patient, g.role);
    if (!s) {
      e.goals.push_back(not_evaluated(g));
      continue;
    }
    // CI and GI refer to the prescription level of this target (else the highest level).
    const TargetIndices* ti = e.targets.empty() ? nullptr : &e.targets.front().indices;
    for (const auto& t : e.targets)
      if (t.level.role == g.role) ti = &t.indices;
    e.goals.push_back(evaluate_goal(g, s->name, dvh_of(*s), ti));
  }
  return e;
}

}  // namespace vmatplan
