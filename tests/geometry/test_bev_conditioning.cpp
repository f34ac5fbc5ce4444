// BEV conditioning against analytic geometry that does not use the code under test: a
// sphere's projected area is pi r^2, a lateral organ appears on the side IEC 61217 puts it,
// and the body depth along each ray is the chord of a cylinder, solved in closed form.
#include <catch2/catch.hpp>

#include <cmath>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/bev_conditioning.h"
#include "vmatplan/machine/machine.h"

using namespace vmatplan;

namespace {

using test::kPi;
constexpr double kSpacing = 1.0;    // mm, every mask
constexpr double kBodyRadius = 100; // body: cylinder along LPS z through the isocentre
constexpr double kTargetRadius = 30;

ImageGrid bev_test_grid() {
  ImageGrid g;
  g.size = {205, 205, 81};
  g.spacing_mm = {kSpacing, kSpacing, kSpacing};
  g.origin_mm = {-102, -102, -40};
  return g;
}

template <class Inside>
Structure structure(const std::string& name, Inside inside) {
  Structure s;
  s.name = name;
  s.mask = Mask(bev_test_grid(), 0);
  const ImageGrid& g = s.mask.grid;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        s.mask.at(i, j, k) = inside(g.index_to_physical({double(i), double(j), double(k)}));
  return s;
}

auto sphere(const Vec3& c, double r) {
  return [c, r](const Vec3& p) {
    return std::pow(p[0] - c[0], 2) + std::pow(p[1] - c[1], 2) + std::pow(p[2] - c[2], 2) <= r * r;
  };
}

// Target at the isocentre (origin), femoral heads left (+x) and right, rectum posterior
// (+y), no bladder, body a cylinder; CT water inside the body, air outside.
Patient test_patient() {
  Patient p;
  p.source = "test patient";
  p.ct_hu = CtImage(bev_test_grid(), -1000.0f);
  p.structures.push_back(structure("BODY", [](const Vec3& q) { return std::hypot(q[0], q[1]) <= kBodyRadius; }));
  p.structures.push_back(structure("PTV", sphere({0, 0, 0}, kTargetRadius)));
  p.structures.push_back(structure("FemoralHead_L", sphere({70, 0, 0}, 15)));
  p.structures.push_back(structure("FemoralHead_R", sphere({-70, 0, 0}, 15)));
  p.structures.push_back(structure("Rectum", sphere({0, 45, 0}, 12)));
  for (size_t i = 0; i < p.ct_hu.voxels.size(); ++i)
    if (p.structures[0].mask.voxels[i]) p.ct_hu.voxels[i] = 0.0f;
  return p;
}

StructureRoles test_roles() {
  StructureRoles r;
  r.add("body", {"BODY"});
  r.add("ptv", {"PTV"});
  r.add("rectum", {"Rectum"});
  r.add("bladder", {"Bladder"});
  r.add("femoral_head_left", {"FemoralHead_L"});
  r.add("femoral_head_right", {"FemoralHead_R"});
  return r;
}

PlanGeometry gantry_steps(double step_deg) {
  PlanGeometry g;
  Beam b;
  b.name = "Arc 1";
  for (double a = 0; a < 360; a += step_deg) b.control_points.push_back({a, 0.0, 0.0});
  g.beams.push_back(b);
  return g;
}

FluenceGrid test_fluence_grid() {
  static const Machine machine = Machine::load_named("generic_6mv_mlc120");
  return FluenceGrid::covering(machine.mlc, -120, 120, -50, 50, 5.0);
}

// Body path from the source to the bixel's point (x, y) on the isocentre plane, for the
// cylinder of radius R whose axis is BLD y (gantry rotation axis; collimator 0, couch 0):
// in the (x, z) plane the ray runs from (0, SAD) to (x, 0) and enters the circle at the
// smaller root t of t^2 x^2 + SAD^2 (1 - t)^2 = R^2; the 3-D length is (1 - t) |P - S|.
double cylinder_depth_mm(double x, double y, double sad, double radius) {
  const double a = x * x + sad * sad, b = -2 * sad * sad, c = sad * sad - radius * radius;
  const double t = (-b - std::sqrt(b * b - 4 * a * c)) / (2 * a);
  return (1 - t) * std::sqrt(x * x + y * y + sad * sad);
}

}  // namespace

