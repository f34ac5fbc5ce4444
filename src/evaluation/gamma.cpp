#include "vmatplan/evaluation/gamma.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"

namespace vmatplan {
namespace {

struct Offset {
  double dist2_norm;  // |o|^2 / DTA^2
  Vec3 eval_index;    // o expressed as an index step of the evaluated grid
};

// The linear part of the evaluated grid's physical -> index map applied to o (LPS mm).
Vec3 index_step(const ImageGrid& g, const Vec3& o) {
  const Vec3 zero = g.physical_to_index({0, 0, 0});
  const Vec3 p = g.physical_to_index(o);
  return {p[0] - zero[0], p[1] - zero[1], p[2] - zero[2]};
}

std::vector<Offset> search_lattice(const ImageGrid& eval_grid, double radius_mm, double step_mm,
                                   double dta_mm) {
  const int n = static_cast<int>(std::floor(radius_mm / step_mm + 1e-9));
  std::vector<Offset> out;
  for (int z = -n; z <= n; ++z)
    for (int y = -n; y <= n; ++y)
      for (int x = -n; x <= n; ++x) {
        const Vec3 o{x * step_mm, y * step_mm, z * step_mm};
        const double r2 = o[0] * o[0] + o[1] * o[1] + o[2] * o[2];
        if (r2 > radius_mm * radius_mm * (1 + 1e-9)) continue;
        out.push_back({r2 / (dta_mm * dta_mm), index_step(eval_grid, o)});
      }
  std::sort(out.begin(), out.end(),
            [](const Offset& a, const Offset& b) { return a.dist2_norm < b.dist2_norm; });
  return out;
}

}  // namespace

GammaResult compute_gamma(const DoseImage& reference, const DoseImage& evaluated,
                          const GammaOptions& opt) {
  if (opt.dose_criterion_pct <= 0 || opt.distance_mm <= 0 || opt.max_gamma <= 0 ||
      opt.step_fraction <= 0 || opt.low_dose_threshold_pct < 0)
    throw UsageError("gamma: dose and distance criteria, max gamma and step must be > 0");
  if (reference.empty() || evaluated.empty())
    throw ProcessingError("gamma: the reference or the evaluated dose is empty");

  GammaResult res;
  const double ref_max = *std::max_element(reference.voxels.begin(), reference.voxels.end());
  res.normalisation_dose_gy = opt.normalisation_dose_gy > 0 ? opt.normalisation_dose_gy : ref_max;
  res.threshold_dose_gy = opt.low_dose_threshold_pct / 100.0 * res.normalisation_dose_gy;
  const double global_dd = opt.dose_criterion_pct / 100.0 * res.normalisation_dose_gy;
  const double radius = opt.search_radius_mm > 0 ? opt.search_radius_mm
                                                 : opt.max_gamma * opt.distance_mm;
  const std::vector<Offset> lattice = search_lattice(
      evaluated.grid, radius, opt.distance_mm * opt.step_fraction, opt.distance_mm);
  const double cap2 = opt.max_gamma * opt.max_gamma;

  const ImageGrid& g = reference.grid;
  res.gamma_map = DoseImage(g, -1.0f);
  const long slices = static_cast<long>(g.size[2]);
  std::vector<int64_t> n_eval(slices, 0), n_pass(slices, 0);
  std::vector<double> sum(slices, 0.0), max(slices, 0.0);
  parallel_for(slices, [&](long k0, long k1) {
    for (long k = k0; k < k1; ++k)
      for (int64_t j = 0; j < g.size[1]; ++j)
        for (int64_t i = 0; i < g.size[0]; ++i) {
          const double dr = reference.at(i, j, k);
          if (dr < res.threshold_dose_gy || dr <= 0.0) continue;
          const double dd = opt.local ? opt.dose_criterion_pct / 100.0 * dr : global_dd;
          const double inv_dd2 = 1.0 / (dd * dd);
          const Vec3 base =
              evaluated.grid.physical_to_index(g.index_to_physical({double(i), double(j), double(k)}));
          double best2 = cap2;
          for (const Offset& o : lattice) {
            if (o.dist2_norm >= best2) break;  // farther points cannot do better
            const Vec3 idx{base[0] + o.eval_index[0], base[1] + o.eval_index[1],
                           base[2] + o.eval_index[2]};
            const double de = sample_dose_at_index(evaluated, idx, std::nan(""));
            if (std::isnan(de)) continue;
            const double g2 = o.dist2_norm + (de - dr) * (de - dr) * inv_dd2;
            if (g2 < best2) best2 = g2;
          }
          const double gamma = std::sqrt(best2);
          res.gamma_map.at(i, j, k) = static_cast<float>(gamma);
          ++n_eval[k];
          n_pass[k] += gamma <= 1.0;
          sum[k] += gamma;
          max[k] = std::max(max[k], gamma);
        }
  });
  double total = 0.0;
  for (long k = 0; k < slices; ++k) {
    res.evaluated_voxels += n_eval[k];
    res.passed_voxels += n_pass[k];
    total += sum[k];
    res.max_gamma = std::max(res.max_gamma, max[k]);
  }
  if (res.evaluated_voxels > 0) {
    res.pass_rate_pct = 100.0 * res.passed_voxels / static_cast<double>(res.evaluated_voxels);
    res.mean_gamma = total / static_cast<double>(res.evaluated_voxels);
  }
  return res;
}

}  // namespace vmatplan
