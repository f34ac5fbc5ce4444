// The final dose of `generate` and its final-grid correction (see final_dose_stage.h).
#include "vmatplan/pipeline/final_dose_stage.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "vmatplan/core/stopwatch.h"
#include "vmatplan/dose/dose_calculation.h"
#include "vmatplan/evaluation/dvh.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/optimize/aperture_optimizer.h"
#include "vmatplan/optimize/objectives.h"
#include "vmatplan/pipeline/delivery_stages.h"
#include "vmatplan/pipeline/grid_goal_check.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/deliverability.h"

namespace vmatplan {
namespace {

int goals_met(const PlanEvaluation& e) {
  int n = 0;
  for (const GoalResult& g : e.goals) n += g.pass;
  return n;
}

// How far the failed goals are from their acceptable values, each relative to that value
// (at least 1 in its unit): what a round must lower when it meets no more goals.
double goal_shortfall(const PlanEvaluation& e) {
  double sum = 0;
  for (const GoalResult& g : e.goals)
    if (!g.pass && g.status != GoalStatus::kNotEvaluated)
      sum += std::abs(g.value - g.goal.acceptable) / std::max(1.0, std::abs(g.goal.acceptable));
  return sum;
}

nlohmann::json goal_values(const PlanEvaluation& e, const std::vector<size_t>& indices) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i : indices) out[e.goals[i].structure + " " + e.goals[i].goal.metric.text] = e.goals[i].value;
  return out;
}

nlohmann::json goal_names(const PlanEvaluation& e, const std::vector<size_t>& indices) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i : indices) out.push_back(e.goals[i].structure + " " + e.goals[i].goal.metric.text);
  return out;
}

// All MU scaled, the same beam-on time: the dose rates scale with the MU.
DeliveryPlan scale_mu(DeliveryPlan plan, double scale) {
  for (auto& b : plan.beams) {
    b.meterset_mu *= scale;
    if (b.dose_rate_mu_per_min > 0) b.dose_rate_mu_per_min *= scale;
    for (auto& cp : b.control_points)
      if (cp.dose_rate_mu_per_min > 0) cp.dose_rate_mu_per_min *= scale;
  }
  return plan;
}

}  // namespace

PlanGeometry every_kth_control_point(const PlanGeometry& geometry, double max_step_deg) {
  int n = 0;
  double step = 0;
  for (const Beam& b : geometry.beams) {
    const int intervals = static_cast<int>(b.control_points.size()) - 1;
    if (intervals <= 0) continue;
    n = std::gcd(n, intervals);
    step = std::max(step, gantry_step_deg(b.control_points[0].gantry_deg,
                                          b.control_points[1].gantry_deg, b.direction));
  }
  int k = 1;
  for (int d = 1; d <= n; ++d)
    if (n % d == 0 && d * step <= max_step_deg + 1e-9) k = d;
  PlanGeometry out = geometry;
  for (Beam& b : out.beams) {
    if (b.control_points.size() < 2) continue;
    std::vector<ControlPointGeometry> kept;
    for (size_t c = 0; c < b.control_points.size(); c += k) kept.push_back(b.control_points[c]);
    b.control_points = std::move(kept);
  }
  return out;
}

FinalPlanDose final_plan_dose(const DeliveryPlan& delivery, const FluencePlan& fluence,
                              const MetersetPlanContext& ctx, const Machine& machine,
                              const GenerateOptions& options) {
  FinalPlanDose out;
  out.plan = delivery;
  DoseEngineOptions eo;
  eo.dose_spacing_mm = options.final_dose_spacing_mm;
  const PlanGeometry geometry = delivered_geometry(delivery, fluence.geometry);
  const PlanGeometry dose_geometry = every_kth_control_point(geometry, options.final_dose_cp_spacing_deg);
  // Streaming (no stored operator): the memory of a 3 mm or 2.5 mm grid stays that of the
  // dose volume.
  out.dose = calculate_dose(ctx.patient, machine, dose_geometry,
                            aperture_fluence_on_geometry(delivery, fluence.fluence.grid, dose_geometry, machine), eo);
  // The normalisation needs one structure's DVH; the whole evaluation (every structure on
  // the CT grid) is made once, of the dose that is kept.
  const double scale = options.renormalise_mu ? normalisation_scale(ctx.patient, out.dose, ctx.protocol, ctx.roles) : 1.0;
  if (scale > 0.5 && scale < 2.0 && scale != 1.0) {
    DeliveryPlan scaled = scale_mu(delivery, scale);
    if (check_deliverability(scaled, machine).empty()) {
      out.plan = std::move(scaled);
      for (float& v : out.dose.voxels) v = static_cast<float>(v * scale);
      out.mu_scale = scale;
    }
  }
  out.evaluation = evaluate_plan(ctx.patient, out.dose, ctx.protocol, ctx.roles);
  return out;
}

std::vector<float> final_grid_dose_correction(const DoseImage& final_dose, const DoseImage& optimisation_dose) {
  const ImageGrid& g = optimisation_dose.grid;
  std::vector<float> out(optimisation_dose.voxels.size(), 0.0f);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        const double d = sample_dose(final_dose, g.index_to_physical({double(i), double(j), double(k)}), nan);
        const size_t v = static_cast<size_t>(g.linear_index(i, j, k));
        if (std::isfinite(d)) out[v] = static_cast<float>(d - optimisation_dose.voxels[v]);
      }
  return out;
}

