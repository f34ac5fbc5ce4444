// DVH on analytic cases: a linear dose gradient through a cube has an exactly known DVH,
// and trilinear resampling of a linear field onto another grid is exact.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/dvh.h"

using namespace vmatplan;

namespace {

ImageGrid cube_grid(int64_t nx, int64_t ny, int64_t nz, double spacing_mm, Vec3 origin = {0, 0, 0}) {
  ImageGrid g;
  g.size = {nx, ny, nz};
  g.spacing_mm = {spacing_mm, spacing_mm, spacing_mm};
  g.origin_mm = origin;
  return g;
}

// dose(x) = slope * x_mm + offset at every voxel centre
DoseImage linear_dose(const ImageGrid& g, double slope, double offset) {
  DoseImage d(g);
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        d.at(i, j, k) = static_cast<float>(slope * g.index_to_physical({double(i), double(j), double(k)})[0] + offset);
  return d;
}

}  // namespace

TEST_CASE("DVH of a linear gradient through a cube is exact", "[evaluation][dvh]") {
  // 100 x 10 x 10 voxels of 1 mm: doses 0.0, 0.1, ..., 9.9 Gy, 100 voxels each.
  const ImageGrid g = cube_grid(100, 10, 10, 1.0);
  const DoseImage dose = linear_dose(g, 0.1, 0.0);
  Mask all(g, 1);
  const Dvh dvh = compute_dvh(dose, all);
  CHECK(dvh.voxel_count() == 10000);
  CHECK(dvh.volume_cc() == Approx(10.0));
  CHECK(dvh.mean_gy() == Approx(4.95).epsilon(1e-6));
  CHECK(dvh.min_gy() == Approx(0.0).margin(1e-6));
  CHECK(dvh.max_gy() == Approx(9.9).epsilon(1e-6));
  // V(d): fraction of voxels with dose >= d; the 0.1 Gy steps make it a staircase.
  CHECK(dvh.volume_at_dose_pct(0.0) == Approx(100.0));
  CHECK(dvh.volume_at_dose_pct(5.0) == Approx(50.0));
  CHECK(dvh.volume_at_dose_pct(4.95) == Approx(50.0));
  CHECK(dvh.volume_at_dose_pct(9.9) == Approx(1.0));
  CHECK(dvh.volume_at_dose_pct(10.0) == Approx(0.0));
  CHECK(dvh.volume_at_dose_cc(5.0) == Approx(5.0));
  // Dx: the minimum dose of the hottest x %: the hottest 50 % are voxels 50..99 -> 5.0 Gy.
  CHECK(dvh.dose_at_volume_pct(50.0) == Approx(5.0).epsilon(1e-6));
  CHECK(dvh.dose_at_volume_pct(95.0) == Approx(0.5).epsilon(1e-6));
  CHECK(dvh.dose_at_volume_pct(2.0) == Approx(9.8).epsilon(1e-6));
  CHECK(dvh.dose_at_volume_pct(100.0) == Approx(0.0).margin(1e-6));
  CHECK(dvh.dose_at_volume_cc(1.0) == Approx(9.0).epsilon(1e-6));  // hottest 10 %
  // Dx and Vx are inverse on the staircase: V(D(x)) >= x.
  for (double x : {2.0, 10.0, 33.0, 50.0, 77.0, 98.0})
    CHECK(dvh.volume_at_dose_pct(dvh.dose_at_volume_pct(x)) >= x - 1e-9);
}

TEST_CASE("DVH curve is monotone and spans 100 % to 0 %", "[evaluation][dvh]") {
  const ImageGrid g = cube_grid(40, 4, 4, 2.0);
  const Dvh dvh = compute_dvh(linear_dose(g, 0.5, 1.0), Mask(g, 1));
  const auto pts = dvh.curve(0.01);
  REQUIRE(pts.size() > 100);
  CHECK(pts.front().volume_pct == Approx(100.0));
  CHECK(pts.back().volume_pct == Approx(0.0));
  for (size_t i = 1; i < pts.size(); ++i) {
    CHECK(pts[i].dose_gy >= pts[i - 1].dose_gy);
    CHECK(pts[i].volume_pct <= pts[i - 1].volume_pct);
  }
}

