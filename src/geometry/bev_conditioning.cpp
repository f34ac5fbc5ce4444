// compute_bev_conditioning: per control point, structure coverage and body depth on the
// fluence grid (see bev_conditioning.h for the channel definitions).
#include "vmatplan/geometry/bev_conditioning.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/geometry/beams_eye_view.h"
#include "vmatplan/geometry/iec61217.h"

namespace vmatplan {

const std::array<const char*, kBevChannelCount> kBevChannelNames = {
    "target", "rectum", "bladder", "femoral_head_left", "femoral_head_right", "body_depth"};

namespace {

// path_length_in_mask_mm with the start point already in continuous index (the body-depth
// rays of a control point share their source) and the segment length given.
double mask_path_length_from_index(const Mask& mask, const Vec3& a, const Vec3& b, double length_mm) {
  const ImageGrid& g = mask.grid;
  const double inf = std::numeric_limits<double>::infinity();
  // Clip t in [0, 1] to the grid's box [-0.5, size - 0.5] along each index axis (slabs).
  double d[3], t_in = 0.0, t_out = 1.0;
  for (int k = 0; k < 3; ++k) {
    d[k] = b[k] - a[k];
    const double lo = -0.5, hi = static_cast<double>(g.size[k]) - 0.5;
    if (std::abs(d[k]) < 1e-12) {
      if (a[k] < lo || a[k] > hi) return 0.0;
      continue;
    }
    double t0 = (lo - a[k]) / d[k], t1 = (hi - a[k]) / d[k];
    if (t0 > t1) std::swap(t0, t1);
    t_in = std::max(t_in, t0);
    t_out = std::min(t_out, t1);
  }
  if (!(t_out > t_in)) return 0.0;

  // Amanatides & Woo: walk the voxels the segment crosses, in order. The voxel's linear
  // index moves with it (stride per axis), and `left` counts the steps an axis has before
  // it leaves the grid, in place of comparing the index with the size at every step.
  int64_t cur[3], stride[3] = {1, g.size[0], g.size[0] * g.size[1]}, left[3];
  int step[3];
  double t_max[3], t_delta[3];
  const double t_start = t_in + 1e-9 * (t_out - t_in);
  for (int k = 0; k < 3; ++k) {
    const double p = a[k] + t_start * d[k];
    cur[k] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(p + 0.5)), 0, g.size[k] - 1);
    if (d[k] > 0) {
      step[k] = 1, t_max[k] = (static_cast<double>(cur[k]) + 0.5 - a[k]) / d[k], t_delta[k] = 1.0 / d[k];
    } else if (d[k] < 0) {
      step[k] = -1, t_max[k] = (static_cast<double>(cur[k]) - 0.5 - a[k]) / d[k], t_delta[k] = -1.0 / d[k];
    } else {
      step[k] = 0, t_max[k] = inf, t_delta[k] = inf;
    }
    left[k] = step[k] > 0 ? g.size[k] - 1 - cur[k] : cur[k];
    stride[k] *= step[k];
  }
  const uint8_t* voxel = mask.voxels.data() + g.linear_index(cur[0], cur[1], cur[2]);
  double t = t_in, inside = 0.0;
  for (;;) {
    const int k = t_max[0] < t_max[1] ? (t_max[0] < t_max[2] ? 0 : 2) : (t_max[1] < t_max[2] ? 1 : 2);
    const double t_next = std::min(t_max[k], t_out);
    if (*voxel) inside += t_next - t;
    if (t_max[k] >= t_out) break;
    t = t_max[k];
    if (left[k]-- == 0) break;  // the next voxel along k is outside the grid
    voxel += stride[k];
    t_max[k] += t_delta[k];
  }
  return inside * length_mm;
}

}  // namespace

double path_length_in_mask_mm(const Mask& mask, const Vec3& a_lps, const Vec3& b_lps) {
  if (mask.empty()) return 0.0;
  const ImageGrid& g = mask.grid;
  return mask_path_length_from_index(
      mask, g.physical_to_index(a_lps), g.physical_to_index(b_lps),
      std::hypot(b_lps[0] - a_lps[0], b_lps[1] - a_lps[1], b_lps[2] - a_lps[2]));
}

