// The pencil-beam engine against independent references: linearity, the adjoint identity,
// finite differences, radiological depth behind bone and lung slabs, rotational symmetry
// of a full arc around a water cylinder, and collimator rotation.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "dose/dose_fixtures.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/hu_to_red.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/dose/water_phantom.h"
#include "vmatplan/geometry/arc.h"
#include "vmatplan/machine/machine.h"

using namespace vmatplan;
using vmatplan::test::field_grid;

namespace {

const Machine& machine() {
  static const Machine m = Machine::load_named("generic_6mv_mlc120");
  return m;
}


PlanGeometry beams(const std::vector<double>& gantry_deg, double collimator_deg = 0.0) {
  PlanGeometry g;
  g.patient_position = "HFS";
  Beam b;
  for (double a : gantry_deg) b.control_points.push_back({a, collimator_deg, 0.0});
  g.beams.push_back(b);
  return g;
}

// A water cylinder (radius mm) along LPS z in air, no BODY structure (HU > -400 fallback).
Patient water_cylinder(double radius_mm, double spacing_mm, double length_mm) {
  ImageGrid g;
  int64_t n = static_cast<int64_t>(std::lround(2 * (radius_mm + 10) / spacing_mm)) | 1;
  int64_t nz = static_cast<int64_t>(std::lround(length_mm / spacing_mm)) | 1;
  g.size = {n, n, nz};
  g.spacing_mm = {spacing_mm, spacing_mm, spacing_mm};
  g.origin_mm = {-0.5 * (n - 1) * spacing_mm, -0.5 * (n - 1) * spacing_mm, -0.5 * (nz - 1) * spacing_mm};
  Patient p;
  p.ct_hu = CtImage(g, -1000.0f);
  for (int64_t k = 0; k < nz; ++k)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) {
        Vec3 x = g.index_to_physical({double(i), double(j), double(k)});
        if (x[0] * x[0] + x[1] * x[1] <= radius_mm * radius_mm) p.ct_hu.at(i, j, k) = 0.0f;
      }
  p.identity.patient_position = "HFS";
  return p;
}

// Bilinear sample of slice k of a [nz, ny, nx] dose at LPS (x, y).
double sample_slice(const torch::Tensor& dose, const ImageGrid& g, int64_t k, double x, double y) {
  Vec3 c = g.physical_to_index({x, y, 0.0});
  int64_t i = static_cast<int64_t>(std::floor(c[0])), j = static_cast<int64_t>(std::floor(c[1]));
  double fx = c[0] - i, fy = c[1] - j;
  auto a = dose.accessor<float, 3>();
  return (1 - fy) * ((1 - fx) * a[k][j][i] + fx * a[k][j][i + 1]) +
         fy * ((1 - fx) * a[k][j + 1][i] + fx * a[k][j + 1][i + 1]);
}

// A small heterogeneous patient for the algebraic tests: water box with a bone insert.
Patient small_patient() {
  Patient p = make_water_box(80, 80, 40, 4.0, -40.0);
  for (int64_t k = 0; k < p.ct_hu.grid.size[2]; ++k)
    for (int64_t j = 5; j < 9; ++j)
      for (int64_t i = 3; i < 10; ++i) p.ct_hu.at(i, j, k) = 900.0f;
  return p;
}

}  // namespace

CATCH_TEST_CASE("hu_to_red: interpolates the table and clamps outside", "[dose]") {
  HuToRed t = HuToRed::load_default();
  CATCH_CHECK(t.red(0.0) == Approx(1.0));
  CATCH_CHECK(t.red(-1000.0) == Approx(0.001).margin(1e-6));
  CATCH_CHECK(t.red(-5000.0) == Approx(t.red(-1000.0)));
  CATCH_CHECK(t.red(20.0) == Approx(0.5 * (1.0 + 1.043)));  // halfway water -> muscle
  CATCH_CHECK_THROWS_AS(HuToRed::from_json({{"hu", {0, -1}}, {"red", {1, 0}}}, "t"), InputError);
}

CATCH_TEST_CASE("engine: dose is linear in fluence", "[dose][algebra]") {
  Patient p = small_patient();
  PencilBeamEngine e(p, machine(), beams({0, 70, 200}), field_grid(40, 30), {4.0});
  torch::manual_seed(1);
  auto f1 = torch::rand({3, 6, 8}), f2 = torch::rand({3, 6, 8});
  auto lhs = e.dose(2.5 * f1 - 0.7 * f2);
  auto rhs = 2.5 * e.dose(f1) - 0.7 * e.dose(f2);
  CATCH_CHECK(lhs.max().item<float>() > 0);
  CATCH_CHECK((lhs - rhs).abs().max().item<float>() < 1e-5 * lhs.abs().max().item<float>());
  CATCH_CHECK(e.dose(torch::zeros({3, 6, 8})).abs().max().item<float>() == 0.0f);
  CATCH_CHECK_THROWS_AS(e.dose(torch::zeros({2, 6, 8})), ProcessingError);
}

