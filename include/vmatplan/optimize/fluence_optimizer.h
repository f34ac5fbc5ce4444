#pragma once
// Classical fluence-map optimisation over all control points with the differentiable
// pencil-beam engine: projected L-BFGS on
//
//   F(f) = sum of protocol objectives(dose(f))
//        + w_row * Rx^2 * mean_rows((f[c,r,b+1] - f[c,r,b]) / f_ref)^2
//        + w_cp  * Rx^2 * mean_arcs((f[c+1,r,b] - f[c,r,b]) / f_ref)^2
//
// subject to 0 <= f <= f_max. The smoothness terms (along leaf rows, and between adjacent
// control points of one arc) keep the maps close to what leaf sequencing can deliver; they
// are scaled by Rx^2 and the initial fluence level f_ref so that their weights are unitless
// and comparable to the dose terms (Gy^2).
//
//   FluenceOptimizerOptions opt;  opt.progress = [](const IterationRecord& r) {...};
//   FluenceOptimizationResult r = optimize_fluence(engine, objective, geometry, f0, opt);
//
// Method: L-BFGS two-loop direction restricted to the free variables (bounds with the
// gradient pointing outwards are held), projected Armijo backtracking along the projection
// arc (Bertsekas, SIAM J Control Optim 20:221 (1982); Kim, Sra & Dhillon, SDM 2010).
// The run is deterministic for a given start and thread count.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/optimize/objectives.h"

namespace vmatplan {

// Overlap (0..1) of each bixel with its control point's jaw opening: [C, rows, bixels],
// float (the jaws block the rest; the delivered-fluence model of the optimisers).
at::Tensor jaw_overlap(const PlanGeometry& geometry, const FluenceGrid& grid);

struct IterationRecord {
  int iteration = 0;        // 0 = the start
  double objective = 0.0;   // total (dose terms + smoothness)
  double dose_objective = 0.0;
  double smoothness = 0.0;
  int evaluations = 0;      // dose + gradient evaluations so far
  double seconds = 0.0;     // since the start of the optimisation
};

struct FluenceOptimizerOptions {
  int max_iterations = 100;
  // Stop when the objective decreased by less than this fraction over the last `window`
  // iterations. L-BFGS on these objectives has a long tail (about 1 % per iteration after
  // 60 iterations on a 2-arc prostate plan) in which the clinical goals no longer change:
  // on pelvis phantoms they are met with margin by iteration 40.
  double relative_tolerance = 0.1;
  int window = 10;
  double row_smoothness_weight = 2e-4;  // along leaf rows (see the header comment)
  double cp_smoothness_weight = 2e-4;   // between adjacent control points of one arc
  double prescription_gy = 60.0;        // Rx in the smoothness scaling
  double f_max_mu = 0.0;                // upper bound per bixel; <= 0: 4 x f_ref
  // Leaf transmission as sliding-window delivery will add it (0 = none). The variables x
  // are the open exposure; the fluence that reaches the patient is
  //   f = jaw(c, r, b) * (x + t * (M_c - x)),   M_c = max_rows TV+(x[c, r, :]) / efficiency,
  // because a sweep of M MU leaves every bixel in the jaw opening under a leaf for M - x
  // MU (Spirou & Chui, Med Phys 21:1031, 1994), and the sequencer's sector MU is the
  // largest row modulation (positive variation TV+) divided by its sweep efficiency
  // (arc_sequencer.h). jaw() is the bixel's overlap with the beam's jaw opening (the jaws
  // block the rest; applied also without transmission). The result
  // fluence is f, so dose from the stored maps includes the transmission the apertures
  // will deliver, and the optimiser keeps the modulation (hence the MU) it costs in view.
  double leaf_transmission = 0.0;
  double sweep_efficiency = 0.9;
  // Which sequencer will deliver the maps, for the MU each control point will cost, M_c:
  // kSweep: the largest row modulation / sweep_efficiency (above); kApertures: the map's
  // maximum (arc_sequencer.h: a sector's MU is its fluence maximum), taken as the smooth
  // p-norm (sum x^p)^(1/p) with p = max_norm_p so that every hot bixel has a gradient.
  // Transmission then uses this M_c in place of the sweep's.
  enum class DeliveryModel { kSweep, kApertures };
  DeliveryModel delivery_model = DeliveryModel::kApertures;
  double max_norm_p = 8.0;
  // Modulation control: + mu_weight * Rx_fx * sum_c M_c / (100 * fractions), Rx_fx the
  // dose per fraction (Gy): the estimated MU per fraction priced as in the protocol's
  // mu_weight (protocol.h). 0 = off.
  double mu_weight = 0.0;
  int fractions = 1;
  // kApertures only: one aperture per control point opens one interval per leaf pair, so
  // a row with two humps cannot be delivered by it (the sequencer would fill the valley).
  // + single_hump_weight * Rx^2 * mean_rows((TV+(x[c,r,:]) - max(x[c,r,:])) / f_ref)^2: the
  // positive variation beyond one hump, 0 for a unimodal row.
  double single_hump_weight = 0.02;
  int memory = 20;                      // L-BFGS pairs kept
  int max_line_search_steps = 20;
  std::function<void(const IterationRecord&)> progress;  // after each iteration
};

struct FluenceOptimizationResult {
  FluenceMaps fluence;
  std::vector<IterationRecord> history;  // start + one per iteration
  int iterations = 0;
  int evaluations = 0;
  bool converged = false;   // stopped on the relative tolerance
  std::string stop_reason;  // "converged", "max_iterations", "line_search"
  double seconds = 0.0;
  double f_max_mu = 0.0;    // the bound used
  double f_ref_mu = 0.0;    // the fluence level used in the smoothness scaling
};

// `initial` (open exposure x) on the engine's fluence grid (projected onto the bounds
// first); the result's fluence is the delivered f (see leaf_transmission). `geometry`
// tells which control points are adjacent (same beam). ProcessingError on shape mismatch.
FluenceOptimizationResult optimize_fluence(const PencilBeamEngine& engine,
                                           const PlanObjective& objective,
                                           const PlanGeometry& geometry,
                                           const FluenceMaps& initial,
                                           const FluenceOptimizerOptions& options = {});

}  // namespace vmatplan
