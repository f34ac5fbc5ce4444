// Objective terms on analytic dose vectors, their gradients against central finite
// differences (double), and the structure and distance maps on the dose grid.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "vmatplan/optimize/objectives.h"

using namespace vmatplan;

namespace {

VoxelWeights all_voxels(int64_t n) {
  VoxelWeights w;
  for (int64_t i = 0; i < n; ++i) {
    w.index.push_back(i);
    w.fraction.push_back(1.0);
  }
  return w;
}

ObjectiveSpec spec(ObjectiveKind kind, double dose_gy, double volume_pct = 0.0, double a = 1.0) {
  ObjectiveSpec s;
  s.role = "test";
  s.kind = kind;
  s.dose_gy = dose_gy;
  s.volume_pct = volume_pct;
  s.geud_a = a;
  s.weight = 1.0;
  return s;
}

double value(const ObjectiveTerm& t, const torch::Tensor& d) { return t.value(d).item<double>(); }

torch::Tensor doses(std::vector<double> v) { return torch::tensor(v, torch::kDouble); }

// Central differences of the term against autograd, at every voxel.
void check_gradient(const ObjectiveTerm& t, torch::Tensor d) {
  torch::Tensor x = d.clone().requires_grad_(true);
  t.value(x).backward();
  torch::Tensor g = x.grad();
  const double h = 1e-5;
  for (int64_t i = 0; i < d.size(0); ++i) {
    torch::Tensor up = d.clone(), down = d.clone();
    up[i] += h;
    down[i] -= h;
    const double fd = (value(t, up) - value(t, down)) / (2 * h);
    CATCH_CHECK(g[i].item<double>() == Approx(fd).margin(1e-6).epsilon(1e-5));
  }
}

}  // namespace

CATCH_TEST_CASE("objectives: min, max, mean and uniform dose on analytic doses", "[optimize][objectives]") {
  const auto w = all_voxels(4);
  torch::Tensor uniform = torch::full({4}, 60.0, torch::kDouble);
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kUniformDose, 60), w, "ptv"), uniform) == Approx(0).margin(1e-12));
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kMinDose, 58), w, "ptv"), uniform) == Approx(0).margin(1e-12));
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kMaxDose, 62), w, "ptv"), uniform) == Approx(0).margin(1e-12));
  // Two voxels 2 Gy over, two at the limit: mean squared overdose (4 + 4) / 4 = 2.
  torch::Tensor d = doses({64, 64, 62, 61});
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kMaxDose, 62), w, "ptv"), d) == Approx(2.0));
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kMinDose, 63), w, "ptv"), d) == Approx((1 + 4.0) / 4));
  // Mean 62.75 Gy against 60 Gy: (2.75)^2.
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kMaxMeanDose, 60), w, "x"), d) == Approx(2.75 * 2.75));
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kUniformDose, 62), w, "x"), d) == Approx((4 + 4 + 0 + 1.0) / 4));
  // Weight scales the value.
  ObjectiveSpec heavy = spec(ObjectiveKind::kMaxDose, 62);
  heavy.weight = 10;
  CATCH_CHECK(value(ObjectiveTerm(heavy, w, "ptv"), d) == Approx(20.0));
}

CATCH_TEST_CASE("objectives: fractions weight voxels and normalise the sum", "[optimize][objectives]") {
  VoxelWeights w;
  w.index = {0, 1};
  w.fraction = {1.0, 0.5};
  // Overdose 3 Gy in the full voxel, 0 in the half voxel: 9 * 1 / 1.5.
  torch::Tensor d = doses({63, 50, 99});
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kMaxDose, 60), w, "x"), d) == Approx(6.0));
}

CATCH_TEST_CASE("objectives: DVH terms follow Wu and Mohan", "[optimize][objectives]") {
  const auto w = all_voxels(10);
  torch::Tensor d = doses({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  // V(5 Gy) <= 30 %: the hottest 30 % start at 8 Gy, so voxels in (5, 8] are penalised.
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kDvhMax, 5, 30), w, "oar"), d) == Approx((1 + 4 + 9) / 10.0));
  // Met constraint: V(9.5 Gy) = 10 % <= 30 %.
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kDvhMax, 9.5, 30), w, "oar"), d) == Approx(0).margin(1e-12));
  // D80% >= 5 Gy: D80 is 3 Gy, voxels in [3, 5) are pushed up.
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kDvhMin, 5, 80), w, "ptv"), d) == Approx((4 + 1) / 10.0));
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kDvhMin, 2, 80), w, "ptv"), d) == Approx(0).margin(1e-12));
}

CATCH_TEST_CASE("objectives: gEUD equals the dose of a uniform distribution and the mean for a = 1", "[optimize][objectives]") {
  const auto w = all_voxels(5);
  torch::Tensor uniform = torch::full({5}, 40.0, torch::kDouble);
  for (double a : {1.0, 8.0, -10.0}) {
    CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kGeudMax, 39, 0, a), w, "oar"), uniform) == Approx(1.0));
    CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kGeudMin, 41, 0, a), w, "ptv"), uniform) == Approx(1.0));
  }
  torch::Tensor d = doses({10, 20, 30, 40, 50});
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kGeudMax, 28, 0, 1.0), w, "oar"), d) == Approx(4.0));
  // Large a approaches the maximum; gEUD(a = 8) of these doses, computed by hand.
  double s = 0;
  for (double x : {10.0, 20.0, 30.0, 40.0, 50.0}) s += std::pow(x, 8.0);
  const double geud = std::pow(s / 5, 1.0 / 8);
  CATCH_CHECK(value(ObjectiveTerm(spec(ObjectiveKind::kGeudMax, 0, 0, 8.0), w, "oar"), d) == Approx(geud * geud));
}