CATCH_TEST_CASE("engine: per-control-point doses are the doses of each control point alone",
                "[dose][algebra]") {
  Patient p = small_patient();
  PencilBeamEngine e(p, machine(), beams({0, 70, 200}), field_grid(40, 30), {4.0});
  torch::manual_seed(2);
  auto f = torch::rand({3, 6, 8});
  const auto per_cp = e.control_point_doses(f);
  CATCH_REQUIRE(per_cp.size(0) == 3);
  CATCH_REQUIRE(per_cp.size(1) == static_cast<int64_t>(e.compute_voxels().size()));
  const float scale = e.dose_at_voxels(f).abs().max().item<float>();
  CATCH_CHECK((per_cp.sum(0) - e.dose_at_voxels(f)).abs().max().item<float>() < 1e-5 * scale);
  for (int64_t c = 0; c < 3; ++c) {
    auto only = torch::zeros_like(f);
    only[c] = f[c];
    CATCH_CHECK((per_cp[c] - e.dose_at_voxels(only)).abs().max().item<float>() < 1e-5 * scale);
  }
}

CATCH_TEST_CASE("engine: adjoint identity <A f, g> = <f, A^T g>", "[dose][algebra]") {
  Patient p = small_patient();
  PencilBeamEngine e(p, machine(), beams({10, 135, 290}), field_grid(40, 30), {4.0});
  torch::manual_seed(2);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto f = torch::rand({3, 6, 8}, dtype).requires_grad_();
    auto d = e.dose(f);
    auto g = torch::randn(d.sizes(), dtype);
    auto atg = torch::autograd::grad({(d * g).sum()}, {f})[0];  // A^T g by the backward pass
    double lhs = (e.dose(f.detach()) * g).sum().item<double>();
    double rhs = (f.detach() * atg).sum().item<double>();
    double tol = dtype == torch::kFloat64 ? 1e-10 : 1e-5;
    CATCH_CHECK(std::abs(lhs - rhs) <= tol * std::abs(lhs));
  }
}

CATCH_TEST_CASE("engine: gradient of a nonlinear objective matches finite differences", "[dose][algebra]") {
  Patient p = small_patient();
  PencilBeamEngine e(p, machine(), beams({0, 90}), field_grid(30, 20), {4.0});
  torch::manual_seed(3);
  auto f0 = 50 * torch::rand({2, 4, 6}, torch::kFloat64) + 10;
  auto objective = [&](const torch::Tensor& f) {
    auto d = e.dose(f);
    return ((d - 0.5).pow(2) + 0.1 * torch::relu(d - 0.8).pow(3)).sum();
  };
  auto f = f0.clone().requires_grad_();
  auto grad = torch::autograd::grad({objective(f)}, {f})[0];
  const double h = 1e-3;
  for (int n = 0; n < 8; ++n) {
    int64_t c = n % 2, r = (n * 3) % 4, b = (n * 5) % 6;
    auto fp = f0.clone(), fm = f0.clone();
    fp[c][r][b] += h;
    fm[c][r][b] -= h;
    double fd = (objective(fp).item<double>() - objective(fm).item<double>()) / (2 * h);
    double an = grad[c][r][b].item<double>();
    CATCH_CHECK(std::abs(fd - an) <= 1e-3 * std::max(std::abs(an), 1e-12));
  }
}

