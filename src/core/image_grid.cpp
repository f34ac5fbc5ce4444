#include "vmatplan/core/image_grid.h"

#include <cmath>

namespace vmatplan {

Vec3 ImageGrid::index_to_physical(const Vec3& index) const {
  Vec3 p = origin_mm;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) p[r] += direction[r * 3 + c] * spacing_mm[c] * index[c];
  return p;
}

Vec3 ImageGrid::physical_to_index(const Vec3& point_mm) const {
  // The direction matrix is orthonormal, so its inverse is its transpose.
  Vec3 d{point_mm[0] - origin_mm[0], point_mm[1] - origin_mm[1], point_mm[2] - origin_mm[2]};
  Vec3 idx{0, 0, 0};
  for (int c = 0; c < 3; ++c) {
    double s = 0;
    for (int r = 0; r < 3; ++r) s += direction[r * 3 + c] * d[r];
    idx[c] = s / spacing_mm[c];
  }
  return idx;
}

bool ImageGrid::same_geometry(const ImageGrid& o, double tol) const {
  if (size != o.size) return false;
  for (int a = 0; a < 3; ++a) {
    if (std::abs(spacing_mm[a] - o.spacing_mm[a]) > tol) return false;
    if (std::abs(origin_mm[a] - o.origin_mm[a]) > tol) return false;
  }
  for (int a = 0; a < 9; ++a)
    if (std::abs(direction[a] - o.direction[a]) > tol) return false;
  return true;
}

std::string ImageGrid::orientation_code() const {
  // For each index axis, the LPS letter of its dominant component (ITK's convention).
  static const char pos[3] = {'L', 'P', 'S'};
  static const char neg[3] = {'R', 'A', 'I'};
  std::string code;
  for (int c = 0; c < 3; ++c) {
    int best = 0;
    for (int r = 1; r < 3; ++r)
      if (std::abs(direction[r * 3 + c]) > std::abs(direction[best * 3 + c])) best = r;
    code += direction[best * 3 + c] >= 0 ? pos[best] : neg[best];
  }
  return code;
}

}  // namespace vmatplan
