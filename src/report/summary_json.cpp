#include "vmatplan/report/summary_json.h"

#include "vmatplan/core/version.h"

namespace vmatplan {
namespace {
using nlohmann::json;

json structure_json(const StructureEvaluation& s) {
  const DoseMetrics& m = s.metrics;
  return {{"name", s.name},
          {"role", s.role},
          {"type", s.type},
          {"volume_cc", m.volume_cc},
          {"mean_gy", m.mean_gy},
          {"min_gy", m.min_gy},
          {"max_gy", m.max_gy},
          {"d98_gy", m.d98_gy},
          {"d95_gy", m.d95_gy},
          {"d50_gy", m.d50_gy},
          {"d2_gy", m.d2_gy},
          {"d0_03cc_gy", m.d0_03cc_gy},
          {"homogeneity_index", m.homogeneity_index},
          {"voxels_outside_dose_grid", s.dvh.outside_dose_grid_voxels}};
}

json goal_json(const GoalResult& r) {
  const ClinicalGoal& g = r.goal;
  json j = {{"structure", r.structure},
            {"role", g.role},
            {"metric", g.metric.text},
            {"unit", g.metric.value_unit()},
            {"comparison", to_string(g.comparison)},
            {"threshold", r.threshold()},
            {"acceptable", g.acceptable},
            {"ideal", g.ideal},
            {"status", to_string(r.status)},
            {"pass", r.pass},
            {"source", g.source}};
  j["value"] = r.status == GoalStatus::kNotEvaluated ? json(nullptr) : json(r.value);
  return j;
}

}  // namespace

json build_summary_json(const PlanEvaluation& e, const ReportInputs& in, const GammaSummary* gamma) {
  json j;
  j["vmatplan_version"] = kVersion;
  j["inputs"] = {{"patient", in.patient}, {"dose", in.dose}, {"protocol", in.protocol}};
  if (!in.reference.empty()) j["inputs"]["reference"] = in.reference;
  const Prescription& rx = e.prescription;
  json targets_rx = json::array();
  for (const auto& t : rx.targets) targets_rx.push_back({{"role", t.role}, {"dose_gy", t.dose_gy}});
  j["protocol"] = e.protocol_name;
  j["prescription"] = {{"total_dose_gy", rx.total_dose_gy},
                       {"fractions", rx.fractions},
                       {"dose_per_fraction_gy", rx.dose_per_fraction_gy()},
                       {"targets", targets_rx},
                       {"normalisation",
                        {{"role", rx.normalisation.role},
                         {"metric", rx.normalisation.metric},
                         {"value_gy", rx.normalisation.value_gy},
                         {"planned_gy", e.normalisation_value_gy},
                         {"scale_to_normalise", e.normalisation_scale}}}};
  j["dose_resampling"] = "dose resampled trilinearly onto the CT grid; masks not resampled";
  j["ct_voxels_outside_dose_grid"] = e.ct_voxels_outside_dose_grid;
  j["structures"] = json::array();
  for (const auto& s : e.structures) j["structures"].push_back(structure_json(s));
  j["targets"] = json::array();
  for (const auto& t : e.targets) {
    const TargetIndices& x = t.indices;
    j["targets"].push_back({{"role", t.level.role},
                            {"structure", t.structure},
                            {"prescription_gy", x.prescription_gy},
                            {"tv_cc", x.tv_cc},
                            {"piv_cc", x.piv_cc},
                            {"tv_piv_cc", x.tv_piv_cc},
                            {"piv50_cc", x.piv50_cc},
                            {"paddick_ci", x.paddick_ci},
                            {"gradient_index", x.gradient_index}});
  }
  j["goals"] = json::array();
  int not_evaluated = 0;
  for (const auto& g : e.goals) {
    j["goals"].push_back(goal_json(g));
    not_evaluated += g.status == GoalStatus::kNotEvaluated;
  }
  j["goals_passed"] = e.goals_passed();
  j["goals_failed"] = e.goals_failed();
  j["goals_not_evaluated"] = not_evaluated;
  if (gamma) {
    const GammaOptions& o = gamma->options;
    const GammaResult& r = gamma->result;
    j["gamma"] = {{"dose_criterion_pct", o.dose_criterion_pct},
                  {"distance_mm", o.distance_mm},
                  {"type", o.local ? "local" : "global"},
                  {"low_dose_threshold_pct", o.low_dose_threshold_pct},
                  {"normalisation_dose_gy", r.normalisation_dose_gy},
                  {"threshold_dose_gy", r.threshold_dose_gy},
                  {"max_gamma_cap", o.max_gamma},
                  {"search_step_mm", o.distance_mm * o.step_fraction},
                  {"evaluated_voxels", r.evaluated_voxels},
                  {"passed_voxels", r.passed_voxels},
                  {"pass_rate_pct", r.pass_rate_pct},
                  {"mean_gamma", r.mean_gamma},
                  {"max_gamma", r.max_gamma}};
  }
  return j;
}

}  // namespace vmatplan
