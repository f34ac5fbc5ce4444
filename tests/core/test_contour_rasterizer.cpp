#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>

#include "vmatplan/core/contour_rasterizer.h"
#include "test_support.h"

using namespace vmatplan;

namespace {

using test::kPi;

ImageGrid make_grid(int64_t nx, int64_t ny, int64_t nz, double spacing_mm, double slice_mm) {
  ImageGrid g;
  g.size = {nx, ny, nz};
  g.spacing_mm = {spacing_mm, spacing_mm, slice_mm};
  g.origin_mm = {0.0, 0.0, 0.0};
  return g;
}

PlanarContour circle(double cx, double cy, double z, double r, int n, bool clockwise = false) {
  PlanarContour c;
  for (int a = 0; a < n; ++a) {
    double t = 2.0 * kPi * a / n * (clockwise ? -1.0 : 1.0);
    c.points_mm.push_back({cx + r * std::cos(t), cy + r * std::sin(t), z});
  }
  return c;
}

PlanarContour rect(double x0, double y0, double x1, double y1, double z) {
  PlanarContour c;
  c.points_mm = {{x0, y0, z}, {x1, y0, z}, {x1, y1, z}, {x0, y1, z}};
  return c;
}

double polygon_area(int n, double r) { return 0.5 * n * r * r * std::sin(2.0 * kPi / n); }

double covered_area_mm2(const Image3D<float>& cov) {
  double s = 0;
  for (float v : cov.voxels) s += v;
  return s * cov.grid.spacing_mm[0] * cov.grid.spacing_mm[1];
}

double mask_area_mm2(const Mask& m) {
  int64_t n = 0;
  for (uint8_t v : m.voxels) n += v;
  return static_cast<double>(n) * m.grid.spacing_mm[0] * m.grid.spacing_mm[1];
}

}  // namespace

TEST_CASE("rasterizer: circle area matches the analytic area", "[core][contour_rasterizer]") {
  ImageGrid g = make_grid(128, 128, 3, 1.0, 2.0);
  const double r = 23.7;
  const int n = 720;
  std::vector<PlanarContour> cs{circle(60.3, 58.9, 2.0, r, n)};
  std::vector<std::string> warnings;
  Mask m = rasterize_contours(cs, g, {}, &warnings);
  CHECK(warnings.empty());
  const double exact = kPi * r * r;
  CHECK(std::abs(mask_area_mm2(m) - exact) / exact < 0.005);
  // Coverage along x is exact and along y sampled 8 times per row: much closer.
  Image3D<float> cov = rasterize_coverage(cs, g, {});
  CHECK(covered_area_mm2(cov) == Approx(polygon_area(n, r)).epsilon(0.001));
  // Only slice k = 1 (z = 2 mm) is touched.
  int64_t on_other_slices = 0;
  for (int64_t k : {0, 2})
    for (int64_t j = 0; j < 128; ++j)
      for (int64_t i = 0; i < 128; ++i) on_other_slices += m.at(i, j, k);
  CHECK(on_other_slices == 0);
  CHECK(m.at(60, 59, 1) == 1);
  CHECK(m.at(60 + 25, 59, 1) == 0);
}

TEST_CASE("rasterizer: squares, holes (even-odd) and islands", "[core][contour_rasterizer]") {
  ImageGrid g = make_grid(100, 100, 1, 1.0, 1.0);
  SECTION("a square on voxel boundaries covers whole voxels exactly") {
    Mask m = rasterize_contours({rect(9.5, 19.5, 39.5, 29.5, 0.0)}, g);
    CHECK(mask_area_mm2(m) == Approx(300.0));
    CHECK(m.at(10, 20, 0) == 1);
    CHECK(m.at(39, 29, 0) == 1);
    CHECK(m.at(9, 20, 0) == 0);
    CHECK(m.at(40, 29, 0) == 0);
  }
  SECTION("a square off the voxel boundaries has the exact area in coverage") {
    Image3D<float> cov = rasterize_coverage({rect(10.3, 20.0, 31.1, 30.5, 0.0)}, g, {});
    CHECK(covered_area_mm2(cov) == Approx(20.8 * 10.5).epsilon(1e-6));  // float voxels
  }
  SECTION("a square hole inside a square, same orientation (even-odd, not non-zero)") {
    std::vector<PlanarContour> cs{rect(9.5, 9.5, 49.5, 49.5, 0.0), rect(19.5, 19.5, 39.5, 39.5, 0.0)};
    Mask m = rasterize_contours(cs, g);
    CHECK(mask_area_mm2(m) == Approx(1600.0 - 400.0));
    CHECK(m.at(30, 30, 0) == 0);
    CHECK(m.at(15, 15, 0) == 1);
  }
  SECTION("two islands") {
    std::vector<PlanarContour> cs{rect(9.5, 9.5, 19.5, 19.5, 0.0), rect(59.5, 69.5, 89.5, 79.5, 0.0)};
    Mask m = rasterize_contours(cs, g);
    CHECK(mask_area_mm2(m) == Approx(100.0 + 300.0));
    CHECK(m.at(40, 40, 0) == 0);
  }
  SECTION("a polygon reaching past the grid edge is clipped, not wrapped") {
    Mask m = rasterize_contours({rect(-20.0, -20.0, 9.5, 9.5, 0.0)}, g);
    CHECK(mask_area_mm2(m) == Approx(100.0));
  }
}

