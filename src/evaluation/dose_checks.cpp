#include "vmatplan/evaluation/dose_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "vmatplan/core/error.h"
#include "vmatplan/patient/patient_checks.h"

namespace vmatplan {

void validate_dose_image(const DoseImage& dose, const std::string& path) {
  const std::string g = grid_problem(dose.grid);
  if (!g.empty()) throw InputError(path, "dose " + g);
  if (static_cast<int64_t>(dose.voxels.size()) != dose.grid.voxel_count())
    throw InputError(path, "dose voxel count does not match its grid");
  int64_t bad = 0, negative = 0;
  float lo = 0, hi = 0;
  for (float v : dose.voxels) {
    if (!std::isfinite(v)) {
      ++bad;
      continue;
    }
    if (v < -0.01f) ++negative;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (bad > 0)
    throw InputError(path, "dose has " + std::to_string(bad) + " voxels that are not finite numbers (NaN or Inf)");
  char buf[96];
  if (negative > 0) {
    std::snprintf(buf, sizeof buf, " voxels with negative dose (down to %g Gy)", lo);
    throw InputError(path, "dose has " + std::to_string(negative) + buf);
  }
  if (hi > 10000.0f) {
    std::snprintf(buf, sizeof buf, "dose maximum %g Gy is not plausible (a dose in Gy is expected)", hi);
    throw InputError(path, buf);
  }
}

double percent_outside_dose_grid(const Structure& s, const ImageGrid& dg) {
  const ImageGrid& g = s.mask.grid;
  int64_t n = 0, outside = 0;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        if (!s.mask.voxels[g.linear_index(i, j, k)]) continue;
        ++n;
        const Vec3 c = dg.physical_to_index(
            g.index_to_physical({static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)}));
        for (int a = 0; a < 3; ++a)
          if (!(c[a] >= -0.5 && c[a] <= static_cast<double>(dg.size[a]) - 0.5)) {
            ++outside;
            break;
          }
      }
  return n == 0 ? 0.0 : 100.0 * static_cast<double>(outside) / static_cast<double>(n);
}

}  // namespace vmatplan
