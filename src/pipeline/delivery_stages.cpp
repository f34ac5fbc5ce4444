// The delivery stages of `generate` (see delivery_stages.h).
#include "vmatplan/pipeline/delivery_stages.h"

#include <memory>

#include "vmatplan/core/stopwatch.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/optimize/aperture_optimizer.h"

namespace vmatplan {

ClassicalPlanOptions fluence_stage_options(const GenerateOptions& options) {
  ClassicalPlanOptions fo = options.fluence;
  if (!options.arcs.empty()) {
    fo.arcs.clear();
    for (const std::string& a : options.arcs) fo.arcs.push_back(parse_arc_spec(a));
  }
  // The fluence stage prices the MU of the sequencer that will deliver its maps.
  fo.optimizer.delivery_model = parse_sequencer_method(options.sequencer_method) == SequencerMethod::kApertures
                                    ? FluenceOptimizerOptions::DeliveryModel::kApertures
                                    : FluenceOptimizerOptions::DeliveryModel::kSweep;
  return fo;
}

SequencerOptions sequencer_stage_options(const GenerateOptions& options, const Protocol& protocol,
                                         const std::string& target_name) {
  SequencerOptions so = options.sequencer;
  so.method = parse_sequencer_method(options.sequencer_method);
  so.fractions = protocol.prescription.fractions > 0 ? protocol.prescription.fractions : options.sequencer.fractions;
  so.prescription_dose_gy = protocol.prescription.total_dose_gy;
  so.target_name = target_name;
  return so;
}

std::shared_ptr<const PencilBeamEngine> optimisation_engine(const FluencePlan& fluence, const Patient& patient,
                                                            const Machine& machine, const GenerateOptions& options) {
  if (fluence.engine) return fluence.engine;
  DoseEngineOptions mo;
  mo.dose_spacing_mm = options.fluence.dose_spacing_mm;
  return std::make_shared<const PencilBeamEngine>(patient, machine, fluence.geometry, fluence.fluence.grid, mo);
}

int dao_iteration_limit(const GenerateOptions& options, const FluencePlan& fluence) {
  if (options.aperture_max_iterations >= 0) return options.aperture_max_iterations;
  return fluence.info.value("generator", "") == "fmd" ? 15 : 25;
}

const PlanEvaluation& optimised_goals(DeliveryOptimisation& optimised, const MetersetPlanContext& context) {
  if (optimised.evaluation.goals.empty() && !optimised.dose.empty())
    optimised.evaluation = evaluate_plan(context.patient, optimised.dose, context.protocol, context.roles);
  return optimised.evaluation;
}

DeliveryOptimisation optimise_delivery(const DeliveryPlan& sequenced, const FluencePlan& fluence,
                                       const MetersetPlanContext& context, const Machine& machine,
                                       const GenerateOptions& options) {
  DeliveryOptimisation out;
  out.plan = sequenced;
  if (!options.meterset) return out;
  const bool dao = parse_sequencer_method(options.sequencer_method) == SequencerMethod::kApertures;
  // The optimisation grid's engine: the fluence stage's when it made one.
  // Its set-up is timed apart (summary.json): a learned generator builds no engine, so
  // the set-up falls in this stage and is not aperture optimisation.
  const auto t_setup = SteadyClock::now();
  const std::shared_ptr<const PencilBeamEngine> shared = optimisation_engine(fluence, context.patient, machine, options);
  const PencilBeamEngine& engine = *shared;
  const double engine_setup_s = fluence.engine ? 0.0 : seconds_since(t_setup);
  const auto t_optimise = SteadyClock::now();
  PlanObjective objective(context.patient, context.protocol, context.roles, engine.dose_grid(),
                          engine.compute_voxels());
  // Both optimisers report in the same fields; a result the machine cannot deliver is not
  // used (the sequenced plan stays).
  auto take = [&out](const auto& r, const char* method) {
    out.applied = r.violations.empty();
    if (out.applied) out.plan = r.plan, out.evaluation = r.evaluation;
    out.info = {{"status", out.applied ? "applied" : "rejected (not deliverable)"},
                {"method", method},
                {"iterations", r.iterations},
                {"objective_sequenced", r.objective_sequenced},
                {"objective_final", r.objective_final},
                {"mu_sequenced", r.mu_sequenced},
                {"mu_final", r.mu_final},
                {"normalisation_scale", r.normalisation_scale}};
  };
  if (dao) {
    ApertureOptimizerOptions aopt;
    aopt.max_iterations = dao_iteration_limit(options, fluence);
    aopt.mu_weight = options.aperture_mu_weight;
    // Its goals on this grid matter only where the final dose fails one (optimised_goals).
    aopt.evaluate_goals = false;
    ApertureResult a = optimize_apertures(sequenced, engine, fluence.geometry, objective, context, machine, aopt);
    take(a, "direct aperture optimisation");
    if (out.applied) out.dose = std::move(a.dose);
    out.info["iteration_limit"] = aopt.max_iterations;
    out.info["evaluations"] = a.evaluations;
    out.info["objective_optimized"] = a.objective_optimized;
  } else {
    MetersetOptimizerOptions mopt;
    mopt.max_iterations = options.meterset_max_iterations;
    const MetersetResult m = optimize_meterset(sequenced, engine, fluence.geometry, objective, context, machine, mopt);
    take(m, "meterset re-optimisation");
    out.info["clamped_intervals"] = m.clamped_intervals;
  }
  out.info["engine_setup_seconds"] = engine_setup_s;
  out.info["optimisation_seconds"] = seconds_since(t_optimise);
  return out;
}

}  // namespace vmatplan
