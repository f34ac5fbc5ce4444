// Set-up of the pencil-beam engine: dose grid, ray tracing and the sparse per-control-point
// geometry (no LibTorch in this file).
#include "pencil_beam_setup.h"

#include "depth_lattice.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan::detail {
namespace {

struct Entries {
  std::vector<int64_t> counts;  // per control point of this chunk
  std::vector<int32_t> voxel, base;
  std::vector<float> fx, fy, weight;
  int64_t lattice_count = 0;  // control points whose depths came from a lattice
};

struct Cp {
  const Beam* beam;
  const ControlPointGeometry* cp;
};

// Projects every voxel, keeps those whose projection falls on the sample plane, and
// takes their radiological depth from an exact per-voxel trace or, when that would cost
// more (most of the grid in the field), from a beam-aligned depth lattice.
void trace_control_point(const EngineData& d, const std::vector<Vec3>& points,
                         const std::vector<Vec3>& body_corners, const PlanGeometry& geometry,
                         DepthMethod method, const Cp& c, Entries& out) {
  const BeamModel& m = d.model;
  const SamplePlane& pl = d.plane;
  BeamTransform t(geometry.patient_position, geometry.isocenter_mm, c.cp->gantry_deg,
                  c.cp->collimator_deg, c.cp->couch_deg, m.sad_mm);
  const Mat3& r = t.bld_to_lps_rotation();  // columns: BLD axes in LPS
  const Vec3 iso = geometry.isocenter_mm;
  const double sad = m.sad_mm;
  struct Hit {
    int32_t voxel;
    double u, w, z, x_iso, y_iso;
  };
  std::vector<Hit> hits;
  for (size_t v = 0; v < points.size(); ++v) {
    const Vec3 p{points[v][0] - iso[0], points[v][1] - iso[1], points[v][2] - iso[2]};
    double bx = r[0] * p[0] + r[3] * p[1] + r[6] * p[2];
    double by = r[1] * p[0] + r[4] * p[1] + r[7] * p[2];
    double bz = r[2] * p[0] + r[5] * p[1] + r[8] * p[2];
    double z = sad - bz;  // distance from the source along the central axis
    if (z < 1.0) continue;
    double xi = bx * sad / z, yi = by * sad / z;
    double u = (xi - pl.x0_mm) / pl.step_mm, w = (yi - pl.y0_mm) / pl.step_mm;
    if (!(u >= 0 && w >= 0 && u < pl.width - 1 && w < pl.height - 1)) continue;
    hits.push_back({static_cast<int32_t>(v), u, w, z, xi, yi});
  }

  const ImageGrid& g = d.volume.grid;
  const double du = g.spacing_mm[0];
  const std::array<double, 2> zr = DepthLattice::z_range(body_corners, t);
  const int nu = static_cast<int>(std::ceil((pl.width - 1) * pl.step_mm / du)) + 1;
  const int nv = static_cast<int>(std::ceil((pl.height - 1) * pl.step_mm / du)) + 1;
  const double dz = 0.5 * du;
  const double lattice_cost = 3.0 * nu * nv * ((zr[1] - zr[0]) / dz + 1);
  const double trace_cost = 0.5 * hits.size() * (g.size[0] + g.size[1] + g.size[2]);
  std::unique_ptr<DepthLattice> lattice;
  if (method == DepthMethod::kLattice ||
      (method == DepthMethod::kAuto && lattice_cost < trace_cost)) {
    // Trace only the rays that some voxel interpolates from.
    std::vector<uint8_t> needed(static_cast<size_t>(nu) * nv, 0);
    for (const Hit& h : hits) {
      int iu = std::min(nu - 2, static_cast<int>((h.x_iso - pl.x0_mm) / du));
      int iv = std::min(nv - 2, static_cast<int>((h.y_iso - pl.y0_mm) / du));
      for (int b = 0; b < 2; ++b)
        needed[static_cast<size_t>(iv + b) * nu + iu] = needed[static_cast<size_t>(iv + b) * nu + iu + 1] = 1;
    }
    lattice = std::make_unique<DepthLattice>(d.volume, t, pl.x0_mm, pl.y0_mm, du, nu, nv,
                                             zr[0], zr[1], dz, needed);
  }
  const Vec3 source = t.source_lps();
  const int64_t k_count = d.components;
  for (const Hit& h : hits) {
    double depth = lattice ? lattice->depth_mm(h.x_iso, h.y_iso, h.z)
                           : radiological_depth_mm(d.volume, d.volume.compute_voxels[h.voxel], source);
    int64_t ix = static_cast<int64_t>(h.u), iy = static_cast<int64_t>(h.w);
    double isl = m.calibration * (sad / h.z) * (sad / h.z);
    out.voxel.push_back(h.voxel);
    out.base.push_back(static_cast<int32_t>(iy * pl.width + ix));
    out.fx.push_back(static_cast<float>(h.u - ix));
    out.fy.push_back(static_cast<float>(h.w - iy));
    for (int64_t k = 0; k < k_count; ++k)
      out.weight.push_back(static_cast<float>(isl * m.component_weight(static_cast<int>(k), depth)));
  }
  out.counts.push_back(static_cast<int64_t>(hits.size()));
  if (lattice) ++out.lattice_count;
}

}  // namespace

