#pragma once
// Extracting planar contours (marching squares) from a scalar field, slice by slice: the
// inverse of contour_rasterizer.h, used to write RTSTRUCTs for masks and phantoms.
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/core/planar_contour.h"

namespace vmatplan {

// Closed iso-contours of `field` at `level` on every slice k (inside is field < level),
// with linear interpolation between voxel centres, in patient coordinates. Regions that
// touch the grid border are closed along it.
std::vector<PlanarContour> extract_slice_contours(const Image3D<float>& field,
                                                  float level = 0.0f);

// Same for a binary mask (inside = 1): contours through the midpoints between inside and
// outside voxel centres.
std::vector<PlanarContour> extract_mask_contours(const Mask& mask);

}  // namespace vmatplan
