#include "vmatplan/geometry/fluence_grid.h"

#include <cmath>

#include "vmatplan/core/error.h"

namespace vmatplan {

FluenceGrid FluenceGrid::covering(const MlcModel& mlc, double x_min_mm, double x_max_mm,
                                  double y_min_mm, double y_max_mm, double bixel_width_mm) {
  if (!(bixel_width_mm > 0)) throw UsageError("bixel width must be positive");
  if (!(x_max_mm > x_min_mm) || !(y_max_mm > y_min_mm))
    throw UsageError("fluence grid: empty region x [" + std::to_string(x_min_mm) + ", " +
                     std::to_string(x_max_mm) + "], y [" + std::to_string(y_min_mm) + ", " +
                     std::to_string(y_max_mm) + "] mm");
  if (mlc.pair_count() < 1) throw UsageError("fluence grid: the MLC has no leaf pairs");
  const auto& b = mlc.leaf_boundaries_mm;
  // Leaf pairs whose open interval overlaps [y_min, y_max]; touching at an edge does not
  // count (a tolerance keeps round-off from adding a whole extra leaf row).
  constexpr double kTol = 1e-6;
  int first = -1, last = -1;
  for (int p = 0; p < mlc.pair_count(); ++p) {
    if (b[p + 1] > y_min_mm + kTol && b[p] < y_max_mm - kTol) {
      if (first < 0) first = p;
      last = p;
    }
  }
  if (first < 0)
    throw UsageError("fluence grid: y range [" + std::to_string(y_min_mm) + ", " +
                     std::to_string(y_max_mm) + "] mm lies outside the MLC (" +
                     std::to_string(b.front()) + " to " + std::to_string(b.back()) + " mm)");
  FluenceGrid g;
  g.first_leaf_pair = first;
  g.row_edges_mm.assign(b.begin() + first, b.begin() + last + 2);
  g.bixel_width_mm = bixel_width_mm;
  // x = 0 (the central axis) is a bixel edge, so grids of different fields line up.
  const long lo = static_cast<long>(std::floor(x_min_mm / bixel_width_mm + kTol));
  const long hi = static_cast<long>(std::ceil(x_max_mm / bixel_width_mm - kTol));
  g.x_min_mm = lo * bixel_width_mm;
  g.bixel_count = static_cast<int>(std::max(1L, hi - lo));
  return g;
}

}  // namespace vmatplan
