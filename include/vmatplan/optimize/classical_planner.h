#pragma once
// The classical planner: one call from patient + protocol to a normalised fluence-level
// plan with its clinical-goal evaluation. It makes the reference plans of the learned
// stages and is the baseline they must beat.
//
//   ClassicalPlanOptions opt;                       // 2 full arcs, 5 mm bixels and dose grid
//   ClassicalPlan plan = make_classical_plan(patient, load_protocol("prostate_60gy_20fx"),
//                                            Machine::load_named("generic_6mv_mlc120"),
//                                            StructureRoles::load_default(), opt);
//   plan.evaluation.goals ...                        // after normalisation
//
// Steps: plan geometry (isocentre at the first target's centroid, jaws fitted to it) ->
// dose engine -> initial fluence (the target's beam's-eye-view coverage per control point,
// scaled so the target's mean dose is the prescription) -> projected L-BFGS
// (fluence_optimizer.h) -> normalisation per the protocol's rule (e.g. D50% of the PTV =
// Rx), evaluated on the dose image with the evaluation layer -> clinical goals.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/geometry/arc.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/optimize/fluence_optimizer.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {

struct ClassicalPlanOptions {
  std::vector<ArcSpec> arcs = default_two_arcs(4.0);
  double bixel_width_mm = 5.0;
  double dose_spacing_mm = 5.0;
  double jaw_margin_mm = 5.0;  // target BEV -> jaws
  // Seeded multiplicative jitter of the initial fluence, uniform in [1 - j, 1 + j]: breaks
  // the symmetry of opposed control points; 0 = none (the seed then changes nothing).
  uint64_t seed = 1;
  double init_jitter = 0.05;
  FluenceOptimizerOptions optimizer;  // prescription_gy is set from the protocol
};

// The optimiser options the classical planner uses for this protocol and machine: Rx of the
// first target level, the MLC's leaf transmission, the protocol's mu_weight (unless base
// sets one) and its fractions. Refiners take the same, so every stage minimises one
// objective.
FluenceOptimizerOptions protocol_optimizer_options(FluenceOptimizerOptions base, const Protocol& protocol,
                                                   const Machine& machine);

struct ClassicalPlan {
  PlanGeometry geometry;
  FluenceMaps fluence;               // normalised
  FluenceOptimizationResult optimization;  // as optimised (before normalisation)
  double normalisation_scale = 1.0;  // applied to the optimised fluence
  PlanEvaluation evaluation;         // of the normalised dose on the dose grid
  std::vector<std::string> term_labels;
  std::vector<double> term_values;   // final objective terms (normalised plan)
  std::vector<std::string> skipped_objectives;
  double engine_setup_seconds = 0.0;
  double total_seconds = 0.0;
  int64_t dose_voxels = 0;
  // The optimisation-grid engine the plan was made on (geometry, fluence grid,
  // dose_spacing_mm): later stages on the same grid reuse it instead of tracing again.
  std::shared_ptr<const PencilBeamEngine> engine;
};

ClassicalPlan make_classical_plan(const Patient& patient, const Protocol& protocol,
                                  const Machine& machine, const StructureRoles& roles,
                                  const ClassicalPlanOptions& options = {});

// Target coverage of each control point (beam's-eye view, 0..1 per bixel) on `grid`.
FluenceMaps target_projection(const Mask& target, const PlanGeometry& geometry,
                              const Machine& machine, const FluenceGrid& grid);

// Goals as [{structure, role, metric, comparison, threshold, ideal, value, unit, status,
// pass}] for plan files and reports.
nlohmann::json goals_table_json(const PlanEvaluation& evaluation);

}  // namespace vmatplan
