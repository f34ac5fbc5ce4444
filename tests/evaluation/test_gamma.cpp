// Gamma index (Low et al. 1998) on analytic cases. For a linear dose gradient g (Gy/mm)
// shifted by s mm, gamma has the closed form g s / sqrt(dD^2 + g^2 DTA^2) (the distance
// from the point to the shifted line in the normalised dose-distance space).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/gamma.h"

using namespace vmatplan;

namespace {

ImageGrid grid(int64_t nx, int64_t ny, int64_t nz, double spacing_mm) {
  ImageGrid g;
  g.size = {nx, ny, nz};
  g.spacing_mm = {spacing_mm, spacing_mm, spacing_mm};
  return g;
}

DoseImage sample(const ImageGrid& g, const std::function<double(const Vec3&)>& f) {
  DoseImage d(g);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        d.at(i, j, k) = static_cast<float>(f(g.index_to_physical({double(i), double(j), double(k)})));
  return d;
}

// The lattice search (step = DTA / 10) finds gamma exactly up to the lattice: the true
// gamma <= found <= sqrt(gamma^2 + (step/2)^2 (1/DTA^2 + g^2/dD^2)) for a linear gradient g.
void check_lattice_gamma(double found, double exact, double dta, double g, double dd) {
  const double h = dta / 10.0 / 2.0;
  CHECK(found >= exact - 1e-6);
  CHECK(found <= std::sqrt(exact * exact + h * h * (1.0 / (dta * dta) + g * g / (dd * dd))) + 1e-6);
}

// Plateau 10 Gy for x < 10 mm, ramp of 2 Gy/mm up to 50 Gy at x = 30 mm, plateau after.
double profile(double x) { return 10.0 + 2.0 * std::clamp(x - 10.0, 0.0, 20.0); }

}  // namespace

TEST_CASE("Gamma of a 1 mm shift: 100 % at 3 %/2 mm, closed form at 1 %/0.5 mm",
          "[evaluation][gamma]") {
  const ImageGrid g = grid(40, 6, 6, 1.0);
  const DoseImage ref = sample(g, [](const Vec3& p) { return profile(p[0]); });
  const DoseImage eval = sample(g, [](const Vec3& p) { return profile(p[0] - 1.0); });

  GammaOptions o;  // 3 % / 2 mm global, 10 % threshold
  const GammaResult a = compute_gamma(ref, eval, o);
  CHECK(a.normalisation_dose_gy == Approx(50.0));
  CHECK(a.evaluated_voxels == 40 * 36);  // every voxel >= 5 Gy
  CHECK(a.pass_rate_pct == Approx(100.0));
  // In the ramp: g = 2 Gy/mm, s = 1 mm, dD = 1.5 Gy, DTA = 2 mm -> gamma = 2 / 4.27.
  const double expected_3_2 = 2.0 / std::sqrt(1.5 * 1.5 + 4.0 * 4.0);
  check_lattice_gamma(a.gamma_map.at(20, 3, 3), expected_3_2, 2.0, 2.0, 1.5);

  o.dose_criterion_pct = 1.0;
  o.distance_mm = 0.5;
  const GammaResult b = compute_gamma(ref, eval, o);
  // Ramp interior (x = 13..29 mm, away from the kinks): gamma = 2 / sqrt(0.25 + 1) = 1.79.
  const double expected_1_05 = 2.0 / std::sqrt(0.5 * 0.5 + 1.0 * 1.0);
  for (int i = 13; i <= 29; ++i) {
    INFO("x = " << i << " mm");
    check_lattice_gamma(b.gamma_map.at(i, 3, 3), expected_1_05, 0.5, 2.0, 0.5);
  }
  // Plateaus far from the ramp agree exactly: gamma 0.
  for (int i : {0, 5, 8, 33, 36, 39}) CHECK(b.gamma_map.at(i, 3, 3) == Approx(0.0).margin(1e-6));
  // Fails exactly in the ramp plus the kink voxels: x = 11..30 fail (20 columns of 36 voxels).
  int64_t failing = 0;
  for (int i = 0; i < 40; ++i) failing += b.gamma_map.at(i, 3, 3) > 1.0f;
  CHECK(failing == 20);
  CHECK(b.pass_rate_pct == Approx(100.0 * 20 / 40));
}

