#pragma once
// Small fixtures shared by the dose tests.
#include <cmath>

#include "vmatplan/geometry/fluence_grid.h"

namespace vmatplan::test {

// A centred fx x fy mm fluence grid of square bixels (rows along y, bixels along x).
inline FluenceGrid field_grid(double fx, double fy, double bixel = 5.0) {
  FluenceGrid g;
  const int rows = static_cast<int>(std::lround(fy / bixel));
  for (int r = 0; r <= rows; ++r) g.row_edges_mm.push_back(-0.5 * fy + r * bixel);
  g.bixel_width_mm = bixel;
  g.bixel_count = static_cast<int>(std::lround(fx / bixel));
  g.x_min_mm = -0.5 * fx;
  return g;
}

}  // namespace vmatplan::test
