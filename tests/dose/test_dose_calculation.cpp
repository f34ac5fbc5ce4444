// The streaming final-dose path (calculate_dose) against the stored-operator engine: with
// the same depth method it is the same operator computed another way (its own float plane
// convolution and gather); against exact per-voxel Siddon traces, the independent depth
// reference, it passes gamma 1 %/1 mm on a heterogeneous phantom and a pelvis.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "dose/dose_fixtures.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/dose_calculation.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/dose/water_phantom.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;
using vmatplan::test::field_grid;

namespace {

const Machine& linac() {
  static const Machine m = Machine::load_named("generic_6mv_mlc120");
  return m;
}

FluenceMaps random_fluence(const FluenceGrid& grid, int control_points, unsigned seed) {
  FluenceMaps f;
  f.grid = grid;
  f.control_point_count = control_points;
  f.values.resize(static_cast<size_t>(control_points) * grid.size_per_control_point());
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  for (float& v : f.values) v = uni(rng) < 0.15f ? 0.0f : uni(rng);  // some closed bixels
  return f;
}

// Water box with a bone block and an air cavity.
Patient heterogeneous_box() {
  Patient p = make_water_box(120, 120, 60, 3.0, -60.0);
  const ImageGrid& g = p.ct_hu.grid;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 8; j < 16; ++j)
      for (int64_t i = 5; i < 18; ++i) {
        p.ct_hu.at(i, j, k) = 900.0f;
        p.ct_hu.at(i + 14, j + 14, k) = -800.0f;
      }
  return p;
}


Image3D<float> engine_dose(const Patient& p, const PlanGeometry& geometry, const FluenceMaps& f,
                           const DoseEngineOptions& o) {
  return PencilBeamEngine(p, linac(), geometry, f.grid, o).dose_image(f);
}

// Gamma 1 %/1 mm (global, 10 % threshold) of the streaming dose with automatic depths
// against the stored engine with exact per-voxel traces.
GammaResult gamma_against_exact(const Patient& p, const PlanGeometry& geometry,
                                const FluenceMaps& f, double spacing_mm,
                                DoseCalculationStats* stats = nullptr) {
  DoseEngineOptions exact;
  exact.dose_spacing_mm = spacing_mm;
  exact.depth_method = DepthMethod::kExactTrace;
  DoseEngineOptions fast = exact;
  fast.depth_method = DepthMethod::kAuto;
  const Image3D<float> reference = engine_dose(p, geometry, f, exact);
  const Image3D<float> evaluated = calculate_dose(p, linac(), geometry, f, fast, stats);
  GammaOptions g;
  g.dose_criterion_pct = 1.0;
  g.distance_mm = 1.0;
  return compute_gamma(reference, evaluated, g);
}

// A pelvis phantom on a 4 x 4 x 5 mm CT (small and quick).
Patient pelvis_4mm(uint64_t seed) {
  PelvisPhantomOptions po;
  po.seed = seed;
  po.spacing_mm = {4.0, 4.0, 5.0};
  return make_pelvis_phantom(po);
}

// Random fluence for every control point of geometry, 5 mm bixels.
FluenceMaps arc_fluence(const PlanGeometry& geometry, unsigned seed) {
  const FluenceGrid grid = fluence_grid_for_plan(geometry, linac(), 5.0);
  return random_fluence(grid, static_cast<int>(geometry.control_point_count()), seed);
}

// Gamma 1 %/1 mm of calculate_dose (4 mm, automatic depths: lattices shared by the control
// points of one source) against the stored engine with one lattice per control point;
// every control point must have used a lattice.
GammaResult shared_against_per_cp_lattices(const Patient& p, const PlanGeometry& geometry,
                                           const FluenceMaps& f) {
  DoseEngineOptions o;
  o.dose_spacing_mm = 4.0;
  DoseEngineOptions per_cp = o;
  per_cp.depth_method = DepthMethod::kLattice;
  DoseCalculationStats stats;
  const Image3D<float> shared = calculate_dose(p, linac(), geometry, f, o, &stats);
  const Image3D<float> reference = PencilBeamEngine(p, linac(), geometry, f.grid, per_cp).dose_image(f);
  CATCH_CHECK(stats.lattice_control_points == static_cast<int64_t>(geometry.control_point_count()));
  GammaOptions g;
  g.dose_criterion_pct = 1.0;
  g.distance_mm = 1.0;
  return compute_gamma(reference, shared, g);
}

double max_of(const Image3D<float>& d) {
  double m = 0;
  for (float v : d.voxels) m = std::max<double>(m, v);
  return m;
}

}  // namespace

CATCH_TEST_CASE("calculate_dose: same operator as the engine, same depths", "[dose][final]") {
  const Patient p = heterogeneous_box();
  PlanGeometry geometry;
  geometry.patient_position = "HFS";
  Beam b;
  for (double a : {0.0, 60.0, 135.0, 250.0}) b.control_points.push_back({a, 15.0, 0.0});
  geometry.beams.push_back(b);
  const FluenceMaps f = random_fluence(field_grid(60, 40), 4, 3);
  for (DepthMethod m : {DepthMethod::kExactTrace, DepthMethod::kLattice}) {
    DoseEngineOptions o;
    o.dose_spacing_mm = 3.0;
    o.depth_method = m;
    DoseCalculationStats stats;
    const Image3D<float> streamed = calculate_dose(p, linac(), geometry, f, o, &stats);
    const Image3D<float> stored = engine_dose(p, geometry, f, o);
    CATCH_REQUIRE(streamed.grid.same_geometry(stored.grid));
    const double max = max_of(stored);
    double worst = 0;
    for (size_t v = 0; v < stored.voxels.size(); ++v)
      worst = std::max(worst, std::abs(double(streamed.voxels[v]) - stored.voxels[v]) / max);
    CATCH_INFO("depth method " << static_cast<int>(m) << ": max difference " << worst);
    CATCH_CHECK(worst < 2e-4);  // float planes and weight table vs the engine's double planes
    CATCH_CHECK(stats.control_points == 4);
    CATCH_CHECK(stats.lattice_control_points == (m == DepthMethod::kLattice ? 4 : 0));
    CATCH_CHECK(max > 0.01);
  }
}

