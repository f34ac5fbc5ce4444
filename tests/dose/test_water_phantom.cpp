// Water-phantom figures of the pencil-beam model against published generic 6 MV data
// (BJR Supplement 25, 1996; issue 3 acceptance ranges) and the inverse-square law.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "vmatplan/dose/water_phantom.h"
#include "vmatplan/machine/machine.h"

using namespace vmatplan;

namespace {

const WaterFigures& figures_10x10() {
  static const WaterFigures w = [] {
    WaterSetup s;  // 10x10 at SSD 100, 1 mm grid
    return measure_water(Machine::load_named("generic_6mv_mlc120"), s);
  }();
  return w;
}

double dose_at(const std::vector<std::pair<double, double>>& dd, double depth) {
  for (size_t i = 1; i < dd.size(); ++i)
    if (dd[i].first >= depth) {
      double t = (depth - dd[i - 1].first) / (dd[i].first - dd[i - 1].first);
      return dd[i - 1].second + t * (dd[i].second - dd[i - 1].second);
    }
  return dd.back().second;
}

}  // namespace

CATCH_TEST_CASE("water: depth dose of 10x10 at SSD 100 matches generic 6 MV data", "[dose][water]") {
  const WaterFigures& w = figures_10x10();
  CATCH_CHECK(w.dmax_mm >= 13.0);
  CATCH_CHECK(w.dmax_mm <= 17.0);
  CATCH_CHECK(w.pdd10_percent >= 65.0);
  CATCH_CHECK(w.pdd10_percent <= 68.0);
  CATCH_CHECK(w.pdd20_percent >= 36.0);
  CATCH_CHECK(w.pdd20_percent <= 40.0);
  CATCH_CHECK(w.pdd5_percent > w.pdd10_percent);
  // Surface dose below the maximum: the build-up region exists.
  CATCH_CHECK(w.pdd_percent.front().second < 60.0);
}

CATCH_TEST_CASE("water: absolute calibration is 1 cGy per MU at d_max (10x10, SSD 100)", "[dose][water]") {
  CATCH_CHECK(figures_10x10().dose_per_mu_at_dmax_gy == Approx(0.01).epsilon(0.01));
}

CATCH_TEST_CASE("water: profile at 10 cm depth", "[dose][water]") {
  const WaterFigures& w = figures_10x10();
  CATCH_CHECK(w.penumbra_20_80_mm >= 4.0);
  CATCH_CHECK(w.penumbra_20_80_mm <= 8.0);
  // The 50 % width is the field projected to 10 cm depth: 100 mm * 1100 / 1000.
  CATCH_CHECK(w.profile_width_50_mm == Approx(110.0).margin(2.0));
  CATCH_CHECK(w.profile_width_80_mm < w.profile_width_50_mm);
}

CATCH_TEST_CASE("water: output factors rise monotonically with field size", "[dose][water]") {
  const WaterFigures& w = figures_10x10();
  CATCH_REQUIRE(w.output_factors.size() >= 8);
  CATCH_CHECK(w.output_factors.at(100.0) == Approx(1.0));
  double prev = 0;
  for (const auto& [field, factor] : w.output_factors) {
    CATCH_CHECK(factor > prev);
    prev = factor;
  }
  // Typical 6 MV total scatter factors: about 0.8-0.9 at 3x3, 1.05-1.15 at 30x30.
  CATCH_CHECK(w.output_factors.at(30.0) > 0.78);
  CATCH_CHECK(w.output_factors.at(30.0) < 0.92);
  CATCH_CHECK(w.output_factors.at(300.0) > 1.04);
  CATCH_CHECK(w.output_factors.at(300.0) < 1.16);
}

CATCH_TEST_CASE("water: inverse square across SSD 90/100/110 beyond d_max", "[dose][water]") {
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  WaterSetup s;
  s.spacing_mm = 2.0;
  s.width_mm = 100;
  s.depth_mm = 300;
  s.ssd_mm = 1000;
  auto ref = water_depth_dose(machine, s, 100, 100);
  for (double ssd : {900.0, 1100.0}) {
    s.ssd_mm = ssd;
    auto dd = water_depth_dose(machine, s, 100, 100);
    for (double depth : {30.0, 50.0, 100.0, 150.0, 250.0}) {
      // Same collimator setting (field at the isocentre plane): on the axis the dose
      // differs only by the inverse square of the distance from the source.
      double expected = dose_at(ref, depth) * std::pow((1000.0 + depth) / (ssd + depth), 2);
      CATCH_CHECK(dose_at(dd, depth) == Approx(expected).epsilon(0.01));
    }
  }
}
