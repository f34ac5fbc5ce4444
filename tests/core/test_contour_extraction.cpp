#include <catch2/catch.hpp>
#include <cmath>

#include "vmatplan/core/contour_extraction.h"
#include "vmatplan/core/contour_rasterizer.h"
#include "test_support.h"

using namespace vmatplan;

namespace {

using test::kPi;

// Shoelace area of a planar contour projected on the grid's slice plane (mm^2, unsigned).
double contour_area_mm2(const PlanarContour& c, const ImageGrid& g) {
  double a = 0;
  const size_t n = c.points_mm.size();
  for (size_t i = 0; i < n; ++i) {
    Vec3 p = g.physical_to_index(c.points_mm[i]), q = g.physical_to_index(c.points_mm[(i + 1) % n]);
    a += p[0] * q[1] - q[0] * p[1];
  }
  return std::abs(a) / 2 * g.spacing_mm[0] * g.spacing_mm[1];
}

double max_edge_mm(const PlanarContour& c) {
  double m = 0;
  const size_t n = c.points_mm.size();
  for (size_t i = 0; i < n; ++i) {
    const Vec3& p = c.points_mm[i];
    const Vec3& q = c.points_mm[(i + 1) % n];
    m = std::max(m, std::hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]));
  }
  return m;
}

template <class F>
Image3D<float> field_on(const ImageGrid& g, F f) {
  Image3D<float> img(g);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        img.at(i, j, k) = float(f(g.index_to_physical({double(i), double(j), double(k)})));
  return img;
}

ImageGrid test_grid() {
  ImageGrid g;
  g.size = {101, 81, 3};
  g.spacing_mm = {0.5, 0.5, 2.0};
  g.origin_mm = {-25, -20, -2};
  return g;
}

}  // namespace

TEST_CASE("a circle field gives one closed contour per slice with area pi r^2", "[contour]") {
  const ImageGrid g = test_grid();
  const double r = 12.0;
  auto field = field_on(g, [&](const Vec3& p) { return std::hypot(p[0] - 1.3, p[1] + 0.7) - r; });
  auto contours = extract_slice_contours(field);
  REQUIRE(contours.size() == 3);
  for (const auto& c : contours) {
    CHECK(contour_area_mm2(c, g) == Approx(kPi * r * r).epsilon(0.002));
    // Closed implicitly: no repeated end point, and every edge (the closing one too) short.
    CHECK(c.points_mm.size() > 50);
    CHECK(max_edge_mm(c) < 0.75);
    const Vec3& a = c.points_mm.front();
    const Vec3& b = c.points_mm.back();
    CHECK(std::hypot(a[0] - b[0], a[1] - b[1]) > 1e-9);
    for (const Vec3& p : c.points_mm) {
      CHECK(std::hypot(p[0] - 1.3, p[1] + 0.7) == Approx(r).margin(0.02));
      CHECK(p[2] == Approx(a[2]));
    }
  }
}

TEST_CASE("a ring gives an outer and an inner loop per slice", "[contour]") {
  const ImageGrid g = test_grid();
  auto field = field_on(g, [](const Vec3& p) {
    double d = std::hypot(p[0], p[1]);
    return std::max(d - 15.0, 6.0 - d);
  });
  auto contours = extract_slice_contours(field);
  REQUIRE(contours.size() == 6);
  std::vector<double> areas;
  for (size_t n = 0; n < 2; ++n) areas.push_back(contour_area_mm2(contours[n], g));
  std::sort(areas.begin(), areas.end());
  CHECK(areas[0] == Approx(kPi * 36).epsilon(0.01));
  CHECK(areas[1] == Approx(kPi * 225).epsilon(0.003));
}

TEST_CASE("regions touching the border are closed along it", "[contour]") {
  ImageGrid g = test_grid();
  auto field = field_on(g, [](const Vec3& p) { return p[0] - 5.0; });  // inside: x < 5
  auto contours = extract_slice_contours(field);
  REQUIRE(contours.size() == 3);
  // Border closure lies half a voxel beyond the outer voxel centres (marching squares
  // cuts the two grid corners by a small triangle each).
  const double width = 5.0 - (-25.0 - 0.25), height = 81 * 0.5;
  CHECK(contour_area_mm2(contours[0], g) == Approx(width * height).epsilon(2e-4));
  CHECK(contour_area_mm2(contours[0], g) < width * height);
}

TEST_CASE("contours follow any grid direction into patient coordinates", "[contour]") {
  ImageGrid g = test_grid();
  g.direction = {-1, 0, 0, 0, 1, 0, 0, 0, -1};  // feet-first supine style
  g.origin_mm = {25, -20, 2};
  auto field = field_on(g, [](const Vec3& p) { return std::hypot(p[0] - 8, p[1] - 3) - 6; });
  auto contours = extract_slice_contours(field);
  REQUIRE(contours.size() == 3);
  for (const Vec3& p : contours[1].points_mm) {
    CHECK(std::hypot(p[0] - 8, p[1] - 3) == Approx(6).margin(0.02));
    CHECK(p[2] == Approx(0.0).margin(1e-9));
  }
}

TEST_CASE("mask contours rasterize back to the mask", "[contour]") {
  ImageGrid g = test_grid();
  Mask m(g);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
        bool blob = std::hypot(p[0] - 3, p[1]) < 9 + k;  // grows with k
        bool hole = std::hypot(p[0] - 4, p[1] - 1) < 3;
        bool edge = i < 4 && j > 10 && j < 30;           // touches the border
        m.at(i, j, k) = (blob && !hole) || edge;
      }
  auto contours = extract_mask_contours(m);
  CHECK(contours.size() == 9);  // blob, hole and border strip on each slice
  Mask back = rasterize_contours(contours, g);
  int64_t differ = 0;
  for (size_t n = 0; n < m.voxels.size(); ++n) differ += (m.voxels[n] != back.voxels[n]);
  CHECK(differ == 0);
}

TEST_CASE("empty and all-outside fields give no contours", "[contour]") {
  ImageGrid g = test_grid();
  Image3D<float> outside(g, 1.0f);
  CHECK(extract_slice_contours(outside).empty());
  Mask empty(g);
  CHECK(extract_mask_contours(empty).empty());
}