CATCH_TEST_CASE("calculate_dose: lattice depths pass gamma 1%/1mm against exact traces",
                "[dose][final]") {
  set_thread_count(2);  // the result must not depend on the threads
  const Patient p = heterogeneous_box();
  PlanGeometry geometry;
  geometry.patient_position = "HFS";
  Beam b;
  for (int a = 0; a < 360; a += 20) b.control_points.push_back({double(a), 0.0, 0.0});
  geometry.beams.push_back(b);
  const FluenceMaps f = random_fluence(field_grid(60, 40), 18, 5);
  DoseCalculationStats stats;
  const GammaResult r = gamma_against_exact(p, geometry, f, 3.0, &stats);
  set_thread_count(1);
  CATCH_CHECK(stats.lattice_control_points == 18);
  CATCH_INFO("gamma 1%/1mm pass " << r.pass_rate_pct << " % of " << r.evaluated_voxels);
  CATCH_CHECK(r.pass_rate_pct >= 99.0);
}

CATCH_TEST_CASE("calculate_dose: pelvis arc passes gamma 1%/1mm against exact traces",
                "[dose][final]") {
  const Patient p = pelvis_4mm(2);
  const PlanGeometry geometry =
      build_plan_geometry(p, linac(), {ArcSpec{181.0, 179.0, RotationDirection::kClockwise, 4.0, 30.0, 0.0}}, "PTV", 5.0, {});
  const FluenceMaps f = arc_fluence(geometry, 7);
  const GammaResult r = gamma_against_exact(p, geometry, f, 4.0);
  CATCH_INFO("gamma 1%/1mm pass " << r.pass_rate_pct << " % of " << r.evaluated_voxels);
  CATCH_CHECK(r.pass_rate_pct >= 99.0);
}

CATCH_TEST_CASE("calculate_dose: two arcs sharing depth lattices pass gamma 1%/1mm against "
                "the engine's own lattices",
                "[dose][final]") {
  // default_two_arcs: the arcs visit the same gantry angles with collimators 30 and 330
  // deg, so calculate_dose traces one lattice per gantry angle for both; the stored
  // engine (the reference path) traces one per control point.
  const Patient p = pelvis_4mm(3);
  const PlanGeometry geometry = build_plan_geometry(p, linac(), default_two_arcs(4.0), "PTV", 5.0, {});
  const GammaResult r = shared_against_per_cp_lattices(p, geometry, arc_fluence(geometry, 11));
  CATCH_INFO("gamma 1%/1mm against per-control-point lattices: " << r.pass_rate_pct << " % of "
                                                                << r.evaluated_voxels);
  CATCH_CHECK(r.evaluated_voxels > 1000);
  CATCH_CHECK(r.pass_rate_pct >= 99.0);
}

CATCH_TEST_CASE("calculate_dose: the vectorised gather gives the scalar loop's floats",
                "[dose][final]") {
  // Where the CPU has AVX2 the gather takes 8 voxels at a time (otherwise both runs are
  // the scalar loop): the same operations in the same order, so the same floats. Two arcs
  // (groups of two control points sharing a lattice) and a lone arc (one member per group).
  const Patient p = pelvis_4mm(4);
  for (const auto& arcs : {default_two_arcs(4.0), std::vector<ArcSpec>{default_two_arcs(4.0)[0]}}) {
    const PlanGeometry geometry = build_plan_geometry(p, linac(), arcs, "PTV", 5.0, {});
    const FluenceMaps f = arc_fluence(geometry, 13);
    DoseEngineOptions o;
    o.dose_spacing_mm = 4.0;
    DoseEngineOptions scalar = o;
    scalar.vector_gather = false;
    DoseCalculationStats sv, ss;
    const Image3D<float> vec = calculate_dose(p, linac(), geometry, f, o, &sv);
    const Image3D<float> ref = calculate_dose(p, linac(), geometry, f, scalar, &ss);
    CATCH_CHECK(sv.pairs == ss.pairs);
    CATCH_CHECK(sv.lattice_control_points == sv.control_points);
    size_t differing = 0;
    for (size_t v = 0; v < ref.voxels.size(); ++v) differing += vec.voxels[v] != ref.voxels[v];
    CATCH_CHECK(differing == 0);
    CATCH_CHECK(max_of(ref) > 0.01);
  }
}

CATCH_TEST_CASE("calculate_dose: three arcs at the same gantry angles share one lattice",
                "[dose][final]") {
  // Groups of three control points (collimators 30, 330 and 90 deg): one pass over the
  // voxels, one lattice in the collimator-0 frame covering the three planes.
  const Patient p = pelvis_4mm(5);
  std::vector<ArcSpec> arcs = default_two_arcs(4.0);
  arcs.push_back(arcs[0]);
  arcs.back().collimator_deg = 90.0;
  const PlanGeometry geometry = build_plan_geometry(p, linac(), arcs, "PTV", 5.0, {});
  const GammaResult r = shared_against_per_cp_lattices(p, geometry, arc_fluence(geometry, 17));
  CATCH_INFO("gamma 1%/1mm against per-control-point lattices: " << r.pass_rate_pct << " %");
  CATCH_CHECK(r.evaluated_voxels > 1000);
  CATCH_CHECK(r.pass_rate_pct >= 99.0);
}
