#pragma once
// Beam's-eye-view projection of a structure onto the fluence grid of a control point, with
// divergent rays from the source: a bixel is covered when a ray from the source through it
// meets the structure. Used to fit jaws to the target and as generator input.
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan {

// Coverage 0..1 per bixel ([row][bixel]) of `mask` seen from the beam `t`.
std::vector<float> project_structure(const Mask& mask, const BeamTransform& t,
                                     const FluenceGrid& grid);

// Projected extent (BLD x1, x2, y1, y2 at the isocentre) of a mask from one beam.
struct BevExtent {
  double x1_mm = 0, x2_mm = 0, y1_mm = 0, y2_mm = 0;
  bool empty = true;
};
BevExtent projected_extent(const Mask& mask, const BeamTransform& t);

}  // namespace vmatplan
