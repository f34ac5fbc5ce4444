// The streaming dose path: per control point, sample planes (the exact Gaussian
// integrals over bixels, as PencilBeamEngine::sample_planes) and the gather, fused.
#include "vmatplan/dose/dose_calculation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "control_point_trace.h"
#include "pencil_beam_setup.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

using detail::SamplePlane;

// One kernel component's separable integral matrices in float, with the index range
// where each column is above `kNegligible` (Gaussian tails are skipped).
struct ComponentMatrices {
  std::vector<float> rows;   // [plane y][fluence row]
  std::vector<float> cols;   // [bixel][plane x]
  std::vector<int> row_lo, row_hi;  // per fluence row: plane y range
  std::vector<int> col_lo, col_hi;  // per bixel: plane x range
};

constexpr double kNegligible = 1e-9;

ComponentMatrices component_matrices(const FluenceGrid& grid, const SamplePlane& plane,
                                     double sigma_mm) {
  ComponentMatrices m;
  const int rows = grid.row_count(), bixels = grid.bixel_count;
  const std::vector<double> ey = detail::cell_integral_matrix(grid.row_edges_mm, plane.y0_mm,
                                                              plane.step_mm, plane.height, sigma_mm);
  std::vector<double> col_edges(bixels + 1);
  for (int b = 0; b <= bixels; ++b) col_edges[b] = grid.x_min_mm + b * grid.bixel_width_mm;
  const std::vector<double> ex = detail::cell_integral_matrix(col_edges, plane.x0_mm,
                                                              plane.step_mm, plane.width, sigma_mm);
  const int h = static_cast<int>(plane.height), w = static_cast<int>(plane.width);
  m.rows.assign(ey.begin(), ey.end());
  m.cols.resize(static_cast<size_t>(bixels) * w);
  for (int x = 0; x < w; ++x)
    for (int b = 0; b < bixels; ++b) m.cols[static_cast<size_t>(b) * w + x] = static_cast<float>(ex[x * bixels + b]);
  auto range = [](auto value, int n, int& lo, int& hi) {
    lo = n, hi = 0;
    for (int i = 0; i < n; ++i)
      if (std::abs(value(i)) > kNegligible) lo = std::min(lo, i), hi = i + 1;
    if (lo >= hi) lo = hi = 0;
  };
  m.row_lo.resize(rows), m.row_hi.resize(rows);
  for (int r = 0; r < rows; ++r)
    range([&](int y) { return ey[static_cast<size_t>(y) * rows + r]; }, h, m.row_lo[r], m.row_hi[r]);
  m.col_lo.resize(bixels), m.col_hi.resize(bixels);
  for (int b = 0; b < bixels; ++b)
    range([&](int x) { return ex[static_cast<size_t>(x) * bixels + b]; }, w, m.col_lo[b], m.col_hi[b]);
  return m;
}

// Scratch of one worker thread.
struct Worker {
  std::vector<float> dose;   // [compute voxels]
  std::vector<float> plane;  // [y][x][component]
  std::vector<float> g;      // [fluence row][plane x]: fluence convolved along x
  std::vector<float> line;   // [plane x]
  int64_t pairs = 0, lattice = 0, control_points = 0;
};

// plane[y][x][k] = sum_r E_y,k[y][r] sum_b F[r][b] E_x,k[x][b], skipping zero fluence rows
// and negligible kernel tails. Returns false when the fluence is zero.
template <int K>
bool fill_planes(const std::vector<ComponentMatrices>& mats, const SamplePlane& plane,
                 const FluenceGrid& grid, const float* f, Worker& wk) {
  const int rows = grid.row_count(), bixels = grid.bixel_count;
  const int w = static_cast<int>(plane.width), h = static_cast<int>(plane.height);
  std::vector<int> live;
  for (int r = 0; r < rows; ++r)
    for (int b = 0; b < bixels; ++b)
      if (f[r * bixels + b] != 0) {
        live.push_back(r);
        break;
      }
  if (live.empty()) return false;
  std::fill(wk.plane.begin(), wk.plane.end(), 0.0f);
  for (int k = 0; k < K; ++k) {
    const ComponentMatrices& m = mats[k];
    int x_lo = w, x_hi = 0, y_lo = h, y_hi = 0;
    for (int r : live) {
      float* gr = &wk.g[static_cast<size_t>(r) * w];
      std::fill(gr, gr + w, 0.0f);
      for (int b = 0; b < bixels; ++b) {
        const float v = f[r * bixels + b];
        if (v == 0 || m.col_lo[b] >= m.col_hi[b]) continue;
        const float* c = &m.cols[static_cast<size_t>(b) * w];
        for (int x = m.col_lo[b]; x < m.col_hi[b]; ++x) gr[x] += v * c[x];
        x_lo = std::min(x_lo, m.col_lo[b]), x_hi = std::max(x_hi, m.col_hi[b]);
      }
      y_lo = std::min(y_lo, m.row_lo[r]), y_hi = std::max(y_hi, m.row_hi[r]);
    }
    for (int y = y_lo; y < y_hi; ++y) {
      float* line = wk.line.data();
      std::fill(line + x_lo, line + x_hi, 0.0f);
      bool any = false;
      for (int r : live) {
        if (y < m.row_lo[r] || y >= m.row_hi[r]) continue;
        const float e = m.rows[static_cast<size_t>(y) * rows + r];
        const float* gr = &wk.g[static_cast<size_t>(r) * w];
        for (int x = x_lo; x < x_hi; ++x) line[x] += e * gr[x];
        any = true;
      }
      if (!any) continue;
      float* out = &wk.plane[static_cast<size_t>(y) * w * K + k];
      for (int x = x_lo; x < x_hi; ++x) out[static_cast<size_t>(x) * K] = line[x];
    }
  }
  return true;
}

