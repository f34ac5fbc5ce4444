#include <catch2/catch.hpp>

#include <cmath>

#include "test_support.h"
#include "vmatplan/geometry/beams_eye_view.h"
#include "vmatplan/machine/machine.h"

using namespace vmatplan;

namespace {

using test::kPi;

// An ellipsoid mask (semi-axes in mm) on a 1 mm grid centred on `center`.
Mask ellipsoid_mask(const Vec3& center, const Vec3& semi_axes_mm, double spacing_mm = 1.0) {
  ImageGrid g;
  for (int a = 0; a < 3; ++a) {
    int64_t half = static_cast<int64_t>(std::ceil(semi_axes_mm[a] / spacing_mm)) + 3;
    g.size[a] = 2 * half + 1;
    g.spacing_mm[a] = spacing_mm;
    g.origin_mm[a] = center[a] - half * spacing_mm;
  }
  Mask m(g, 0);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
        double s = 0;
        for (int a = 0; a < 3; ++a) s += std::pow((p[a] - center[a]) / semi_axes_mm[a], 2);
        m.at(i, j, k) = s <= 1.0 ? 1 : 0;
      }
  return m;
}

FluenceGrid grid_around(double half_mm, double bixel_mm) {
  static const Machine machine = Machine::load_named("generic_6mv_mlc120");
  return FluenceGrid::covering(machine.mlc, -half_mm, half_mm, -half_mm, half_mm, bixel_mm);
}

double covered_area_mm2(const std::vector<float>& cov, const FluenceGrid& g) {
  double a = 0;
  for (int r = 0; r < g.row_count(); ++r)
    for (int b = 0; b < g.bixel_count; ++b)
      a += cov[r * g.bixel_count + b] * g.bixel_width_mm * (g.row_edges_mm[r + 1] - g.row_edges_mm[r]);
  return a;
}

// Bixels entirely inside radius r_in are fully covered, those entirely outside r_out empty.
void check_disc(const std::vector<float>& cov, const FluenceGrid& g, double r_in, double r_out) {
  for (int r = 0; r < g.row_count(); ++r)
    for (int b = 0; b < g.bixel_count; ++b) {
      double x0 = g.x_min_mm + b * g.bixel_width_mm, x1 = x0 + g.bixel_width_mm;
      double y0 = g.row_edges_mm[r], y1 = g.row_edges_mm[r + 1];
      double far = std::hypot(std::max(std::abs(x0), std::abs(x1)), std::max(std::abs(y0), std::abs(y1)));
      double nx = (x0 <= 0 && x1 >= 0) ? 0 : std::min(std::abs(x0), std::abs(x1));
      double ny = (y0 <= 0 && y1 >= 0) ? 0 : std::min(std::abs(y0), std::abs(y1));
      double near = std::hypot(nx, ny);
      float c = cov[r * g.bixel_count + b];
      if (far <= r_in) CHECK(c == Approx(1.0f));
      if (near >= r_out) CHECK(c == 0.0f);
      CHECK(c >= 0.0f);
      CHECK(c <= 1.0f);
    }
}

}  // namespace

TEST_CASE("a sphere at the isocentre projects to a disc of its radius", "[geometry][bev]") {
  const double r_mm = 30;
  const Vec3 iso{10, -20, 35};
  Mask sphere = ellipsoid_mask(iso, {r_mm, r_mm, r_mm});
  VoxelCloud cloud = extract_voxels(sphere);
  CHECK(cloud.centers_lps_mm.size() < extract_voxels(sphere, false).centers_lps_mm.size() / 4);
  FluenceGrid g = grid_around(50, 2.5);
  for (const char* pos : {"HFS", "FFP"}) {
    for (double gantry = 0; gantry < 360; gantry += 30) {
      for (double coll : {0.0, 30.0}) {
        INFO(pos << " gantry " << gantry << " collimator " << coll);
        BeamTransform t(pos, iso, gantry, coll, 0);
        BevExtent e = projected_extent(cloud, t);
        REQUIRE_FALSE(e.empty);
        for (double v : {-e.x1_mm, e.x2_mm, -e.y1_mm, e.y2_mm}) CHECK(v == Approx(r_mm).margin(1.0));
        auto cov = project_voxels(cloud, t, g);
        check_disc(cov, g, r_mm - 1.0, r_mm + 1.0);
        // The disc area pi r^2, within the sub-millimetre staircase of 1 mm voxels.
        CHECK(covered_area_mm2(cov, g) == Approx(kPi * r_mm * r_mm).epsilon(0.04));
      }
    }
  }
  // The mask-taking overload gives the same answer.
  BeamTransform t("HFS", iso, 40, 0, 0);
  CHECK(project_structure(sphere, t, g) == project_voxels(cloud, t, g));
}

TEST_CASE("a sphere toward the source projects larger by SAD/(SAD - d)", "[geometry][bev]") {
  const double r_mm = 20, d_mm = 200, sad = 1000;
  const Vec3 iso{0, 0, 0};
  for (double gantry : {0.0, 90.0, 225.0}) {
    INFO("gantry " << gantry);
    BeamTransform t("HFS", iso, gantry, 0, 0, sad);
    Vec3 center = t.bld_to_patient({0, 0, d_mm});  // on the central axis, toward the source
    VoxelCloud cloud = extract_voxels(ellipsoid_mask(center, {r_mm, r_mm, r_mm}));
    const double expected = r_mm * sad / (sad - d_mm);  // 25 mm
    BevExtent e = projected_extent(cloud, t);
    for (double v : {-e.x1_mm, e.x2_mm, -e.y1_mm, e.y2_mm}) CHECK(v == Approx(expected).margin(1.3));
    FluenceGrid g = grid_around(40, 2.5);
    auto cov = project_voxels(cloud, t, g);
    CHECK(covered_area_mm2(cov, g) == Approx(kPi * expected * expected).epsilon(0.05));
    check_disc(cov, g, expected - 1.3, expected + 1.3);
  }
}

TEST_CASE("projection is independent of the mask grid's orientation", "[geometry][bev]") {
  // The same ellipsoid sampled on an LPS grid and on a grid with flipped x and z axes
  // (as a feet-first image would be stored) must project identically.
  const Vec3 c{5, 5, 5}, axes{25, 15, 35};
  Mask a = ellipsoid_mask(c, axes);
  Mask b = a;
  b.grid.direction = {-1, 0, 0, 0, 1, 0, 0, 0, -1};
  for (int ax : {0, 2}) b.grid.origin_mm[ax] = 2 * c[ax] - a.grid.origin_mm[ax];
  BeamTransform t("HFS", {0, 0, 0}, 60, 20, 0);
  FluenceGrid g = grid_around(60, 5);
  auto ca = project_voxels(extract_voxels(a), t, g);
  auto cb = project_voxels(extract_voxels(b), t, g);
  for (size_t i = 0; i < ca.size(); ++i) CHECK(ca[i] == Approx(cb[i]).margin(1e-6));
  // An elongated shape: its extent along BLD y (patient S at gantry 0, HFS) is the longest.
  BevExtent e = projected_extent(extract_voxels(a), BeamTransform("HFS", c, 0, 0, 0));
  CHECK(e.y2_mm - e.y1_mm == Approx(70).margin(2));
  CHECK(e.x2_mm - e.x1_mm == Approx(50).margin(2));
}

