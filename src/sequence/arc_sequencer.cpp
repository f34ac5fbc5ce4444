#include "vmatplan/sequence/arc_sequencer.h"

#include <algorithm>
#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/sequence/deliverability.h"
#include "aperture_sequencer.h"
#include "sequencer_parts.h"

namespace vmatplan {
namespace {

using namespace sequencer_parts;

// A leaf's position as a function of the sector's cumulative MU: points (mu, x), mu
// non-decreasing; equal x at successive points is a wait.
struct Trajectory {
  std::vector<double> mu, x;
  void add(double m, double pos) { mu.push_back(m), x.push_back(pos); }
  double at(double m) const {
    if (m <= mu.front()) return x.front();
    for (size_t k = 1; k < mu.size(); ++k)
      if (m <= mu[k]) {
        const double d = mu[k] - mu[k - 1];
        return d <= 0 ? x[k] : x[k - 1] + (x[k] - x[k - 1]) * (m - mu[k - 1]) / d;
      }
    return x.back();
  }
};

double positive_variation(const std::vector<double>& f) {
  double tv = 0, prev = 0;
  for (double v : f) tv += std::max(0.0, v - prev), prev = v;
  return tv;
}

// Minimum-MU left-to-right sliding window (Spirou & Chui 1994) of profile f (MU per bixel,
// bixels of width w from x_lo), stretched to take exactly `mu_total` MU: between edges both
// leaves cover w mm per (mu_total - TV+)/n MU; at a rising edge the trailing leaf waits,
// at a falling edge the leading leaf waits. Exposure = trailing MU - leading MU = f.
void sweep(const std::vector<double>& f, double x_lo, double w, double mu_total,
           Trajectory& trailing, Trajectory& leading) {
  const size_t n = f.size();
  const double mu_per_bixel = (mu_total - positive_variation(f)) / static_cast<double>(n);
  double m_lead = 0, m_trail = 0;
  leading.add(0, x_lo);
  trailing.add(0, x_lo);
  for (size_t j = 0; j <= n; ++j) {
    const double e = x_lo + w * j;
    const double rise = (j < n ? f[j] : 0.0) - (j > 0 ? f[j - 1] : 0.0);
    if (rise < 0) leading.add(m_lead -= rise, e);
    if (rise > 0) trailing.add(m_trail += rise, e);
    if (j < n) {
      leading.add(m_lead += mu_per_bixel, e + w);
      trailing.add(m_trail += mu_per_bixel, e + w);
    }
  }
}

// Sector MU (per fraction) and duration: the shortest duration T for which the smallest MU
// that lets every row finish its sweep (M >= TV+_r / (1 - W_r / (v T))) fits the dose rate.
// With `efficiency` e > 0 the sweep also slows down until M <= max TV+ / e (or the MU floor
// of the minimum dose rate / MU per degree binds): a leaf-speed-limited sweep needs many MU
// per unit of modulation, and every extra MU leaks through the minimum leaf gap.
double sector_mu(const std::vector<double>& width_mm, const std::vector<double>& tv_mu,
                 double sweep_deg, const Limits& lim, double efficiency, const std::string& where) {
  double tv_max = 0;
  for (double v : tv_mu) tv_max = std::max(tv_max, v);
  double t = std::max(sweep_deg / lim.gantry_deg_s, 1e-3);
  for (double w : width_mm) t = std::max(t, 1.0001 * w / lim.leaf_mm_s);
  auto floor_mu = [&](double time_s) {
    return std::max({lim.min_dose_mu_s * time_s, lim.min_mu_deg * sweep_deg, 1e-3});
  };
  auto needed = [&](double time_s) {
    double m = floor_mu(time_s);
    for (size_t r = 0; r < width_mm.size(); ++r)
      m = std::max(m, tv_mu[r] / (1.0 - width_mm[r] / (lim.leaf_mm_s * time_s)));
    return m;
  };
  for (int it = 0; it < 20000; ++it, t *= 1.005) {
    const double m = needed(t);
    const bool efficient = efficiency <= 0 || m <= tv_max / efficiency || m <= floor_mu(t) * (1 + 1e-9);
    if (m <= lim.dose_mu_s * t && efficient) return m * (1 + 1e-9);
  }
  throw ProcessingError(where + ": no sector duration satisfies the dose-rate limits");
}

DeliveryBeam sequence_beam(const PlanFile& plan, int beam_index, int first_cp,
                           const Machine& m, const SequencerOptions& o, const Limits& lim,
                           int subdivision, std::vector<int>& edges_out) {
  const Beam& gb = plan.geometry.beams[beam_index];
  const FluenceGrid& grid = plan.fluence.grid;
  const std::string where = "beam '" + gb.name + "'";
  const bool xj = m.x_jaws.present;
  BeamTargets bt = beam_targets(plan, beam_index, first_cp, o, subdivision);
  const bool is_static = bt.is_static;
  const int sub = bt.subdivision;
  const auto& target = bt.target;
  const auto& step = bt.step_deg;
  const int n_int = static_cast<int>(bt.cps.size()) - 1;
  std::vector<int> edges = is_static ? std::vector<int>{0, n_int}
                                     : sector_edges(n_int / sub, n_int ? sub * step[0] : 0.0, o.sector_deg);
  if (!is_static)
    for (int& e : edges) e *= sub;  // sectors start and end on input control points

  const std::vector<ActiveRow> rows = active_rows(gb, grid, target, xj);
  // Every pair starts parked: closed, under the X1 jaw (or at the swept field's edge).
  const double gap = m.mlc.min_dynamic_leaf_gap_mm + o.gap_margin_mm;
  DeliveryBeam beam = beam_skeleton(plan, beam_index, m, bt.cps, is_static,
                                    park_position_mm(gb, grid, rows, xj), gap);

  const double w = grid.bixel_width_mm;
  double mu_done = 0;
  for (size_t s = 0; s + 1 < edges.size(); ++s) {
    const int e0 = edges[s], e1 = edges[s + 1], k_count = e1 - e0;
    std::vector<std::vector<double>> prof(rows.size());
    std::vector<double> width(rows.size()), tv(rows.size());
    for (size_t a = 0; a < rows.size(); ++a) {
      const ActiveRow& ar = rows[a];
      prof[a].assign(ar.hi - ar.lo, 0.0);
      for (int i = e0; i < e1; ++i)
        for (int b = ar.lo; b < ar.hi; ++b)
          prof[a][b - ar.lo] += target[i][static_cast<size_t>(ar.row) * grid.bixel_count + b];
      if (s % 2 == 1) std::reverse(prof[a].begin(), prof[a].end());
      width[a] = (ar.hi - ar.lo) * w;
      tv[a] = positive_variation(prof[a]);
    }
    double sweep_deg = 0;
    for (int i = e0; i < e1; ++i) sweep_deg = std::max(sweep_deg, step[i]);
    double min_step = sweep_deg;
    for (int i = e0; i < e1; ++i) min_step = std::min(min_step, step[i]);
    const double mu = sector_mu(width, tv, sweep_deg * k_count, lim, o.sweep_efficiency,
                                where + " sector " + std::to_string(s + 1));
    if (min_step > 0 && mu / (k_count * min_step) > lim.max_mu_deg)
      throw ProcessingError(where + ": the fluence of sector " + std::to_string(s + 1) + " needs " +
                            std::to_string(mu / (k_count * min_step)) +
                            " MU/deg, more than the machine's maximum MU per degree");
    for (size_t a = 0; a < rows.size(); ++a) {
      const ActiveRow& ar = rows[a];
      const double x_lo = grid.x_min_mm + ar.lo * w, x_hi = grid.x_min_mm + ar.hi * w;
      // Exposure e is not all a bixel receives: the leaves keep the minimum gap (about
      // gap x MU-per-mm along the row) and transmit t of the MU while they cover it, so
      // delivered = e + leak + t (mu - e). Solve for e (transmission correction, Spirou &
      // Chui 1994, sec. II.C). With mu >= TV+ the corrected profile has no more positive
      // variation than the target, so the row still finishes in time.
      const double leak = gap * (mu - tv[a]) / width[a];
      const double t = m.mlc.transmission;
      for (double& v : prof[a]) v = std::max(0.0, (v - t * mu) / (1.0 - t) - leak);
      Trajectory trail, lead;
      // Odd sectors sweep right to left: the mirrored problem (x -> -x) sweeps left to right.
      sweep(prof[a], s % 2 == 0 ? x_lo : -x_hi, w, mu, trail, lead);
      for (int k = 0; k <= k_count; ++k) {
        const double m_k = mu * k / k_count;
        auto& cp = beam.control_points[e0 + k];
        if (s % 2 == 0) {
          cp.leaf_x1_mm[ar.pair] = trail.at(m_k) - 0.5 * gap;
          cp.leaf_x2_mm[ar.pair] = lead.at(m_k) + 0.5 * gap;
        } else {
          cp.leaf_x2_mm[ar.pair] = -trail.at(m_k) + 0.5 * gap;
          cp.leaf_x1_mm[ar.pair] = -lead.at(m_k) - 0.5 * gap;
        }
      }
    }
    for (int k = 0; k <= k_count; ++k)
      beam.control_points[e0 + k].cumulative_meterset_weight = mu_done + mu * k / k_count;
    mu_done += mu;
  }
  // Odd sector count: rows end on the right. Parked pairs never move.
  beam.meterset_mu = mu_done;
  for (auto& cp : beam.control_points) cp.cumulative_meterset_weight /= mu_done;
  beam.control_points.back().cumulative_meterset_weight = 1.0;
  beam.final_cumulative_meterset_weight = 1.0;
  edges_out = edges;
  return beam;
}

}  // namespace

SequencerMethod parse_sequencer_method(const std::string& name) {
  if (name == "apertures") return SequencerMethod::kApertures;
  if (name == "sweep") return SequencerMethod::kSweep;
  throw UsageError("unknown sequencer '" + name + "' (available: apertures, sweep)");
}

const char* to_string(SequencerMethod method) {
  return method == SequencerMethod::kApertures ? "apertures" : "sweep";
}

std::vector<int> sector_edges(int interval_count, double step_deg, double sector_deg) {
  if (interval_count <= 0) return {0};
  int sectors = 1;
  if (step_deg > 0 && sector_deg > 0)
    sectors = std::max(1, static_cast<int>(std::lround(interval_count * step_deg / sector_deg)));
  sectors = std::min(sectors, interval_count);
  std::vector<int> edges{0};
  for (int s = 1; s <= sectors; ++s)
    edges.push_back(static_cast<int>(std::lround(static_cast<double>(interval_count) * s / sectors)));
  return edges;
}

SequencedPlan sequence_arcs(const PlanFile& fp, const Machine& m, const SequencerOptions& o) {
  const FluenceMaps& f = fp.fluence;
  const FluenceGrid& grid = f.grid;
  if (f.control_point_count == 0) throw ProcessingError("the plan has no fluence to sequence yet");
  if (f.control_point_count != fp.geometry.control_point_count())
    throw ProcessingError("plan fluence has " + std::to_string(f.control_point_count) +
                          " control points, the geometry " +
                          std::to_string(fp.geometry.control_point_count()));
  const auto& mb = m.mlc.leaf_boundaries_mm;
  if (grid.first_leaf_pair + grid.row_count() > m.mlc.pair_count())
    throw ProcessingError("fluence grid rows exceed the leaf pairs of machine " + m.name);
  for (int r = 0; r <= grid.row_count(); ++r)
    if (std::abs(grid.row_edges_mm[r] - mb[grid.first_leaf_pair + r]) > 1e-3)
      throw ProcessingError("fluence grid row edges do not match the leaf boundaries of machine " + m.name);
  if (o.fractions < 1) throw UsageError("fractions must be at least 1");
  if (!(o.limit_margin > 0 && o.limit_margin <= 1)) throw UsageError("limit margin must be in (0, 1]");

  const double g = o.limit_margin;
  const Limits lim = margin_limits(m, g);

  const bool apertures = o.method == SequencerMethod::kApertures;
  const double spacing_deg = apertures ? o.aperture_cp_spacing_deg : o.delivery_cp_spacing_deg;
  if (!(spacing_deg > 0)) throw UsageError("delivery control-point spacing must be positive");
  if (apertures && !(o.aperture_sector_deg > 0)) throw UsageError("aperture sector must be positive");
  // One subdivision for the whole plan, from its largest input gantry step.
  double max_step = 0;
  for (const Beam& b : fp.geometry.beams)
    for (size_t i = 0; i + 1 < b.control_points.size(); ++i)
      max_step = std::max(max_step, gantry_step_deg(b.control_points[i].gantry_deg,
                                                    b.control_points[i + 1].gantry_deg, b.direction));
  SequencedPlan out;
  out.subdivision = std::max(1, static_cast<int>(std::ceil(max_step / spacing_deg - 1e-9)));
  DeliveryPlan& p = out.plan;
  p.label = o.label;
  p.patient_position = fp.geometry.patient_position;
  p.identity.patient_position = fp.geometry.patient_position;
  p.prescription_dose_gy = o.prescription_dose_gy;
  p.fractions = o.fractions;
  p.target_name = o.target_name;
  int first_cp = 0;
  for (size_t b = 0; b < fp.geometry.beams.size(); ++b) {
    std::vector<int> edges;
    // A static beam has no gantry motion to spread apertures over: dynamic MLC sweep.
    const bool arc = fp.geometry.beams[b].control_points.size() > 1;
    p.beams.push_back(apertures && arc
                          ? sequence_beam_apertures(fp, static_cast<int>(b), first_cp, m, o, lim,
                                                    out.subdivision, edges)
                          : sequence_beam(fp, static_cast<int>(b), first_cp, m, o, lim,
                                          out.subdivision, edges));
    out.sector_edges.push_back(edges);
    first_cp += static_cast<int>(fp.geometry.beams[b].control_points.size());
  }
  const auto v = check_deliverability(p, m);
  if (!v.empty())
    throw ProcessingError("sequenced plan is not deliverable (" + std::to_string(v.size()) +
                          " violations), first: " + format_violation(v.front()));
  return out;
}

}  // namespace vmatplan
