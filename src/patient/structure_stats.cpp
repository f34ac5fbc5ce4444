#include "vmatplan/patient/structure_stats.h"

#include <algorithm>
#include <limits>

#include "vmatplan/core/error.h"

namespace vmatplan {

StructureStats compute_structure_stats(const Mask& mask) {
  StructureStats st;
  const auto& g = mask.grid;
  Vec3 sum{0, 0, 0};
  constexpr double inf = std::numeric_limits<double>::infinity();
  st.bbox_min_mm = {inf, inf, inf};
  st.bbox_max_mm = {-inf, -inf, -inf};
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        if (!mask.voxels[g.linear_index(i, j, k)]) continue;
        ++st.voxel_count;
        Vec3 p = g.index_to_physical({double(i), double(j), double(k)});
        for (int a = 0; a < 3; ++a) {
          sum[a] += p[a];
          st.bbox_min_mm[a] = std::min(st.bbox_min_mm[a], p[a]);
          st.bbox_max_mm[a] = std::max(st.bbox_max_mm[a], p[a]);
        }
      }
  if (st.voxel_count == 0) {
    st.bbox_min_mm = st.bbox_max_mm = {0, 0, 0};
    return st;
  }
  st.volume_cc = double(st.voxel_count) * g.voxel_volume_mm3() / 1000.0;
  for (int a = 0; a < 3; ++a) st.centroid_mm[a] = sum[a] / double(st.voxel_count);
  return st;
}

double dice(const Mask& a, const Mask& b) {
  if (!a.grid.same_geometry(b.grid))
    throw ProcessingError("dice: the two masks are on different grids");
  int64_t na = 0, nb = 0, both = 0;
  for (size_t n = 0; n < a.voxels.size(); ++n) {
    bool x = a.voxels[n] != 0, y = b.voxels[n] != 0;
    na += x;
    nb += y;
    both += (x && y);
  }
  if (na + nb == 0) return 1.0;
  return 2.0 * double(both) / double(na + nb);
}

}  // namespace vmatplan