TEST_CASE("rasterizer: flipped and rotated grids give the same area in the same place",
          "[core][contour_rasterizer]") {
  const double r = 18.0;
  const Vec3 centre{12.0, -7.0, 10.0};
  const double exact = kPi * r * r;
  const double c30 = std::cos(kPi / 6), s30 = std::sin(kPi / 6);
  struct Case {
    const char* name;
    std::array<double, 9> dir;
  };
  const Case cases[] = {
      {"identity (HFS)", {1, 0, 0, 0, 1, 0, 0, 0, 1}},
      {"x and z flipped (feet first)", {-1, 0, 0, 0, 1, 0, 0, 0, -1}},
      {"x and y flipped (prone)", {-1, 0, 0, 0, -1, 0, 0, 0, 1}},
      {"rotated 30 degrees in plane", {c30, -s30, 0, s30, c30, 0, 0, 0, 1}},
  };
  double reference_mask_mm2 = 0.0;
  for (const Case& c : cases) {
    INFO(c.name);
    ImageGrid g = make_grid(90, 90, 5, 0.8, 2.5);
    g.direction = c.dir;
    // Put the grid's centre voxel at the circle centre (slice k = 2 at z = 10 mm).
    const Vec3 mid = g.index_to_physical({44.5, 44.5, 2.0});
    for (int a = 0; a < 3; ++a) g.origin_mm[a] += centre[a] - mid[a];
    std::vector<std::string> warnings;
    const std::vector<PlanarContour> cs{circle(centre[0], centre[1], centre[2], r, 500, true)};
    Mask m = rasterize_contours(cs, g, {}, &warnings);
    CHECK(warnings.empty());
    CHECK(covered_area_mm2(rasterize_coverage(cs, g, {})) == Approx(exact).epsilon(0.001));
    // The thresholded mask of this symmetric placement is 0.7 % large in every orientation.
    if (reference_mask_mm2 == 0.0) reference_mask_mm2 = mask_area_mm2(m);
    CHECK(mask_area_mm2(m) == Approx(reference_mask_mm2).epsilon(0.002));
    CHECK(std::abs(mask_area_mm2(m) - exact) / exact < 0.01);
    // The mask's centroid sits on the circle's centre.
    Vec3 sum{0, 0, 0};
    int64_t n = 0;
    for (int64_t k = 0; k < 5; ++k)
      for (int64_t j = 0; j < 90; ++j)
        for (int64_t i = 0; i < 90; ++i)
          if (m.at(i, j, k)) {
            Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
            for (int a = 0; a < 3; ++a) sum[a] += p[a];
            ++n;
          }
    REQUIRE(n > 0);
    for (int a = 0; a < 3; ++a) CHECK(sum[a] / n == Approx(centre[a]).margin(0.1));
  }
}

TEST_CASE("rasterizer: contours between slices or outside the grid are reported",
          "[core][contour_rasterizer]") {
  ImageGrid g = make_grid(40, 40, 4, 1.0, 3.0);
  std::vector<std::string> warnings;
  Mask m = rasterize_contours({rect(4.5, 4.5, 14.5, 14.5, 4.2), rect(4.5, 4.5, 14.5, 14.5, 30.0)},
                              g, {}, &warnings);
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].find("off the slice planes") != std::string::npos);
  CHECK(warnings[1].find("outside the grid") != std::string::npos);
  // The first one is snapped to slice k = 1 (z = 3 mm).
  CHECK(m.at(10, 10, 1) == 1);
}

TEST_CASE("rasterizer: 512x512x120 grid with 8 ROIs", "[core][contour_rasterizer][slow]") {
  ImageGrid g = make_grid(512, 512, 120, 0.98, 2.5);
  std::vector<std::vector<PlanarContour>> rois(8);
  for (int r = 0; r < 8; ++r)
    for (int k = 0; k < 120; ++k) {
      const double z = 2.5 * k;
      const double radius = r == 0 ? 230.0 : 15.0 + 5.0 * r;
      rois[r].push_back(circle(250.0 + (r ? 20.0 * r - 80.0 : 0.0), 250.0, z, radius, 300));
    }
  auto t0 = std::chrono::steady_clock::now();
  int64_t body_voxels = 0;
  for (const auto& roi : rois) {
    Mask m = rasterize_contours(roi, g);
    if (&roi == &rois[0])
      for (uint8_t v : m.voxels) body_voxels += v;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("8 ROIs on 512x512x120: " << seconds << " s");
  const double exact_voxels = polygon_area(300, 230.0) / (0.98 * 0.98) * 120;
  CHECK(std::abs(body_voxels - exact_voxels) / exact_voxels < 0.002);
}
