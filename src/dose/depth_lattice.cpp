#include "depth_lattice.h"

#include <cmath>
#include <limits>

namespace vmatplan::detail {
namespace {

struct Ray {
  double s[3];  // source, continuous index
  double d[3];  // index units per mm of z
};

// Cumulative RED path (mm) along one ray, recorded at z0 + k dz for k < nz: exact for the
// piecewise-constant voxels (Amanatides-Woo traversal inside the box), 0 before the box,
// constant after it.
void trace_ray(const DoseVolume& volume, const RedBox& box, const Ray& ray, double stretch,
               double z0, double dz, int nz, float units_per_mm, uint16_t* out) {
  auto units = [units_per_mm](double depth_mm) {
    return static_cast<uint16_t>(std::min(65535.0, depth_mm * units_per_mm + 0.5));
  };
  const ImageGrid& g = volume.grid;
  constexpr double inf = std::numeric_limits<double>::infinity();
  double z_in = -inf, z_out = inf;
  for (int a = 0; a < 3; ++a) {
    const double lo = box.lo[a] - 0.5, hi = box.hi[a] + 0.5;
    if (ray.d[a] == 0) {
      if (ray.s[a] < lo || ray.s[a] >= hi) z_in = inf;
      continue;
    }
    double t1 = (lo - ray.s[a]) / ray.d[a], t2 = (hi - ray.s[a]) / ray.d[a];
    if (t1 > t2) std::swap(t1, t2);
    z_in = std::max(z_in, t1), z_out = std::min(z_out, t2);
  }
  int k = 0;
  if (!(z_in < z_out)) {
    std::fill(out, out + nz, uint16_t{0});
    return;
  }
  for (; k < nz && z0 + k * dz <= z_in; ++k) out[k] = 0;
  if (k == nz) return;

  // Start in the voxel the ray enters (mid-way into the box, to be safe at its faces).
  const double z_start = z_in;
  const double z_probe = z_in + 1e-6 * (z_out - z_in);
  int64_t cur[3];
  int step[3];
  double z_next[3], z_delta[3];
  for (int a = 0; a < 3; ++a) {
    const double p = ray.s[a] + z_probe * ray.d[a];
    cur[a] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(p + 0.5)), box.lo[a], box.hi[a]);
    if (ray.d[a] > 0) {
      step[a] = 1, z_next[a] = (cur[a] + 0.5 - ray.s[a]) / ray.d[a], z_delta[a] = 1.0 / ray.d[a];
    } else if (ray.d[a] < 0) {
      step[a] = -1, z_next[a] = (cur[a] - 0.5 - ray.s[a]) / ray.d[a], z_delta[a] = -1.0 / ray.d[a];
    } else {
      step[a] = 0, z_next[a] = inf, z_delta[a] = inf;
    }
  }
  const int64_t stride[3] = {1, g.size[0], g.size[0] * g.size[1]};
  int64_t index = cur[0] + stride[1] * cur[1] + stride[2] * cur[2];
  // The walk's state in registers (not arrays indexed by the axis that steps), so the
  // next boundary is not a store-to-load round trip per voxel.
  double zn0 = z_next[0], zn1 = z_next[1], zn2 = z_next[2];
  int64_t c0 = cur[0], c1 = cur[1], c2 = cur[2];
  double acc = 0.0, z_seg = z_start;
  for (;;) {
    const int a = zn0 < zn1 ? (zn0 < zn2 ? 0 : 2) : (zn1 < zn2 ? 1 : 2);
    const double z_end = std::min(a == 0 ? zn0 : a == 1 ? zn1 : zn2, z_out);
    const double rate = volume.red[index] * stretch;  // depth mm per mm of z
    for (double zk = z0 + k * dz; k < nz && zk < z_end; ++k, zk += dz)
      out[k] = units(acc + rate * (zk - z_seg));
    acc += rate * (z_end - z_seg);
    z_seg = z_end;
    if (z_end >= z_out) break;
    if (a == 0) {
      c0 += step[0];
      if (c0 < box.lo[0] || c0 > box.hi[0]) break;
      index += step[0], zn0 += z_delta[0];
    } else if (a == 1) {
      c1 += step[1];
      if (c1 < box.lo[1] || c1 > box.hi[1]) break;
      index += step[1] * stride[1], zn1 += z_delta[1];
    } else {
      c2 += step[2];
      if (c2 < box.lo[2] || c2 > box.hi[2]) break;
      index += step[2] * stride[2], zn2 += z_delta[2];
    }
  }
  std::fill(out + k, out + nz, units(acc));
}

}  // namespace

