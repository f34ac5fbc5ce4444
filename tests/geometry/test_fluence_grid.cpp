#include <catch2/catch.hpp>

#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/fluence_grid.h"

using namespace vmatplan;

TEST_CASE("fluence grid covers the requested region with leaf rows and aligned bixels",
          "[geometry][fluence_grid]") {
  Machine m = Machine::load_named("generic_6mv_mlc120");
  FluenceGrid g = FluenceGrid::covering(m.mlc, -41.5, 38.2, -62, 47, 5.0);
  // Rows: pairs whose leaves overlap [-62, 47]: the 5 mm pairs from [-65, -60] (pair
  // 10 + 35 / 5 = 17, after ten 10 mm pairs) to [45, 50] (pair 39).
  CHECK(g.row_edges_mm.front() == -65);
  CHECK(g.row_edges_mm.back() == 50);
  CHECK(g.first_leaf_pair == 17);
  CHECK(g.row_count() == 23);
  // A range reaching into the outer pairs takes their 10 mm rows.
  FluenceGrid wide = FluenceGrid::covering(m.mlc, -10, 10, -115, 0, 5.0);
  CHECK(wide.first_leaf_pair == 8);
  CHECK(wide.row_edges_mm.front() == -120);
  for (int r = 0; r < g.row_count(); ++r)
    CHECK(g.row_edges_mm[r + 1] - g.row_edges_mm[r] ==
          m.mlc.leaf_width_mm(g.first_leaf_pair + r));
  // Bixels: x = 0 is an edge; [-45, 40] covers [-41.5, 38.2].
  CHECK(g.x_min_mm == -45);
  CHECK(g.bixel_count == 17);
  CHECK(g.x_max_mm() == 40);
  double zero_index = -g.x_min_mm / g.bixel_width_mm;
  CHECK(zero_index == std::round(zero_index));
  CHECK(g.bixel_center_mm(0) == -42.5);
  CHECK(g.size_per_control_point() == g.row_count() * 17);
}

TEST_CASE("fluence grid edges that fall on boundaries add no extra row or bixel",
          "[geometry][fluence_grid]") {
  Machine m = Machine::load_named("generic_6mv_mlc120");
  FluenceGrid g = FluenceGrid::covering(m.mlc, -20, 20, -10, 10, 2.5);
  CHECK(g.row_edges_mm == std::vector<double>{-10, -5, 0, 5, 10});
  CHECK(g.x_min_mm == -20);
  CHECK(g.bixel_count == 16);
  // A field beyond the MLC is clipped to its pairs.
  FluenceGrid all = FluenceGrid::covering(m.mlc, -5, 5, -300, 300, 5);
  CHECK(all.row_count() == 60);
  CHECK_THROWS_AS(FluenceGrid::covering(m.mlc, -5, 5, 210, 300, 5), UsageError);
  CHECK_THROWS_AS(FluenceGrid::covering(m.mlc, 5, -5, -10, 10, 5), UsageError);
  CHECK_THROWS_AS(FluenceGrid::covering(m.mlc, -5, 5, -10, 10, 0), UsageError);
}

TEST_CASE("fluence maps index [control point][row][bixel]", "[geometry][fluence_grid]") {
  FluenceMaps f;
  f.grid.row_edges_mm = {0, 5, 10};
  f.grid.bixel_count = 3;
  f.control_point_count = 2;
  f.values.assign(12, 0.0f);
  f.at(1, 0, 2) = 7;
  CHECK(f.values[1 * 6 + 0 * 3 + 2] == 7);
  const FluenceMaps& c = f;
  CHECK(c.at(1, 0, 2) == 7);
}