BevConditioning compute_bev_conditioning(const BevConditioningInputs& in) {
  const Patient& patient = in.patient;
  BevConditioning c;
  c.control_points = in.geometry.control_point_count();
  c.rows = in.grid.row_count();
  c.bixels = in.grid.bixel_count;
  if (c.rows <= 0 || c.bixels <= 0) throw ProcessingError("BEV conditioning: empty fluence grid");

  // Structures per channel; the target must exist, organs may not.
  std::array<const Structure*, kBevChannelCount> structure{};
  try {
    structure[kChannelTarget] = &in.roles.resolve(patient, in.target_role);
  } catch (const ProcessingError& e) {
    throw InputError(patient.source.empty() ? "patient" : patient.source, e.what());
  }
  for (int ch = kChannelRectum; ch < kChannelBodyDepth; ++ch)
    structure[ch] = in.roles.find(patient, kBevChannelNames[ch]);
  std::array<std::optional<VoxelCloud>, kBevChannelCount> clouds;
  for (int ch = 0; ch < kChannelBodyDepth; ++ch) {
    if (structure[ch]) {
      c.sources[ch] = structure[ch]->name;
    } else {
      c.absent.push_back(kBevChannelNames[ch]);
    }
  }
  // Each structure's scan of its whole mask grid is serial work before the control
  // points; the structures are independent.
  parallel_for(kChannelBodyDepth, [&](long begin, long end) {
    for (long ch = begin; ch < end; ++ch)
      if (structure[ch]) clouds[ch] = extract_voxels(structure[ch]->mask);
  });

  // The body: its structure, else a CT threshold (as the dose grid does).
  Mask threshold_body;
  const Mask* body = nullptr;
  if (const Structure* s = in.roles.find(patient, "body"); s && !s->mask.empty()) {
    body = &s->mask;
    c.sources[kChannelBodyDepth] = s->name;
  } else if (!patient.ct_hu.empty()) {
    threshold_body = Mask(patient.ct_hu.grid, 0);
    for (size_t i = 0; i < threshold_body.voxels.size(); ++i)
      threshold_body.voxels[i] = patient.ct_hu.voxels[i] > kBodyHuThreshold;
    body = &threshold_body;
    c.sources[kChannelBodyDepth] = "CT > -400 HU";
  } else {
    c.absent.push_back(kBevChannelNames[kChannelBodyDepth]);
  }

  std::vector<const ControlPointGeometry*> cps;
  for (const Beam& b : in.geometry.beams)
    for (const ControlPointGeometry& cp : b.control_points) cps.push_back(&cp);
  c.values.assign(static_cast<size_t>(c.control_points) * c.channels * c.rows * c.bixels, 0.0f);
  // A bad patient position or SAD throws here, not inside a worker thread.
  (void)BeamTransform(in.geometry.patient_position, in.geometry.isocenter_mm, 0, 0, 0, in.sad_mm);

  parallel_for(static_cast<long>(cps.size()), [&](long begin, long end) {
    for (long i = begin; i < end; ++i) {
      const ControlPointGeometry& cp = *cps[static_cast<size_t>(i)];
      const BeamTransform t(in.geometry.patient_position, in.geometry.isocenter_mm, cp.gantry_deg,
                            cp.collimator_deg, cp.couch_deg, in.sad_mm);
      const int cpi = static_cast<int>(i);
      for (int ch = 0; ch < kChannelBodyDepth; ++ch) {
        if (!clouds[ch]) continue;
        const std::vector<float> cov = project_voxels(*clouds[ch], t, in.grid);
        std::copy(cov.begin(), cov.end(), c.values.begin() + static_cast<long>(c.index(cpi, ch, 0, 0)));
      }
      if (!body) continue;
      const Vec3 source = t.source_lps();
      const Vec3 source_index = body->grid.physical_to_index(source);
      float* depth = c.values.data() + c.index(cpi, kChannelBodyDepth, 0, 0);
      for (int r = 0; r < c.rows; ++r) {
        const double y = 0.5 * (in.grid.row_edges_mm[r] + in.grid.row_edges_mm[r + 1]);
        for (int b = 0; b < c.bixels; ++b) {
          const Vec3 on_plane = t.bld_to_patient({in.grid.bixel_center_mm(b), y, 0.0});
          // = path_length_in_mask_mm(*body, source, on_plane), the source's index hoisted
          const double length_mm =
              std::hypot(on_plane[0] - source[0], on_plane[1] - source[1], on_plane[2] - source[2]);
          const double path_mm =
              mask_path_length_from_index(*body, source_index, body->grid.physical_to_index(on_plane), length_mm);
          depth[static_cast<size_t>(r) * c.bixels + b] = static_cast<float>(path_mm / kBodyDepthScaleMm);
        }
      }
    }
  });
  return c;
}

}  // namespace vmatplan