std::vector<double> cell_integral_matrix(const std::vector<double>& edges_mm, double x0_mm,
                                         double step_mm, int64_t samples, double sigma_mm) {
  const int64_t cells = static_cast<int64_t>(edges_mm.size()) - 1;
  std::vector<double> m(static_cast<size_t>(samples * cells));
  const double scale = 1.0 / (std::sqrt(2.0) * sigma_mm);
  for (int64_t j = 0; j < samples; ++j) {
    double x = x0_mm + j * step_mm;
    for (int64_t c = 0; c < cells; ++c)  // integral of G(x - x') over the cell
      m[j * cells + c] =
          0.5 * (std::erf((x - edges_mm[c]) * scale) - std::erf((x - edges_mm[c + 1]) * scale));
  }
  return m;
}

EngineData build_engine_data(const Patient& patient, const Machine& machine,
                             const PlanGeometry& geometry, const FluenceGrid& grid,
                             const DoseEngineOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  EngineData d;
  d.model = BeamModel::for_machine(machine);
  d.fluence_grid = grid;
  d.components = static_cast<int64_t>(d.model.components.size());
  if (grid.row_count() < 1 || grid.bixel_count < 1 || !(grid.bixel_width_mm > 0))
    throw ProcessingError("fluence grid is empty");

  HuToRed table = options.hu_to_red_path.empty() ? HuToRed::load_default()
                                                 : HuToRed::load(options.hu_to_red_path);
  DoseVolumeOptions vo;
  vo.spacing_mm = options.dose_spacing_mm;
  vo.body_role = options.body_role;
  vo.compute_mask = options.compute_mask;
  d.volume = make_dose_volume(patient, vo, table);
  if (d.volume.compute_voxels.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw ProcessingError("dose grid too large for the engine (2^31 voxels)");

  // Sample plane: the fluence grid plus the kernel's lateral reach on every side.
  double min_row = std::numeric_limits<double>::infinity();
  for (int r = 0; r < grid.row_count(); ++r)
    min_row = std::min(min_row, grid.row_edges_mm[r + 1] - grid.row_edges_mm[r]);
  double step = options.plane_spacing_mm > 0
                    ? options.plane_spacing_mm
                    : 0.5 * std::min({options.dose_spacing_mm, grid.bixel_width_mm, min_row});
  const double margin = d.model.lateral_cutoff_mm;
  d.plane.step_mm = step;
  d.plane.x0_mm = grid.x_min_mm - margin;
  d.plane.y0_mm = grid.row_edges_mm.front() - margin;
  d.plane.width = static_cast<int64_t>(std::ceil((grid.x_max_mm() - grid.x_min_mm + 2 * margin) / step)) + 1;
  d.plane.height = static_cast<int64_t>(
      std::ceil((grid.row_edges_mm.back() - grid.row_edges_mm.front() + 2 * margin) / step)) + 1;
  if (d.plane.width * d.plane.height > std::numeric_limits<int32_t>::max())
    throw ProcessingError("fluence sample plane too large; raise plane_spacing_mm");

  std::vector<Cp> cps;
  for (const Beam& b : geometry.beams)
    for (const ControlPointGeometry& cp : b.control_points) cps.push_back({&b, &cp});
  d.control_points = static_cast<int64_t>(cps.size());
  if (cps.empty()) throw ProcessingError("plan geometry has no control points");

  std::vector<Vec3> points(d.volume.compute_voxels.size());
  const ImageGrid& g = d.volume.grid;
  for (size_t v = 0; v < points.size(); ++v) {
    int64_t l = d.volume.compute_voxels[v];
    points[v] = g.index_to_physical({static_cast<double>(l % g.size[0]),
                                     static_cast<double>((l / g.size[0]) % g.size[1]),
                                     static_cast<double>(l / (g.size[0] * g.size[1]))});
  }

  const std::vector<Vec3> corners = DepthLattice::body_corners(d.volume);
  // Control points in contiguous chunks, one per thread; merged in order.
  const int chunks = std::max(1, std::min<int>(thread_count(), static_cast<int>(cps.size())));
  std::vector<Entries> parts(chunks);
  const long per = (static_cast<long>(cps.size()) + chunks - 1) / chunks;
  parallel_for(chunks, [&](long b, long e) {
    for (long c = b; c < e; ++c)
      for (long i = c * per; i < std::min<long>((c + 1) * per, cps.size()); ++i)
        trace_control_point(d, points, corners, geometry, options.depth_method, cps[i],
                            parts[c]);
  });
  d.cp_offsets.assign(1, 0);
  size_t total = 0;
  for (const auto& p : parts) total += p.voxel.size();
  d.voxel.reserve(total);
  d.base.reserve(total);
  d.fx.reserve(total);
  d.fy.reserve(total);
  d.weight.reserve(total * d.components);
  for (auto& p : parts) {
    d.lattice_control_points += p.lattice_count;
    for (int64_t n : p.counts) d.cp_offsets.push_back(d.cp_offsets.back() + n);
    d.voxel.insert(d.voxel.end(), p.voxel.begin(), p.voxel.end());
    d.base.insert(d.base.end(), p.base.begin(), p.base.end());
    d.fx.insert(d.fx.end(), p.fx.begin(), p.fx.end());
    d.fy.insert(d.fy.end(), p.fy.begin(), p.fy.end());
    d.weight.insert(d.weight.end(), p.weight.begin(), p.weight.end());
    p = Entries{};
  }
  d.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return d;
}

}  // namespace vmatplan::detail
