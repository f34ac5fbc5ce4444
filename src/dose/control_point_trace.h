#pragma once
// Private to src/dose: the geometry of one control point as both dose paths use it (the
// stored operator of PencilBeamEngine and the streaming calculate_dose): which dose
// voxels project onto the sample plane, where, at which distance from the source, and at
// which radiological depth. No LibTorch here.
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "depth_lattice.h"
#include "vmatplan/core/error.h"
#include "vmatplan/dose/beam_model.h"
#include "vmatplan/dose/dose_volume.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan::detail {

struct GroupGatherAvx2;

// The uniform sample plane (isocentre plane, BLD x/y) on which the convolved fluence of
// every control point is evaluated: sample (iy, ix) sits at (x0 + ix*step, y0 + iy*step).
struct SamplePlane {
  double x0_mm = 0, y0_mm = 0, step_mm = 2.5;
  int64_t width = 0, height = 0;

  // The fluence grid plus the kernel's lateral reach on every side; step_mm > 0 or
  // 0 = half the smallest of dose spacing, bixel width and leaf width.
  static SamplePlane covering(const FluenceGrid& grid, double lateral_cutoff_mm,
                              double step_mm, double dose_spacing_mm);
};

// c_cal * w_k(d) of every kernel component, tabulated every step_mm (linear
// interpolation; relative error below 1e-3 past the first millimetre) so that the per-voxel
// work has no exp(); depths past the table are computed exactly.
class DepthWeightTable {
 public:
  DepthWeightTable() = default;
  explicit DepthWeightTable(const BeamModel& model, double step_mm = 0.25,
                            double max_depth_mm = 800.0);
  int components() const { return k_; }
  template <int K>
  void at(float depth_mm, float* w) const {
    const float f = std::max(depth_mm, 0.0f) * inv_step_;
    if (f >= last_) return exact(depth_mm, w);
    const int i = static_cast<int>(f);
    const float t = f - i;
    const float* a = &values_[static_cast<size_t>(i) * K];
    for (int k = 0; k < K; ++k) w[k] = a[k] + t * (a[k + K] - a[k]);
  }

 private:
  friend struct GroupGatherAvx2;  // reads the table, 8 voxels at a time
  void exact(float depth_mm, float* w) const;
  BeamModel model_;  // a copy: the table moves with the engine's data
  int k_ = 0;
  float inv_step_ = 0, last_ = 0;
  std::vector<float> values_;  // [depth][component]
};

// The kernel component count as a compile-time constant (unrolled inner loops).
template <class F>
void with_kernel_components(int64_t k, F f) {
  switch (k) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    default: throw ProcessingError("dose engine: 1 to 4 kernel components supported");
  }
}

// What every control point of one engine shares: the dose volume, its RED box, the
// compute voxels' positions relative to the isocentre, the plane and the beam model.
struct TraceContext {
  const DoseVolume* volume = nullptr;
  const BeamModel* model = nullptr;
  SamplePlane plane;
  Vec3 isocenter_mm{};
  RedBox box;
  std::vector<Vec3> box_corners;
  std::vector<float> px, py, pz;  // compute voxel centres minus the isocentre, LPS mm

  TraceContext(const DoseVolume& volume, const BeamModel& model, const SamplePlane& plane,
               const Vec3& isocenter_mm);
};

// A depth lattice for one source against exact per-voxel traces, in voxel steps: a lattice
// ray records every z sample (every dose spacing, at most 2.5 mm) and crosses the box; an
// exact trace crosses half the grid on average.
struct LatticeCost {
  double dz_mm = 0, crossings = 0, ray_cost = 0;
  std::array<double, 2> z_range{};  // distance from the source over the RED box

  static LatticeCost of(const TraceContext& context, const BeamTransform& beam);
};

// One control point: finds the compute voxels whose divergent projection falls on the
// sample plane and their radiological depths, from an exact per-voxel trace or, when
// that costs more (most of the grid in the field), from a beam-aligned depth lattice.
class ControlPointTrace {
 public:
  ControlPointTrace(const TraceContext& context, const BeamTransform& beam, DepthMethod method);

  // The lattice's ray spacing on a dose grid (the dose spacing).
  static double lattice_spacing_mm(const DoseVolume& volume) { return volume.grid.spacing_mm[0]; }

  bool used_lattice() const { return lattice_ != nullptr; }
  // f(voxel, u, w, inverse_square, depth_mm) for every hit, in compute-voxel order:
  // (u, w) the continuous sample-plane position, inverse_square = (SAD / z)^2. Returns
  // the number of hits.
  template <class F>
  int64_t for_each_hit(F&& f) const {
    const TraceContext& c = *context_;
    const int64_t n = static_cast<int64_t>(c.px.size());
    int64_t hits = 0;
    for (int64_t v = 0; v < n; ++v) {
      float u, w, z, xi, yi;
      if (!project(v, u, w, z, xi, yi)) continue;
      const float depth = lattice_ ? lattice_->depth_mm(xi, yi, z) : exact_depth(v);
      const float s = sad_ / z;
      f(v, u, w, s * s, depth);
      ++hits;
    }
    return hits;
  }

 private:
  friend class SourceGroupTrace;  // the same projection, shared by one source's members
  bool project(int64_t v, float& u, float& w, float& z, float& xi, float& yi) const {
    const TraceContext& c = *context_;
    const float x = c.px[v], y = c.py[v], q = c.pz[v];
    const float bz = r_[2] * x + r_[5] * y + r_[8] * q;
    z = sad_ - bz;  // distance from the source along the central axis
    if (!(z >= 1.0f)) return false;
    const float s = sad_ / z;
    xi = (r_[0] * x + r_[3] * y + r_[6] * q) * s;
    yi = (r_[1] * x + r_[4] * y + r_[7] * q) * s;
    u = (xi - x0_) * inv_step_;
    w = (yi - y0_) * inv_step_;
    return u >= 0 && w >= 0 && u < u_max_ && w < w_max_;
  }
  float exact_depth(int64_t v) const;
  void init(const BeamTransform& beam);

  const TraceContext* context_;
  float r_[9];  // BLD axes in LPS (columns)
  float sad_, x0_, y0_, inv_step_, u_max_, w_max_;
  Vec3 source_lps_{};
  std::unique_ptr<DepthLattice> lattice_;
};

}  // namespace vmatplan::detail
