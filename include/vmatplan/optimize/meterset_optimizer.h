#pragma once
// Meterset re-optimization of a sequenced (deliverable) plan: keep the MLC apertures and
// re-optimize the MU of every control-point interval against the protocol objectives, to
// recover the plan quality lost in leaf sequencing (issue 5).
//
//   PencilBeamEngine engine(patient, machine, fluence_plan.geometry, grid, eo);
//   PlanObjective obj(patient, protocol, roles, engine.dose_grid(), engine.compute_voxels());
//   MetersetResult r = optimize_meterset(sequenced.plan, engine, fluence_plan.geometry, obj,
//                                        {patient, protocol, roles}, machine, {});
//   r.plan  // same apertures, new cumulative meterset weights and beam MU, deliverable
//
// Model. With the apertures fixed, the fluence delivered in interval i is linear in its MU:
// f_i = MU_i * A_i, A_i the unit-MU aperture fluence (partial bixel opening, leaf and jaw
// transmission; delivered_fluence.h). Interval fluence is spread onto the engine's control
// points by linear interpolation along the arc (interval midpoint between the two engine
// control points that bracket it; with one delivery interval per engine interval this is
// the half/half convention of delivered_fluence()). So F = M diag(MU) A and dose = D(F) is
// linear in MU.
//
// Variables: one scale x_g = MU / MU(sequenced) per group g of delivery intervals between
// the same two engine control points (the sub-intervals of one engine interval move
// together). The dose matrix [groups, voxels] is computed once from two passes of
// per-control-point dose (PencilBeamEngine::control_point_doses), after which each
// objective evaluation is one matrix-vector product: re-optimization costs two engine
// passes plus cheap iterations, however many iterations it takes.
//
// Constraints (box per interval, from the time model of delivery_timing.h, so that MU >= 0
// and cumulative weights stay monotonic by construction):
//   MU_i >= max(min MU/deg * dtheta, min dose rate * max(dtheta / max gantry speed,
//               max leaf travel / max leaf speed))         (the slowest delivery must fit)
//   MU_i <= max MU/deg * dtheta                               (dose rate never binds: the
//                                                              gantry slows down instead)
// both tightened by `bound_margin`. Beam-off intervals (sequenced MU 0) stay off.
// Method: projected L-BFGS with Armijo backtracking along the projection arc (Bertsekas,
// SIAM J Control Optim 20:221, 1982) in the variables x_i = MU_i / MU_i(sequenced), which
// preconditions by the sequenced MU. Then the protocol's normalisation rule is applied
// (scale all MU; re-clamp to the bounds; repeated until the scale is within 0.1 %), and
// the result is checked with check_deliverability(). Deterministic for a thread count.
#include <string>
#include <vector>

#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/optimize/objectives.h"
#include "vmatplan/sequence/deliverability.h"

namespace vmatplan {

struct MetersetOptimizerOptions {
  int max_iterations = 200;
  // Stop when the objective fell by less than this fraction over the last `window` steps.
  double relative_tolerance = 0.005;
  int window = 5;
  int memory = 10;                 // L-BFGS pairs
  int max_line_search_steps = 20;
  double bound_margin = 0.02;      // bounds tightened by this fraction (rounding in DICOM)
  double first_step = 0.2;         // largest relative MU change of the first step
  bool normalise = true;           // apply the protocol's normalisation rule afterwards
  bool transmission = true;        // leaf/jaw transmission in the aperture fluence
  // Added to the engine's dose, voxel by voxel on engine.dose_grid() (empty: none), in the
  // objective, the normalisation and the evaluation: the final-grid correction
  // (pipeline/final_dose_stage.h), as ApertureOptimizerOptions::dose_correction_gy.
  std::vector<float> dose_correction_gy;
};

// dose (on an engine's dose grid) plus a dose correction of the same grid, voxel by voxel;
// an empty correction leaves it unchanged. What both optimisers' normalisation and
// evaluation see.
void add_dose_correction(Image3D<float>& dose, const std::vector<float>& correction_gy);

// What normalisation and evaluation need besides the engine.
struct MetersetPlanContext {
  const Patient& patient;
  const Protocol& protocol;
  const StructureRoles& roles;
};

struct MetersetResult {
  DeliveryPlan plan;                     // re-optimized (and normalised) MU
  FluenceMaps fluence;                   // its aperture fluence on the engine control points
  PlanEvaluation evaluation;             // of its dose (empty when !normalise)
  double objective_sequenced = 0.0;      // protocol objective with the sequenced MU
  double objective_optimized = 0.0;      // after L-BFGS, before normalisation
  double objective_final = 0.0;          // after normalisation
  std::vector<double> history;           // objective per iteration (start first)
  double normalisation_scale = 1.0;      // product of the applied scales
  int iterations = 0;
  int evaluations = 0;
  int clamped_intervals = 0;             // groups at a bound at the end
  double mu_sequenced = 0.0, mu_final = 0.0;  // per fraction, whole plan
  double seconds = 0.0;
  std::vector<Violation> violations;     // check_deliverability of `plan` (empty = fine)
};

// Aperture fluence of a delivery plan on the control points of `engine_geometry` (the
// engine's), in plan MU (all fractions), as described above. The delivery beams must
// subdivide the geometry's beams: (delivery cps - 1) a multiple of (geometry cps - 1).
// ProcessingError otherwise.
FluenceMaps aperture_fluence_on_geometry(const DeliveryPlan& plan, const FluenceGrid& grid,
                                         const PlanGeometry& engine_geometry,
                                         const Machine& machine, bool transmission = true);

// Per-interval MU bounds [lo, hi] (per fraction) of `beam` from the machine limits.
void interval_mu_bounds(const DeliveryBeam& beam, const Machine& machine, double margin,
                        std::vector<double>& lo_mu, std::vector<double>& hi_mu);

MetersetResult optimize_meterset(const DeliveryPlan& plan, const PencilBeamEngine& engine,
                                 const PlanGeometry& engine_geometry,
                                 const PlanObjective& objective, const MetersetPlanContext& ctx,
                                 const Machine& machine,
                                 const MetersetOptimizerOptions& options = {});

}  // namespace vmatplan
