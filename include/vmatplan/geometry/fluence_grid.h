#pragma once
// Fluence maps: one 2-D array per control point on the leaf-pair x bixel grid at the
// isocentre plane (BLD coordinates). Rows are MLC leaf pairs (non-uniform widths), columns
// are bixels of equal width along the leaf travel direction (BLD X).
#include <vector>

#include "vmatplan/geometry/arc.h"
#include "vmatplan/machine/machine.h"

namespace vmatplan {

struct FluenceGrid {
  int first_leaf_pair = 0;            // MLC pair index of row 0
  std::vector<double> row_edges_mm;   // rows + 1 values along BLD Y (leaf boundaries)
  double bixel_width_mm = 5.0;
  double x_min_mm = -100.0;           // left edge of bixel 0 along BLD X
  int bixel_count = 40;

  int row_count() const { return static_cast<int>(row_edges_mm.size()) - 1; }
  double bixel_center_mm(int b) const { return x_min_mm + (b + 0.5) * bixel_width_mm; }
  double x_max_mm() const { return x_min_mm + bixel_count * bixel_width_mm; }
  int size_per_control_point() const { return row_count() * bixel_count; }

  // The leaf pairs covering [y_min, y_max] and bixels covering [x_min, x_max] (mm at the
  // isocentre), bixels aligned so that x = 0 is a bixel edge.
  static FluenceGrid covering(const MlcModel& mlc, double x_min_mm, double x_max_mm,
                              double y_min_mm, double y_max_mm, double bixel_width_mm);
};

// Values [control point][row][bixel], flattened in that order (row-major), in MU per
// control point: the meterset that an open bixel would receive.
struct FluenceMaps {
  FluenceGrid grid;
  int control_point_count = 0;
  std::vector<float> values;
  float& at(int cp, int row, int bixel) {
    return values[(static_cast<size_t>(cp) * grid.row_count() + row) * grid.bixel_count + bixel];
  }
  float at(int cp, int row, int bixel) const {
    return values[(static_cast<size_t>(cp) * grid.row_count() + row) * grid.bixel_count + bixel];
  }
};

}  // namespace vmatplan
