#pragma once
// Cumulative dose-volume histograms, exact (sorted voxels, no dose bins).
//
//   DoseImage on_ct = resample_dose(dose, patient.ct_hu.grid);  // trilinear, once
//   Dvh dvh = compute_dvh(on_ct, structure.mask);
//   double d95 = dvh.dose_at_volume_pct(95.0);
//   double v40 = dvh.volume_at_dose_pct(40.8);
//
// Which grid: masks stay on the CT grid where they were rasterised, and the DOSE is
// resampled onto that grid by trilinear interpolation at the mask voxel centres
// (resample_dose). Masks are never resampled: a binary mask resampled loses or gains
// boundary voxels, while dose is smooth and interpolates well. Mask voxels outside the
// dose grid get dose 0 and are counted in Dvh::outside_dose_grid_voxels.
//
// The DVH keeps every voxel's dose sorted, so Vx and Dx have no binning error; each voxel
// counts as the full voxel volume (no partial-volume weighting).
#include <cstdint>
#include <vector>

#include "vmatplan/core/image3d.h"

namespace vmatplan {

using DoseImage = Image3D<float>;  // Gy

// Dose at a physical point (LPS mm) by trilinear interpolation. Points outside the grid
// (beyond the outer voxel centres by more than half a voxel) give `outside`; within that
// half voxel the edge value is used (clamped).
double sample_dose(const DoseImage& dose, const Vec3& point_mm, double outside = 0.0);
// The same at a continuous voxel index of the dose grid (faster inside loops).
double sample_dose_at_index(const DoseImage& dose, const Vec3& index, double outside = 0.0);

// The dose on `grid`: a copy when the grids agree, else trilinear resampling (see above).
// outside_voxels, when given, receives the number of grid voxels outside the dose grid.
DoseImage resample_dose(const DoseImage& dose, const ImageGrid& grid,
                        int64_t* outside_voxels = nullptr);

class Dvh {
 public:
  Dvh() = default;
  // doses_gy: one value per voxel (any order); voxel_volume_cc: the volume of each.
  Dvh(std::vector<float> doses_gy, double voxel_volume_cc);

  bool empty() const { return sorted_.empty(); }
  int64_t voxel_count() const { return static_cast<int64_t>(sorted_.size()); }
  double voxel_volume_cc() const { return voxel_cc_; }
  double volume_cc() const { return voxel_cc_ * static_cast<double>(sorted_.size()); }
  double mean_gy() const { return mean_; }
  double min_gy() const;
  double max_gy() const;

  // Volume receiving at least dose_gy (cumulative DVH), in % of the structure and in cc.
  double volume_at_dose_pct(double dose_gy) const;
  double volume_at_dose_cc(double dose_gy) const;
  // Dx: the minimum dose received by the hottest x (% of the structure, or cc). Linear
  // interpolation between neighbouring sorted voxel doses, treating the k hottest voxels
  // as covering volume k * voxel volume; x beyond the structure gives the minimum dose.
  double dose_at_volume_pct(double volume_pct) const;
  double dose_at_volume_cc(double volume_cc) const;

  // The curve for plots and tables: (dose_gy, volume_pct) at doses 0, step, 2 step, ...
  // up to the maximum dose (step <= 0: max / 500, at most 0.01 Gy finer is pointless).
  struct Point {
    double dose_gy;
    double volume_pct;
  };
  std::vector<Point> curve(double step_gy = 0.0) const;

  int64_t outside_dose_grid_voxels = 0;  // set by compute_dvh

 private:
  std::vector<float> sorted_;  // ascending
  double voxel_cc_ = 0.0;
  double mean_ = 0.0;
};

// The DVH of `mask` for a dose on the SAME grid (use resample_dose first); throws
// ProcessingError when the grids differ.
Dvh compute_dvh(const DoseImage& dose_on_mask_grid, const Mask& mask);

// Convenience for any grids: resamples the dose onto the mask grid, then computes the DVH.
Dvh compute_dvh_any_grid(const DoseImage& dose, const Mask& mask);

}  // namespace vmatplan