TEST_CASE("BEV conditioning of an analytic patient", "[geometry][bev][conditioning]") {
  const Patient patient = test_patient();
  const StructureRoles roles = test_roles();
  const PlanGeometry geometry = gantry_steps(30);
  const FluenceGrid grid = test_fluence_grid();
  const double sad = 1000;
  const BevConditioning c = compute_bev_conditioning({patient, roles, "ptv", geometry, grid, sad});

  REQUIRE(c.control_points == 12);
  REQUIRE(c.rows == grid.row_count());
  REQUIRE(c.bixels == grid.bixel_count);
  REQUIRE(c.values.size() == size_t(12) * kBevChannelCount * c.rows * c.bixels);
  CHECK(std::string(kBevChannelNames[kChannelTarget]) == "target");
  CHECK(std::string(kBevChannelNames[kChannelBodyDepth]) == "body_depth");
  CHECK(c.sources[kChannelTarget] == "PTV");
  CHECK(c.sources[kChannelBodyDepth] == "BODY");
  CHECK(c.sources[kChannelBladder].empty());
  CHECK(c.absent == std::vector<std::string>{"bladder"});

  auto bixel_x = [&](int b) { return grid.bixel_center_mm(b); };
  auto row_y = [&](int r) { return 0.5 * (grid.row_edges_mm[r] + grid.row_edges_mm[r + 1]); };
  for (int cp = 0; cp < c.control_points; ++cp) {
    const double gantry = geometry.beams[0].control_points[cp].gantry_deg;
    INFO("gantry " << gantry);
    // Target: covered area = pi r^2 (the divergent silhouette of a sphere at SAD 1000 is
    // larger by 1/sqrt(1 - r^2/SAD^2) - 1 < 0.1 %). Voxelisation moves the silhouette by at
    // most half a voxel diagonal (h sqrt(3)/2) and the 0.5 mm sub-cell sampling by half a
    // sub-cell diagonal, so |A - pi r^2| <= 2 pi r delta.
    double area = 0, left = 0, right = 0, misplaced_left = 0, misplaced_right = 0, bladder = 0;
    for (int r = 0; r < c.rows; ++r)
      for (int b = 0; b < c.bixels; ++b) {
        const double bixel_area = grid.bixel_width_mm * (grid.row_edges_mm[r + 1] - grid.row_edges_mm[r]);
        const float t = c.at(cp, kChannelTarget, r, b);
        CHECK(t >= 0.0f);
        CHECK(t <= 1.0f);
        area += t * bixel_area;
        // IEC 61217, HFS, couch 0, collimator 0: BLD x = patient left (LPS +x) at gantry
        // 0 and patient right at gantry 180.
        const double x = bixel_x(b);
        left += c.at(cp, kChannelFemoralHeadLeft, r, b);
        right += c.at(cp, kChannelFemoralHeadRight, r, b);
        if (gantry == 0) {
          misplaced_left += x < 0 ? c.at(cp, kChannelFemoralHeadLeft, r, b) : 0.0f;
          misplaced_right += x > 0 ? c.at(cp, kChannelFemoralHeadRight, r, b) : 0.0f;
        } else if (gantry == 180) {
          misplaced_left += x > 0 ? c.at(cp, kChannelFemoralHeadLeft, r, b) : 0.0f;
          misplaced_right += x < 0 ? c.at(cp, kChannelFemoralHeadRight, r, b) : 0.0f;
        }
        bladder += c.at(cp, kChannelBladder, r, b);
        // Body depth: the cylinder chord, for rays that do not graze its surface and stay
        // within the masks' 81 mm along the cylinder axis (|z| <= |y| along the ray).
        if (std::abs(x) < kBodyRadius / 2 && std::abs(row_y(r)) < 38) {
          const double expect = cylinder_depth_mm(x, row_y(r), sad, kBodyRadius);
          const double got = c.at(cp, kChannelBodyDepth, r, b) * kBodyDepthScaleMm;
          CHECK(got == Approx(expect).margin(1.5 * kSpacing));
        }
      }
    const double delta = kSpacing * std::sqrt(3.0) / 2 + 0.5 * std::sqrt(2.0) / 2;
    CHECK(std::abs(area - kPi * kTargetRadius * kTargetRadius) <= 2 * kPi * kTargetRadius * delta);
    CHECK(left > 0);
    CHECK(right > 0);
    CHECK(misplaced_left == 0);
    CHECK(misplaced_right == 0);
    CHECK(bladder == 0);
  }
}

TEST_CASE("BEV conditioning: same values on more threads, a missing target is an input error",
          "[geometry][bev][conditioning]") {
  const Patient patient = test_patient();
  const StructureRoles roles = test_roles();
  const PlanGeometry geometry = gantry_steps(90);
  const FluenceGrid grid = test_fluence_grid();
  const BevConditioning one = compute_bev_conditioning({patient, roles, "ptv", geometry, grid, 1000});
  set_thread_count(2);
  const BevConditioning two = compute_bev_conditioning({patient, roles, "ptv", geometry, grid, 1000});
  set_thread_count(1);
  CHECK(one.values == two.values);
  CHECK_THROWS_AS(compute_bev_conditioning({patient, roles, "ctv", geometry, grid, 1000}), InputError);
}

TEST_CASE("path length through a box mask is the analytic segment length", "[geometry][bev]") {
  Mask box(bev_test_grid(), 0);
  // Voxels with centres in [-20, 20] x [-10, 10] x [-5, 5]: the box [-20.5, 20.5] x ...
  const ImageGrid& g = box.grid;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
        box.at(i, j, k) = std::abs(p[0]) <= 20 && std::abs(p[1]) <= 10 && std::abs(p[2]) <= 5;
      }
  // Along x through the centre: 41 mm; from far outside the grid too.
  CHECK(path_length_in_mask_mm(box, {-500, 0, 0}, {500, 0, 0}) == Approx(41.0));
  // Ending inside: from -x outside to the centre.
  CHECK(path_length_in_mask_mm(box, {-500, 0.2, 0.3}, {0, 0.2, 0.3}) == Approx(20.5));
  // A diagonal in the x-y plane: enters at y = -10.5 and leaves at y = 10.5 (|x| < 20.5 there).
  const double s = std::sqrt(2.0);
  CHECK(path_length_in_mask_mm(box, {-60, -60, 0}, {60, 60, 0}) == Approx(21.0 * s));
  // Missing the box, and a segment outside the grid.
  CHECK(path_length_in_mask_mm(box, {-500, 30, 0}, {500, 30, 0}) == 0.0);
  CHECK(path_length_in_mask_mm(box, {-500, 0, 300}, {500, 0, 300}) == 0.0);
}
