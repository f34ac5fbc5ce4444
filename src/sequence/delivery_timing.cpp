#include "vmatplan/sequence/delivery_timing.h"

#include <algorithm>
#include <cmath>

namespace vmatplan {

DeliveryLimits DeliveryLimits::of(const Machine& m, double beam_dose_rate_mu_per_min) {
  DeliveryLimits l;
  l.max_gantry_speed_deg_per_s = m.max_gantry_speed_deg_per_s;
  l.max_dose_rate_mu_per_min = m.max_dose_rate_mu_per_min;
  if (beam_dose_rate_mu_per_min > 0)
    l.max_dose_rate_mu_per_min = std::min(l.max_dose_rate_mu_per_min, beam_dose_rate_mu_per_min);
  l.min_dose_rate_mu_per_min = std::min(m.min_dose_rate_mu_per_min, l.max_dose_rate_mu_per_min);
  l.max_leaf_speed_mm_per_s = m.mlc.max_leaf_speed_mm_per_s;
  return l;
}

IntervalTiming interval_timing(double mu, double gantry_step_deg, double travel_mm,
                               const DeliveryLimits& lim) {
  IntervalTiming t;
  t.mu = std::max(0.0, mu);
  t.gantry_step_deg = gantry_step_deg;
  t.max_leaf_travel_mm = travel_mm;
  const double t_gantry = gantry_step_deg / lim.max_gantry_speed_deg_per_s;
  const double t_dose = 60.0 * t.mu / lim.max_dose_rate_mu_per_min;
  const double t_leaves = travel_mm / lim.max_leaf_speed_mm_per_s;
  t.time_s = std::max({t_gantry, t_dose, t_leaves});
  if (t.time_s <= 0) t.limited_by = "none";
  else if (t.time_s == t_gantry) t.limited_by = "gantry";
  else if (t.time_s == t_dose) t.limited_by = "dose_rate";
  else t.limited_by = "leaves";
  if (t.mu > 0 && lim.min_dose_rate_mu_per_min > 0)
    t.max_time_s = 60.0 * t.mu / lim.min_dose_rate_mu_per_min;
  return t;
}

double max_leaf_travel_mm(const DeliveryBeam& beam, size_t i) {
  const auto& a = beam.control_points[i];
  const auto& b = beam.control_points[i + 1];
  double travel = 0;
  const size_t n = std::min({a.leaf_x1_mm.size(), b.leaf_x1_mm.size(), a.leaf_x2_mm.size(),
                             b.leaf_x2_mm.size()});
  for (size_t p = 0; p < n; ++p)
    travel = std::max({travel, std::abs(b.leaf_x1_mm[p] - a.leaf_x1_mm[p]),
                       std::abs(b.leaf_x2_mm[p] - a.leaf_x2_mm[p])});
  return travel;
}

IntervalTiming beam_interval_timing(const DeliveryBeam& beam, size_t i,
                                    const DeliveryLimits& limits) {
  return interval_timing(beam.interval_mu(i),
                         gantry_step_deg(beam.control_points[i], beam.control_points[i + 1]),
                         max_leaf_travel_mm(beam, i), limits);
}

double beam_delivery_time_s(const DeliveryBeam& beam, const DeliveryLimits& limits) {
  double t = 0;
  for (size_t i = 0; i + 1 < beam.control_points.size(); ++i)
    t += beam_interval_timing(beam, i, limits).time_s;
  return t;
}

}  // namespace vmatplan
