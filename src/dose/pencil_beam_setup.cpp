// Set-up of the pencil-beam engine: dose grid, ray tracing and the sparse per-control-point
// geometry (no LibTorch in this file).
#include "pencil_beam_setup.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <new>

#include "vmatplan/core/error.h"
#include "vmatplan/core/huge_pages.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan::detail {
namespace {

struct Cp {
  const Beam* beam;
  const ControlPointGeometry* cp;
};

// Appends one entry per voxel whose projection falls on the sample plane; returns whether
// the depths came from a lattice.
template <int K>
bool trace_control_point(const TraceContext& context, const DepthWeightTable& weights,
                         const PlanGeometry& geometry, DepthMethod method, const Cp& c,
                         EntryBlock& out) {
  BeamTransform t(geometry.patient_position, geometry.isocenter_mm, c.cp->gantry_deg,
                  c.cp->collimator_deg, c.cp->couch_deg, context.model->sad_mm);
  const ControlPointTrace trace(context, t, method);
  const size_t first = out.base.size(), n = first + context.px.size();  // at most
  out.base.resize(n), out.fx.resize(n), out.fy.resize(n);
  out.weight.resize(n * K);
  const int64_t width = context.plane.width;
  size_t e = first;
  int64_t last = -2;
  trace.for_each_hit([&](int64_t v, float u, float w, float inverse_square, float depth) {
    const int32_t ix = static_cast<int32_t>(u), iy = static_cast<int32_t>(w);
    if (v != last + 1) {
      out.run_entry.push_back(static_cast<int64_t>(e));
      out.run_voxel.push_back(static_cast<int32_t>(v));
      out.run_length.push_back(0);
    }
    ++out.run_length.back();
    last = v;
    out.base[e] = static_cast<int32_t>(iy * width + ix);
    out.fx[e] = fraction_bits(u - ix);
    out.fy[e] = fraction_bits(w - iy);
    float* wk = &out.weight[e * K];
    weights.at<K>(depth, wk);
    for (int k = 0; k < K; ++k) wk[k] *= inverse_square;
    ++e;
  });
  out.base.resize(e), out.fx.resize(e), out.fy.resize(e);
  out.weight.resize(e * K);
  return trace.used_lattice();
}

}  // namespace

void* allocate_bytes(size_t bytes) { return allocate_huge_page_advised(bytes, alignof(std::max_align_t)); }

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
  d.vector_gather = options.vector_gather;
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

  d.plane = SamplePlane::covering(grid, d.model.lateral_cutoff_mm, options.plane_spacing_mm,
                                  options.dose_spacing_mm);
  std::vector<Cp> cps;
  for (const Beam& b : geometry.beams)
    for (const ControlPointGeometry& cp : b.control_points) cps.push_back({&b, &cp});
  d.control_points = static_cast<int64_t>(cps.size());
  if (cps.empty()) throw ProcessingError("plan geometry has no control points");

  const TraceContext context(d.volume, d.model, d.plane, geometry.isocenter_mm);
  const DepthWeightTable weights(d.model);
  // Control points in contiguous chunks, one block each, four chunks per thread taken as
  // threads finish (parallel_for_dynamic): a block's entries depend only on its control
  // points, so the engine is the same whatever the schedule.
  const int chunks = std::max(
      1, std::min<int>(thread_count() > 1 ? 4 * thread_count() : 1, static_cast<int>(cps.size())));
  d.blocks.resize(chunks);
  d.cp_block.resize(cps.size()), d.cp_begin.resize(cps.size()), d.cp_end.resize(cps.size());
  d.cp_run_begin.resize(cps.size()), d.cp_run_end.resize(cps.size());
  std::vector<uint8_t> lattice(cps.size(), 0);
  const long per = (static_cast<long>(cps.size()) + chunks - 1) / chunks;
  // Room for every voxel of every control point (nearly all are hits on a full grid):
  // the per-control-point appends then never reallocate.
  for (int c = 0; c < chunks; ++c) {
    const size_t n = static_cast<size_t>(std::max<long>(0, std::min<long>(per, cps.size() - c * per))) *
                     context.px.size();
    EntryBlock& b = d.blocks[c];
    b.base.reserve(n), b.fx.reserve(n), b.fy.reserve(n);
    b.weight.reserve(n * d.components);
  }
  with_kernel_components(d.components, [&](auto k) {
    parallel_for_dynamic(chunks, 1, [&](long b, long e) {
      for (long c = b; c < e; ++c)
        for (long i = c * per; i < std::min<long>((c + 1) * per, cps.size()); ++i) {
          EntryBlock& block = d.blocks[c];
          d.cp_block[i] = static_cast<int32_t>(c);
          d.cp_begin[i] = static_cast<int64_t>(block.base.size());
          d.cp_run_begin[i] = static_cast<int64_t>(block.run_entry.size());
          lattice[i] = trace_control_point<decltype(k)::value>(context, weights, geometry,
                                                               options.depth_method, cps[i], block);
          d.cp_end[i] = static_cast<int64_t>(block.base.size());
          d.cp_run_end[i] = static_cast<int64_t>(block.run_entry.size());
        }
    });
  });
  for (size_t i = 0; i < cps.size(); ++i) {
    d.entries += d.cp_end[i] - d.cp_begin[i];
    d.lattice_control_points += lattice[i];
  }
  d.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return d;
}

}  // namespace vmatplan::detail
