#include "depth_lattice.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vmatplan::detail {
namespace {

// Trilinear RED at a continuous index; 0 outside the grid.
float red_at(const DoseVolume& v, double x, double y, double z) {
  const ImageGrid& g = v.grid;
  const int64_t i = static_cast<int64_t>(std::floor(x)), j = static_cast<int64_t>(std::floor(y)),
                k = static_cast<int64_t>(std::floor(z));
  if (i < -1 || j < -1 || k < -1 || i >= g.size[0] || j >= g.size[1] || k >= g.size[2]) return 0.0f;
  const double fx = x - i, fy = y - j, fz = z - k;
  double sum = 0;
  for (int c = 0; c < 8; ++c) {
    const int64_t a = i + (c & 1), b = j + ((c >> 1) & 1), d = k + (c >> 2);
    if (a < 0 || b < 0 || d < 0 || a >= g.size[0] || b >= g.size[1] || d >= g.size[2]) continue;
    const double w = ((c & 1) ? fx : 1 - fx) * (((c >> 1) & 1) ? fy : 1 - fy) * ((c >> 2) ? fz : 1 - fz);
    sum += w * v.red[a + g.size[0] * (b + g.size[1] * d)];
  }
  return static_cast<float>(sum);
}

}  // namespace

std::vector<Vec3> DepthLattice::body_corners(const DoseVolume& volume) {
  const ImageGrid& g = volume.grid;
  int64_t lo[3] = {g.size[0], g.size[1], g.size[2]}, hi[3] = {-1, -1, -1};
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        if (volume.red[g.linear_index(i, j, k)] > 0) {
          lo[0] = std::min(lo[0], i), hi[0] = std::max(hi[0], i);
          lo[1] = std::min(lo[1], j), hi[1] = std::max(hi[1], j);
          lo[2] = std::min(lo[2], k), hi[2] = std::max(hi[2], k);
        }
  std::vector<Vec3> corners;
  if (hi[0] < 0) return corners;
  for (int c = 0; c < 8; ++c)
    corners.push_back(g.index_to_physical({(c & 1) ? hi[0] + 1.0 : lo[0] - 1.0,
                                           ((c >> 1) & 1) ? hi[1] + 1.0 : lo[1] - 1.0,
                                           (c >> 2) ? hi[2] + 1.0 : lo[2] - 1.0}));
  return corners;
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

DepthLattice::DepthLattice(const DoseVolume& volume, const BeamTransform& beam, double u0,
                           double v0, double du, int nu, int nv, double z_min, double z_max,
                           double dz, const std::vector<uint8_t>& needed)
    : u0_(u0), v0_(v0), du_(du), z0_(z_min), dz_(dz), nu_(nu), nv_(nv) {
  nz_ = std::max(2, static_cast<int>(std::ceil((z_max - z_min) / dz)) + 1);
  depth_.assign(static_cast<size_t>(nu_) * nv_ * nz_, 0.0f);
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
      const double u = u0_ + iu * du_, v = v0_ + jv * du_;
      // Ray point at distance z: source + z * R (u/SAD, v/SAD, -1).
      const Vec3 b{u / sad, v / sad, -1.0};
      const Vec3 d_lps{r[0] * b[0] + r[1] * b[1] + r[2] * b[2], r[3] * b[0] + r[4] * b[1] + r[5] * b[2],
                       r[6] * b[0] + r[7] * b[1] + r[8] * b[2]};
      const Vec3 d_idx = to_index_dir(d_lps);
      const double stretch = std::sqrt(b[0] * b[0] + b[1] * b[1] + 1.0);  // path mm per z mm
      float* out = &depth_[(static_cast<size_t>(jv) * nu_ + iu) * nz_];
      double acc = 0, prev = 0;
      for (int k = 0; k < nz_; ++k) {
        const double z = z0_ + k * dz_;
        const double red = red_at(volume, s_idx[0] + z * d_idx[0], s_idx[1] + z * d_idx[1],
                                  s_idx[2] + z * d_idx[2]);
        if (k > 0) acc += 0.5 * (prev + red) * dz_ * stretch;
        prev = red;
        out[k] = static_cast<float>(acc);
      }
    }
}

double DepthLattice::depth_mm(double u, double v, double z) const {
  double fu = std::clamp((u - u0_) / du_, 0.0, nu_ - 1.000001);
  double fv = std::clamp((v - v0_) / du_, 0.0, nv_ - 1.000001);
  double fz = std::clamp((z - z0_) / dz_, 0.0, nz_ - 1.000001);
  const int iu = static_cast<int>(fu), iv = static_cast<int>(fv), iz = static_cast<int>(fz);
  fu -= iu, fv -= iv, fz -= iz;
  auto at = [&](int a, int b, int c) {
    return static_cast<double>(depth_[(static_cast<size_t>(b) * nu_ + a) * nz_ + c]);
  };
  auto lerp_z = [&](int a, int b) { return (1 - fz) * at(a, b, iz) + fz * at(a, b, iz + 1); };
  return (1 - fv) * ((1 - fu) * lerp_z(iu, iv) + fu * lerp_z(iu + 1, iv)) +
         fv * ((1 - fu) * lerp_z(iu, iv + 1) + fu * lerp_z(iu + 1, iv + 1));
}

}  // namespace vmatplan::detail