CATCH_TEST_CASE("objectives: gradients match central finite differences", "[optimize][objectives]") {
  torch::manual_seed(3);
  const int64_t n = 12;
  torch::Tensor d = 40.0 + 30.0 * torch::rand({n}, torch::kDouble);
  VoxelWeights w = all_voxels(n);
  for (size_t i = 0; i < w.fraction.size(); i += 3) w.fraction[i] = 0.4;
  std::vector<double> dist(n);
  for (int64_t i = 0; i < n; ++i) dist[static_cast<size_t>(i)] = i < 3 ? 0.0 : 2.0 * i;
  ObjectiveSpec ring = spec(ObjectiveKind::kFallOff, 0);
  ring.ring.start_mm = 3;
  ring.ring.end_dose_pct = 40;
  ring.ring.per_mm = 0.08;
  const std::vector<ObjectiveSpec> specs = {
      spec(ObjectiveKind::kMinDose, 55),       spec(ObjectiveKind::kMaxDose, 55),
      spec(ObjectiveKind::kMaxMeanDose, 45),   spec(ObjectiveKind::kUniformDose, 55),
      spec(ObjectiveKind::kDvhMax, 50, 30),    spec(ObjectiveKind::kDvhMin, 60, 90),
      spec(ObjectiveKind::kGeudMax, 40, 0, 8), spec(ObjectiveKind::kGeudMin, 65, 0, -10)};
  for (const ObjectiveSpec& s : specs) {
    CATCH_INFO(to_string(s.kind));
    ObjectiveTerm t(s, w, "x");
    CATCH_CHECK(value(t, d) > 0);  // each case is active, so the gradient is not trivially 0
    check_gradient(t, d);
  }
  ObjectiveTerm fall(ring, w, "body", dist, 60.0);
  CATCH_CHECK(value(fall, d) > 0);
  check_gradient(fall, d);
}

CATCH_TEST_CASE("objectives: fall-off limit is the ring's and ignores the target", "[optimize][objectives]") {
  const auto w = all_voxels(3);
  ObjectiveSpec s = spec(ObjectiveKind::kFallOff, 0);
  s.ring.start_mm = 3;
  s.ring.start_dose_pct = 100;
  s.ring.end_dose_pct = 50;
  s.ring.per_mm = 0.1;
  // Voxel 0 in the target (no penalty whatever its dose), voxel 1 at 3 mm (limit 60 Gy),
  // voxel 2 at 13 mm (limit 30 + 30 e^-1).
  ObjectiveTerm t(s, w, "body", {0.0, 3.0, 13.0}, 60.0);
  const double lim2 = 30 + 30 * std::exp(-1.0);
  torch::Tensor d = doses({90, 61, lim2 + 2});
  CATCH_CHECK(value(t, d) == Approx((1 + 4.0) / 3));
}

CATCH_TEST_CASE("objectives: structure fractions and distances on the dose grid", "[optimize][objectives]") {
  // CT 1 mm, 24^3 voxels; dose grid 4 mm sharing the CT's corner.
  ImageGrid ct;
  ct.size = {24, 24, 24};
  ct.spacing_mm = {1, 1, 1};
  ImageGrid dg;
  dg.size = {6, 6, 6};
  dg.spacing_mm = {4, 4, 4};
  dg.origin_mm = {1.5, 1.5, 1.5};
  Mask m(ct, 0);
  for (int64_t k = 0; k < 8; ++k)
    for (int64_t j = 0; j < 8; ++j)
      for (int64_t i = 0; i < 10; ++i) m.at(i, j, k) = 1;  // x: dose voxels 0, 1 full, 2 half
  std::vector<int64_t> compute(static_cast<size_t>(dg.voxel_count()));
  std::iota(compute.begin(), compute.end(), 0);
  VoxelWeights w = structure_on_dose_grid(m, dg, compute);
  CATCH_REQUIRE(w.index.size() == 3u * 2 * 2);
  CATCH_CHECK(w.total() == Approx(10.0 * 8 * 8 / 64));
  for (size_t n = 0; n < w.index.size(); ++n) {
    const int64_t i = compute[static_cast<size_t>(w.index[n])] % 6;
    CATCH_CHECK(w.fraction[n] == Approx(i == 2 ? 0.5 : 1.0));
  }
  // Distances from the voxels overlapping the target (i <= 2, j, k <= 1).
  std::vector<double> dist = distance_to_target_mm(w, dg, compute);
  CATCH_CHECK(dist[static_cast<size_t>(dg.linear_index(2, 1, 1))] == 0.0);
  CATCH_CHECK(dist[static_cast<size_t>(dg.linear_index(5, 0, 0))] == Approx(12.0));
  CATCH_CHECK(dist[static_cast<size_t>(dg.linear_index(4, 3, 1))] == Approx(std::sqrt(64.0 + 64.0)));
}
