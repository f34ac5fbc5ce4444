#pragma once
// Private to src/dose: radiological depth of one control point on a beam-aligned lattice.
// Rays leave the source through a regular lattice of isocentre-plane points; RED is
// integrated exactly along each ray through the piecewise-constant dose-grid voxels (the
// DDA of radiological_depth_mm, Siddon, Med Phys 12:252, 1985) and recorded at regular
// distances z from the source; a voxel's depth is interpolated from the neighbouring rays.
// Much cheaper than one exact trace per voxel when most voxels of the grid are in the
// field (the usual "ray-cast on a BEV grid then interpolate" of pencil-beam codes, e.g.
// matRad, Wieser et al., Med Phys 44:e25, 2017).
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "vmatplan/dose/dose_volume.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan::detail {

struct GroupGatherAvx2;

// Index-space box [lo - 0.5, hi + 0.5] of the voxels with RED > 0: outside it a ray
// gathers no depth. Computed once per dose volume.
struct RedBox {
  int64_t lo[3] = {0, 0, 0}, hi[3] = {-1, -1, -1};
  bool empty() const { return hi[0] < lo[0]; }
  static RedBox of(const DoseVolume& volume);
  // Corners (LPS) of the box one voxel out (for the z range of a beam); empty if empty().
  std::vector<Vec3> corners(const ImageGrid& grid) const;
};

class DepthLattice {
 public:
  // Lattice over [u0, u0 + (nu-1) du] x [v0, v0 + (nv-1) du] (isocentre-plane BLD mm),
  // depths recorded every dz from z_min to z_max (distance from the source along the axis).
  // Only rays with needed[iv * nu + iu] != 0 are traced (empty: all).
  DepthLattice(const DoseVolume& volume, const RedBox& box, const BeamTransform& beam,
               double u0, double v0, double du, int nu, int nv, double z_min, double z_max,
               double dz, const std::vector<uint8_t>& needed = {});
  // Water-equivalent depth (mm) of the point that projects to (u, v) at distance z.
  float depth_mm(float u, float v, float z) const {
    float fu = std::clamp((u - u0_) * inv_du_, 0.0f, nu_ - 1.0001f);
    float fv = std::clamp((v - v0_) * inv_du_, 0.0f, nv_ - 1.0001f);
    float fz = std::clamp((z - z0_) * inv_dz_, 0.0f, nz_ - 1.0001f);
    const int iu = static_cast<int>(fu), iv = static_cast<int>(fv), iz = static_cast<int>(fz);
    fu -= iu, fv -= iv, fz -= iz;
    const uint16_t* a = &depth_[(static_cast<size_t>(iv) * nu_ + iu) * nz_ + iz];
    const uint16_t* b = a + nz_;                           // (iu + 1, iv)
    const uint16_t* c = a + static_cast<size_t>(nu_) * nz_;  // (iu, iv + 1)
    const uint16_t* e = c + nz_;                           // (iu + 1, iv + 1)
    const float za = a[0] + fz * (float(a[1]) - a[0]), zb = b[0] + fz * (float(b[1]) - b[0]);
    const float zc = c[0] + fz * (float(c[1]) - c[0]), ze = e[0] + fz * (float(e[1]) - e[0]);
    const float lo = za + fu * (zb - za), hi = zc + fu * (ze - zc);
    return (lo + fv * (hi - lo)) * (1.0f / kUnitsPerMm);
  }

  // Range of z (distance from the source along the central axis) over box corners.
  static std::array<double, 2> z_range(const std::vector<Vec3>& corners, const BeamTransform& beam);

 private:
  friend struct GroupGatherAvx2;  // reads the layout below, 8 voxels at a time
  float u0_, v0_, inv_du_, z0_, inv_dz_;
  int nu_, nv_, nz_;
  // Depths in 1/32 mm, up to 2047 mm (clamped): half the memory of floats, so that a
  // control point's lattice stays in cache while its voxels are gathered.
  static constexpr float kUnitsPerMm = 32.0f;
  std::vector<uint16_t> depth_;  // [v][u][z]
};

}  // namespace vmatplan::detail
