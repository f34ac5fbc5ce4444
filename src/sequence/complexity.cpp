#include "vmatplan/sequence/complexity.h"

#include <algorithm>
#include <cmath>

#include "vmatplan/sequence/delivery_timing.h"

namespace vmatplan {
namespace {

bool in_field(const DeliveryBeam& b, const DeliveryControlPoint& cp, int p) {
  if (b.y_jaw_type.empty()) return true;
  return std::min(b.leaf_boundaries_mm[p + 1], cp.y2_mm) - std::max(b.leaf_boundaries_mm[p], cp.y1_mm) > 1e-3;
}

// Open pairs: in the field and wider than the minimum dynamic gap (closed pairs excluded,
// as in Masi et al. 2013).
std::vector<int> open_pairs(const DeliveryBeam& b, const DeliveryControlPoint& cp, double closed_mm) {
  std::vector<int> out;
  for (int p = 0; p < b.pair_count(); ++p)
    if (in_field(b, cp, p) && cp.leaf_x2_mm[p] - cp.leaf_x1_mm[p] > closed_mm) out.push_back(p);
  return out;
}

double bank_lsv(const std::vector<double>& pos, const std::vector<int>& open) {
  if (open.size() < 2) return 1.0;
  double lo = 1e300, hi = -1e300;
  for (int p : open) lo = std::min(lo, pos[p]), hi = std::max(hi, pos[p]);
  const double span = hi - lo;
  if (span <= 0) return 1.0;
  double sum = 0;
  for (size_t k = 0; k + 1 < open.size(); ++k) sum += span - std::abs(pos[open[k]] - pos[open[k + 1]]);
  return sum / ((open.size() - 1) * span);
}

BeamComplexity beam_complexity(const DeliveryBeam& b, const Machine& m) {
  BeamComplexity c;
  c.number = b.number;
  c.name = b.name;
  c.mu = b.meterset_mu;
  c.delivery_time_s = beam_delivery_time_s(b, DeliveryLimits::of(m, b.dose_rate_mu_per_min));
  const auto& cps = b.control_points;
  if (!b.has_mlc() || cps.size() < 2 || b.meterset_mu <= 0) return c;
  const int pairs = b.pair_count();
  const double closed = m.mlc.min_dynamic_leaf_gap_mm + 0.1;
  // AAV denominator: per pair in the field, the largest opening over the beam.
  std::vector<double> x1_min(pairs, 1e300), x2_max(pairs, -1e300);
  std::vector<char> used(pairs, 0);
  for (const auto& cp : cps)
    for (int p : open_pairs(b, cp, closed)) {
      x1_min[p] = std::min(x1_min[p], cp.leaf_x1_mm[p]);
      x2_max[p] = std::max(x2_max[p], cp.leaf_x2_mm[p]);
      used[p] = 1;
    }
  double aav_den = 0;
  for (int p = 0; p < pairs; ++p)
    if (used[p]) aav_den += x2_max[p] - x1_min[p];
  std::vector<double> lsv(cps.size()), aav(cps.size()), sas5(cps.size()), sas10(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    const auto& cp = cps[i];
    const auto open = open_pairs(b, cp, closed);
    lsv[i] = bank_lsv(cp.leaf_x1_mm, open) * bank_lsv(cp.leaf_x2_mm, open);
    double area = 0;
    int small5 = 0, small10 = 0;
    for (int p : open) {
      const double gap = cp.leaf_x2_mm[p] - cp.leaf_x1_mm[p];
      area += gap;
      small5 += gap < 5.0, small10 += gap < 10.0;
    }
    aav[i] = aav_den > 0 ? area / aav_den : 0.0;
    sas5[i] = open.empty() ? 0.0 : static_cast<double>(small5) / open.size();
    sas10[i] = open.empty() ? 0.0 : static_cast<double>(small10) / open.size();
  }
  c.mcsv = 0;
  std::vector<char> moved(2 * pairs, 0);
  for (size_t i = 0; i + 1 < cps.size(); ++i) {
    const double wgt = b.interval_mu(i) / b.meterset_mu;
    c.mcsv += 0.25 * (aav[i] + aav[i + 1]) * (lsv[i] + lsv[i + 1]) * wgt;
    c.sas5 += 0.5 * (sas5[i] + sas5[i + 1]) * wgt;
    c.sas10 += 0.5 * (sas10[i] + sas10[i + 1]) * wgt;
    for (int p = 0; p < pairs; ++p) {
      const double d1 = std::abs(cps[i + 1].leaf_x1_mm[p] - cps[i].leaf_x1_mm[p]);
      const double d2 = std::abs(cps[i + 1].leaf_x2_mm[p] - cps[i].leaf_x2_mm[p]);
      c.leaf_travel_mm += d1 + d2;
      moved[p] |= d1 > 0, moved[pairs + p] |= d2 > 0;
    }
  }
  return c;
}

}  // namespace

PlanComplexity compute_complexity(const DeliveryPlan& plan, const Machine& m) {
  PlanComplexity c;
  int moving_leaves = 0;
  for (const auto& b : plan.beams) {
    BeamComplexity bc = beam_complexity(b, m);
    c.total_mu += bc.mu;
    c.leaf_travel_mm += bc.leaf_travel_mm;
    c.delivery_time_s += bc.delivery_time_s;
    c.beams.push_back(bc);
    if (b.has_mlc())
      for (int p = 0; p < b.pair_count(); ++p)
        for (int bank = 0; bank < 2; ++bank) {
          bool moves = false;
          for (size_t i = 0; i + 1 < b.control_points.size() && !moves; ++i) {
            const auto& a = bank ? b.control_points[i].leaf_x2_mm : b.control_points[i].leaf_x1_mm;
            const auto& z = bank ? b.control_points[i + 1].leaf_x2_mm : b.control_points[i + 1].leaf_x1_mm;
            moves = a[p] != z[p];
          }
          moving_leaves += moves;
        }
  }
  c.mean_leaf_travel_mm = moving_leaves ? c.leaf_travel_mm / moving_leaves : 0.0;
  double arc_deg = 0;
  for (const auto& b : plan.beams)
    for (size_t i = 0; i + 1 < b.control_points.size(); ++i)
      arc_deg += gantry_step_deg(b.control_points[i], b.control_points[i + 1]);
  // Per moving leaf and per degree of gantry rotation, over all arcs.
  c.mean_leaf_travel_mm_per_deg = moving_leaves && arc_deg > 0 ? c.leaf_travel_mm / moving_leaves / arc_deg : 0.0;
  if (c.total_mu > 0) {
    c.mcsv = c.sas5 = c.sas10 = 0;
    for (const auto& bc : c.beams) {
      c.mcsv += bc.mcsv * bc.mu / c.total_mu;
      c.sas5 += bc.sas5 * bc.mu / c.total_mu;
      c.sas10 += bc.sas10 * bc.mu / c.total_mu;
    }
  }
  if (plan.prescription_dose_gy > 0 && plan.fractions > 0)
    c.mu_per_gy = c.total_mu / (plan.prescription_dose_gy / plan.fractions);
  return c;
}

nlohmann::json complexity_to_json(const PlanComplexity& c) {
  nlohmann::json beams = nlohmann::json::array();
  for (const auto& b : c.beams)
    beams.push_back({{"number", b.number}, {"name", b.name}, {"mu", b.mu},
                     {"leaf_travel_mm", b.leaf_travel_mm}, {"mcsv", b.mcsv}, {"sas5", b.sas5},
                     {"sas10", b.sas10}, {"delivery_time_s", b.delivery_time_s}});
  return {{"total_mu_per_fraction", c.total_mu}, {"mu_per_gy", c.mu_per_gy},
          {"leaf_travel_mm", c.leaf_travel_mm}, {"mean_leaf_travel_mm", c.mean_leaf_travel_mm},
          {"mean_leaf_travel_mm_per_deg", c.mean_leaf_travel_mm_per_deg},
          {"mcsv", c.mcsv}, {"sas5", c.sas5}, {"sas10", c.sas10},
          {"delivery_time_s", c.delivery_time_s}, {"beams", beams}};
}

}  // namespace vmatplan