template <int K>
void add_control_point(const detail::TraceContext& context, const detail::DepthWeightTable& table,
                       const BeamTransform& beam, DepthMethod method, Worker& wk) {
  const detail::ControlPointTrace trace(context, beam, method);
  const int64_t row = context.plane.width * K;
  const float* plane = wk.plane.data();
  float* dose = wk.dose.data();
  wk.pairs += trace.for_each_hit([&](int64_t v, float u, float w, float inverse_square, float depth) {
    const int ix = static_cast<int>(u), iy = static_cast<int>(w);
    const float fx = u - ix, fy = w - iy;
    const float* p00 = plane + iy * row + ix * K;
    const float* p10 = p00 + row;
    float wt[K];
    table.at<K>(depth, wt);
    float sum = 0;
    for (int k = 0; k < K; ++k) {
      const float top = p00[k] + fx * (p00[k + K] - p00[k]);
      const float bottom = p10[k] + fx * (p10[k + K] - p10[k]);
      sum += wt[k] * (top + fy * (bottom - top));
    }
    dose[v] += inverse_square * sum;
  });
  if (trace.used_lattice()) ++wk.lattice;
  ++wk.control_points;
}

}  // namespace

Image3D<float> calculate_dose(const Patient& patient, const Machine& machine,
                              const PlanGeometry& geometry, const FluenceMaps& fluence,
                              const DoseEngineOptions& options, DoseCalculationStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  const FluenceGrid& grid = fluence.grid;
  if (grid.row_count() < 1 || grid.bixel_count < 1 || !(grid.bixel_width_mm > 0))
    throw ProcessingError("fluence grid is empty");
  struct Cp {
    const ControlPointGeometry* cp;
  };
  std::vector<Cp> cps;
  for (const Beam& b : geometry.beams)
    for (const ControlPointGeometry& cp : b.control_points) cps.push_back({&cp});
  if (cps.empty()) throw ProcessingError("plan geometry has no control points");
  if (fluence.control_point_count != static_cast<int>(cps.size()) ||
      fluence.values.size() != cps.size() * static_cast<size_t>(grid.size_per_control_point()))
    throw ProcessingError("fluence maps have " + std::to_string(fluence.control_point_count) +
                          " control points, the plan geometry " + std::to_string(cps.size()));

  const BeamModel model = BeamModel::for_machine(machine);
  const HuToRed red_table = options.hu_to_red_path.empty() ? HuToRed::load_default()
                                                           : HuToRed::load(options.hu_to_red_path);
  DoseVolumeOptions vo;
  vo.spacing_mm = options.dose_spacing_mm;
  vo.body_role = options.body_role;
  vo.compute_mask = options.compute_mask;
  const DoseVolume volume = make_dose_volume(patient, vo, red_table);
  const double volume_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const SamplePlane plane = SamplePlane::covering(grid, model.lateral_cutoff_mm,
                                                  options.plane_spacing_mm, options.dose_spacing_mm);
  std::vector<ComponentMatrices> mats;
  for (const KernelComponent& k : model.components)
    mats.push_back(component_matrices(grid, plane, k.sigma_mm));
  const detail::TraceContext context(volume, model, plane, geometry.isocenter_mm);
  const detail::DepthWeightTable table(model);
  const int64_t voxels = static_cast<int64_t>(volume.compute_voxels.size());
  const int64_t per_cp = grid.size_per_control_point();
  const int64_t k_count = static_cast<int64_t>(model.components.size());

  // Control points dealt round-robin to the threads (neighbours cost about the same).
  const int threads = std::max(1, std::min<int>(thread_count(), static_cast<int>(cps.size())));
  std::vector<Worker> workers(threads);
  detail::with_kernel_components(k_count, [&](auto kc) {
    constexpr int K = decltype(kc)::value;
    parallel_for(threads, [&](long tb, long te) {
      for (long t = tb; t < te; ++t) {
        Worker& wk = workers[t];
        wk.dose.assign(voxels, 0.0f);
        wk.plane.resize(static_cast<size_t>(plane.width * plane.height * K));
        wk.g.resize(static_cast<size_t>(grid.row_count()) * plane.width);
        wk.line.resize(plane.width);
        for (size_t i = t; i < cps.size(); i += threads) {
          if (!fill_planes<K>(mats, plane, grid, &fluence.values[i * per_cp], wk)) continue;
          const ControlPointGeometry& c = *cps[i].cp;
          const BeamTransform beam(geometry.patient_position, geometry.isocenter_mm, c.gantry_deg,
                                   c.collimator_deg, c.couch_deg, model.sad_mm);
          add_control_point<K>(context, table, beam, options.depth_method, wk);
        }
      }
    });
  });

  Image3D<float> out(volume.grid);
  DoseCalculationStats s;
  s.compute_voxels = voxels;
  for (Worker& wk : workers) {
    for (int64_t v = 0; v < voxels; ++v) out.voxels[volume.compute_voxels[v]] += wk.dose[v];
    s.pairs += wk.pairs, s.lattice_control_points += wk.lattice, s.control_points += wk.control_points;
  }
  s.volume_seconds = volume_seconds;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) *stats = s;
  return out;
}

}  // namespace vmatplan
