// subdivide_arcs: sub-arcs of at most the requested gantry step, positions and meterset
// interpolated linearly, delivered MU unchanged.
#include <catch2/catch.hpp>

#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/delivery_plan.h"

using namespace vmatplan;

namespace {

DeliveryControlPoint cp(double gantry, double leaf, double weight, RotationDirection dir) {
  DeliveryControlPoint c;
  c.gantry_deg = gantry;
  c.gantry_direction = dir;
  c.x1_mm = -leaf, c.x2_mm = leaf, c.y1_mm = -50, c.y2_mm = 50;
  c.leaf_x1_mm = {-leaf, -leaf - 2};
  c.leaf_x2_mm = {leaf, leaf + 2};
  c.cumulative_meterset_weight = weight;
  return c;
}

}  // namespace

TEST_CASE("subdivide_arcs splits coarse arcs into sub-arcs", "[geometry][delivery]") {
  DeliveryPlan p;
  DeliveryBeam b;
  b.leaf_boundaries_mm = {-5, 0, 5};
  b.meterset_mu = 200;
  // A counter-clockwise arc across 0: 10 -> 355.6 (14.4 deg) -> 341.2 (14.4 deg).
  const auto cc = RotationDirection::kCounterClockwise;
  b.control_points = {cp(10.0, 10, 0.0, cc), cp(355.6, 20, 0.25, cc), cp(341.2, 20, 1.0, cc)};
  p.beams.push_back(b);
  const DeliveryPlan s = subdivide_arcs(p, 2.0);
  const auto& cps = s.beams[0].control_points;
  REQUIRE(cps.size() == 1 + 8 + 8);  // ceil(14.4 / 2) = 8 sub-arcs per interval
  double total_step = 0;
  for (size_t i = 0; i + 1 < cps.size(); ++i) {
    const double step = gantry_step_deg(cps[i], cps[i + 1]);
    CHECK(step <= 2.0 + 1e-9);
    CHECK(step == Approx(1.8));
    total_step += step;
    CHECK(cps[i + 1].cumulative_meterset_weight >= cps[i].cumulative_meterset_weight);
  }
  CHECK(total_step == Approx(28.8));
  CHECK(cps[8].gantry_deg == Approx(355.6));  // the original control points stay
  CHECK(cps[4].gantry_deg == Approx(2.8));    // half way: 10 - 7.2
  CHECK(cps[4].leaf_x2_mm[0] == Approx(15.0));
  CHECK(cps[4].leaf_x1_mm[1] == Approx(-17.0));
  CHECK(cps[4].x1_mm == Approx(-15.0));
  CHECK(cps[4].cumulative_meterset_weight == Approx(0.125));
  CHECK(cps[12].cumulative_meterset_weight == Approx(0.625));
  CHECK(s.beams[0].meterset_mu == 200);
  double mu = 0;
  for (size_t i = 0; i + 1 < cps.size(); ++i) mu += s.beams[0].interval_mu(i);
  CHECK(mu == Approx(200));
  // Fine enough already, or a static beam: unchanged.
  CHECK(subdivide_arcs(p, 15.0).beams[0].control_points.size() == 3);
  DeliveryPlan fixed = p;
  for (auto& c : fixed.beams[0].control_points) c.gantry_direction = RotationDirection::kNone, c.gantry_deg = 0;
  CHECK(subdivide_arcs(fixed, 2.0).beams[0].control_points.size() == 3);
  CHECK_THROWS_AS(subdivide_arcs(p, 0.0), UsageError);
}
