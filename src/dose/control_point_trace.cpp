#include "control_point_trace.h"

#include <algorithm>
#include <limits>

#include "vmatplan/core/error.h"

namespace vmatplan::detail {

SamplePlane SamplePlane::covering(const FluenceGrid& grid, double lateral_cutoff_mm,
                                  double step_mm, double dose_spacing_mm) {
  double min_row = std::numeric_limits<double>::infinity();
  for (int r = 0; r < grid.row_count(); ++r)
    min_row = std::min(min_row, grid.row_edges_mm[r + 1] - grid.row_edges_mm[r]);
  SamplePlane p;
  p.step_mm = step_mm > 0 ? step_mm : 0.5 * std::min({dose_spacing_mm, grid.bixel_width_mm, min_row});
  const double margin = lateral_cutoff_mm;
  p.x0_mm = grid.x_min_mm - margin;
  p.y0_mm = grid.row_edges_mm.front() - margin;
  p.width = static_cast<int64_t>(std::ceil((grid.x_max_mm() - grid.x_min_mm + 2 * margin) / p.step_mm)) + 1;
  p.height = static_cast<int64_t>(
      std::ceil((grid.row_edges_mm.back() - grid.row_edges_mm.front() + 2 * margin) / p.step_mm)) + 1;
  if (p.width * p.height > std::numeric_limits<int32_t>::max())
    throw ProcessingError("fluence sample plane too large; raise plane_spacing_mm");
  return p;
}

DepthWeightTable::DepthWeightTable(const BeamModel& model, double step_mm, double max_depth_mm)
    : model_(model), k_(static_cast<int>(model.components.size())) {
  const int n = static_cast<int>(std::ceil(max_depth_mm / step_mm)) + 2;
  inv_step_ = static_cast<float>(1.0 / step_mm);
  last_ = static_cast<float>(n - 2);
  values_.resize(static_cast<size_t>(n) * k_);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < k_; ++k)
      values_[static_cast<size_t>(i) * k_ + k] =
          static_cast<float>(model.calibration * model.component_weight(k, i * step_mm));
}

void DepthWeightTable::exact(float depth_mm, float* w) const {
  for (int k = 0; k < k_; ++k)
    w[k] = static_cast<float>(model_.calibration * model_.component_weight(k, depth_mm));
}

TraceContext::TraceContext(const DoseVolume& v, const BeamModel& m, const SamplePlane& p,
                           const Vec3& iso)
    : volume(&v), model(&m), plane(p), isocenter_mm(iso), box(RedBox::of(v)),
      box_corners(box.corners(v.grid)) {
  const ImageGrid& g = v.grid;
  const size_t n = v.compute_voxels.size();
  px.resize(n), py.resize(n), pz.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t l = v.compute_voxels[i];
    const Vec3 q = g.index_to_physical({static_cast<double>(l % g.size[0]),
                                        static_cast<double>((l / g.size[0]) % g.size[1]),
                                        static_cast<double>(l / (g.size[0] * g.size[1]))});
    px[i] = static_cast<float>(q[0] - iso[0]);
    py[i] = static_cast<float>(q[1] - iso[1]);
    pz[i] = static_cast<float>(q[2] - iso[2]);
  }
}

LatticeCost LatticeCost::of(const TraceContext& c, const BeamTransform& t) {
  const ImageGrid& g = c.volume->grid;
  LatticeCost cost;
  cost.dz_mm = std::min(ControlPointTrace::lattice_spacing_mm(*c.volume), 2.5);
  cost.z_range = DepthLattice::z_range(c.box_corners, t);
  cost.crossings = 0.5 * static_cast<double>(g.size[0] + g.size[1] + g.size[2]);
  cost.ray_cost = (cost.z_range[1] - cost.z_range[0]) / cost.dz_mm + cost.crossings;
  return cost;
}

ControlPointTrace::ControlPointTrace(const TraceContext& c, const BeamTransform& t,
                                     DepthMethod method)
    : context_(&c) {
  init(t);
  const SamplePlane& pl = c.plane;
  // Lattice of rays at the dose spacing over the sample plane.
  const double du = lattice_spacing_mm(*c.volume);
  const int nu = static_cast<int>(std::ceil((pl.width - 1) * pl.step_mm / du)) + 1;
  const int nv = static_cast<int>(std::ceil((pl.height - 1) * pl.step_mm / du)) + 1;
  const LatticeCost cost = LatticeCost::of(c, t);
  const int64_t n = static_cast<int64_t>(c.px.size());
  auto make_lattice = [&](const std::vector<uint8_t>& needed) {
    lattice_ = std::make_unique<DepthLattice>(*c.volume, c.box, t, pl.x0_mm, pl.y0_mm, du, nu, nv,
                                              cost.z_range[0], cost.z_range[1], cost.dz_mm, needed);
  };
  if (method == DepthMethod::kExactTrace) return;
  // With many voxels in the grid the lattice wins even if every ray of the plane is traced
  // (those that miss the body's box cost nothing): no need to find the hits first.
  const double all_rays_cost = static_cast<double>(nu) * nv * cost.ray_cost;
  if (method == DepthMethod::kLattice || all_rays_cost < 0.1 * n * cost.crossings) {
    if (method == DepthMethod::kLattice || n > 0) make_lattice({});
    return;
  }
  // Otherwise a pre-pass counts the hits and marks the rays they interpolate from.
  std::vector<uint8_t> needed(static_cast<size_t>(nu) * nv, 0);
  const float inv_du = static_cast<float>(1.0 / du);
  int64_t hits = 0;
  for (int64_t v = 0; v < n; ++v) {
    float u, w, z, xi, yi;
    if (!project(v, u, w, z, xi, yi)) continue;
    ++hits;
    const int iu = std::min(nu - 2, static_cast<int>((xi - x0_) * inv_du));
    const int iv = std::min(nv - 2, static_cast<int>((yi - y0_) * inv_du));
    uint8_t* row = &needed[static_cast<size_t>(iv) * nu + iu];
    row[0] = row[1] = row[nu] = row[nu + 1] = 1;
  }
  int64_t rays = 0;
  for (uint8_t b : needed) rays += b;
  if (rays * cost.ray_cost < static_cast<double>(hits) * cost.crossings) make_lattice(needed);
}

void ControlPointTrace::init(const BeamTransform& t) {
  const Mat3& r = t.bld_to_lps_rotation();
  for (int i = 0; i < 9; ++i) r_[i] = static_cast<float>(r[i]);
  const SamplePlane& pl = context_->plane;
  sad_ = static_cast<float>(t.sad_mm());
  x0_ = static_cast<float>(pl.x0_mm), y0_ = static_cast<float>(pl.y0_mm);
  inv_step_ = static_cast<float>(1.0 / pl.step_mm);
  u_max_ = static_cast<float>(pl.width - 1), w_max_ = static_cast<float>(pl.height - 1);
  source_lps_ = t.source_lps();
}

float ControlPointTrace::exact_depth(int64_t v) const {
  return static_cast<float>(
      radiological_depth_mm(*context_->volume, context_->volume->compute_voxels[v], source_lps_));
}

}  // namespace vmatplan::detail
