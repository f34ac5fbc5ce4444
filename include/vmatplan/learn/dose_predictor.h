#pragma once
// A fast differentiable fluence -> dose model for the learned refiner (L2Plan): the same
// pencil-beam physics on a coarser dose grid and sample plane, interpolated trilinearly
// onto the reference engine's compute voxels, so that the protocol objective built for the
// reference grid (objectives.h) applies unchanged.
//
//   DosePredictor pred(patient, machine, geometry, grid, engine.dose_grid(), engine.compute_voxels());
//   at::Tensor d = pred.dose_at_voxels(fluence);   // 1-D, Gy, engine.compute_voxels() order
//
// Why this "reduced physics" form (docs/l2plan.md has the measurements): dose is linear
// in fluence and the engine's cost is proportional to (voxel, control point) pairs, so a
// 2x coarser grid has 8x fewer pairs, and a coarser sample plane shrinks the per-control-
// point convolution. The interpolation is linear too, so the predictor is an exact linear
// operator with an exact transpose (its gradient is that of its own dose, no surrogate
// training, nothing to go stale when the beam model changes).
#include <cstdint>
#include <memory>
#include <vector>

#include "vmatplan/core/image_grid.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/optimize/objectives.h"

namespace at { class Tensor; }

namespace vmatplan {

struct DosePredictorOptions {
  double coarse_spacing_mm = 10.0;  // dose grid of the reduced model
  double plane_spacing_mm = 5.0;    // sample plane of the reduced model (engine: 0 = auto)
  // Fine voxels within this distance of the target (mm) keep the full-grid engine's dose:
  // the steep penumbra there carries most of the objective's gradient (the coarse grid
  // alone gets the gradient's direction wrong by cos 0.8 at the conformal start). 0 = none.
  double fine_margin_mm = 10.0;
};

class DosePredictor {
 public:
  // fine_grid / fine_voxels: the reference engine's dose_grid() and compute_voxels();
  // target: the target's mask on the CT grid (for fine_margin_mm; may be null = no fine part).
  DosePredictor(const Patient& patient, const Machine& machine, const PlanGeometry& geometry,
                const FluenceGrid& grid, const ImageGrid& fine_grid,
                const std::vector<int64_t>& fine_voxels, const Mask* target,
                const DosePredictorOptions& options = {});
  ~DosePredictor();
  DosePredictor(DosePredictor&&) noexcept;

  // fluence [control points, rows, bixels] (MU) -> dose (Gy) at the fine voxels, 1-D;
  // differentiable w.r.t. fluence.
  at::Tensor dose_at_voxels(const at::Tensor& fluence) const;
  double setup_seconds() const;
  int64_t coarse_voxel_count() const;
  int64_t near_target_voxel_count() const;  // fine voxels computed on the full grid
  // Fine voxels with no coarse compute voxel among their 8 neighbours (dose 0 there).
  int64_t uncovered_voxel_count() const;
  const DosePredictorOptions& options() const;

 private:
  void add_near_target(const Patient& patient, const Machine& machine, const PlanGeometry& geometry,
                       const FluenceGrid& grid, const ImageGrid& fine_grid,
                       const std::vector<int64_t>& fine_voxels, const Mask& target);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Agreement of the predictor with its reference engine for one fluence.
struct PredictorAgreement {
  double max_abs_error_pct = 0;   // max |d_pred - d_engine| over voxels, % of max engine dose
  double mean_abs_error_pct = 0;  // over voxels above 10 % of the max engine dose
  double gamma_pass_pct = 0;      // 3 % (global) / 3 mm, 10 % threshold, engine = reference
  double gradient_cosine = 0;     // of d objective / d fluence, predictor vs engine
  double objective_ratio = 0;     // objective(predictor dose) / objective(engine dose)
  double engine_seconds = 0;      // forward + gradient of the objective, best of `repeats`
  double predictor_seconds = 0;
  double engine_dose_seconds = 0;     // dose forward + its transpose only (no objective)
  double predictor_dose_seconds = 0;
};

PredictorAgreement measure_predictor(const PencilBeamEngine& engine, const DosePredictor& predictor,
                                     const PlanObjective& objective, const at::Tensor& fluence,
                                     int repeats = 3);

}  // namespace vmatplan
