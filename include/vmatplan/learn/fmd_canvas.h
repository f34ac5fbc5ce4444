#pragma once
// The fixed beam's-eye-view canvas of the FMD networks (docs/fmd.md, "Canvas"). Each plan
// has its own fluence grid (it follows the target: leaf pairs of 5 and 10 mm, bixels from
// x_min_mm); the networks see every plan on one grid in millimetres at the isocentre plane:
//
//   rows    uniform row_height_mm strips along BLD Y, centred on the isocentre
//   bixels  uniform bixel_width_mm strips along BLD X (leaf travel), centred likewise
//   control points  the arc's own control points (any count; the networks are
//           convolutional along them), no resampling
//
//   FmdCanvas canvas;                                      // 40 x 40 cells of 5 x 5 mm
//   std::vector<float> c = grid_to_canvas(canvas, grid, plan_values, planes);
//   std::vector<float> back = canvas_to_grid(canvas, grid, c, planes);   // == plan_values
//
// The mapping is exact because every plan cell is a union of whole canvas cells (leaf
// edges and bixel edges on the canvas's lines, checked): grid -> canvas copies a cell's
// value to each canvas cell it covers (fluence is MU per open bixel, an intensity, so its
// area integral is conserved) and canvas cells outside the grid are 0; canvas -> grid
// takes the mean over the covered canvas cells. So canvas_to_grid(grid_to_canvas(v)) == v
// bit for bit, and for any canvas image the area integral over the grid is conserved.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/geometry/fluence_grid.h"

namespace vmatplan {

struct FmdCanvas {
  int rows = 40;                // along BLD Y, row 0 at y = -rows * row_height_mm / 2
  int bixels = 40;              // along BLD X, bixel 0 at x = -bixels * bixel_width_mm / 2
  double row_height_mm = 5.0;   // the MLC's finest leaf width (5 mm central leaves)
  double bixel_width_mm = 5.0;

  double y_min_mm() const { return -0.5 * rows * row_height_mm; }
  double x_min_mm() const { return -0.5 * bixels * bixel_width_mm; }
  int cells() const { return rows * bixels; }
  nlohmann::json to_json() const;
  // InputError naming `source` when a field is missing or not positive.
  static FmdCanvas from_json(const nlohmann::json& j, const std::string& source);
  bool operator==(const FmdCanvas& o) const {
    return rows == o.rows && bixels == o.bixels && row_height_mm == o.row_height_mm &&
           bixel_width_mm == o.bixel_width_mm;
  }
  bool operator!=(const FmdCanvas& o) const { return !(*this == o); }
};

// ProcessingError naming the offending extent when the grid is not a union of whole canvas
// cells inside the canvas (an edge off the canvas lines, or a grid larger than the canvas).
void check_grid_on_canvas(const FmdCanvas& canvas, const FluenceGrid& grid);

// values: `planes` images [row][bixel] of the grid -> `planes` canvas images [row][bixel].
std::vector<float> grid_to_canvas(const FmdCanvas& canvas, const FluenceGrid& grid,
                                  const float* values, int planes);
// The inverse: each grid cell is the mean of the canvas cells it covers.
std::vector<float> canvas_to_grid(const FmdCanvas& canvas, const FluenceGrid& grid,
                                  const float* canvas_values, int planes);

}  // namespace vmatplan