CATCH_TEST_CASE("engine: the gradient of an objective that only a few voxels feel matches "
                "finite differences", "[dose][algebra]") {
  // The backward gather skips voxels whose gradient is zero (most voxels in plan
  // optimisation); here only the hottest voxels are above the level.
  Patient p = small_patient();
  PencilBeamEngine e(p, machine(), beams({0, 90, 220}), field_grid(30, 20), {4.0});
  torch::manual_seed(5);
  auto f0 = 50 * torch::rand({3, 4, 6}, torch::kFloat64) + 10;
  const double level = 0.9 * e.dose(f0).max().item<double>();
  auto objective = [&](const torch::Tensor& f) { return torch::relu(e.dose(f) - level).pow(2).sum(); };
  auto f = f0.clone().requires_grad_();
  auto d = e.dose_at_voxels(f0);
  const double active = (d > level).sum().item<double>();
  CATCH_REQUIRE(active > 0);
  CATCH_REQUIRE(active < 0.1 * d.numel());
  auto grad = torch::autograd::grad({objective(f)}, {f})[0];
  const double h = 1e-4;
  int checked = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t b = 0; b < 6; b += 2) {
        auto fp = f0.clone(), fm = f0.clone();
        fp[c][r][b] += h;
        fm[c][r][b] -= h;
        double fd = (objective(fp).item<double>() - objective(fm).item<double>()) / (2 * h);
        double an = grad[c][r][b].item<double>();
        CATCH_CHECK(std::abs(fd - an) <= 1e-4 * std::max(std::abs(an), 1e-9) + 1e-9);
        checked += std::abs(an) > 0;
      }
  CATCH_CHECK(checked > 0);
}

CATCH_TEST_CASE("engine: the SIMD forward gather gives the scalar gather's floats", "[dose][algebra]") {
  Patient p = small_patient();
  DoseEngineOptions vec{4.0}, scalar{4.0};
  scalar.vector_gather = false;
  const PlanGeometry g = beams({10, 135, 290}, 30.0);
  PencilBeamEngine a(p, machine(), g, field_grid(40, 30), vec);
  PencilBeamEngine b(p, machine(), g, field_grid(40, 30), scalar);
  torch::manual_seed(6);
  auto f = torch::rand({3, 6, 8});
  const auto da = a.dose_at_voxels(f), db = b.dose_at_voxels(f);
  CATCH_REQUIRE(da.max().item<float>() > 0);
  CATCH_CHECK(torch::equal(da, db));
  CATCH_CHECK(torch::equal(a.control_point_doses(f), b.control_point_doses(f)));
}

CATCH_TEST_CASE("engine: bone and lung slabs change the dose as radiological depth predicts", "[dose][heterogeneity]") {
  // Slab 30 mm thick from 30 to 60 mm depth, 10x10 field at SSD 100, 2 mm grid.
  WaterSetup s;
  s.spacing_mm = 2.0;
  s.width_mm = 60;
  s.depth_mm = 200;
  auto water = water_depth_dose(machine(), s, 100, 100);
  auto water_at = [&](double d) {
    for (size_t i = 1; i < water.size(); ++i)
      if (water[i].first >= d) {
        double t = (d - water[i - 1].first) / (water[i].first - water[i - 1].first);
        return water[i - 1].second + t * (water[i].second - water[i - 1].second);
      }
    return water.back().second;
  };
  // Independent reference RED values: CIRS 062 inserts (dense bone 1.456, lung 0.190).
  for (auto [hu, red] : {std::pair<float, double>{900.0f, 1.456}, {-800.0f, 0.190}}) {
    Patient p = make_water_box(60, 200, 10, 2.0, 0.0);
    const ImageGrid& g = p.ct_hu.grid;
    for (int64_t k = 0; k < g.size[2]; ++k)
      for (int64_t j = 15; j < 30; ++j)  // depths 30..60 mm
        for (int64_t i = 0; i < g.size[0]; ++i) p.ct_hu.at(i, j, k) = hu;
    PencilBeamEngine e(p, machine(), beams({0}), field_grid(100, 100), {2.0});
    auto d = e.dose(torch::ones({1, 20, 20}));
    auto a = d.accessor<float, 3>();
    const int64_t ic = g.size[0] / 2, kc = g.size[2] / 2;
    for (int64_t j : {35, 50, 75}) {  // 71, 101, 151 mm behind the surface
      double depth = (j + 0.5) * 2.0;
      double d_rad = depth + (red - 1.0) * 30.0;
      double expected = water_at(d_rad) * std::pow((1000.0 + d_rad) / (1000.0 + depth), 2);
      CATCH_CHECK(a[kc][j][ic] == Approx(expected).epsilon(0.01));
      if (red > 1) CATCH_CHECK(a[kc][j][ic] < water_at(depth));
      else CATCH_CHECK(a[kc][j][ic] > water_at(depth));
    }
  }
}

