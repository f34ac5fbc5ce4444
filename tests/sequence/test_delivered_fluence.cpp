#include <catch2/catch.hpp>

#include "vmatplan/sequence/delivered_fluence.h"

using namespace vmatplan;

namespace {

struct Setup {
  Machine m = Machine::load_named("generic_6mv_mlc120");
  FluenceGrid grid = FluenceGrid::covering(m.mlc, -20, 20, -10, 10, 5.0);
  DeliveryBeam beam;
  Setup() {
    beam.leaf_boundaries_mm = m.mlc.leaf_boundaries_mm;
    beam.meterset_mu = 10;
    DeliveryControlPoint cp;
    cp.x1_mm = cp.y1_mm = -100, cp.x2_mm = cp.y2_mm = 100;
    cp.leaf_x1_mm.assign(m.mlc.pair_count(), -10);
    cp.leaf_x2_mm.assign(m.mlc.pair_count(), 10);
    beam.control_points = {cp, cp};
    beam.control_points[1].cumulative_meterset_weight = 1;
  }
  float at(const std::vector<float>& f, int row, int bixel) const {
    return f[static_cast<size_t>(row) * grid.bixel_count + bixel];
  }
};

}  // namespace

TEST_CASE("a static aperture delivers its MU through open bixels only", "[sequence][fluence]") {
  Setup s;
  REQUIRE(s.grid.bixel_count == 8);  // -20..20 mm, bixel 2..5 open (-10..10)
  std::vector<float> f(s.grid.size_per_control_point(), 0.f);
  add_interval_fluence(s.beam, 0, s.grid, s.m, 1.0, false, f);
  CHECK(s.at(f, 0, 1) == Approx(0.0));
  CHECK(s.at(f, 0, 2) == Approx(10.0));
  CHECK(s.at(f, 0, 5) == Approx(10.0));
  CHECK(s.at(f, 0, 6) == Approx(0.0));
  std::fill(f.begin(), f.end(), 0.f);
  add_interval_fluence(s.beam, 0, s.grid, s.m, 1.0, true, f);  // leaf transmission
  CHECK(s.at(f, 0, 1) == Approx(10.0 * s.m.mlc.transmission));
}

TEST_CASE("a leaf moving across a bixel opens it half of the time on average", "[sequence][fluence]") {
  Setup s;
  for (auto& x : s.beam.control_points[0].leaf_x2_mm) x = 0.0;   // bixel 4 covers 0..5 mm
  for (auto& x : s.beam.control_points[1].leaf_x2_mm) x = 5.0;
  for (auto& x : s.beam.control_points[0].leaf_x1_mm) x = -10.0;
  for (auto& x : s.beam.control_points[1].leaf_x1_mm) x = -7.5;  // bixel 2: -10..-5
  std::vector<float> f(s.grid.size_per_control_point(), 0.f);
  add_interval_fluence(s.beam, 0, s.grid, s.m, 2.0, false, f);  // x2: all fractions
  CHECK(s.at(f, 1, 4) == Approx(0.5 * 20.0));
  CHECK(s.at(f, 1, 2) == Approx(20.0 * (1.0 - 0.25)));  // closing linearly to half
  CHECK(s.at(f, 1, 3) == Approx(20.0));
}
