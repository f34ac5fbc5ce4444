#include <catch2/catch.hpp>

#include "vmatplan/core/image_grid.h"

using namespace vmatplan;

TEST_CASE("index and physical coordinates are inverse for any orientation", "[core][grid]") {
  ImageGrid g;
  g.size = {10, 20, 30};
  g.spacing_mm = {0.8, 1.2, 2.5};
  g.origin_mm = {-100, 50, 7};
  // Feet-first prone style: x and y flipped, slices running inferior.
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, -1};
  Vec3 p = g.index_to_physical({3, 4, 5});
  CHECK(p[0] == Approx(-100 - 3 * 0.8));
  CHECK(p[1] == Approx(50 - 4 * 1.2));
  CHECK(p[2] == Approx(7 - 5 * 2.5));
  Vec3 idx = g.physical_to_index(p);
  CHECK(idx[0] == Approx(3));
  CHECK(idx[1] == Approx(4));
  CHECK(idx[2] == Approx(5));
  CHECK(g.orientation_code() == "RAI");
}

TEST_CASE("oblique direction round-trips", "[core][grid]") {
  ImageGrid g;
  g.size = {4, 4, 4};
  const double c = std::cos(0.3), s = std::sin(0.3);
  g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  g.spacing_mm = {2, 3, 4};
  Vec3 idx = g.physical_to_index(g.index_to_physical({1.5, -2.25, 3.0}));
  CHECK(idx[0] == Approx(1.5));
  CHECK(idx[1] == Approx(-2.25));
  CHECK(idx[2] == Approx(3.0));
  CHECK(g.voxel_volume_mm3() == Approx(24));
  CHECK(g.linear_index(1, 2, 3) == 1 + 4 * (2 + 4 * 3));
}

TEST_CASE("same_geometry compares size, spacing, origin and direction", "[core][grid]") {
  ImageGrid a, b;
  a.size = b.size = {2, 2, 2};
  CHECK(a.same_geometry(b));
  b.origin_mm[2] = 0.5;
  CHECK_FALSE(a.same_geometry(b));
  b = a;
  b.direction[0] = -1;
  CHECK_FALSE(a.same_geometry(b));
}