CATCH_TEST_CASE("engine: a full arc around a water cylinder is rotationally symmetric", "[dose][arc]") {
  Patient p = water_cylinder(100, 2.0, 40);
  Mask slice(p.ct_hu.grid, 0);
  const int64_t kc = p.ct_hu.grid.size[2] / 2;
  for (int64_t j = 0; j < p.ct_hu.grid.size[1]; ++j)
    for (int64_t i = 0; i < p.ct_hu.grid.size[0]; ++i) slice.at(i, j, kc) = 1;
  ArcSpec arc;
  arc.gantry_start_deg = 0;
  arc.gantry_stop_deg = 0;
  arc.cp_spacing_deg = 1;  // fine enough that the field edge sweeps (nearly) continuously
  auto cps = arc_control_points(arc);
  std::vector<double> angles;
  for (const auto& c : cps) angles.push_back(c.gantry_deg);
  CATCH_REQUIRE(angles.size() >= 360);
  DoseEngineOptions opt;
  opt.dose_spacing_mm = 2.0;
  opt.compute_mask = &slice;
  auto dose_for = [&](double fx, double fy, double coll) {
    PencilBeamEngine e(p, machine(), beams(angles, coll), field_grid(fx, fy), opt);
    return e.dose(torch::ones({int64_t(angles.size()), int64_t(std::lround(fy / 5)), int64_t(std::lround(fx / 5))}));
  };
  const ImageGrid g = PencilBeamEngine(p, machine(), beams({0}), field_grid(5, 5), opt).dose_grid();
  auto d = dose_for(80, 40, 0.0);
  for (double r : {0.0, 20.0, 35.0, 60.0, 85.0}) {
    std::vector<double> v;
    for (int a = 0; a < 12; ++a) {
      double t = a * 30.0 * 3.14159265358979 / 180.0 + 0.1;
      v.push_back(sample_slice(d, g, kc, r * std::cos(t), r * std::sin(t)));
    }
    double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    CATCH_INFO("radius " << r << " mm: min " << lo << " max " << hi);
    CATCH_CHECK(lo > 0);
    CATCH_CHECK((hi - lo) / (0.5 * (hi + lo)) < 0.02);
  }
  // Collimator 90 with the field's sides swapped is the same field in the room.
  auto d90 = dose_for(40, 80, 90.0);
  CATCH_CHECK((d90 - d).abs().max().item<float>() < 0.005 * d.max().item<float>());
}

CATCH_TEST_CASE("engine: lattice depths agree with exact per-voxel traces", "[dose][depth]") {
  // Water box with a bone block and an air cavity, beams from four sides.
  Patient p = make_water_box(120, 120, 60, 3.0, -60.0);
  const ImageGrid& g = p.ct_hu.grid;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 8; j < 16; ++j)
      for (int64_t i = 5; i < 18; ++i) {
        p.ct_hu.at(i, j, k) = 900.0f;
        p.ct_hu.at(i + 14, j + 14, k) = -800.0f;
      }
  auto geometry = beams({0, 60, 135, 250});
  auto grid = field_grid(60, 40);
  DoseEngineOptions exact;
  exact.dose_spacing_mm = 3.0;
  exact.depth_method = DepthMethod::kExactTrace;
  DoseEngineOptions lattice = exact;
  lattice.depth_method = DepthMethod::kLattice;
  PencilBeamEngine a(p, machine(), geometry, grid, exact), b(p, machine(), geometry, grid, lattice);
  CATCH_CHECK(a.lattice_control_points() == 0);
  CATCH_CHECK(b.lattice_control_points() == 4);
  auto f = torch::ones({4, 8, 12});
  auto da = a.dose(f), db = b.dose(f);
  const float max = da.max().item<float>();
  auto high = da > 0.2 * max;
  // Away from interfaces the depths agree; interpolation across an interface moves dose by
  // at most a few per cent of the maximum in single voxels.
  CATCH_CHECK(((da - db).abs() / max).masked_select(high).mean().item<float>() < 0.005);
  CATCH_CHECK(((da - db).abs() / max).max().item<float>() < 0.05);
}

CATCH_TEST_CASE("set_dose_engine_threads: LibTorch's CPU tensors from the huge-page allocator, values unchanged",
          "[dose][memory]") {
  set_dose_engine_threads(thread_count());  // the count stays; the allocator is installed
  const torch::Tensor big = torch::zeros({int64_t{3} << 20}, torch::kFloat);  // 12 MiB
  CATCH_CHECK(reinterpret_cast<uintptr_t>(big.data_ptr()) % (size_t{2} << 20) == 0);
  CATCH_CHECK(big.sum().item<float>() == 0.0f);
  const torch::Tensor small = torch::arange(10, torch::kFloat) * 2;
  CATCH_CHECK(reinterpret_cast<uintptr_t>(small.data_ptr()) % 64 == 0);
  CATCH_CHECK(small.sum().item<float>() == 90.0f);
  const torch::Tensor empty = torch::empty({0}, torch::kFloat);
  CATCH_CHECK(empty.numel() == 0);
}
