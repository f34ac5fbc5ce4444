#pragma once
// Private to src/dose: the precomputed sparse geometry of the pencil-beam engine (no
// LibTorch here, so the ray tracing compiles fast and can be read on its own).
#include <cstdint>
#include <vector>

#include "vmatplan/dose/beam_model.h"
#include "vmatplan/dose/dose_volume.h"
#include "vmatplan/dose/pencil_beam_engine.h"

namespace vmatplan::detail {

// The uniform sample plane (isocentre plane, BLD x/y) on which the convolved fluence of
// every control point is evaluated: sample (iy, ix) sits at (x0 + ix*step, y0 + iy*step).
struct SamplePlane {
  double x0_mm = 0, y0_mm = 0, step_mm = 2.5;
  int64_t width = 0, height = 0;
};

// One entry per (control point, voxel) pair in the field: the voxel's bilinear position
// on the sample plane and the per-component depth/inverse-square/calibration factors.
// Entries are grouped by control point (cp_offsets), in order.
struct EngineData {
  DoseVolume volume;
  BeamModel model;
  FluenceGrid fluence_grid;
  SamplePlane plane;
  int64_t control_points = 0;
  int64_t components = 0;
  std::vector<int64_t> cp_offsets;  // control_points + 1
  std::vector<int32_t> voxel;       // index into volume.compute_voxels
  std::vector<int32_t> base;        // iy * width + ix of the lower-left sample
  std::vector<float> fx, fy;        // bilinear fractions in [0, 1)
  std::vector<float> weight;        // [entry][component]: c_cal (SAD/z)^2 w_k(d)
  double setup_seconds = 0;
  int64_t lattice_control_points = 0;  // depths from a lattice rather than exact traces

  size_t bytes() const {
    return voxel.size() * (2 * sizeof(int32_t) + 2 * sizeof(float)) +
           weight.size() * sizeof(float) + volume.red.size() * sizeof(float) +
           volume.compute_voxels.size() * sizeof(int64_t);
  }
};

EngineData build_engine_data(const Patient& patient, const Machine& machine,
                             const PlanGeometry& geometry, const FluenceGrid& grid,
                             const DoseEngineOptions& options);

// Separable integral of Gaussian `sigma_mm` over each cell [edges[i], edges[i+1]] seen from
// the sample positions x0 + j*step: matrix [samples][cells], row-major.
std::vector<double> cell_integral_matrix(const std::vector<double>& edges_mm, double x0_mm,
                                         double step_mm, int64_t samples, double sigma_mm);

}  // namespace vmatplan::detail
