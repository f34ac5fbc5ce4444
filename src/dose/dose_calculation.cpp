// The streaming dose path: per group of control points with one source, their sample
// planes (the exact Gaussian integrals over bixels, as PencilBeamEngine::sample_planes)
// and one gather over the voxels for all of them (source_group_gather.h).
#include "vmatplan/dose/dose_calculation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "control_point_trace.h"
#include "pencil_beam_setup.h"
#include "sample_plane_convolution.h"
#include "source_group_gather.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

using detail::SamplePlane;

// Scratch of one worker thread.
struct Worker {
  std::vector<float> dose;   // [compute voxels]
  std::vector<float> plane;  // [member][y][x][component]
  detail::PlaneScratch<float> scratch;
  int64_t pairs = 0, lattice = 0, control_points = 0;
};

// Control points (indices into `beams`) grouped by source position, in first-seen order:
// radiological depth depends on the source alone, so one group's control points (e.g.
// the two arcs of a plan at the same gantry angles, with different collimator angles)
// share one depth lattice.
std::vector<std::vector<size_t>> group_by_source(const std::vector<BeamTransform>& beams) {
  std::vector<std::vector<size_t>> groups;
  std::vector<Vec3> sources;
  for (size_t i = 0; i < beams.size(); ++i) {
    const Vec3 s = beams[i].source_lps();
    size_t g = 0;
    for (; g < sources.size(); ++g)
      if (std::abs(s[0] - sources[g][0]) < 1e-6 && std::abs(s[1] - sources[g][1]) < 1e-6 &&
          std::abs(s[2] - sources[g][2]) < 1e-6)
        break;
    if (g == sources.size()) sources.push_back(s), groups.emplace_back();
    groups[g].push_back(i);
  }
  return groups;
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
  const int64_t plane_size = convolution.plane_size();

  std::vector<BeamTransform> beams;
  for (const ControlPointGeometry* c : cps)
    beams.emplace_back(geometry.patient_position, geometry.isocenter_mm, c->gantry_deg,
                       c->collimator_deg, c->couch_deg, model.sad_mm);
  const std::vector<std::vector<size_t>> groups = group_by_source(beams);
  auto live = [&](size_t i) {
    const float* f = &fluence.values[i * per_cp];
    return std::any_of(f, f + per_cp, [](float v) { return v != 0.0f; });
  };
  // Source groups dealt round-robin to the threads (neighbours cost about the same).
  const int threads = std::max(1, std::min<int>(thread_count(), static_cast<int>(groups.size())));
  std::vector<Worker> workers(threads);
  detail::with_kernel_components(k_count, [&](auto kc) {
    constexpr int K = decltype(kc)::value;
    parallel_for(threads, [&](long tb, long te) {
      for (long t = tb; t < te; ++t) {
        Worker& wk = workers[t];
        wk.dose.assign(voxels, 0.0f);
        wk.plane.resize(static_cast<size_t>(plane_size) * detail::SourceGroupTrace::kMaxMembers);
        for (size_t gi = t; gi < groups.size(); gi += threads) {
          std::vector<size_t> members;
          for (size_t i : groups[gi])
            if (live(i)) members.push_back(i);
          if (members.empty()) continue;
          // Members in chunks of at most kMaxMembers, each chunk one pass over the voxels.
          constexpr size_t kChunk = detail::SourceGroupTrace::kMaxMembers;
          for (size_t c0 = 0; c0 < members.size(); c0 += kChunk) {
            std::vector<BeamTransform> chunk;
            for (size_t m = c0; m < std::min(members.size(), c0 + kChunk); ++m) {
              convolution.forward(&fluence.values[members[m] * per_cp],
                                  &wk.plane[(m - c0) * plane_size], wk.scratch);
              chunk.push_back(beams[members[m]]);
            }
            const ControlPointGeometry& g = *cps[members[c0]];
            const BeamTransform frame(geometry.patient_position, geometry.isocenter_mm, g.gantry_deg,
                                      0.0, g.couch_deg, model.sad_mm);
            const detail::SourceGroupTrace trace(context, chunk, frame, options.depth_method);
            wk.pairs += detail::add_group_dose<K>(trace, table, {wk.plane.data(), plane.width, plane_size},
                                                  options.vector_gather, wk.dose.data());
            if (trace.used_lattice()) wk.lattice += trace.members();
            wk.control_points += trace.members();
          }
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
