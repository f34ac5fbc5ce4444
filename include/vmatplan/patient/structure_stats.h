#pragma once
// Volume, centroid and bounding box of a mask, in patient coordinates.
#include "vmatplan/core/image3d.h"

namespace vmatplan {

struct StructureStats {
  int64_t voxel_count = 0;
  double volume_cc = 0.0;
  Vec3 centroid_mm{0, 0, 0};
  Vec3 bbox_min_mm{0, 0, 0};  // over voxel centres, per LPS axis
  Vec3 bbox_max_mm{0, 0, 0};
};

StructureStats compute_structure_stats(const Mask& mask);

// Dice similarity 2|A∩B|/(|A|+|B|) of two masks on the same grid (1 when both empty).
double dice(const Mask& a, const Mask& b);

}  // namespace vmatplan