RedBox RedBox::of(const DoseVolume& volume) {
  const ImageGrid& g = volume.grid;
  RedBox b;
  for (int a = 0; a < 3; ++a) b.lo[a] = g.size[a], b.hi[a] = -1;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j) {
      const float* row = &volume.red[g.linear_index(0, j, k)];
      for (int64_t i = 0; i < g.size[0]; ++i)
        if (row[i] > 0) {
          b.lo[0] = std::min(b.lo[0], i), b.hi[0] = std::max(b.hi[0], i);
          b.lo[1] = std::min(b.lo[1], j), b.hi[1] = std::max(b.hi[1], j);
          b.lo[2] = std::min(b.lo[2], k), b.hi[2] = std::max(b.hi[2], k);
        }
    }
  return b;
}

std::vector<Vec3> RedBox::corners(const ImageGrid& g) const {
  std::vector<Vec3> out;
  if (empty()) return out;
  for (int c = 0; c < 8; ++c)
    out.push_back(g.index_to_physical({(c & 1) ? hi[0] + 1.0 : lo[0] - 1.0,
                                       ((c >> 1) & 1) ? hi[1] + 1.0 : lo[1] - 1.0,
                                       (c >> 2) ? hi[2] + 1.0 : lo[2] - 1.0}));
  return out;
}

std::array<double, 2> DepthLattice::z_range(const std::vector<Vec3>& corners,
                                            const BeamTransform& beam) {
  if (corners.empty()) return {beam.sad_mm(), beam.sad_mm() + 1.0};
  double z_min = std::numeric_limits<double>::infinity(), z_max = -z_min;
  for (const Vec3& c : corners) {
    double z = beam.sad_mm() - beam.patient_to_bld(c)[2];
    z_min = std::min(z_min, z), z_max = std::max(z_max, z);
  }
  return {std::max(z_min, 1.0), std::max(z_max, 2.0)};
}

DepthLattice::DepthLattice(const DoseVolume& volume, const RedBox& box,
                           const BeamTransform& beam, double u0, double v0, double du, int nu,
                           int nv, double z_min, double z_max, double dz,
                           const std::vector<uint8_t>& needed)
    : u0_(static_cast<float>(u0)), v0_(static_cast<float>(v0)),
      inv_du_(static_cast<float>(1.0 / du)), z0_(static_cast<float>(z_min)),
      inv_dz_(static_cast<float>(1.0 / dz)), nu_(nu), nv_(nv) {
  nz_ = std::max(2, static_cast<int>(std::ceil((z_max - z_min) / dz)) + 1);
  depth_.assign(static_cast<size_t>(nu_) * nv_ * nz_, uint16_t{0});
  if (box.empty()) return;
  const ImageGrid& g = volume.grid;
  const double sad = beam.sad_mm();
  // Continuous index of a patient point: M (p - origin), M = diag(1/spacing) D^T.
  auto to_index_dir = [&](const Vec3& d) {
    Vec3 r{};
    for (int a = 0; a < 3; ++a)
      r[a] = (g.direction[a] * d[0] + g.direction[3 + a] * d[1] + g.direction[6 + a] * d[2]) /
             g.spacing_mm[a];
    return r;
  };
  const Vec3 s_idx = g.physical_to_index(beam.source_lps());
  const Mat3& r = beam.bld_to_lps_rotation();
  for (int jv = 0; jv < nv_; ++jv)
    for (int iu = 0; iu < nu_; ++iu) {
      if (!needed.empty() && !needed[static_cast<size_t>(jv) * nu_ + iu]) continue;
      const double u = u0 + iu * du, v = v0 + jv * du;
      // Ray point at distance z: source + z * R (u/SAD, v/SAD, -1).
      const Vec3 b{u / sad, v / sad, -1.0};
      const Vec3 d_lps{r[0] * b[0] + r[1] * b[1] + r[2] * b[2], r[3] * b[0] + r[4] * b[1] + r[5] * b[2],
                       r[6] * b[0] + r[7] * b[1] + r[8] * b[2]};
      const Vec3 d_idx = to_index_dir(d_lps);
      const double stretch = std::sqrt(b[0] * b[0] + b[1] * b[1] + 1.0);  // path mm per z mm
      trace_ray(volume, box, {{s_idx[0], s_idx[1], s_idx[2]}, {d_idx[0], d_idx[1], d_idx[2]}},
                stretch, z_min, dz, nz_, kUnitsPerMm,
                &depth_[(static_cast<size_t>(jv) * nu_ + iu) * nz_]);
    }
}

}  // namespace vmatplan::detail
