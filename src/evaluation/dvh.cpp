#include "vmatplan/evaluation/dvh.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <limits>

#include "vmatplan/core/error.h"
#include "vmatplan/core/huge_pages.h"
#include "vmatplan/core/mask_scan.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Ascending sort of floats by LSD radix sort on their bits (11, 11, 10), the order of
// std::sort for non-NaN values (-0 before +0, which compare equal): O(n), where std::sort of
// a body's millions of CT-grid doses took about 0.1 s per plan evaluation (perf, 2026-12-07).
void sort_floats(std::vector<float>& v) {
  if (v.size() < 4096) return std::sort(v.begin(), v.end());
  const size_t n = v.size();
  std::vector<uint32_t> a, b;  // a body's millions of values: huge pages (core/huge_pages.h)
  reserve_advised(a, n), reserve_advised(b, n);
  a.resize(n), b.resize(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    a[i] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // monotone in the float's value
  }
  for (const auto& [shift, bits] : {std::pair{0, 11}, {11, 11}, {22, 10}}) {
    const uint32_t mask = (1u << bits) - 1;
    std::vector<size_t> start(mask + 2, 0);
    for (uint32_t k : a) ++start[((k >> shift) & mask) + 1];
    for (size_t d = 1; d < start.size(); ++d) start[d] += start[d - 1];
    for (uint32_t k : a) b[start[(k >> shift) & mask]++] = k;
    a.swap(b);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t k = a[i], u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    std::memcpy(&v[i], &u, 4);
  }
}
}  // namespace

double sample_dose_at_index(const DoseImage& dose, const Vec3& index, double outside) {
  const auto& n = dose.grid.size;
  double c[3];
  for (int a = 0; a < 3; ++a) {
    // Half a voxel beyond the outer centres still belongs to the grid (clamped value).
    if (index[a] < -0.5 || index[a] > static_cast<double>(n[a]) - 0.5) return outside;
    c[a] = std::clamp(index[a], 0.0, static_cast<double>(n[a] - 1));
  }
  int64_t i0[3], i1[3];
  double f[3];
  for (int a = 0; a < 3; ++a) {
    i0[a] = static_cast<int64_t>(std::floor(c[a]));
    i1[a] = std::min<int64_t>(i0[a] + 1, n[a] - 1);
    f[a] = c[a] - static_cast<double>(i0[a]);
  }
  const float* v = dose.voxels.data();
  const int64_t sx = 1, sy = n[0], sz = n[0] * n[1];
  auto at = [&](int64_t i, int64_t j, int64_t k) { return static_cast<double>(v[i * sx + j * sy + k * sz]); };
  const double c00 = at(i0[0], i0[1], i0[2]) * (1 - f[0]) + at(i1[0], i0[1], i0[2]) * f[0];
  const double c10 = at(i0[0], i1[1], i0[2]) * (1 - f[0]) + at(i1[0], i1[1], i0[2]) * f[0];
  const double c01 = at(i0[0], i0[1], i1[2]) * (1 - f[0]) + at(i1[0], i0[1], i1[2]) * f[0];
  const double c11 = at(i0[0], i1[1], i1[2]) * (1 - f[0]) + at(i1[0], i1[1], i1[2]) * f[0];
  const double c0 = c00 * (1 - f[1]) + c10 * f[1];
  const double c1 = c01 * (1 - f[1]) + c11 * f[1];
  return c0 * (1 - f[2]) + c1 * f[2];
}

double sample_dose(const DoseImage& dose, const Vec3& point_mm, double outside) {
  return sample_dose_at_index(dose, dose.grid.physical_to_index(point_mm), outside);
}

DoseImage resample_dose(const DoseImage& dose, const ImageGrid& grid, int64_t* outside_voxels) {
  if (outside_voxels) *outside_voxels = 0;
  if (dose.grid.same_geometry(grid)) return dose;
  DoseImage out(grid, 0.0f);
  // Index of the target grid -> index of the dose grid is affine: precompute it.
  const Vec3 o = dose.grid.physical_to_index(grid.index_to_physical({0, 0, 0}));
  Vec3 step[3];
  for (int a = 0; a < 3; ++a) {
    Vec3 e{0, 0, 0};
    e[a] = 1.0;
    const Vec3 p = dose.grid.physical_to_index(grid.index_to_physical(e));
    for (int b = 0; b < 3; ++b) step[a][b] = p[b] - o[b];
  }
  std::vector<int64_t> outside_per_slice(static_cast<size_t>(grid.size[2]), 0);
  parallel_for(static_cast<long>(grid.size[2]), [&](long k0, long k1) {
    for (long k = k0; k < k1; ++k)
      for (int64_t j = 0; j < grid.size[1]; ++j)
        for (int64_t i = 0; i < grid.size[0]; ++i) {
          Vec3 idx;
          for (int b = 0; b < 3; ++b)
            idx[b] = o[b] + step[0][b] * i + step[1][b] * j + step[2][b] * k;
          const double d = sample_dose_at_index(dose, idx, kNaN);
          if (std::isnan(d)) {
            ++outside_per_slice[k];
            continue;
          }
          out.at(i, j, k) = static_cast<float>(d);
        }
  });
  if (outside_voxels)
    for (auto c : outside_per_slice) *outside_voxels += c;
  return out;
}

