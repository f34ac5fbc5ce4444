#include <catch2/catch.hpp>

#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/arc.h"

using namespace vmatplan;

namespace {
// Signed gantry step from a to b in the arc direction, in (-180, 180].
double step_deg(double a, double b) {
  double d = std::fmod(b - a + 540.0, 360.0) - 180.0;
  return d == -180.0 ? 180.0 : d;
}
}  // namespace

TEST_CASE("clockwise arc: increasing gantry angle with wrap at 360", "[geometry][arc]") {
  ArcSpec a;
  a.gantry_start_deg = 350;
  a.gantry_stop_deg = 10;
  a.direction = RotationDirection::kClockwise;
  a.cp_spacing_deg = 4;
  a.collimator_deg = 30;
  auto cps = arc_control_points(a);
  REQUIRE(cps.size() == 6);  // 20 deg in 5 steps of 4 deg
  CHECK(cps.front().gantry_deg == Approx(350));
  CHECK(cps[2].gantry_deg == Approx(358));
  CHECK(cps[3].gantry_deg == Approx(2));
  CHECK(cps.back().gantry_deg == Approx(10));
  for (const auto& cp : cps) {
    CHECK(cp.collimator_deg == 30);
    CHECK(cp.gantry_deg >= 0);
    CHECK(cp.gantry_deg < 360);
  }
}

TEST_CASE("counter-clockwise arc: decreasing gantry angle", "[geometry][arc]") {
  ArcSpec a;
  a.gantry_start_deg = 10;
  a.gantry_stop_deg = 350;
  a.direction = RotationDirection::kCounterClockwise;
  a.cp_spacing_deg = 3;
  auto cps = arc_control_points(a);
  REQUIRE(cps.size() == 8);  // 20 deg needs 7 steps of <= 3 deg
  for (size_t i = 1; i < cps.size(); ++i)
    CHECK(step_deg(cps[i - 1].gantry_deg, cps[i].gantry_deg) == Approx(-20.0 / 7));
  CHECK(cps.back().gantry_deg == Approx(350));
}

TEST_CASE("equal start and stop with a direction is a full rotation", "[geometry][arc]") {
  ArcSpec a;
  a.gantry_start_deg = 180;
  a.gantry_stop_deg = 180;
  a.direction = RotationDirection::kClockwise;
  a.cp_spacing_deg = 2;
  auto cps = arc_control_points(a);
  REQUIRE(cps.size() == 181);
  CHECK(cps.front().gantry_deg == Approx(180));
  CHECK(cps.back().gantry_deg == Approx(180));
  CHECK(cps[45].gantry_deg == Approx(270));
  CHECK(cps[90].gantry_deg == Approx(0).margin(1e-9));
}

TEST_CASE("spacing is an upper bound on the gantry step", "[geometry][arc]") {
  for (double spacing : {1.0, 2.5, 4.0, 7.0}) {
    ArcSpec a;  // 181 -> 179 CW: 358 degrees
    a.cp_spacing_deg = spacing;
    auto cps = arc_control_points(a);
    int steps = static_cast<int>(cps.size()) - 1;
    CHECK(steps == static_cast<int>(std::ceil(358.0 / spacing)));
    for (size_t i = 1; i < cps.size(); ++i) {
      double s = step_deg(cps[i - 1].gantry_deg, cps[i].gantry_deg);
      CHECK(s > 0);
      CHECK(s <= spacing + 1e-9);
      CHECK(s == Approx(358.0 / steps));
    }
  }
}

TEST_CASE("a static beam has one control point", "[geometry][arc]") {
  ArcSpec a;
  a.gantry_start_deg = a.gantry_stop_deg = 90;
  a.direction = RotationDirection::kNone;
  a.couch_deg = -10;
  auto cps = arc_control_points(a);
  REQUIRE(cps.size() == 1);
  CHECK(cps[0].gantry_deg == 90);
  CHECK(cps[0].couch_deg == Approx(350));  // normalised to [0, 360)
  a.gantry_stop_deg = 100;
  CHECK_THROWS_AS(arc_control_points(a), UsageError);
}

TEST_CASE("default two arcs: CW and CCW full arcs with 30/330 collimator", "[geometry][arc]") {
  auto arcs = default_two_arcs();
  REQUIRE(arcs.size() == 2);
  CHECK(arcs[0].direction == RotationDirection::kClockwise);
  CHECK(arcs[1].direction == RotationDirection::kCounterClockwise);
  CHECK(arcs[0].collimator_deg == 30);
  CHECK(arcs[1].collimator_deg == 330);
  PlanGeometry g;
  for (const auto& a : arcs) g.beams.push_back({"arc", a.direction, arc_control_points(a)});
  CHECK(g.control_point_count() == 182);  // 2 x (90 steps + 1) at <= 4 deg
  CHECK(g.beams[1].control_points.back().gantry_deg == Approx(181));
}

TEST_CASE("arc specs parse from text", "[geometry][arc]") {
  ArcSpec a = parse_arc_spec("181:179:cw:2:45:10");
  CHECK(a.gantry_start_deg == 181);
  CHECK(a.gantry_stop_deg == 179);
  CHECK(a.direction == RotationDirection::kClockwise);
  CHECK(a.cp_spacing_deg == 2);
  CHECK(a.collimator_deg == 45);
  CHECK(a.couch_deg == 10);
  ArcSpec b = parse_arc_spec("179:181:CCW");
  CHECK(b.direction == RotationDirection::kCounterClockwise);
  CHECK(b.cp_spacing_deg == ArcSpec{}.cp_spacing_deg);
  CHECK(parse_arc_spec("90:90:none").direction == RotationDirection::kNone);
  CHECK_THROWS_AS(parse_arc_spec("181:179"), UsageError);
  CHECK_THROWS_AS(parse_arc_spec("181:179:up"), UsageError);
  CHECK_THROWS_AS(parse_arc_spec("181:x:cw"), UsageError);
  CHECK_THROWS_AS(parse_arc_spec("181:179:cw:0"), UsageError);
  CHECK_THROWS_AS(parse_arc_spec("10:20:none"), UsageError);
}
