#pragma once
// Gamma index (Low et al., Med Phys 25 (1998) 656): for each reference voxel r,
//   gamma(r) = min over e of sqrt(|r - e|^2 / DTA^2 + (D_e(e) - D_r(r))^2 / dD^2),
// the search running over points e of the EVALUATED dose around r.
//
//   GammaOptions o;                       // 3 % / 2 mm global, 10 % low-dose threshold
//   GammaResult g = compute_gamma(reference, evaluated, o);
//   g.pass_rate_pct, g.mean_gamma
//
// Grids: the reference and evaluated images may have different grids. Gamma is computed
// at every reference voxel centre; the evaluated dose is interpolated trilinearly at any
// point, so the search is not tied to either grid (sub-voxel interpolation). Search points
// lie on a cubic lattice of step distance_mm * step_fraction (default DTA/10) within the
// search radius, visited by increasing distance; the search stops as soon as the distance
// term alone exceeds the best gamma found, which makes it exact on the lattice.
// Global gamma: dD = dose_criterion_pct % of the normalisation dose (default: the maximum
// of the reference). Local gamma: dD = dose_criterion_pct % of the reference voxel dose.
// Low-dose threshold: reference voxels below low_dose_threshold_pct % of the normalisation
// dose are not evaluated (as plastimatch's --ref-only-threshold).
// Gamma values are capped at max_gamma (the search radius defaults to max_gamma * DTA, so
// points farther cannot lower gamma below the cap).
#include <cstdint>

#include "vmatplan/evaluation/dvh.h"

namespace vmatplan {

struct GammaOptions {
  double dose_criterion_pct = 3.0;
  double distance_mm = 2.0;
  bool local = false;
  double low_dose_threshold_pct = 10.0;
  double normalisation_dose_gy = 0.0;  // 0: maximum of the reference dose
  double max_gamma = 2.0;
  double search_radius_mm = 0.0;  // 0: max_gamma * distance_mm
  double step_fraction = 0.1;     // lattice step = distance_mm * step_fraction
};

struct GammaResult {
  int64_t evaluated_voxels = 0;  // reference voxels above the low-dose threshold
  int64_t passed_voxels = 0;     // gamma <= 1
  double pass_rate_pct = 0.0;
  double mean_gamma = 0.0;
  double max_gamma = 0.0;        // at most options.max_gamma
  double normalisation_dose_gy = 0.0;
  double threshold_dose_gy = 0.0;
  DoseImage gamma_map;           // on the reference grid; -1 where not evaluated
};

// UsageError for non-positive criteria; ProcessingError for an empty image.
GammaResult compute_gamma(const DoseImage& reference, const DoseImage& evaluated,
                          const GammaOptions& options = {});

}  // namespace vmatplan
