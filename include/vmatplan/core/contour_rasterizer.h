#pragma once
// Rasterizing planar contours onto a grid, with the even-odd rule across all contours of
// a slice (so holes and several islands per slice work) and sub-voxel accuracy.
#include <vector>

#include "vmatplan/core/image3d.h"
#include "vmatplan/core/planar_contour.h"

namespace vmatplan {

struct RasterizeOptions {
  int subsamples = 8;            // sub-rows per voxel row; coverage along a row is exact
  double coverage_threshold = 0.5;  // a voxel is inside when this fraction is covered
  double slice_tolerance = 0.1;     // in slices: a contour farther than this from a slice
                                    // centre is reported, not silently snapped
};

// Fractional in-plane coverage of each voxel (0..1).
Image3D<float> rasterize_coverage(const std::vector<PlanarContour>& contours,
                                  const ImageGrid& grid, const RasterizeOptions& options,
                                  std::vector<std::string>* warnings = nullptr);

Mask rasterize_contours(const std::vector<PlanarContour>& contours, const ImageGrid& grid,
                        const RasterizeOptions& options = {},
                        std::vector<std::string>* warnings = nullptr);

}  // namespace vmatplan