Dvh::Dvh(std::vector<float> doses_gy, double voxel_volume_cc)
    : sorted_(std::move(doses_gy)), voxel_cc_(voxel_volume_cc) {
  sort_floats(sorted_);
  double sum = 0.0;
  for (float d : sorted_) sum += d;
  mean_ = sorted_.empty() ? 0.0 : sum / static_cast<double>(sorted_.size());
}

double Dvh::min_gy() const { return sorted_.empty() ? 0.0 : sorted_.front(); }
double Dvh::max_gy() const { return sorted_.empty() ? 0.0 : sorted_.back(); }

double Dvh::volume_at_dose_pct(double dose_gy) const {
  if (sorted_.empty()) return 0.0;
  // Compared in float, the precision the doses are stored in: a voxel holding 9.9f
  // receives "9.9 Gy" although 9.9f < 9.9 in double.
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), static_cast<float>(dose_gy));
  return 100.0 * static_cast<double>(sorted_.end() - it) / static_cast<double>(sorted_.size());
}

double Dvh::volume_at_dose_cc(double dose_gy) const {
  return volume_at_dose_pct(dose_gy) / 100.0 * volume_cc();
}

double Dvh::dose_at_volume_pct(double volume_pct) const {
  if (sorted_.empty()) return 0.0;
  const double n = static_cast<double>(sorted_.size());
  // The hottest k voxels cover k voxel volumes; voxel k-1 from the top (its dose) is the
  // minimum of the hottest k. Between integer k, interpolate linearly.
  const double k = std::clamp(volume_pct / 100.0 * n, 1.0, n);
  const double pos = n - k;  // ascending index: k = n -> 0 (minimum), k = 1 -> n-1 (max)
  const auto lo = static_cast<size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted_.size() - 1);
  const double f = pos - std::floor(pos);
  return sorted_[lo] * (1.0 - f) + sorted_[hi] * f;
}

double Dvh::dose_at_volume_cc(double volume_cc) const {
  if (sorted_.empty() || voxel_cc_ <= 0.0) return 0.0;
  return dose_at_volume_pct(100.0 * volume_cc / this->volume_cc());
}

std::vector<Dvh::Point> Dvh::curve(double step_gy) const {
  std::vector<Point> pts;
  if (sorted_.empty()) return pts;
  const double max = max_gy();
  if (step_gy <= 0.0) step_gy = std::max(max / 500.0, 0.01);
  const size_t n = static_cast<size_t>(std::ceil(max / step_gy)) + 1;
  pts.reserve(n + 1);
  for (size_t b = 0; b < n; ++b) {
    const double d = b * step_gy;
    pts.push_back({d, volume_at_dose_pct(d)});
  }
  pts.push_back({max, volume_at_dose_pct(max)});
  if (pts.back().dose_gy < max + step_gy) pts.push_back({max + step_gy * 1e-3, 0.0});
  return pts;
}

Dvh compute_dvh(const DoseImage& dose, const Mask& mask) {
  if (!dose.grid.same_geometry(mask.grid))
    throw ProcessingError("compute_dvh: the dose and the mask are on different grids "
                          "(resample the dose onto the mask grid first)");
  std::vector<float> d;
  reserve_advised(d, static_cast<size_t>(mask.voxels.size() - std::count(mask.voxels.begin(), mask.voxels.end(), 0)));
  for_each_set_voxel(mask.voxels, [&](size_t v) { d.push_back(dose.voxels[v]); });
  return Dvh(std::move(d), mask.grid.voxel_volume_mm3() / 1000.0);
}

Dvh compute_dvh_any_grid(const DoseImage& dose, const Mask& mask) {
  if (dose.grid.same_geometry(mask.grid)) return compute_dvh(dose, mask);
  // Only the mask's voxels are sampled: no full resampling of the dose.
  std::vector<float> d;
  int64_t outside = 0;
  const auto& g = mask.grid;
  for_each_set_voxel(mask.voxels, [&](size_t linear) {
    const int64_t l = static_cast<int64_t>(linear);
    const Vec3 p = g.index_to_physical({double(l % g.size[0]), double((l / g.size[0]) % g.size[1]),
                                        double(l / (g.size[0] * g.size[1]))});
    const double v = sample_dose(dose, p, kNaN);
    if (std::isnan(v)) ++outside;
    d.push_back(std::isnan(v) ? 0.0f : static_cast<float>(v));
  });
  Dvh dvh(std::move(d), g.voxel_volume_mm3() / 1000.0);
  dvh.outside_dose_grid_voxels = outside;
  return dvh;
}

}  // namespace vmatplan