TEST_CASE("Gamma of a uniform 2 % scaling: passes 3 %, fails 1 %", "[evaluation][gamma]") {
  const ImageGrid g = grid(6, 6, 6, 2.0);
  const DoseImage ref(g, 40.0f);
  const DoseImage eval(g, 40.8f);
  GammaOptions o;
  o.distance_mm = 3.0;
  const GammaResult a = compute_gamma(ref, eval, o);
  CHECK(a.pass_rate_pct == Approx(100.0));
  CHECK(a.mean_gamma == Approx(2.0 / 3.0).epsilon(1e-4));
  o.dose_criterion_pct = 1.0;
  const GammaResult b = compute_gamma(ref, eval, o);
  CHECK(b.pass_rate_pct == Approx(0.0));
  CHECK(b.mean_gamma == Approx(2.0).epsilon(1e-4));  // = the cap: no point within reach agrees
  o.local = true;
  CHECK(compute_gamma(ref, eval, o).pass_rate_pct == Approx(0.0));
}

TEST_CASE("Local gamma uses the local dose; the low-dose threshold excludes voxels",
          "[evaluation][gamma]") {
  const ImageGrid g = grid(40, 4, 4, 1.0);
  const DoseImage ref = sample(g, [](const Vec3& p) { return profile(p[0]); });
  const DoseImage eval = sample(g, [](const Vec3& p) { return profile(p[0] - 1.0); });
  GammaOptions o;
  o.local = true;
  const GammaResult r = compute_gamma(ref, eval, o);
  // At x = 20 mm the reference is 30 Gy: dD = 0.9 Gy.
  check_lattice_gamma(r.gamma_map.at(20, 2, 2), 2.0 / std::sqrt(0.81 + 16.0), 2.0, 2.0, 0.9);
  o.local = false;
  o.low_dose_threshold_pct = 50.0;  // >= 25 Gy: x >= 17.5 mm -> 22 of 40 columns
  const GammaResult t = compute_gamma(ref, eval, o);
  CHECK(t.threshold_dose_gy == Approx(25.0));
  CHECK(t.evaluated_voxels == 22 * 16);
  CHECK(t.gamma_map.at(0, 1, 1) == -1.0f);
}

TEST_CASE("Gamma with reference and evaluated on different grids", "[evaluation][gamma]") {
  // Evaluated: the same analytic field on a 2.5 mm grid with another origin. The ramp is
  // linear, so interpolation reproduces it and a zero shift gives gamma ~ 0 in the ramp.
  const ImageGrid rg = grid(40, 6, 6, 1.0);
  ImageGrid eg = grid(20, 6, 6, 2.5);
  eg.origin_mm = {-3.0, -2.0, -2.0};
  const auto f = [](const Vec3& p) { return profile(p[0]); };
  const GammaResult r = compute_gamma(sample(rg, f), sample(eg, f), {});
  CHECK(r.pass_rate_pct == Approx(100.0));
  CHECK(r.gamma_map.at(20, 3, 3) == Approx(0.0).margin(1e-3));
  CHECK(r.mean_gamma < 0.2);
}

TEST_CASE("Gamma rejects bad criteria", "[evaluation][gamma]") {
  const DoseImage d(grid(4, 4, 4, 1.0), 1.0f);
  GammaOptions o;
  o.distance_mm = 0.0;
  CHECK_THROWS_AS(compute_gamma(d, d, o), UsageError);
  CHECK_THROWS_AS(compute_gamma(DoseImage(), d, {}), ProcessingError);
}
