// Plan fluence grid <-> the fixed FMD canvas (exact, see fmd_canvas.h).
#include "vmatplan/learn/fmd_canvas.h"

#include <cmath>
#include <cstdio>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

// Index of a canvas line at `mm` (lines at origin + k * step); -1 when `mm` is off the lines.
int canvas_line(double mm, double origin_mm, double step_mm) {
  const double k = (mm - origin_mm) / step_mm;
  const double r = std::round(k);
  return std::abs(k - r) < 1e-6 ? static_cast<int>(r) : -1;
}

std::string mm_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// For each grid row, the canvas rows [first, end); likewise for bixels.
struct CellSpans {
  std::vector<int> row_first, row_end, bixel_first, bixel_end;
};

CellSpans cell_spans(const FmdCanvas& canvas, const FluenceGrid& grid) {
  CellSpans s;
  const int rows = grid.row_count();
  if (rows < 1 || grid.bixel_count < 1) throw ProcessingError("FMD canvas: empty fluence grid");
  for (int r = 0; r <= rows; ++r) {
    const double y = grid.row_edges_mm[r];
    const int line = canvas_line(y, canvas.y_min_mm(), canvas.row_height_mm);
    if (line < 0 || line > canvas.rows)
      throw ProcessingError("FMD canvas: leaf edge y = " + mm_text(y) + " mm is not a canvas row line within [" +
                            mm_text(canvas.y_min_mm()) + ", " + mm_text(-canvas.y_min_mm()) + "] mm");
    if (r > 0) s.row_end.push_back(line);
    if (r < rows) s.row_first.push_back(line);
  }
  for (int b = 0; b <= grid.bixel_count; ++b) {
    const double x = grid.x_min_mm + b * grid.bixel_width_mm;
    const int line = canvas_line(x, canvas.x_min_mm(), canvas.bixel_width_mm);
    if (line < 0 || line > canvas.bixels)
      throw ProcessingError("FMD canvas: bixel edge x = " + mm_text(x) + " mm is not a canvas bixel line within [" +
                            mm_text(canvas.x_min_mm()) + ", " + mm_text(-canvas.x_min_mm()) + "] mm");
    if (b > 0) s.bixel_end.push_back(line);
    if (b < grid.bixel_count) s.bixel_first.push_back(line);
  }
  for (int r = 0; r < rows; ++r)
    if (s.row_end[r] <= s.row_first[r]) throw ProcessingError("FMD canvas: leaf edges not increasing");
  return s;
}

}  // namespace

nlohmann::json FmdCanvas::to_json() const {
  return {{"rows", rows}, {"bixels", bixels}, {"row_height_mm", row_height_mm},
          {"bixel_width_mm", bixel_width_mm}, {"y_min_mm", y_min_mm()}, {"x_min_mm", x_min_mm()},
          {"control_points", "the arc's own, no resampling"}};
}

FmdCanvas FmdCanvas::from_json(const nlohmann::json& j, const std::string& source) {
  FmdCanvas c;
  try {
    c.rows = j.at("rows").get<int>();
    c.bixels = j.at("bixels").get<int>();
    c.row_height_mm = j.at("row_height_mm").get<double>();
    c.bixel_width_mm = j.at("bixel_width_mm").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("canvas: ") + e.what());
  }
  if (c.rows < 1 || c.bixels < 1 || !(c.row_height_mm > 0) || !(c.bixel_width_mm > 0))
    throw InputError(source, "canvas: sizes must be positive");
  return c;
}

void check_grid_on_canvas(const FmdCanvas& canvas, const FluenceGrid& grid) { cell_spans(canvas, grid); }

std::vector<float> grid_to_canvas(const FmdCanvas& canvas, const FluenceGrid& grid,
                                  const float* values, int planes) {
  const CellSpans s = cell_spans(canvas, grid);
  const int rows = grid.row_count(), bixels = grid.bixel_count;
  std::vector<float> out(static_cast<size_t>(planes) * canvas.cells(), 0.0f);
  for (int p = 0; p < planes; ++p) {
    const float* in = values + static_cast<size_t>(p) * rows * bixels;
    float* o = out.data() + static_cast<size_t>(p) * canvas.cells();
    for (int r = 0; r < rows; ++r)
      for (int b = 0; b < bixels; ++b)
        for (int cr = s.row_first[r]; cr < s.row_end[r]; ++cr)
          for (int cb = s.bixel_first[b]; cb < s.bixel_end[b]; ++cb)
            o[cr * canvas.bixels + cb] = in[r * bixels + b];
  }
  return out;
}

std::vector<float> canvas_to_grid(const FmdCanvas& canvas, const FluenceGrid& grid,
                                  const float* canvas_values, int planes) {
  const CellSpans s = cell_spans(canvas, grid);
  const int rows = grid.row_count(), bixels = grid.bixel_count;
  std::vector<float> out(static_cast<size_t>(planes) * rows * bixels);
  for (int p = 0; p < planes; ++p) {
    const float* c = canvas_values + static_cast<size_t>(p) * canvas.cells();
    float* o = out.data() + static_cast<size_t>(p) * rows * bixels;
    for (int r = 0; r < rows; ++r)
      for (int b = 0; b < bixels; ++b) {
        // Summed in double and divided once: equal values give back exactly that value.
        double sum = 0;
        for (int cr = s.row_first[r]; cr < s.row_end[r]; ++cr)
          for (int cb = s.bixel_first[b]; cb < s.bixel_end[b]; ++cb) sum += c[cr * canvas.bixels + cb];
        const int n = (s.row_end[r] - s.row_first[r]) * (s.bixel_end[b] - s.bixel_first[b]);
        o[r * bixels + b] = static_cast<float>(sum / n);
      }
  }
  return out;
}

}  // namespace vmatplan
