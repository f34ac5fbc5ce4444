// The streaming dose path: per control point, sample planes (the exact Gaussian
// integrals over bixels, as PencilBeamEngine::sample_planes) and the gather, fused.
#include "vmatplan/dose/dose_calculation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "control_point_trace.h"
#include "pencil_beam_setup.h"
#include "sample_plane_convolution.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

using detail::SamplePlane;

// Scratch of one worker thread.
struct Worker {
  std::vector<float> dose;   // [compute voxels]
  std::vector<float> plane;  // [y][x][component]
  detail::PlaneScratch<float> scratch;
  int64_t pairs = 0, lattice = 0, control_points = 0;
};

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
  std::vector<const ControlPointGeometry*> cps;
  for (const Beam& b : geometry.beams)
    for (const ControlPointGeometry& cp : b.control_points) cps.push_back(&cp);
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
  const detail::PlaneConvolution convolution(grid, plane, model);
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
        for (size_t i = t; i < cps.size(); i += threads) {
          if (!convolution.forward(&fluence.values[i * per_cp], wk.plane.data(), wk.scratch)) continue;
          const ControlPointGeometry& c = *cps[i];
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
