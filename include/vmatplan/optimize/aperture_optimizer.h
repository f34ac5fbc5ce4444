#pragma once
// Direct aperture optimisation (DAO) of a sequenced arc plan: the leaf positions of every
// delivery control point and the MU of every interval, optimised together against the
// protocol objectives through the differentiable dose engine, within the machine's limits
// (issue 11; cf. Shepard et al., Med Phys 29:1007, 2002 for DAO, and the arc DAO of
// SmartArc, Bzdusek et al., Med Phys 36:2328, 2009).
//
//   ApertureResult r = optimize_apertures(sequenced.plan, engine, fluence.geometry, objective,
//                                         {patient, protocol, roles}, machine, {});
//   r.plan  // same control points, new leaves and MU; passes check_deliverability
//
// Fluence model (differentiable in leaf positions and MU). Interval i of a beam delivers
//   mu_i * fractions * mean_s [ c + f_y (1 - t_mlc) open(x1(s), x2(s)) ]
// with the leaves moving linearly from control point i to i+1 (DICOM PS3.3 C.8.8.14.8),
// s at the midpoints of `time_samples` equal parts of the interval, open() the fraction of a
// bixel (inside the X jaws) between the leaf tips, f_y the row's opening between the Y jaws
// and c the leaf and jaw transmission (the same model as delivered_fluence.h, whose exact
// integral over s the samples approximate). The gradient with respect to a leaf tip is the
// fluence gradient of the bixel the tip lies in. Interval fluence reaches the engine's
// control points as in the meterset optimiser (midpoint interpolation).
//
// Objective: the protocol objectives + mu_weight * Rx_fx^2 * (MU per fraction / (100 * Rx
// per fraction in Gy)), Rx_fx the dose per fraction: an MU term whose weight is unitless,
// and that costs as much as a 1 Gy-per-fraction deviation squared per 100 MU/Gy.
//
// Limits (the projection after every step): the interval durations of the sequenced plan
// stay fixed (t_i: the gantry at its margin-reduced speed, longer where the sequenced MU
// needed more time at the maximum dose rate). Then MU_i in [lo_i, hi_i] with hi_i the
// maximum dose rate x t_i and lo_i the larger of the minimum MU per degree and the
// minimum dose rate x t_i, leaf travel per interval <= leaf speed x t_i, the minimum
// dynamic leaf gap, leaves within the fluence grid. So every iterate is deliverable in
// about the sequenced plan's beam-on time. Leaf pairs that never open stay parked.
//
// Method: from the sequenced plan scaled to the protocol's normalisation, projected L-BFGS
// in scaled variables (leaf tips in bixel widths, MU relative to the sequenced MU times
// sqrt(open bixels): a diagonal preconditioner, without which the leaves barely move): the
// two-loop direction, trial points projected onto the limits,
// Armijo backtracking along the projection arc (Bertsekas, SIAM J Control Optim 20:221,
// 1982), steepest descent when that direction fails; only decreases are accepted. Then the protocol's normalisation
// (all MU scaled; MU may exceed hi_i: the gantry slows a little) and check_deliverability.
#include <vector>

#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/optimize/objectives.h"

namespace vmatplan {

struct ApertureOptimizerOptions {
  // 25 iterations and MU weight 2.5: what `generate` runs (GenerateOptions), so the
  // benchmark measures the delivered configuration. 15 / 5 takes 16-19 engine evaluations
  // instead of 26-32 with the same 10-seed quality figures but less margin (PTV D95
  // 57.75-58.21 Gy, DAO objective 35-84) and kept fewer goals on regression_small's coarse
  // phantoms (docs/sequencing.md; `bench_sequence_study ... dao_iter=15 mu_weight=5`).
  int max_iterations = 25;
  // Stop when the objective fell by less than this fraction over the last `window` steps.
  double relative_tolerance = 0.002;
  int window = 4;
  // MU term (see above); the protocol's mu_weight where that is larger. Phantom seed 1:
  // 326 MU/Gy at 0, 301-305 at 1-1.5, every goal kept; fewer iterations need a higher
  // weight for the MU to fall (seeds 1-3: median 298 MU/Gy at 25 iterations and 2.5, 291
  // at 20 and 4, 293 at 15 and 5). The fluence stage keeps the protocol's own weight.
  double mu_weight = 2.5;
  // Largest change of the first (steepest-descent) step, in bixel widths for leaf tips
  // and as a fraction of the sequenced MU.
  double first_step = 0.3;
  // Scale of the MU variables against the leaf tips (see aperture_optimizer.cpp); 0 = MU
  // relative to the sequenced MU only.
  double mu_preconditioning = 1.0;
  int memory = 10;                 // L-BFGS pairs
  int max_line_search_steps = 12;
  int time_samples = 3;
  double limit_margin = 0.95;      // fraction of leaf speed, gantry speed, dose rate used
  double gap_margin_mm = 0.05;     // extra above the minimum dynamic leaf gap
  bool optimise_leaves = true;
  bool optimise_mu = true;
  bool normalise = true;           // apply the protocol's normalisation rule afterwards
  bool normalise_first = true;     // and to the sequenced plan before optimising
  // Evaluate the clinical goals on the result's dose (ApertureResult::evaluation). A caller
  // that needs them only sometimes turns this off and evaluates ApertureResult::dose then:
  // an evaluation resamples the dose onto the CT grid (about 0.3 s at 1x1x2.5 mm).
  bool evaluate_goals = true;
  // Added to the engine's dose, voxel by voxel on engine.dose_grid() (empty: none), in
  // every objective value, normalisation and evaluation: the final-grid correction
  // (final_grid_correction.h) optimises against the final dose's difference from this
  // grid's.
  std::vector<float> dose_correction_gy;
};

struct ApertureResult {
  DeliveryPlan plan;                 // optimised (and normalised)
  FluenceMaps fluence;               // its aperture fluence on the engine control points
  PlanEvaluation evaluation;         // of `dose` (empty when !normalise or !evaluate_goals)
  Image3D<float> dose;               // its dose on the engine grid, as the objective saw it
                                     // (with dose_correction_gy)
  double objective_sequenced = 0.0;  // protocol objective (without the MU term) of the
                                     // sequenced plan's delivered fluence
  double objective_optimized = 0.0;  // after DAO, before normalisation
  double objective_final = 0.0;      // after normalisation
  std::vector<double> history;       // total objective (with the MU term) per iteration
  double normalisation_scale = 1.0;
  int iterations = 0;
  int evaluations = 0;
  double mu_sequenced = 0.0, mu_final = 0.0;  // per fraction, whole plan
  double seconds = 0.0;
  std::vector<Violation> violations;  // check_deliverability of `plan` (empty = fine)
};

ApertureResult optimize_apertures(const DeliveryPlan& plan, const PencilBeamEngine& engine,
                                  const PlanGeometry& engine_geometry,
                                  const PlanObjective& objective, const MetersetPlanContext& ctx,
                                  const Machine& machine,
                                  const ApertureOptimizerOptions& options = {});

}  // namespace vmatplan
