#pragma once
// Beam's-eye-view projection of a structure onto the fluence grid of a control point, with
// divergent rays from the source: a bixel is covered when a ray from the source through it
// meets the structure. Used to fit jaws to the target and as generator input.
//
//   VoxelCloud target = extract_voxels(ptv.mask);          // once per structure
//   for (each control point) {
//     BeamTransform t(position, iso, gantry, coll, couch, machine.sad_mm);
//     std::vector<float> cov = project_voxels(target, t, grid);   // [row][bixel], 0..1
//   }
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan {

// The voxels of a mask as points in LPS, with the half-extent of one voxel along each
// index axis (direction column x spacing / 2). With surface_only, only voxels with a
// 26-neighbour outside the mask are kept: every ray that crosses the structure leaves it
// through such a voxel, so the projection is unchanged and 5-10x cheaper.
struct VoxelCloud {
  std::vector<Vec3> centers_lps_mm;
  std::array<Vec3, 3> half_axes_mm{};  // LPS vectors from a voxel centre to its faces
};
VoxelCloud extract_voxels(const Mask& mask, bool surface_only = true);

// Coverage 0..1 per bixel ([row][bixel]) of `mask` seen from the beam `t`.
std::vector<float> project_structure(const Mask& mask, const BeamTransform& t,
                                     const FluenceGrid& grid);
// The same for a pre-extracted voxel list (use this inside control-point loops). Each
// voxel covers the projection of its box (a hexagon, scaled by SAD / distance from the
// source at its centre); coverage is the covered fraction of each bixel, sampled at the
// centres of sub-cells of at most subcell_mm (at least 4 x 4 per bixel).
std::vector<float> project_voxels(const VoxelCloud& voxels, const BeamTransform& t,
                                  const FluenceGrid& grid, double subcell_mm = 0.5);

// Projected extent (BLD x1, x2, y1, y2 at the isocentre) of a mask from one beam.
struct BevExtent {
  double x1_mm = 0, x2_mm = 0, y1_mm = 0, y2_mm = 0;
  bool empty = true;
  void merge(const BevExtent& o);
};
BevExtent projected_extent(const Mask& mask, const BeamTransform& t);
BevExtent projected_extent(const VoxelCloud& voxels, const BeamTransform& t);

}  // namespace vmatplan
