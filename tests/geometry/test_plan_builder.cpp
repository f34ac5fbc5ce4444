#include <catch2/catch.hpp>

#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/plan_builder.h"

using namespace vmatplan;
using Catch::Matchers::Contains;

namespace {

// A water-like patient with a spherical "PTV" of radius r_mm at `center` (2 mm grid).
Patient sphere_patient(const Vec3& center, double r_mm, const std::string& position = "HFS") {
  ImageGrid g;
  g.size = {121, 101, 81};
  g.spacing_mm = {2, 2, 2};
  g.origin_mm = {-120, -100, -80};
  Patient p;
  p.ct_hu = CtImage(g, 0.0f);
  p.identity.patient_position = position;
  Structure ptv;
  ptv.name = "PTV";
  ptv.type = "PTV";
  ptv.mask = Mask(g, 0);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        Vec3 q = g.index_to_physical({double(i), double(j), double(k)});
        if (std::hypot(q[0] - center[0], q[1] - center[1], q[2] - center[2]) <= r_mm)
          ptv.mask.at(i, j, k) = 1;
      }
  p.structures.push_back(std::move(ptv));
  Structure body;
  body.name = "BODY";
  body.mask = Mask(g, 1);
  p.structures.push_back(std::move(body));
  return p;
}

}  // namespace

TEST_CASE("plan geometry: isocentre at the target centroid, jaws fitted with margin",
          "[geometry][plan_builder]") {
  const Vec3 center{14, -10, 6};
  const double r_mm = 30, margin_mm = 5;
  Patient p = sphere_patient(center, r_mm, "FFS");
  Machine m = Machine::load_named("generic_6mv_mlc120");
  PlanGeometry g = build_plan_geometry(p, m, default_two_arcs(), "PTV", margin_mm, {});
  for (int a = 0; a < 3; ++a) CHECK(g.isocenter_mm[a] == Approx(center[a]).margin(1e-6));
  CHECK(g.patient_position == "FFS");
  REQUIRE(g.beams.size() == 2);
  CHECK(g.beams[0].name == "Arc 1");
  CHECK(g.control_point_count() == 182);
  for (const Beam& b : g.beams) {
    // 2 mm voxels: the projected extent is the radius within about one voxel.
    for (double v : {-b.x1_mm, b.x2_mm, -b.y1_mm, b.y2_mm})
      CHECK(v == Approx(r_mm + margin_mm).margin(2.0));
  }
  FluenceGrid grid = fluence_grid_for_plan(g, m, 5.0);
  CHECK(grid.row_edges_mm.front() <= g.beams[0].y1_mm);
  CHECK(grid.row_edges_mm.back() >= g.beams[0].y2_mm);
  CHECK(grid.x_min_mm <= g.beams[0].x1_mm);
  CHECK(grid.x_max_mm() >= g.beams[0].x2_mm);
}

TEST_CASE("a given isocentre is kept; jaws follow the off-centre target",
          "[geometry][plan_builder]") {
  Patient p = sphere_patient({40, 0, 0}, 20);
  Machine m = Machine::load_named("generic_6mv_mlc80_5mm_nojaw_x");
  ArcSpec beam;  // static beam from the patient's left (HFS gantry 90)
  beam.gantry_start_deg = beam.gantry_stop_deg = 90;
  beam.direction = RotationDirection::kNone;
  beam.collimator_deg = 0;
  PlanGeometry g = build_plan_geometry(p, m, {beam}, "PTV", 0, Vec3{0, 0, 0});
  CHECK(g.isocenter_mm == Vec3{0, 0, 0});
  REQUIRE(g.beams.size() == 1);
  CHECK(g.beams[0].name == "Beam 1");
  // Seen from the left, the target (its centre 40 mm nearer the source) is centred on the
  // axis along BLD x (patient A-P), magnified by 1000 / 960.
  CHECK(g.beams[0].x2_mm == Approx(20 * 1000.0 / 960).margin(2.0));
  // Gantry 0: the target lies 40 mm to the patient's left = BLD +x for HFS; X1 sits past
  // the axis, which an MLC-only X side allows up to the leaf travel.
  beam.gantry_start_deg = beam.gantry_stop_deg = 0;
  PlanGeometry g0 = build_plan_geometry(p, m, {beam}, "PTV", 0, Vec3{0, 0, 0});
  CHECK(g0.beams[0].x1_mm == Approx(20).margin(2.0));
  CHECK(g0.beams[0].x2_mm == Approx(60).margin(2.0));
  // With X jaws that may cross the axis by at most 10 mm, X1 opens to +10 mm.
  Machine jawed = Machine::load_named("generic_6mv_mlc120");
  jawed.x_jaws.max_overtravel_mm = 10;
  PlanGeometry gj = build_plan_geometry(p, jawed, {beam}, "PTV", 0, Vec3{0, 0, 0});
  CHECK(gj.beams[0].x1_mm == 10);
}

TEST_CASE("plan geometry refuses what the machine or patient cannot give",
          "[geometry][plan_builder]") {
  Patient p = sphere_patient({0, 0, 0}, 30);
  Machine hd = Machine::load_named("generic_6mv_hd120");
  SECTION("missing target lists the structures") {
    CHECK_THROWS_WITH(build_plan_geometry(p, hd, default_two_arcs(), "PTV_60", 5, {}),
                      Contains("PTV_60") && Contains("BODY") && Contains("PTV"));
  }
  SECTION("target wider than the MLC") {
    // The HD120 covers only +-110 mm along Y; a 30 mm sphere with a 90 mm margin does not fit.
    CHECK_THROWS_WITH(build_plan_geometry(p, hd, default_two_arcs(), "PTV", 90, {}),
                      Contains("Arc 1") && Contains("Y"));
  }
  SECTION("control points further apart than the machine allows") {
    CHECK_THROWS_AS(build_plan_geometry(p, hd, default_two_arcs(10.0), "PTV", 5, {}), UsageError);
  }
  SECTION("unsupported patient position") {
    p.identity.patient_position = "HFDL";
    CHECK_THROWS_AS(build_plan_geometry(p, hd, default_two_arcs(), "PTV", 5, {}), UsageError);
  }
}
