#include "sequencer_parts.h"

#include <algorithm>
#include <cmath>

namespace vmatplan::sequencer_parts {

Limits margin_limits(const Machine& m, double g) {
  return Limits{g * m.mlc.max_leaf_speed_mm_per_s,
                g * m.max_dose_rate_mu_per_min / 60.0,
                m.min_dose_rate_mu_per_min / 60.0 / g,
                g * m.max_gantry_speed_deg_per_s,
                m.min_mu_per_degree / g,
                g * m.max_mu_per_degree};
}

BeamTargets beam_targets(const PlanFile& plan, int beam_index, int first_cp,
                         const SequencerOptions& o, int subdivision) {
  const Beam& gb = plan.geometry.beams[beam_index];
  const FluenceMaps& f = plan.fluence;
  const size_t per = f.grid.size_per_control_point();
  const int n_cp = static_cast<int>(gb.control_points.size());
  auto map = [&](int c) { return &f.values[(static_cast<size_t>(first_cp) + c) * per]; };
  BeamTargets bt;
  bt.is_static = n_cp == 1;
  bt.subdivision = bt.is_static ? 1 : subdivision;
  bt.cps = gb.control_points;
  if (bt.is_static) {
    bt.cps.assign(o.static_beam_intervals + 1, gb.control_points[0]);
    bt.target.assign(1, std::vector<double>(map(0), map(0) + per));
  } else {
    bt.target.assign(n_cp - 1, std::vector<double>(per, 0.0));
    for (int c = 0; c < n_cp; ++c) {
      const float* fc = map(c);
      for (int side : {c - 1, c}) {
        if (side < 0 || side >= n_cp - 1) continue;
        const double share = (c == 0 || c == n_cp - 1) ? 1.0 : 0.5;
        for (size_t k = 0; k < per; ++k) bt.target[side][k] += share * fc[k];
      }
    }
  }
  const double to_fraction = 1.0 / o.fractions;
  for (auto& t : bt.target)
    for (double& v : t) v = std::max(0.0, v) * to_fraction / bt.subdivision;
  const int sub = bt.subdivision;
  if (sub > 1) {
    const double sign = gb.direction == RotationDirection::kCounterClockwise ? -1.0 : 1.0;
    std::vector<ControlPointGeometry> fine;
    std::vector<std::vector<double>> fine_target;
    for (size_t i = 0; i + 1 < bt.cps.size(); ++i) {
      const double step_i = gantry_step_deg(bt.cps[i].gantry_deg, bt.cps[i + 1].gantry_deg, gb.direction);
      for (int k = 0; k < sub; ++k) {
        ControlPointGeometry g = bt.cps[i];
        g.gantry_deg = std::fmod(bt.cps[i].gantry_deg + sign * step_i * k / sub + 360.0, 360.0);
        fine.push_back(g);
        fine_target.push_back(bt.target[i]);
      }
    }
    fine.push_back(bt.cps.back());
    bt.cps.swap(fine);
    bt.target.swap(fine_target);
  }
  const int n_int = static_cast<int>(bt.cps.size()) - 1;
  bt.step_deg.assign(n_int, 0.0);
  for (int i = 0; i < n_int; ++i)
    bt.step_deg[i] = gantry_step_deg(bt.cps[i].gantry_deg, bt.cps[i + 1].gantry_deg, gb.direction);
  return bt;
}

std::vector<ActiveRow> active_rows(const Beam& gb, const FluenceGrid& grid,
                                   const std::vector<std::vector<double>>& target, bool xj) {
  double f_max = 0;
  for (const auto& t : target)
    for (double v : t) f_max = std::max(f_max, v);
  const double eps = 1e-6 * f_max;
  std::vector<ActiveRow> rows;
  for (int r = 0; r < grid.row_count(); ++r) {
    if (gb.y2_mm <= grid.row_edges_mm[r] || gb.y1_mm >= grid.row_edges_mm[r + 1]) continue;
    int lo = grid.bixel_count, hi = -1;
    for (int b = 0; b < grid.bixel_count; ++b) {
      const double x0 = grid.x_min_mm + b * grid.bixel_width_mm;
      if (xj && (x0 + grid.bixel_width_mm <= gb.x1_mm || x0 >= gb.x2_mm)) continue;
      for (const auto& t : target)
        if (t[static_cast<size_t>(r) * grid.bixel_count + b] > eps) {
          lo = std::min(lo, b), hi = std::max(hi, b + 1);
          break;
        }
    }
    if (hi > lo) rows.push_back({r, grid.first_leaf_pair + r, lo, hi});
  }
  return rows;
}

double park_position_mm(const Beam& gb, const FluenceGrid& grid, const std::vector<ActiveRow>& rows,
                        bool xj) {
  if (xj) return gb.x1_mm - 1.0;
  if (rows.empty()) return 0.0;
  double park = 1e9;
  for (const auto& ar : rows) park = std::min(park, grid.x_min_mm + ar.lo * grid.bixel_width_mm);
  return park;
}

DeliveryBeam beam_skeleton(const PlanFile& plan, int beam_index, const Machine& m,
                           const std::vector<ControlPointGeometry>& cps, bool is_static,
                           double park, double gap) {
  const Beam& gb = plan.geometry.beams[beam_index];
  const bool xj = m.x_jaws.present;
  DeliveryBeam beam;
  beam.number = beam_index + 1;
  beam.name = gb.name;
  beam.machine_name = m.dicom_name;  // TreatmentMachineName: DICOM SH, <= 16 characters
  beam.beam_type = "DYNAMIC";
  beam.radiation_type = m.radiation_type;
  beam.energy_mv = m.nominal_energy_mv;
  beam.dose_rate_mu_per_min = m.max_dose_rate_mu_per_min;
  beam.sad_mm = m.sad_mm;
  beam.isocenter_mm = plan.geometry.isocenter_mm;
  beam.x_jaw_type = xj ? "ASYMX" : "";
  beam.y_jaw_type = m.y_jaws.present ? "ASYMY" : "";
  beam.leaf_boundaries_mm = m.mlc.leaf_boundaries_mm;
  const int pairs = m.mlc.pair_count();
  for (const ControlPointGeometry& g : cps) {
    DeliveryControlPoint cp;
    cp.gantry_deg = g.gantry_deg;
    cp.gantry_direction = is_static ? RotationDirection::kNone : gb.direction;
    cp.collimator_deg = g.collimator_deg;
    cp.couch_deg = g.couch_deg;
    if (xj) cp.x1_mm = gb.x1_mm, cp.x2_mm = gb.x2_mm;
    if (m.y_jaws.present) cp.y1_mm = gb.y1_mm, cp.y2_mm = gb.y2_mm;
    cp.leaf_x1_mm.assign(pairs, park - gap);
    cp.leaf_x2_mm.assign(pairs, park);
    beam.control_points.push_back(std::move(cp));
  }
  return beam;
}

void set_meterset(DeliveryBeam& beam, const std::vector<double>& mu) {
  double total = 0;
  for (double v : mu) total += v;
  double acc = 0;
  beam.control_points.front().cumulative_meterset_weight = 0.0;
  for (size_t i = 0; i < mu.size(); ++i) {
    acc += mu[i];
    beam.control_points[i + 1].cumulative_meterset_weight = total > 0 ? acc / total : 0.0;
  }
  beam.control_points.back().cumulative_meterset_weight = 1.0;
  beam.final_cumulative_meterset_weight = 1.0;
  beam.meterset_mu = total;
}

}  // namespace vmatplan::sequencer_parts
