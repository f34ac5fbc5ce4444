#include "vmatplan/sequence/delivered_fluence.h"

#include <algorithm>
#include <cmath>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace {

// Integral over s in [0,1] of the overlap of [x0, x1] with [a(s), b(s)], a and b linear in
// s. The overlap is linear between the points where a or b cross x0 or x1 (or each other),
// so the trapezoid rule on those pieces is exact.
double mean_overlap(double x0, double x1, double a0, double a1, double b0, double b1) {
  double s_pts[8];
  int n = 0;
  s_pts[n++] = 0.0;
  s_pts[n++] = 1.0;
  auto cross = [&](double p0, double p1, double x) {
    const double d = p1 - p0;
    if (std::abs(d) < 1e-15) return;
    const double s = (x - p0) / d;
    if (s > 0 && s < 1) s_pts[n++] = s;
  };
  cross(a0, a1, x0), cross(a0, a1, x1), cross(b0, b1, x0), cross(b0, b1, x1);
  {
    const double d = (b1 - a1) - (b0 - a0);
    if (std::abs(d) > 1e-15) {
      const double s = -(b0 - a0) / d;
      if (s > 0 && s < 1) s_pts[n++] = s;
    }
  }
  std::sort(s_pts, s_pts + n);
  auto overlap = [&](double s) {
    const double a = a0 + (a1 - a0) * s, b = b0 + (b1 - b0) * s;
    return std::max(0.0, std::min(x1, b) - std::max(x0, a));
  };
  double sum = 0, prev_s = s_pts[0], prev_v = overlap(s_pts[0]);
  for (int k = 1; k < n; ++k) {
    const double v = overlap(s_pts[k]);
    sum += 0.5 * (v + prev_v) * (s_pts[k] - prev_s);
    prev_s = s_pts[k], prev_v = v;
  }
  return sum;
}

void check_grid(const DeliveryBeam& beam, const FluenceGrid& grid) {
  const int pairs = beam.pair_count();
  if (grid.first_leaf_pair + grid.row_count() > pairs)
    throw ProcessingError("fluence grid rows " + std::to_string(grid.first_leaf_pair) + ".." +
                          std::to_string(grid.first_leaf_pair + grid.row_count()) +
                          " exceed the " + std::to_string(pairs) + " leaf pairs of beam '" +
                          beam.name + "'");
  for (int r = 0; r <= grid.row_count(); ++r)
    if (std::abs(grid.row_edges_mm[r] - beam.leaf_boundaries_mm[grid.first_leaf_pair + r]) > 1e-3)
      throw ProcessingError("fluence grid row edges do not match the leaf boundaries of beam '" +
                            beam.name + "'");
}

}  // namespace

void add_interval_fluence(const DeliveryBeam& beam, size_t i, const FluenceGrid& grid,
                          const Machine& machine, double mu_scale, bool transmission,
                          std::vector<float>& out) {
  if (!beam.has_mlc()) throw ProcessingError("beam '" + beam.name + "' has no MLC");
  check_grid(beam, grid);
  const double mu = beam.interval_mu(i) * mu_scale;
  if (mu <= 0) return;
  const auto& c0 = beam.control_points[i];
  const auto& c1 = beam.control_points[i + 1];
  const bool xj = !beam.x_jaw_type.empty(), yj = !beam.y_jaw_type.empty();
  const double jx1 = xj ? std::max(c0.x1_mm, c1.x1_mm) : -1e9;
  const double jx2 = xj ? std::min(c0.x2_mm, c1.x2_mm) : 1e9;
  const double jy1 = yj ? std::max(c0.y1_mm, c1.y1_mm) : -1e9;
  const double jy2 = yj ? std::min(c0.y2_mm, c1.y2_mm) : 1e9;
  const double t_mlc = transmission ? machine.mlc.transmission : 0.0;
  const double t_jaw = transmission ? std::max(machine.x_jaws.transmission, machine.y_jaws.transmission) : 0.0;
  const double w = grid.bixel_width_mm;
  for (int r = 0; r < grid.row_count(); ++r) {
    const int p = grid.first_leaf_pair + r;
    const double y0 = grid.row_edges_mm[r], y1 = grid.row_edges_mm[r + 1];
    const double f_y = std::clamp((std::min(y1, jy2) - std::max(y0, jy1)) / (y1 - y0), 0.0, 1.0);
    for (int b = 0; b < grid.bixel_count; ++b) {
      const double x0 = grid.x_min_mm + b * w, x1 = x0 + w;
      const double cx0 = std::max(x0, jx1), cx1 = std::min(x1, jx2);  // inside the X jaws
      const double f_inside = std::max(0.0, cx1 - cx0) / w;
      double f_open = 0;
      if (cx1 > cx0)
        f_open = mean_overlap(cx0, cx1, c0.leaf_x1_mm[p], c1.leaf_x1_mm[p], c0.leaf_x2_mm[p],
                              c1.leaf_x2_mm[p]) / w;
      const double in_field = f_open + t_mlc * (f_inside - f_open) + t_jaw * (1.0 - f_inside);
      const double value = f_y * in_field + (1.0 - f_y) * t_jaw;
      out[static_cast<size_t>(r) * grid.bixel_count + b] += static_cast<float>(mu * value);
    }
  }
}

FluenceMaps delivered_fluence(const DeliveryPlan& plan, const FluenceGrid& grid,
                              const Machine& machine, const DeliveredFluenceOptions& options) {
  FluenceMaps f;
  f.grid = grid;
  for (const auto& b : plan.beams) f.control_point_count += static_cast<int>(b.control_points.size());
  const size_t per_cp = grid.size_per_control_point();
  f.values.assign(per_cp * f.control_point_count, 0.0f);
  const double scale = options.all_fractions ? plan.fractions : 1.0;
  std::vector<float> interval(per_cp);
  size_t offset = 0;
  for (const auto& beam : plan.beams) {
    for (size_t i = 0; i + 1 < beam.control_points.size(); ++i) {
      std::fill(interval.begin(), interval.end(), 0.0f);
      add_interval_fluence(beam, i, grid, machine, scale, options.transmission, interval);
      float* a = &f.values[(offset + i) * per_cp];
      float* z = &f.values[(offset + i + 1) * per_cp];
      for (size_t k = 0; k < per_cp; ++k) {
        a[k] += 0.5f * interval[k];
        z[k] += 0.5f * interval[k];
      }
    }
    offset += beam.control_points.size();
  }
  return f;
}

}  // namespace vmatplan
