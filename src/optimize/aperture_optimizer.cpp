// Direct aperture optimisation of a sequenced arc plan (see the header for the model).
#include "vmatplan/optimize/aperture_optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>

#include "interval_mapping.h"
#include "vmatplan/core/error.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/sequence/delivery_timing.h"

namespace vmatplan {
namespace {

// One beam's variables and fixed data. Leaf tips [control point][row] of the fluence
// grid's rows (MLC pairs first_leaf_pair + row), MU per interval (per fraction).
struct BeamState {
  size_t beam = 0;
  int cps = 0, intervals = 0;
  std::vector<double> x1, x2, mu;
  std::vector<char> movable;               // per row: a pair that opens somewhere
  std::vector<double> lo_mu, hi_mu, reach_mm;
  torch::Tensor constant, open_factor;     // [intervals, rows, bixels]
  torch::Tensor clip_lo, clip_hi;          // [intervals, 1, bixels]: bixel inside the X jaws
};

struct Variables {
  std::vector<BeamState> beams;
};

torch::Tensor to_tensor(const std::vector<double>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<double*>(v.data()), shape, torch::kDouble).clone();
}

}  // namespace

ApertureResult optimize_apertures(const DeliveryPlan& plan, const PencilBeamEngine& engine,
                                  const PlanGeometry& engine_geometry,
                                  const PlanObjective& objective, const MetersetPlanContext& ctx,
                                  const Machine& machine, const ApertureOptimizerOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const FluenceGrid& grid = engine.fluence_grid();
  const int cps = static_cast<int>(engine.control_point_count());
  if (engine_geometry.control_point_count() != cps)
    throw ProcessingError("geometry and dose engine differ in control points");
  if (opt.time_samples < 1) throw UsageError("aperture optimisation needs at least one time sample");
  const auto refs = map_intervals(plan, engine_geometry);
  // Engine fluence = M x interval fluence with M (mixing_matrix) two entries per column:
  // applied as two index_adds, not a dense product (reference BLAS's sgemm over the
  // [control points, intervals] matrix took a serial 0.02 s per evaluation, perf 2026-12-07).
  std::vector<int64_t> cp_a, cp_b;
  std::vector<float> w_a, w_b;
  for (const IntervalRef& r : refs)
    cp_a.push_back(r.cp_a), cp_b.push_back(r.cp_b), w_a.push_back(r.w_a), w_b.push_back(r.w_b);
  const torch::Tensor mix_cp_a = torch::tensor(cp_a, torch::kInt64), mix_cp_b = torch::tensor(cp_b, torch::kInt64);
  const torch::Tensor mix_w_a = torch::tensor(w_a, torch::kFloat).unsqueeze(1);
  const torch::Tensor mix_w_b = torch::tensor(w_b, torch::kFloat).unsqueeze(1);
  const int rows = grid.row_count(), bixels = grid.bixel_count;
  const double w = grid.bixel_width_mm;
  const double gap = machine.mlc.min_dynamic_leaf_gap_mm + opt.gap_margin_mm;
  const double x_lo = grid.x_min_mm - 0.5 * gap, x_hi = grid.x_min_mm + bixels * w + 0.5 * gap;
  const double t_mlc = machine.mlc.transmission;
  const double t_jaw = std::max(machine.x_jaws.transmission, machine.y_jaws.transmission);
  const double g = opt.limit_margin;
  const int fractions = std::max(1, plan.fractions);
  const double rx_fx = ctx.protocol.prescription.total_dose_gy / fractions;
  const double mu_weight = std::max(opt.mu_weight, ctx.protocol.mu_weight);
  const double mu_scale = rx_fx > 0 ? mu_weight * rx_fx / 100.0 : 0.0;  // per MU per fraction

  Variables var;
  for (size_t b = 0; b < plan.beams.size(); ++b) {
    const DeliveryBeam& beam = plan.beams[b];
    if (grid.first_leaf_pair + rows > beam.pair_count())
      throw ProcessingError("beam '" + beam.name + "': fluence grid rows exceed its leaf pairs");
    BeamState s;
    s.beam = b;
    s.cps = static_cast<int>(beam.control_points.size());
    s.intervals = s.cps - 1;
    s.x1.resize(static_cast<size_t>(s.cps) * rows), s.x2.resize(s.x1.size());
    s.movable.assign(rows, 0);
    for (int c = 0; c < s.cps; ++c)
      for (int r = 0; r < rows; ++r) {
        const int p = grid.first_leaf_pair + r;
        const auto& cp = beam.control_points[c];
        s.x1[c * rows + r] = cp.leaf_x1_mm[p], s.x2[c * rows + r] = cp.leaf_x2_mm[p];
        const auto& cp0 = beam.control_points[0];
        if (cp.leaf_x2_mm[p] - cp.leaf_x1_mm[p] > gap + 0.01 || cp.leaf_x1_mm[p] != cp0.leaf_x1_mm[p] ||
            cp.leaf_x2_mm[p] != cp0.leaf_x2_mm[p])
          s.movable[r] = 1;
      }
    const DeliveryLimits lim = DeliveryLimits::of(machine, beam.dose_rate_mu_per_min);
    const bool xj = !beam.x_jaw_type.empty(), yj = !beam.y_jaw_type.empty();
    std::vector<float> constant(static_cast<size_t>(s.intervals) * rows * bixels);
    std::vector<float> factor(constant.size()), clip_lo(static_cast<size_t>(s.intervals) * bixels),
        clip_hi(clip_lo.size());
    for (int i = 0; i < s.intervals; ++i) {
      const auto& c0 = beam.control_points[i];
      const auto& c1 = beam.control_points[i + 1];
      const double step = gantry_step_deg(c0, c1);
      const double mu = beam.interval_mu(i);
      s.mu.push_back(mu);
      // The interval's duration stays that of the sequenced plan (see the header).
      const double t_s = std::max({step / (g * lim.max_gantry_speed_deg_per_s),
                                   mu / (g * lim.max_dose_rate_mu_per_min / 60.0),
                                   max_leaf_travel_mm(beam, i) / (g * lim.max_leaf_speed_mm_per_s)});
      s.hi_mu.push_back(std::max(mu, g * lim.max_dose_rate_mu_per_min / 60.0 * t_s));
      s.lo_mu.push_back(std::min(mu, std::max(machine.min_mu_per_degree * step,
                                              lim.min_dose_rate_mu_per_min / 60.0 * t_s) / g));
      s.reach_mm.push_back(g * lim.max_leaf_speed_mm_per_s * t_s);
      const double jx1 = xj ? std::max(c0.x1_mm, c1.x1_mm) : -1e9;
      const double jx2 = xj ? std::min(c0.x2_mm, c1.x2_mm) : 1e9;
      const double jy1 = yj ? std::max(c0.y1_mm, c1.y1_mm) : -1e9;
      const double jy2 = yj ? std::min(c0.y2_mm, c1.y2_mm) : 1e9;
      for (int b2 = 0; b2 < bixels; ++b2) {
        const double bx0 = grid.x_min_mm + b2 * w;
        clip_lo[i * bixels + b2] = static_cast<float>(std::max(bx0, jx1));
        clip_hi[i * bixels + b2] = static_cast<float>(std::max(std::min(bx0 + w, jx2), std::max(bx0, jx1)));
      }
      for (int r = 0; r < rows; ++r) {
        const double y0 = grid.row_edges_mm[r], y1 = grid.row_edges_mm[r + 1];
        const double f_y = std::clamp((std::min(y1, jy2) - std::max(y0, jy1)) / (y1 - y0), 0.0, 1.0);
        for (int b2 = 0; b2 < bixels; ++b2) {
          const size_t k = (static_cast<size_t>(i) * rows + r) * bixels + b2;
          const double inside = (clip_hi[i * bixels + b2] - clip_lo[i * bixels + b2]) / w;
          constant[k] = static_cast<float>(f_y * (t_mlc * inside + t_jaw * (1.0 - inside)) + (1.0 - f_y) * t_jaw);
          factor[k] = static_cast<float>(f_y * (1.0 - t_mlc) / w);
        }
      }
    }
    s.constant = torch::from_blob(constant.data(), {s.intervals, rows, bixels}, torch::kFloat).clone();
    s.open_factor = torch::from_blob(factor.data(), {s.intervals, rows, bixels}, torch::kFloat).clone();
    s.clip_lo = torch::from_blob(clip_lo.data(), {s.intervals, 1, bixels}, torch::kFloat).clone();
    s.clip_hi = torch::from_blob(clip_hi.data(), {s.intervals, 1, bixels}, torch::kFloat).clone();
    var.beams.push_back(std::move(s));
  }

  // Projection onto the limits (see the header): MU box; leaves inside the grid, then a
  // forward pass that keeps every interval's travel within reach and the minimum gap
  // (where the gap would close both tips meet at their midpoint, which both can reach).
  auto project = [&](Variables& v) {
    for (BeamState& s : v.beams) {
      for (int i = 0; i < s.intervals; ++i) s.mu[i] = std::clamp(s.mu[i], s.lo_mu[i], s.hi_mu[i]);
      for (int r = 0; r < rows; ++r) {
        if (!s.movable[r]) continue;
        for (int c = 0; c < s.cps; ++c) {
          double& a = s.x1[c * rows + r];
          double& z = s.x2[c * rows + r];
          a = std::clamp(a, x_lo, x_hi - gap), z = std::clamp(z, x_lo + gap, x_hi);
          if (c > 0) {
            const double d = s.reach_mm[c - 1];
            a = std::clamp(a, s.x1[(c - 1) * rows + r] - d, s.x1[(c - 1) * rows + r] + d);
            z = std::clamp(z, s.x2[(c - 1) * rows + r] - d, s.x2[(c - 1) * rows + r] + d);
          }
          if (z - a < gap) {
            const double centre = 0.5 * (a + z);
            a = centre - 0.5 * gap, z = centre + 0.5 * gap;
          }
        }
      }
    }
  };

  // Interval fluence of all beams, [intervals, rows * bixels] in plan MU, differentiable
  // in the tensors given.
  auto interval_fluence = [&](const std::vector<torch::Tensor>& x1, const std::vector<torch::Tensor>& x2,
                              const std::vector<torch::Tensor>& mu) {
    std::vector<torch::Tensor> parts;
    for (size_t b = 0; b < var.beams.size(); ++b) {
      const BeamState& s = var.beams[b];
      torch::Tensor a0 = x1[b].slice(0, 0, s.intervals), a1 = x1[b].slice(0, 1, s.cps);
      torch::Tensor z0 = x2[b].slice(0, 0, s.intervals), z1 = x2[b].slice(0, 1, s.cps);
      torch::Tensor open = torch::zeros({s.intervals, rows, bixels}, torch::kFloat);
      for (int k = 0; k < opt.time_samples; ++k) {
        const double tau = (k + 0.5) / opt.time_samples;
        torch::Tensor a = ((1 - tau) * a0 + tau * a1).unsqueeze(2);  // [I, R, 1]
        torch::Tensor z = ((1 - tau) * z0 + tau * z1).unsqueeze(2);
        open = open + (torch::minimum(z, s.clip_hi) - torch::maximum(a, s.clip_lo)).clamp_min(0.0);
      }
      torch::Tensor f = s.constant + s.open_factor * open / static_cast<double>(opt.time_samples);
      parts.push_back((mu[b] * static_cast<double>(fractions)).view({-1, 1, 1}) * f);
    }
    return torch::cat(parts, 0).view({-1, static_cast<int64_t>(rows) * bixels});
  };

  ApertureResult res;
  const torch::Tensor compute_voxels = torch::tensor(engine.compute_voxels(), torch::kInt64);
  torch::Tensor correction_at_voxels;
  if (!opt.dose_correction_gy.empty())
    correction_at_voxels =
        engine.values_at_compute_voxels(opt.dose_correction_gy, "aperture optimisation: the dose correction");
  // Value (objective + MU term) of v; with_graph keeps the autograd graph, so that the
  // gradient (gradient() below) is computed only for the trial points the line search
  // accepts: a rejected trial costs one engine forward pass, not forward and backward.
  struct Evaluation {
    std::vector<torch::Tensor> x1, x2, mu;
    torch::Tensor total;
    double value = 0, dose_part = 0;
  };
  auto evaluate = [&](const Variables& v, bool with_graph) {
    ++res.evaluations;
    Evaluation e;
    for (const BeamState& s : v.beams) {
      e.x1.push_back(to_tensor(s.x1, {s.cps, rows}).to(torch::kFloat).requires_grad_(with_graph));
      e.x2.push_back(to_tensor(s.x2, {s.cps, rows}).to(torch::kFloat).requires_grad_(with_graph));
      e.mu.push_back(to_tensor(s.mu, {s.intervals}).to(torch::kFloat).requires_grad_(with_graph));
    }
    const torch::Tensor per_interval = interval_fluence(e.x1, e.x2, e.mu);
    torch::Tensor fluence = torch::zeros({cps, per_interval.size(1)}, torch::kFloat)
                                .index_add(0, mix_cp_a, mix_w_a * per_interval)
                                .index_add(0, mix_cp_b, mix_w_b * per_interval)
                                .view({cps, rows, bixels});
    torch::Tensor dose = engine.dose_at_voxels(fluence);
    if (correction_at_voxels.defined()) dose = dose + correction_at_voxels;
    torch::Tensor dose_obj = objective.value(dose.to(torch::kDouble));
    torch::Tensor total_mu = torch::zeros({}, torch::kDouble);
    for (const auto& m : e.mu) total_mu = total_mu + m.sum().to(torch::kDouble);
    e.total = dose_obj + mu_scale * total_mu;
    e.dose_part = dose_obj.item<double>(), e.value = e.total.item<double>();
    return e;
  };
  // The gradient of an evaluation made with_graph, in the variables' layout of v.
  auto gradient = [&](Evaluation& e, const Variables& v) {
    e.total.backward();
    Variables grad = v;
    for (size_t b = 0; b < v.beams.size(); ++b) {
      BeamState& gs = grad.beams[b];
      auto copy = [](const torch::Tensor& t, std::vector<double>& out) {
        torch::Tensor c = t.to(torch::kDouble).contiguous();
        out.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
      };
      copy(e.x1[b].grad(), gs.x1), copy(e.x2[b].grad(), gs.x2), copy(e.mu[b].grad(), gs.mu);
      for (int r = 0; r < rows; ++r)
        if (!gs.movable[r] || !opt.optimise_leaves)
          for (int c = 0; c < gs.cps; ++c) gs.x1[c * rows + r] = gs.x2[c * rows + r] = 0.0;
      if (!opt.optimise_mu) std::fill(gs.mu.begin(), gs.mu.end(), 0.0);
    }
    return grad;
  };

  // The plan: leaves and MU written back (cumulative weights from the interval MU).
  auto write_plan = [&](const Variables& v) {
    DeliveryPlan out = plan;
    for (const BeamState& s : v.beams) {
      DeliveryBeam& beam = out.beams[s.beam];
      for (int c = 0; c < s.cps; ++c)
        for (int r = 0; r < rows; ++r) {
          if (!s.movable[r]) continue;
          beam.control_points[c].leaf_x1_mm[grid.first_leaf_pair + r] = s.x1[c * rows + r];
          beam.control_points[c].leaf_x2_mm[grid.first_leaf_pair + r] = s.x2[c * rows + r];
        }
      double total = 0, acc = 0;
      for (double m : s.mu) total += m;
      beam.control_points.front().cumulative_meterset_weight = 0.0;
      for (int i = 0; i < s.intervals; ++i) {
        acc += s.mu[i];
        beam.control_points[i + 1].cumulative_meterset_weight =
            beam.final_cumulative_meterset_weight * std::min(1.0, acc / total);
      }
      beam.control_points.back().cumulative_meterset_weight = beam.final_cumulative_meterset_weight;
      beam.meterset_mu = total;
    }
    return out;
  };
  // The engine's dose of a plan (linear in MU) and the dose the objective, normalisation
  // and evaluation see: that plus the correction, when one is given.
  auto dose_of = [&](const DeliveryPlan& p) {
    res.fluence = aperture_fluence_on_geometry(p, grid, engine_geometry, machine);
    return engine.dose_image(res.fluence);
  };
  // Without a correction that is the dose itself, not a copy.
  Image3D<float> corrected;
  auto seen = [&](const Image3D<float>& dose) -> const Image3D<float>& {
    if (opt.dose_correction_gy.empty()) return dose;
    corrected = dose;
    add_dose_correction(corrected, opt.dose_correction_gy);
    return corrected;
  };
  // The protocol objective of a dose image on the engine's grid, read at the compute
  // voxels: no second engine pass for a dose already computed.
  auto objective_of = [&](const Image3D<float>& dose) {
    torch::NoGradGuard ng;
    const torch::Tensor all = torch::from_blob(const_cast<float*>(dose.voxels.data()),
                                               {static_cast<int64_t>(dose.voxels.size())}, torch::kFloat);
    return objective.value(all.index_select(0, compute_voxels).to(torch::kDouble)).item<double>();
  };
  project(var);
  for (const BeamState& s : var.beams)
    for (double m : s.mu) res.mu_sequenced += m;
  // The sequenced plan's objective from its delivered fluence (the exact integral of the
  // leaf motion), whose dose the normalisation below needs anyway.
  const Image3D<float> sequenced_raw = dose_of(write_plan(var));
  const Image3D<float>& sequenced_dose = seen(sequenced_raw);
  res.objective_sequenced = objective_of(sequenced_dose);
  if (opt.normalise_first) {
    // Start from the normalised sequenced plan: the protocol's normalisation is applied at
    // the end anyway, and the sequenced dose is off by a global factor (transmission and
    // level rounding) that would otherwise take the first iterations.
    const double k = normalisation_scale(ctx.patient, sequenced_dose, ctx.protocol, ctx.roles);
    if (k > 0 && std::isfinite(k))
      for (BeamState& s : var.beams)
        for (double& m : s.mu) m *= k;
    project(var);
  }
  // Optimisation variables z: leaf tips in bixel widths, MU relative to the sequenced MU
  // (at least the lower bound), so that both kinds are of order one. One unit of an
  // interval's MU variable changes the fluence of its whole aperture, one unit of a tip
  // that of one bixel: the MU variable is further multiplied by
  // mu_preconditioning * sqrt(open bixels), which evens out the diagonal of the
  // Gauss-Newton Hessian in z (each unit then moves about as much fluence, in the L2 sense).
  std::vector<double> mu_ref;
  for (const BeamState& s : var.beams)
    for (int i = 0; i < s.intervals; ++i) {
      double open_bixels = 0;
      for (int r = 0; r < rows; ++r)
        if (s.movable[r])
          for (int c = i; c <= i + 1; ++c)
            open_bixels += 0.5 * std::max(0.0, s.x2[c * rows + r] - s.x1[c * rows + r] - gap) / w;
      const double p = opt.mu_preconditioning > 0 ? opt.mu_preconditioning * std::sqrt(std::max(1.0, open_bixels)) : 1.0;
      mu_ref.push_back(std::max(s.mu[i], s.lo_mu[i]) / p);
    }
  auto flatten = [&](const Variables& v, bool gradient) {
    std::vector<double> z;
    size_t k = 0;
    for (const BeamState& s : v.beams) {
      for (size_t j = 0; j < s.x1.size(); ++j) z.push_back(gradient ? s.x1[j] * w : s.x1[j] / w);
      for (size_t j = 0; j < s.x2.size(); ++j) z.push_back(gradient ? s.x2[j] * w : s.x2[j] / w);
      for (int i = 0; i < s.intervals; ++i, ++k) z.push_back(gradient ? s.mu[i] * mu_ref[k] : s.mu[i] / mu_ref[k]);
    }
    return z;
  };
  auto unflatten = [&](const std::vector<double>& z, Variables& v) {
    size_t n = 0, k = 0;
    for (BeamState& s : v.beams) {
      for (double& x : s.x1) x = z[n++] * w;
      for (double& x : s.x2) x = z[n++] * w;
      for (int i = 0; i < s.intervals; ++i, ++k) s.mu[i] = z[n++] * mu_ref[k];
    }
  };
  auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
    return sum;
  };

  // Projected L-BFGS in z (cf. meterset_optimizer.cpp): two-loop direction, trial points
  // projected onto the limits, Armijo backtracking along the projection arc; steepest
  // descent (largest change first_step) when the direction fails.
  Evaluation start = evaluate(var, true);
  const Variables grad = gradient(start, var);
  double f = start.value, dose_part = start.dose_part;
  res.history.push_back(f);
  std::vector<double> z = flatten(var, false), gz = flatten(grad, true);
  std::deque<std::pair<std::vector<double>, std::vector<double>>> pairs;
  const size_t n = z.size();
  auto steepest = [&] {
    double gmax = 0;
    for (double v : gz) gmax = std::max(gmax, std::abs(v));
    std::vector<double> d(n, 0.0);
    if (gmax > 0)
      for (size_t i = 0; i < n; ++i) d[i] = -gz[i] * opt.first_step / gmax;
    return d;
  };
  for (int it = 0; it < opt.max_iterations; ++it) {
    std::vector<double> d;
    if (pairs.empty()) {
      d = steepest();
    } else {
      std::vector<double> q = gz, alpha(pairs.size());
      for (size_t k = pairs.size(); k-- > 0;) {
        const auto& [sk, yk] = pairs[k];
        alpha[k] = dot(sk, q) / dot(sk, yk);
        for (size_t i = 0; i < n; ++i) q[i] -= alpha[k] * yk[i];
      }
      const auto& [sl, yl] = pairs.back();
      const double gamma = dot(sl, yl) / dot(yl, yl);
      for (double& v : q) v *= gamma;
      for (size_t k = 0; k < pairs.size(); ++k) {
        const auto& [sk, yk] = pairs[k];
        const double beta = dot(yk, q) / dot(sk, yk);
        for (size_t i = 0; i < n; ++i) q[i] += (alpha[k] - beta) * sk[i];
      }
      d.resize(n);
      for (size_t i = 0; i < n; ++i) d[i] = -q[i];
      if (dot(d, gz) >= 0) pairs.clear(), d = steepest();
    }
    bool accepted = false;
    Variables trial = var, trial_grad;
    std::vector<double> zt(n);
    double f_trial = f, dose_trial = dose_part;
    for (int attempt = 0; attempt < 2 && !accepted; ++attempt) {
      double t = 1.0;
      for (int ls = 0; ls < opt.max_line_search_steps; ++ls, t *= 0.5) {
        for (size_t i = 0; i < n; ++i) zt[i] = z[i] + t * d[i];
        unflatten(zt, trial);
        project(trial);
        zt = flatten(trial, false);
        double decrease = 0;
        for (size_t i = 0; i < n; ++i) decrease += gz[i] * (zt[i] - z[i]);
        if (!(decrease < 0)) continue;
        Evaluation e = evaluate(trial, true);
        f_trial = e.value, dose_trial = e.dose_part;
        if (f_trial <= f + 1e-4 * decrease) {
          trial_grad = gradient(e, trial);
          accepted = true;
          break;
        }
      }
      if (!accepted && !pairs.empty()) pairs.clear(), d = steepest();
      else break;
    }
    if (!accepted) break;
    std::vector<double> gt = flatten(trial_grad, true), sk(n), yk(n);
    for (size_t i = 0; i < n; ++i) sk[i] = zt[i] - z[i], yk[i] = gt[i] - gz[i];
    if (dot(sk, yk) > 1e-12 * std::sqrt(dot(sk, sk) * dot(yk, yk))) {
      pairs.emplace_back(std::move(sk), std::move(yk));
      if (static_cast<int>(pairs.size()) > opt.memory) pairs.pop_front();
    }
    var = std::move(trial), z = std::move(zt), gz = std::move(gt), f = f_trial, dose_part = dose_trial;
    res.history.push_back(f);
    ++res.iterations;
    const size_t h = res.history.size();
    if (static_cast<int>(h) > opt.window &&
        res.history[h - 1 - opt.window] - f <= opt.relative_tolerance * std::abs(res.history[h - 1 - opt.window]))
      break;
  }
  res.objective_optimized = dose_part;

  res.plan = write_plan(var);
  Image3D<float> dose = dose_of(res.plan);
  if (opt.normalise) {
    // Dose is linear in MU: scale every interval, keep at least the minimum MU and at most
    // the machine's MU per degree (the gantry slows where the dose rate would exceed).
    for (int round = 0;; ++round) {
      const double k = normalisation_scale(ctx.patient, seen(dose), ctx.protocol, ctx.roles);
      if (!(k > 0) || std::abs(k - 1.0) < 1e-3 || round == 3) break;
      bool clamped = false;
      for (BeamState& s : var.beams) {
        const DeliveryBeam& beam = plan.beams[s.beam];
        for (int i = 0; i < s.intervals; ++i) {
          const double step_deg = gantry_step_deg(beam.control_points[i], beam.control_points[i + 1]);
          const double cap = step_deg > 1e-6 ? g * machine.max_mu_per_degree * step_deg : s.mu[i] * k;
          const double scaled = s.mu[i] * k;
          s.mu[i] = std::clamp(scaled, s.lo_mu[i], std::max(cap, s.lo_mu[i]));
          clamped = clamped || s.mu[i] != scaled;
        }
      }
      res.normalisation_scale *= k;
      res.plan = write_plan(var);
      if (clamped) {
        dose = dose_of(res.plan);
      } else {
        // Every interval scaled by k: fluence and dose are linear in MU, so no engine pass.
        for (float& v : res.fluence.values) v = static_cast<float>(v * k);
        for (float& v : dose.voxels) v = static_cast<float>(v * k);
      }
    }
  }
  const Image3D<float>& final_dose = seen(dose);
  if (opt.normalise && opt.evaluate_goals)
    res.evaluation = evaluate_plan(ctx.patient, final_dose, ctx.protocol, ctx.roles);
  res.objective_final = objective_of(final_dose);
  res.dose = final_dose;
  for (const BeamState& s : var.beams)
    for (double m : s.mu) res.mu_final += m;
  res.violations = check_deliverability(res.plan, machine);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace vmatplan
