// The classical planner: geometry, engine, initial fluence, optimisation, normalisation.
#include "vmatplan/optimize/classical_planner.h"

#include <torch/torch.h>

#include <chrono>
#include <random>
#include <utility>

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/geometry/beams_eye_view.h"
#include "vmatplan/geometry/plan_builder.h"

namespace vmatplan {

FluenceMaps target_projection(const Mask& target, const PlanGeometry& geometry,
                              const Machine& machine, const FluenceGrid& grid) {
  const VoxelCloud cloud = extract_voxels(target);
  FluenceMaps maps;
  maps.grid = grid;
  maps.control_point_count = geometry.control_point_count();
  maps.values.reserve(static_cast<size_t>(maps.control_point_count) * grid.size_per_control_point());
  for (const Beam& b : geometry.beams)
    for (const ControlPointGeometry& cp : b.control_points) {
      BeamTransform t(geometry.patient_position, geometry.isocenter_mm, cp.gantry_deg,
                      cp.collimator_deg, cp.couch_deg, machine.sad_mm);
      const std::vector<float> cov = project_voxels(cloud, t, grid);
      maps.values.insert(maps.values.end(), cov.begin(), cov.end());
    }
  return maps;
}

nlohmann::json goals_table_json(const PlanEvaluation& evaluation) {
  nlohmann::json rows = nlohmann::json::array();
  for (const GoalResult& g : evaluation.goals)
    rows.push_back({{"structure", g.structure},
                    {"role", g.goal.role},
                    {"metric", g.goal.metric.text},
                    {"comparison", g.goal.comparison == GoalComparison::kAtMost ? "<=" : ">="},
                    {"threshold", g.goal.acceptable},
                    {"ideal", g.goal.ideal},
                    {"value", g.value},
                    {"unit", g.goal.metric.value_unit()},
                    {"status", to_string(g.status)},
                    {"pass", g.pass}});
  return rows;
}

FluenceOptimizerOptions protocol_optimizer_options(FluenceOptimizerOptions oo, const Protocol& protocol,
                                                   const Machine& machine) {
  if (protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + protocol.name + "' has no target level");
  oo.prescription_gy = protocol.prescription.targets.front().dose_gy;
  oo.leaf_transmission = machine.mlc.transmission;
  if (!(oo.mu_weight > 0)) oo.mu_weight = protocol.mu_weight;
  if (protocol.prescription.fractions > 0) oo.fractions = protocol.prescription.fractions;
  return oo;
}

ClassicalPlan make_classical_plan(const Patient& patient, const Protocol& protocol,
                                  const Machine& machine, const StructureRoles& roles,
                                  const ClassicalPlanOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + protocol.name + "' has no target level");
  const TargetLevel& level = protocol.prescription.targets.front();
  const Structure& target = roles.resolve(patient, level.role);

  ClassicalPlan plan;
  plan.geometry = build_plan_geometry(patient, machine, options.arcs, target.name,
                                      options.jaw_margin_mm, std::nullopt);
  const FluenceGrid grid = fluence_grid_for_plan(plan.geometry, machine, options.bixel_width_mm);
  DoseEngineOptions eo;
  eo.dose_spacing_mm = options.dose_spacing_mm;
  auto shared_engine = std::make_shared<const PencilBeamEngine>(patient, machine, plan.geometry, grid, eo);
  const PencilBeamEngine& engine = *shared_engine;
  plan.engine_setup_seconds = engine.setup_seconds();
  plan.dose_voxels = static_cast<int64_t>(engine.compute_voxels().size());
  PlanObjective objective(patient, protocol, roles, engine.dose_grid(), engine.compute_voxels());
  plan.skipped_objectives = objective.skipped();

  // Initial fluence: the target's BEV coverage, jittered (seeded), scaled so that the
  // target's mean dose is the prescription. Opening only what sees the target is the
  // conformal-arc start of most VMAT optimisers.
  FluenceMaps f0 = target_projection(target.mask, plan.geometry, machine, grid);
  if (options.init_jitter > 0) {
    std::mt19937_64 rng(options.seed);
    std::uniform_real_distribution<double> u(1.0 - options.init_jitter, 1.0 + options.init_jitter);
    for (float& v : f0.values) v = static_cast<float>(v * u(rng));
  }
  {
    torch::NoGradGuard ng;
    const VoxelWeights tw = structure_on_dose_grid(target.mask, engine.dose_grid(), engine.compute_voxels());
    torch::Tensor f = torch::from_blob(f0.values.data(),
                                       {f0.control_point_count, grid.row_count(), grid.bixel_count},
                                       torch::kFloat);
    torch::Tensor d = engine.dose_at_voxels(f).to(torch::kDouble);
    torch::Tensor idx = torch::tensor(tw.index, torch::kLong);
    torch::Tensor w = torch::tensor(tw.fraction, torch::kDouble);
    const double mean = (d.index_select(0, idx) * w).sum().item<double>() / tw.total();
    if (!(mean > 0)) throw ProcessingError("initial fluence gives no dose to the target '" + target.name + "'");
    const float scale = static_cast<float>(level.dose_gy / mean);
    for (float& v : f0.values) v *= scale;
  }

  const FluenceOptimizerOptions oo = protocol_optimizer_options(options.optimizer, protocol, machine);
  plan.optimization = optimize_fluence(engine, objective, plan.geometry, f0, oo);

  // Normalisation per the protocol on the dose image; dose is linear in fluence, so the
  // normalised plan's fluence is the optimised fluence times the dose's scale.
  DoseImage dose = engine.dose_image(plan.optimization.fluence);
  NormalisedDose normalised = normalise_to_protocol(patient, dose, protocol, roles);
  plan.normalisation_scale = normalised.scale;
  plan.fluence = plan.optimization.fluence;
  for (float& v : plan.fluence.values) v = static_cast<float>(v * plan.normalisation_scale);
  plan.evaluation = std::move(normalised.evaluation);

  {
    torch::NoGradGuard ng;
    torch::Tensor f = torch::from_blob(plan.fluence.values.data(),
                                       {plan.fluence.control_point_count, grid.row_count(), grid.bixel_count},
                                       torch::kFloat);
    plan.term_values = objective.term_values(engine.dose_at_voxels(f).to(torch::kDouble));
    for (const ObjectiveTerm& t : objective.terms()) plan.term_labels.push_back(t.label());
  }
  plan.engine = std::move(shared_engine);
  plan.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return plan;
}

}  // namespace vmatplan