FinalGridCorrection correct_for_final_grid(const FinalPlanDose& current, const PlanEvaluation& optimised,
                                           const FluencePlan& fluence, const MetersetPlanContext& ctx,
                                           const Machine& machine, const GenerateOptions& options,
                                           int max_rounds) {
  FinalGridCorrection out;
  const std::vector<size_t> lost = goals_lost_between(optimised, current.evaluation);
  out.info = {{"goals_lost", goal_names(current.evaluation, lost)}};
  if (lost.empty()) {
    out.info["status"] = "not needed";
    return out;
  }
  if (!options.final_grid_correction) {
    out.info["status"] = "off (--no-final-grid-correction)";
    return out;
  }
  if (!options.meterset) {
    out.info["status"] = "not available: it re-runs the last optimisation stage (--no-meterset)";
    return out;
  }
  const bool dao = parse_sequencer_method(options.sequencer_method) == SequencerMethod::kApertures;
  const auto t0 = SteadyClock::now();
  const std::shared_ptr<const PencilBeamEngine> engine = optimisation_engine(fluence, ctx.patient, machine, options);
  const PlanObjective objective(ctx.patient, ctx.protocol, ctx.roles, engine->dose_grid(), engine->compute_voxels());
  // The last optimisation stage again, against the corrected dose: DAO after the apertures
  // sequencer, the MU re-optimisation after the sweep.
  ApertureOptimizerOptions aopt;
  aopt.max_iterations = dao_iteration_limit(options, fluence);
  aopt.mu_weight = options.aperture_mu_weight;
  MetersetOptimizerOptions mopt;
  mopt.max_iterations = options.meterset_max_iterations;
  struct Reoptimised {
    DeliveryPlan plan;
    int iterations = 0, evaluations = 0;
    bool deliverable = false;
  };
  auto reoptimise = [&](const DeliveryPlan& plan, std::vector<float> correction) {
    Reoptimised r;
    if (dao) {
      aopt.dose_correction_gy = std::move(correction);
      ApertureResult a = optimize_apertures(plan, *engine, fluence.geometry, objective, ctx, machine, aopt);
      r.plan = std::move(a.plan), r.iterations = a.iterations, r.evaluations = a.evaluations;
      r.deliverable = a.violations.empty();
    } else {
      mopt.dose_correction_gy = std::move(correction);
      MetersetResult m = optimize_meterset(plan, *engine, fluence.geometry, objective, ctx, machine, mopt);
      r.plan = std::move(m.plan), r.iterations = m.iterations, r.evaluations = m.evaluations;
      r.deliverable = m.violations.empty();
    }
    return r;
  };

  const FinalPlanDose* best = &current;
  FinalPlanDose candidate;
  const int met_before = goals_met(current.evaluation);
  const double shortfall_before = goal_shortfall(current.evaluation);
  int best_met = met_before;
  double best_shortfall = shortfall_before;
  out.info["lost_goal_values_before"] = goal_values(current.evaluation, lost);
  nlohmann::json rounds = nlohmann::json::array();
  for (int round = 0; round < max_rounds; ++round) {
    const DoseImage optimisation_dose = engine->dose_image(
        aperture_fluence_on_geometry(best->plan, fluence.fluence.grid, fluence.geometry, machine));
    std::vector<float> correction = final_grid_dose_correction(best->dose, optimisation_dose);
    const auto [lo, hi] = std::minmax_element(correction.begin(), correction.end());
    nlohmann::json info = {{"correction_min_gy", *lo}, {"correction_max_gy", *hi}};
    const Reoptimised r = reoptimise(best->plan, std::move(correction));
    info[dao ? "dao_iterations" : "meterset_iterations"] = r.iterations;
    info[dao ? "dao_evaluations" : "meterset_evaluations"] = r.evaluations;
    if (!r.deliverable) {
      info["result"] = "not deliverable";
      rounds.push_back(info);
      break;
    }
    FinalPlanDose next = final_plan_dose(r.plan, fluence, ctx, machine, options);
    const int met = goals_met(next.evaluation);
    const std::vector<size_t> still_lost = goals_lost_between(optimised, next.evaluation);
    const double shortfall = goal_shortfall(next.evaluation);
    info["goals_met_final_grid"] = met;
    info["goals_lost"] = goal_names(next.evaluation, still_lost);
    info["lost_goal_values"] = goal_values(next.evaluation, lost);
    info["goal_shortfall"] = shortfall;
    // Kept when it meets more goals, or as many and the failed ones are nearer their limits.
    const bool better = met > best_met || (met == best_met && shortfall < best_shortfall - 1e-6);
    info["result"] = better ? "kept" : "not kept (no more goals met, failed goals no nearer their limits)";
    rounds.push_back(info);
    if (!better) break;
    best_met = met, best_shortfall = shortfall;
    candidate = std::move(next);
    best = &candidate;
    if (still_lost.empty()) break;
  }
  out.applied = best != &current;
  if (out.applied) out.result = std::move(candidate);
  out.info["status"] = !out.applied             ? "not improved"
                       : best_met > met_before ? "applied"
                                               : "applied (no goal regained, failed goals nearer their limits)";
  out.info["goals_met_before"] = met_before;
  out.info["goals_met_after"] = best_met;
  out.info["goal_shortfall_before"] = shortfall_before;
  out.info["goal_shortfall_after"] = best_shortfall;
  out.info["rounds"] = rounds;
  out.info["seconds"] = seconds_since(t0);
  return out;
}

}  // namespace vmatplan
