#include "vmatplan/dose/dose_volume.h"

#include <array>
#include <cmath>
#include <limits>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {
namespace {

// The body on the CT grid: the structure playing body_role, else HU > -400.
std::vector<uint8_t> body_on_ct(const Patient& p, const std::string& role) {
  const Structure* body = nullptr;
  try {
    body = StructureRoles::load_default().find(p, role);
  } catch (const InputError&) {
    body = p.find_structure(role);  // no roles file: an exact name still works
  }
  if (body && body->mask.grid.same_geometry(p.ct_hu.grid)) return body->mask.voxels;
  std::vector<uint8_t> m(p.ct_hu.voxels.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = p.ct_hu.voxels[i] > -400.0f;
  return m;
}

}  // namespace

DoseVolume make_dose_volume(const Patient& patient, const DoseVolumeOptions& options,
                            const HuToRed& table) {
  const ImageGrid& ct = patient.ct_hu.grid;
  if (patient.ct_hu.empty()) throw ProcessingError("patient has no CT image");
  const double s = options.spacing_mm;
  if (!(s > 0)) throw UsageError("dose grid spacing must be positive");
  if (options.compute_mask && !options.compute_mask->grid.same_geometry(ct))
    throw ProcessingError("dose compute mask is not on the CT grid");

  DoseVolume v;
  v.grid.spacing_mm = {s, s, s};
  v.grid.direction = ct.direction;
  Vec3 start_index{};
  for (int a = 0; a < 3; ++a) {
    double extent = ct.size[a] * ct.spacing_mm[a];
    v.grid.size[a] = std::max<int64_t>(1, static_cast<int64_t>(std::floor(extent / s + 1e-6)));
    start_index[a] = -0.5 + 0.5 * s / ct.spacing_mm[a];  // CT index of dose voxel 0's centre
  }
  v.grid.origin_mm = ct.index_to_physical(start_index);

  const std::vector<uint8_t> body = body_on_ct(patient, options.body_role);
  const size_t n = static_cast<size_t>(v.grid.voxel_count());
  std::vector<double> red_sum(n, 0.0);
  std::vector<int32_t> count(n, 0), body_count(n, 0), roi_count(n, 0);
  auto dose_index = [&](int64_t i, int a) {
    return static_cast<int64_t>(std::floor((i + 0.5) * ct.spacing_mm[a] / s));
  };
  // Along each axis, the dose index of every CT index (-1 past the dose grid).
  std::array<std::vector<int64_t>, 3> to_dose;
  for (int a = 0; a < 3; ++a) {
    to_dose[a].resize(ct.size[a]);
    for (int64_t i = 0; i < ct.size[a]; ++i) {
      const int64_t d = dose_index(i, a);
      to_dose[a][i] = d < v.grid.size[a] ? d : -1;
    }
  }
  // Threads over dose slices: each owns the CT slices that fall in its dose slices.
  parallel_for(static_cast<long>(v.grid.size[2]), [&](long dk_begin, long dk_end) {
    for (int64_t k = 0; k < ct.size[2]; ++k) {
      const int64_t dk = to_dose[2][k];
      if (dk < dk_begin || dk >= dk_end) continue;
      for (int64_t j = 0; j < ct.size[1]; ++j) {
        const int64_t dj = to_dose[1][j];
        if (dj < 0) continue;
        const int64_t c0 = ct.linear_index(0, j, k);
        for (int64_t i = 0; i < ct.size[0]; ++i) {
          const int64_t di = to_dose[0][i];
          if (di < 0) continue;
          const int64_t c = c0 + i, d = v.grid.linear_index(di, dj, dk);
          ++count[d];
          if (body[c]) {
            ++body_count[d];
            red_sum[d] += table.red(patient.ct_hu.voxels[c]);
          }
          if (options.compute_mask && options.compute_mask->voxels[c]) ++roi_count[d];
        }
      }
    }
  });
  v.red.assign(n, 0.0f);
  for (int64_t k = 0; k < v.grid.size[2]; ++k)
    for (int64_t j = 0; j < v.grid.size[1]; ++j)
      for (int64_t i = 0; i < v.grid.size[0]; ++i) {
        int64_t d = v.grid.linear_index(i, j, k);
        bool in_body = false, in_roi = options.compute_mask == nullptr;
        if (count[d] > 0) {
          in_body = 2 * body_count[d] >= count[d];
          if (in_body) v.red[d] = static_cast<float>(red_sum[d] / count[d]);
          if (options.compute_mask) in_roi = roi_count[d] > 0;
        } else {  // dose voxel smaller than a CT voxel: nearest CT voxel
          Vec3 ci{start_index[0] + i * s / ct.spacing_mm[0],
                  start_index[1] + j * s / ct.spacing_mm[1],
                  start_index[2] + k * s / ct.spacing_mm[2]};
          int64_t a = std::llround(ci[0]), b = std::llround(ci[1]), c = std::llround(ci[2]);
          if (!ct.contains_index(a, b, c)) continue;
          int64_t lc = ct.linear_index(a, b, c);
          in_body = body[lc];
          if (in_body) v.red[d] = static_cast<float>(table.red(patient.ct_hu.voxels[lc]));
          if (options.compute_mask) in_roi = options.compute_mask->voxels[lc];
        }
        if (in_body && in_roi) v.compute_voxels.push_back(d);
      }
  return v;
}

double radiological_depth_mm(const DoseVolume& volume, int64_t voxel, const Vec3& source_lps) {
  const ImageGrid& g = volume.grid;
  const int64_t nx = g.size[0], ny = g.size[1];
  int64_t cur[3] = {voxel % nx, (voxel / nx) % ny, voxel / (nx * ny)};
  Vec3 src = g.physical_to_index(source_lps);
  double dir[3], t_max[3], t_delta[3];
  int step[3];
  double len2 = 0;
  for (int a = 0; a < 3; ++a) {
    dir[a] = src[a] - static_cast<double>(cur[a]);  // index units per unit parameter t
    len2 += dir[a] * dir[a] * g.spacing_mm[a] * g.spacing_mm[a];
    const double inf = std::numeric_limits<double>::infinity();
    if (dir[a] > 0) {
      step[a] = 1, t_max[a] = 0.5 / dir[a], t_delta[a] = 1.0 / dir[a];
    } else if (dir[a] < 0) {
      step[a] = -1, t_max[a] = -0.5 / dir[a], t_delta[a] = -1.0 / dir[a];
    } else {
      step[a] = 0, t_max[a] = inf, t_delta[a] = inf;
    }
  }
  const double length_mm = std::sqrt(len2);
  double t = 0.0, depth = 0.0;
  for (;;) {
    int a = t_max[0] < t_max[1] ? (t_max[0] < t_max[2] ? 0 : 2) : (t_max[1] < t_max[2] ? 1 : 2);
    double t_next = std::min(t_max[a], 1.0);
    depth += volume.red[cur[0] + nx * (cur[1] + ny * cur[2])] * (t_next - t);
    if (t_max[a] >= 1.0) break;  // reached the source (never, in practice)
    t = t_max[a];
    cur[a] += step[a];
    if (cur[a] < 0 || cur[a] >= g.size[a]) break;
    t_max[a] += t_delta[a];
  }
  return depth * length_mm;
}

}  // namespace vmatplan
