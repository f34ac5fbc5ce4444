#pragma once
// Private to src/dose: radiological depth of one control point on a beam-aligned lattice.
// Rays leave the source through a regular lattice of isocentre-plane points; RED is
// integrated along each ray (trilinear samples, trapezoid rule) at regular distances z
// from the source, and a voxel's depth is interpolated from the neighbouring rays. Much
// cheaper than one exact trace per voxel when most voxels of the grid are in the field
// (the usual "ray-cast on a BEV grid then interpolate" of pencil-beam codes, e.g. matRad,
// Wieser et al., Med Phys 44:e25, 2017).
#include <array>
#include <vector>

#include "vmatplan/dose/dose_volume.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan::detail {

class DepthLattice {
 public:
  // Lattice over [u0, u0 + (nu-1) du] x [v0, v0 + (nv-1) du] (isocentre-plane BLD mm),
  // depths sampled every dz from z_min to z_max (distance from the source along the axis).
  // Only rays with needed[iv * nu + iu] != 0 are traced (empty: all).
  DepthLattice(const DoseVolume& volume, const BeamTransform& beam, double u0, double v0,
               double du, int nu, int nv, double z_min, double z_max, double dz,
               const std::vector<uint8_t>& needed = {});
  // Water-equivalent depth (mm) of the point that projects to (u, v) at distance z.
  double depth_mm(double u, double v, double z) const;

  // Corners (LPS) of the bounding box of the voxels with RED > 0, one voxel out; empty
  // when there are none.
  static std::vector<Vec3> body_corners(const DoseVolume& volume);
  // Range of z (distance from the source along the central axis) over those corners.
  static std::array<double, 2> z_range(const std::vector<Vec3>& corners, const BeamTransform& beam);

 private:
  double u0_, v0_, du_, z0_, dz_;
  int nu_, nv_, nz_;
  std::vector<float> depth_;  // [v][u][z]
};

}  // namespace vmatplan::detail
