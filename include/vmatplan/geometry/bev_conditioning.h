#pragma once
// Beam's-eye-view conditioning images: what the learned fluence generator sees per control
// point, on the plan's fluence grid. The one source of truth for those inputs: the training
// export of `generate` writes them and the generator computes them again at inference.
//
//   BevConditioningInputs in{patient, roles, "ptv", geometry, grid, machine.sad_mm};
//   BevConditioning c = compute_bev_conditioning(in);
//   c.at(cp, kChannelRectum, row, bixel);   // 0..1 coverage of that bixel by the rectum
//
// Channels (kBevChannelNames, fixed order), each [rows][bixels] per control point:
//   target, rectum, bladder, femoral_head_left, femoral_head_right
//       coverage 0..1 of each bixel by the structure's divergent projection
//       (project_voxels: the covered fraction of the bixel's area). "target" is the
//       protocol's primary target role (a missing target is an InputError); a missing
//       organ gives an all-zero channel and is listed in `absent`.
//   body_depth
//       geometric path length inside the body along the bixel's central ray (source ->
//       bixel centre on the isocentre plane), from where the ray enters the body up to the
//       isocentre plane, divided by kBodyDepthScaleMm (so 1.0 = 100 mm). Exact: a voxel
//       traversal (Amanatides & Woo 1987) of the body mask on its own grid sums the
//       segment length inside each body voxel; no sampling. The body is the structure
//       with role "body", else CT > -400 HU (the same rule as the dose grid's body).
// Threads: control points are spread over core/threads.h's parallel_for.
#include <array>
#include <string>
#include <vector>

#include "vmatplan/geometry/arc.h"
#include "vmatplan/geometry/fluence_grid.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {

enum BevChannel : int {
  kChannelTarget = 0,
  kChannelRectum,
  kChannelBladder,
  kChannelFemoralHeadLeft,
  kChannelFemoralHeadRight,
  kChannelBodyDepth,
  kBevChannelCount
};
// Channel names in tensor order; the structure channels (all but body_depth) are also the
// structure roles they are looked up by, except "target" (the protocol's target role).
extern const std::array<const char*, kBevChannelCount> kBevChannelNames;
constexpr double kBodyDepthScaleMm = 100.0;  // body_depth = path length mm / this
constexpr double kBodyHuThreshold = -400.0;  // body when no structure has the role "body"

struct BevConditioningInputs {
  const Patient& patient;
  const StructureRoles& roles;
  std::string target_role;        // e.g. the protocol's first target level ("ptv")
  const PlanGeometry& geometry;   // control points in beam order
  const FluenceGrid& grid;
  double sad_mm = 1000.0;
};

struct BevConditioning {
  int control_points = 0, rows = 0, bixels = 0;
  std::vector<float> values;                  // [cp][channel][row][bixel]
  std::array<std::string, kBevChannelCount> sources;  // structure name, or "CT > -400 HU"; "" absent
  std::vector<std::string> absent;            // channel names without a structure

  static constexpr int channels = kBevChannelCount;
  size_t index(int cp, int channel, int row, int bixel) const {
    return ((static_cast<size_t>(cp) * channels + channel) * rows + row) * bixels + bixel;
  }
  float at(int cp, int channel, int row, int bixel) const { return values[index(cp, channel, row, bixel)]; }
};

// InputError (naming the patient's source) when the target role has no structure.
BevConditioning compute_bev_conditioning(const BevConditioningInputs& inputs);

// Length (mm) of the segment a -> b (LPS) that lies inside the mask's voxels (exact voxel
// traversal; voxels are boxes of the mask's spacing around their centres).
double path_length_in_mask_mm(const Mask& mask, const Vec3& a_lps, const Vec3& b_lps);

}  // namespace vmatplan
