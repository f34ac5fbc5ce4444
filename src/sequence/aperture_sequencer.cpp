// Arc sequencing with one aperture per control point (arc_sequencer.h, "apertures"):
// sector level decomposition with nested apertures, leaves continuous across sectors.
#include <algorithm>
#include <cmath>

#include "aperture_sequencer.h"
#include "vmatplan/core/error.h"

namespace vmatplan::sequencer_parts {
namespace {

// One leaf pair's wish at one control point: open over [lo_mm, hi_mm), or closed.
struct PairWish {
  bool open = false;
  double lo_mm = 0, hi_mm = 0;
};

// Hull of the bixels of `profile` (bixels [ar.lo, ar.hi) of one row) above `level`.
PairWish level_hull(const std::vector<double>& profile, const ActiveRow& ar, const FluenceGrid& grid,
                    double level) {
  PairWish w;
  int first = -1, last = -1;
  for (int b = 0; b < static_cast<int>(profile.size()); ++b)
    if (profile[b] > level) {
      if (first < 0) first = b;
      last = b;
    }
  if (first < 0) return w;
  w.open = true;
  w.lo_mm = grid.x_min_mm + (ar.lo + first) * grid.bixel_width_mm;
  w.hi_mm = grid.x_min_mm + (ar.lo + last + 1) * grid.bixel_width_mm;
  return w;
}

// Two wishes for the control point two sectors share: the mean of the open ones.
PairWish merge(const PairWish& a, const PairWish& b) {
  if (!a.open) return b;
  if (!b.open) return a;
  return {true, 0.5 * (a.lo_mm + b.lo_mm), 0.5 * (a.hi_mm + b.hi_mm)};
}

}  // namespace

DeliveryBeam sequence_beam_apertures(const PlanFile& plan, int beam_index, int first_cp,
                                     const Machine& m, const SequencerOptions& o,
                                     const Limits& lim, int subdivision, std::vector<int>& edges_out) {
  const Beam& gb = plan.geometry.beams[beam_index];
  const FluenceGrid& grid = plan.fluence.grid;
  const bool xj = m.x_jaws.present;
  const BeamTargets bt = beam_targets(plan, beam_index, first_cp, o, subdivision);
  const int n_int = static_cast<int>(bt.cps.size()) - 1;
  const int n_cp = n_int + 1;
  // Sectors start and end on input control points (as kSweep's do).
  const int sub = bt.subdivision;
  std::vector<int> edges =
      sector_edges(n_int / sub, n_int ? sub * bt.step_deg[0] : 0.0, o.aperture_sector_deg);
  for (int& e : edges) e *= sub;
  const std::vector<ActiveRow> rows = active_rows(gb, grid, bt.target, xj);
  const double gap = m.mlc.min_dynamic_leaf_gap_mm + o.gap_margin_mm;
  DeliveryBeam beam = beam_skeleton(plan, beam_index, m, bt.cps, false,
                                    park_position_mm(gb, grid, rows, xj), gap);

  // 1. Level decomposition per sector. The sector's fluence S (sum of its K intervals) is
  //    delivered with the same MU m = max(S) / K in every interval; control point k of the
  //    sector opens each row where S > k m (k = 0 with a small floor): apertures shrink
  //    through an even sector and grow through an odd one, so they are nested and the
  //    leaves move little, and sectors meet at apertures of the same size. With leaves
  //    moving linearly, interval k delivers m (O_k + O_k+1) / 2, which sums to S rounded
  //    to within m / 2 (cf. the aperture distribution of SmartArc, Bzdusek et al., Med
  //    Phys 36:2328, 2009, and the "close-in" decomposition of Wang et al., Phys Med Biol
  //    53:6291, 2008). Direct aperture optimisation refines leaves and MU afterwards.
  std::vector<std::vector<PairWish>> wish(n_cp, std::vector<PairWish>(rows.size()));
  std::vector<double> mu(n_int, 0.0);
  for (size_t s = 0; s + 1 < edges.size(); ++s) {
    const int e0 = edges[s], e1 = edges[s + 1], k_count = e1 - e0;
    std::vector<std::vector<double>> prof(rows.size());
    double peak = 0;
    for (size_t a = 0; a < rows.size(); ++a) {
      const ActiveRow& ar = rows[a];
      prof[a].assign(ar.hi - ar.lo, 0.0);
      for (int i = e0; i < e1; ++i)
        for (int b = ar.lo; b < ar.hi; ++b)
          prof[a][b - ar.lo] += bt.target[i][static_cast<size_t>(ar.row) * grid.bixel_count + b];
      for (double v : prof[a]) peak = std::max(peak, v);
    }
    const double m_level = peak / k_count;
    for (int i = e0; i < e1; ++i) mu[i] = m_level;
    if (!(peak > 0)) continue;
    for (int k = 0; k <= k_count; ++k) {
      const int level = s % 2 == 0 ? k : k_count - k;
      const double threshold = level * m_level + (level == 0 ? o.aperture_floor * m_level : 0.0);
      for (size_t a = 0; a < rows.size(); ++a) {
        const PairWish w = level_hull(prof[a], rows[a], grid, threshold);
        wish[e0 + k][a] = (k == 0 && s > 0) ? merge(wish[e0][a], w) : w;
      }
    }
  }

  // 2. Closed pairs wait where they open next (between the neighbouring open apertures'
  //    centres), so that they travel no further than they must. A pair never open in the
  //    beam stays parked.
  std::vector<std::vector<double>> x1(n_cp, std::vector<double>(rows.size())), x2 = x1;
  std::vector<char> used(rows.size(), 0);
  for (size_t a = 0; a < rows.size(); ++a) {
    int prev = -1;
    for (int c = 0; c <= n_cp; ++c) {
      if (c < n_cp && !wish[c][a].open) continue;
      for (int k = prev + 1; k < c; ++k) {  // closed run (prev, c)
        double centre;
        auto mid = [&](int j) { return 0.5 * (wish[j][a].lo_mm + wish[j][a].hi_mm); };
        if (prev < 0 && c >= n_cp) centre = 0.0;
        else if (prev < 0) centre = mid(c);
        else if (c >= n_cp) centre = mid(prev);
        else centre = mid(prev) + (mid(c) - mid(prev)) * (k - prev) / static_cast<double>(c - prev);
        x1[k][a] = centre - 0.5 * gap, x2[k][a] = centre + 0.5 * gap;
      }
      if (c < n_cp) {
        used[a] = 1;
        x1[c][a] = wish[c][a].lo_mm - 0.5 * gap;  // the gap is leakage both ways: centre it
        x2[c][a] = std::max(wish[c][a].hi_mm + 0.5 * gap, x1[c][a] + gap);
      }
      prev = c;
    }
  }

  // 3. Machine limits. MU: at least the minimum MU per degree and what the minimum dose
  //    rate delivers over the interval's shortest duration. Leaves: at most the leaf speed
  //    times that duration per interval, enforced by a backward then a forward clamping
  //    pass (the forward pass leaves every interval feasible; where both leaves of a pair
  //    would cross the minimum gap they meet at their midpoint, which stays within both
  //    leaves' reach).
  std::vector<double> reach(n_int);
  for (int i = 0; i < n_int; ++i) {
    const double t_s = std::max(bt.step_deg[i] / lim.gantry_deg_s, mu[i] / lim.dose_mu_s);
    mu[i] = std::max({mu[i], lim.min_mu_deg * bt.step_deg[i], lim.min_dose_mu_s * t_s});
    const double t2_s = std::max(bt.step_deg[i] / lim.gantry_deg_s, mu[i] / lim.dose_mu_s);
    reach[i] = lim.leaf_mm_s * t2_s * (1.0 - 1e-6);
  }
  auto clamp_pair = [&](int c, int from, double d, size_t a) {
    x1[c][a] = std::clamp(x1[c][a], x1[from][a] - d, x1[from][a] + d);
    x2[c][a] = std::clamp(x2[c][a], x2[from][a] - d, x2[from][a] + d);
    if (x2[c][a] - x1[c][a] < gap) {
      const double centre = 0.5 * (x1[c][a] + x2[c][a]);
      x1[c][a] = centre - 0.5 * gap, x2[c][a] = centre + 0.5 * gap;
    }
  };
  for (size_t a = 0; a < rows.size(); ++a) {
    if (!used[a]) continue;
    for (int c = n_cp - 2; c >= 0; --c) clamp_pair(c, c + 1, reach[c], a);
    for (int c = 1; c < n_cp; ++c) clamp_pair(c, c - 1, reach[c - 1], a);
    for (int c = 0; c < n_cp; ++c) {
      beam.control_points[c].leaf_x1_mm[rows[a].pair] = x1[c][a];
      beam.control_points[c].leaf_x2_mm[rows[a].pair] = x2[c][a];
    }
  }
  double total = 0;
  for (double v : mu) total += v;
  if (!(total > 0)) throw ProcessingError("beam '" + gb.name + "' has no fluence to sequence");
  set_meterset(beam, mu);
  edges_out = edges;
  return beam;
}

}  // namespace vmatplan::sequencer_parts
