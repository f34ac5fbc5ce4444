// The FMD canvas: a plan grid of 10 and 5 mm leaf rows and 10 mm bixels maps to the 5 mm
// canvas and back exactly, conserving the fluence's area integral.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <random>

#include "vmatplan/core/error.h"
#include "vmatplan/learn/fmd_canvas.h"

using namespace vmatplan;

namespace {
FluenceGrid known_grid() {
  FluenceGrid g;
  g.row_edges_mm = {-30, -20, -10, -5, 0, 5, 10, 20};  // 10, 10, 5, 5, 5, 5, 10 mm
  g.bixel_width_mm = 10;
  g.x_min_mm = -40;
  g.bixel_count = 6;
  return g;
}
}  // namespace

CATCH_TEST_CASE("fmd canvas: grid -> canvas -> grid is exact and conserves the area integral", "[learn][fmd]") {
  const FmdCanvas canvas;
  const FluenceGrid g = known_grid();
  const int planes = 3, cells = g.row_count() * g.bixel_count;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 7.0f);
  std::vector<float> v(static_cast<size_t>(planes) * cells);
  for (float& x : v) x = u(rng);

  const std::vector<float> c = grid_to_canvas(canvas, g, v.data(), planes);
  CATCH_REQUIRE(c.size() == static_cast<size_t>(planes) * canvas.cells());
  CATCH_CHECK(canvas_to_grid(canvas, g, c.data(), planes) == v);  // bit for bit

  // Row 0 (y in [-30, -20), 10 mm) x bixel 0 (x in [-40, -30)) covers canvas rows 14, 15
  // and bixels 12, 13 (the canvas starts at -100 mm).
  CATCH_CHECK(c[14 * canvas.bixels + 12] == v[0]);
  CATCH_CHECK(c[15 * canvas.bixels + 13] == v[0]);
  CATCH_CHECK(c[13 * canvas.bixels + 12] == 0.0f);  // outside the grid

  for (int p = 0; p < planes; ++p) {
    double grid_integral = 0, canvas_integral = 0;
    for (int r = 0; r < g.row_count(); ++r)
      for (int b = 0; b < g.bixel_count; ++b)
        grid_integral += v[p * cells + r * g.bixel_count + b] * (g.row_edges_mm[r + 1] - g.row_edges_mm[r]) *
                         g.bixel_width_mm;
    for (int i = 0; i < canvas.cells(); ++i)
      canvas_integral += c[p * canvas.cells() + i] * canvas.row_height_mm * canvas.bixel_width_mm;
    CATCH_CHECK(canvas_integral == Approx(grid_integral).epsilon(1e-9));
  }

  // The other way: any canvas image's integral over the grid's area is conserved.
  std::vector<float> any(static_cast<size_t>(canvas.cells()));
  for (float& x : any) x = u(rng);
  const std::vector<float> back = canvas_to_grid(canvas, g, any.data(), 1);
  double inside = 0, on_grid = 0;
  for (int r = 0; r < g.row_count(); ++r)
    for (int b = 0; b < g.bixel_count; ++b)
      on_grid += back[r * g.bixel_count + b] * (g.row_edges_mm[r + 1] - g.row_edges_mm[r]) * g.bixel_width_mm;
  for (int cr = 14; cr < 24; ++cr)  // y in [-30, 20)
    for (int cb = 12; cb < 24; ++cb) inside += any[cr * canvas.bixels + cb] * 25.0;  // x in [-40, 20)
  CATCH_CHECK(on_grid == Approx(inside).epsilon(1e-5));
}

CATCH_TEST_CASE("fmd canvas: grids off the canvas lines or beyond it are refused", "[learn][fmd]") {
  const FmdCanvas canvas;
  FluenceGrid g = known_grid();
  g.x_min_mm = -42.5;
  CATCH_CHECK_THROWS_AS(check_grid_on_canvas(canvas, g), ProcessingError);
  g = known_grid();
  g.row_edges_mm.back() = 22.5;
  CATCH_CHECK_THROWS_AS(check_grid_on_canvas(canvas, g), ProcessingError);
  g = known_grid();
  g.bixel_count = 30;  // x up to 260 mm
  CATCH_CHECK_THROWS_WITH(check_grid_on_canvas(canvas, g), Catch::Contains("not a canvas bixel line"));
  CATCH_CHECK(FmdCanvas::from_json(canvas.to_json(), "m.json") == canvas);
}