TEST_CASE("Dose on another grid is resampled trilinearly onto the mask grid", "[evaluation][dvh]") {
  // Mask grid: 1 mm voxels. Dose grid: 2.5 mm voxels, shifted origin, covering the mask.
  // A linear field is reproduced exactly by trilinear interpolation, so the DVH equals the
  // one of the analytic field sampled on the mask grid.
  const ImageGrid mask_grid = cube_grid(30, 20, 10, 1.0, {5.0, 5.0, 5.0});
  const ImageGrid dose_grid = cube_grid(20, 14, 10, 2.5, {1.25, 1.0, 0.0});
  const DoseImage coarse = linear_dose(dose_grid, 0.3, 2.0);
  const DoseImage exact = linear_dose(mask_grid, 0.3, 2.0);
  Mask m(mask_grid, 0);
  for (int64_t k = 2; k < 8; ++k)
    for (int64_t j = 3; j < 15; ++j)
      for (int64_t i = 4; i < 26; ++i) m.at(i, j, k) = 1;
  const Dvh a = compute_dvh_any_grid(coarse, m);
  const Dvh b = compute_dvh(exact, m);
  CHECK(a.outside_dose_grid_voxels == 0);
  CHECK(a.mean_gy() == Approx(b.mean_gy()).epsilon(1e-5));
  CHECK(a.dose_at_volume_pct(95.0) == Approx(b.dose_at_volume_pct(95.0)).epsilon(1e-5));
  CHECK(a.dose_at_volume_pct(5.0) == Approx(b.dose_at_volume_pct(5.0)).epsilon(1e-5));
  const DoseImage resampled = resample_dose(coarse, mask_grid);
  const Dvh c = compute_dvh(resampled, m);
  CHECK(c.mean_gy() == Approx(b.mean_gy()).epsilon(1e-5));
  CHECK_THROWS_AS(compute_dvh(coarse, m), ProcessingError);
}

TEST_CASE("Mask voxels outside the dose grid get dose 0 and are counted", "[evaluation][dvh]") {
  const ImageGrid mask_grid = cube_grid(10, 10, 10, 1.0);
  const ImageGrid dose_grid = cube_grid(5, 10, 10, 1.0);  // covers x in [-0.5, 4.5] mm
  DoseImage dose(dose_grid, 2.0f);
  const Dvh dvh = compute_dvh_any_grid(dose, Mask(mask_grid, 1));
  CHECK(dvh.outside_dose_grid_voxels == 500);
  CHECK(dvh.mean_gy() == Approx(1.0));
  int64_t outside = 0;
  resample_dose(dose, mask_grid, &outside);
  CHECK(outside == 500);
}

TEST_CASE("DVH of many voxels (radix-sorted) matches a std::sort reference", "[evaluation][dvh]") {
  // Above a few thousand voxels the doses are radix-sorted on their bits: negative values,
  // zeros of both signs, ties and a wide range must come out in std::sort's order.
  std::vector<float> doses;
  uint32_t state = 12345;
  for (int i = 0; i < 50000; ++i) {
    state = state * 1664525u + 1013904223u;
    const float u = static_cast<float>(state >> 8) / 16777216.0f;  // [0, 1)
    doses.push_back(i % 7 == 0 ? std::round(u * 10.0f) : (i % 11 == 0 ? -u : 70.0f * u * u));
  }
  doses.push_back(-0.0f), doses.push_back(0.0f), doses.push_back(1e-30f), doses.push_back(3e5f);
  std::vector<float> ref = doses;
  std::sort(ref.begin(), ref.end());
  const Dvh dvh(doses, 0.001);
  const double n = static_cast<double>(ref.size());
  CHECK(dvh.min_gy() == ref.front());
  CHECK(dvh.max_gy() == ref.back());
  double sum = 0;
  for (float d : ref) sum += d;
  CHECK(dvh.mean_gy() == sum / n);
  for (size_t k = 1; k <= ref.size(); k += 997)  // the hottest k voxels' minimum: ref[n - k]
    CHECK(dvh.dose_at_volume_pct(100.0 * k / n) == Approx(ref[ref.size() - k]).margin(1e-6));
  for (float t : {-0.5f, 0.0f, 1.0f, 5.0f, 35.0f, 69.9f}) {
    const auto above = std::count_if(doses.begin(), doses.end(), [&](float d) { return d >= t; });
    CHECK(dvh.volume_at_dose_pct(t) == Approx(100.0 * above / n));
  }
}
