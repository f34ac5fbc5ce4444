#pragma once
// PlanarContour: one closed polygon in patient coordinates (LPS, mm), lying in a slice
// plane of the image it belongs to, as an RTSTRUCT CLOSED_PLANAR contour does.
#include <vector>

#include "vmatplan/core/image_grid.h"

namespace vmatplan {

struct PlanarContour {
  std::vector<Vec3> points_mm;  // closed implicitly: the last point joins the first
};

}  // namespace vmatplan
