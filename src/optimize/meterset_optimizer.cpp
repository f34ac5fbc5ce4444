// Meterset re-optimization of sequenced apertures (see the header for the model).
#include "vmatplan/optimize/meterset_optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>

#include "vmatplan/core/error.h"
#include "vmatplan/sequence/delivered_fluence.h"
#include "vmatplan/sequence/delivery_timing.h"
#include "interval_mapping.h"

namespace vmatplan {
namespace {

// Unit-MU (per fraction) aperture fluence of every interval, in plan MU: [intervals, per_cp].
torch::Tensor unit_apertures(const DeliveryPlan& plan, const std::vector<IntervalRef>& refs,
                             const FluenceGrid& grid, const Machine& machine, bool transmission) {
  const int64_t per_cp = grid.size_per_control_point();
  torch::Tensor u = torch::zeros({static_cast<int64_t>(refs.size()), per_cp}, torch::kFloat);
  std::vector<float> buf(static_cast<size_t>(per_cp));
  for (size_t n = 0; n < refs.size(); ++n) {
    const DeliveryBeam& beam = plan.beams[refs[n].beam];
    const double mu = beam.interval_mu(refs[n].index);
    if (mu <= 0) continue;  // beam off: no aperture fluence to scale
    std::fill(buf.begin(), buf.end(), 0.0f);
    add_interval_fluence(beam, refs[n].index, grid, machine, plan.fractions / mu, transmission, buf);
    std::copy(buf.begin(), buf.end(), u[static_cast<int64_t>(n)].data_ptr<float>());
  }
  return u;
}

std::vector<double> interval_mus(const DeliveryPlan& plan, const std::vector<IntervalRef>& refs) {
  std::vector<double> mu(refs.size());
  for (size_t n = 0; n < refs.size(); ++n) mu[n] = plan.beams[refs[n].beam].interval_mu(refs[n].index);
  return mu;
}

// Writes per-interval MU (per fraction) into the beams: BeamMeterset and monotonic
// cumulative weights ending at the beam's final cumulative weight.
void set_interval_mus(DeliveryPlan& plan, const std::vector<IntervalRef>& refs,
                      const std::vector<double>& mu) {
  std::vector<double> total(plan.beams.size(), 0.0);
  for (size_t n = 0; n < refs.size(); ++n) total[refs[n].beam] += mu[n];
  std::vector<double> acc(plan.beams.size(), 0.0);
  for (size_t n = 0; n < refs.size(); ++n) {
    DeliveryBeam& beam = plan.beams[refs[n].beam];
    const double t = total[refs[n].beam];
    if (t <= 0) continue;
    acc[refs[n].beam] += mu[n];
    beam.control_points[refs[n].index + 1].cumulative_meterset_weight =
        beam.final_cumulative_meterset_weight * std::min(1.0, acc[refs[n].beam] / t);
  }
  for (size_t b = 0; b < plan.beams.size(); ++b) {
    if (total[b] <= 0) continue;
    plan.beams[b].meterset_mu = total[b];
    plan.beams[b].control_points.front().cumulative_meterset_weight = 0.0;
    plan.beams[b].control_points.back().cumulative_meterset_weight =
        plan.beams[b].final_cumulative_meterset_weight;
  }
}

FluenceMaps to_maps(const torch::Tensor& f, const FluenceGrid& grid, int cps) {
  FluenceMaps m;
  m.grid = grid;
  m.control_point_count = cps;
  torch::Tensor c = f.contiguous().to(torch::kFloat);
  m.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return m;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

void interval_mu_bounds(const DeliveryBeam& beam, const Machine& machine, double margin,
                        std::vector<double>& lo_mu, std::vector<double>& hi_mu) {
  const DeliveryLimits lim = DeliveryLimits::of(machine, beam.dose_rate_mu_per_min);
  lo_mu.clear(), hi_mu.clear();
  for (size_t i = 0; i + 1 < beam.control_points.size(); ++i) {
    const double step = gantry_step_deg(beam.control_points[i], beam.control_points[i + 1]);
    const double travel = max_leaf_travel_mm(beam, i);
    // Slowest allowed delivery: at the minimum dose rate the interval may last MU / rate,
    // which must cover the time the gantry and leaves need at their maximum speeds.
    const double t_min_s = std::max(step / lim.max_gantry_speed_deg_per_s,
                                    travel / lim.max_leaf_speed_mm_per_s);
    double lo = lim.min_dose_rate_mu_per_min / 60.0 * t_min_s;
    double hi = std::numeric_limits<double>::infinity();
    if (step > 1e-6) {
      lo = std::max(lo, machine.min_mu_per_degree * step);
      hi = machine.max_mu_per_degree * step;
    }
    lo_mu.push_back(lo * (1.0 + margin));
    hi_mu.push_back(hi * (1.0 - margin));
  }
}

FluenceMaps aperture_fluence_on_geometry(const DeliveryPlan& plan, const FluenceGrid& grid,
                                         const PlanGeometry& engine_geometry,
                                         const Machine& machine, bool transmission) {
  torch::NoGradGuard ng;
  const auto refs = map_intervals(plan, engine_geometry);
  const int cps = engine_geometry.control_point_count();
  const torch::Tensor u = unit_apertures(plan, refs, grid, machine, transmission);
  const std::vector<double> mu = interval_mus(plan, refs);
  const torch::Tensor mu_t = torch::tensor(mu, torch::kDouble).to(torch::kFloat);
  return to_maps(torch::mm(mixing_matrix(refs, cps), mu_t.unsqueeze(1) * u), grid, cps);
}

void add_dose_correction(Image3D<float>& dose, const std::vector<float>& correction_gy) {
  for (size_t v = 0; v < correction_gy.size(); ++v) dose.voxels[v] += correction_gy[v];
}

MetersetResult optimize_meterset(const DeliveryPlan& plan, const PencilBeamEngine& engine,
                                 const PlanGeometry& engine_geometry,
                                 const PlanObjective& objective, const MetersetPlanContext& ctx,
                                 const Machine& machine, const MetersetOptimizerOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const FluenceGrid& grid = engine.fluence_grid();
  const int cps = static_cast<int>(engine.control_point_count());
  if (engine_geometry.control_point_count() != cps)
    throw ProcessingError("geometry and dose engine differ in control points");
  const auto refs = map_intervals(plan, engine_geometry);
  const torch::Tensor unit = unit_apertures(plan, refs, grid, machine, opt.transmission);
  const torch::Tensor mix = mixing_matrix(refs, cps);
  const std::vector<double> mu0 = interval_mus(plan, refs);
  const size_t n_int = refs.size();

  // Variables: one MU scale per group of delivery intervals between the same two engine
  // control points (x = MU / MU(sequenced)); beam-off intervals stay at 0.
  std::vector<std::vector<size_t>> members;
  std::vector<int64_t> cp_a, cp_b;
  for (size_t k = 0; k < n_int; ++k) {
    if (members.empty() || refs[k].cp_a != cp_a.back() || refs[k].cp_b != cp_b.back() ||
        refs[k].beam != refs[members.back().front()].beam) {
      members.emplace_back();
      cp_a.push_back(refs[k].cp_a), cp_b.push_back(refs[k].cp_b);
    }
    members.back().push_back(k);
  }
  const size_t n = members.size();
  std::vector<size_t> group_of(n_int);
  for (size_t g = 0; g < n; ++g)
    for (size_t k : members[g]) group_of[k] = g;

  // Bounds of a group: the tightest of its intervals' bounds.
  std::vector<double> lo(n, 0.0), hi(n, 0.0);
  {
    std::vector<double> ilo, ihi, blo, bhi;
    for (const DeliveryBeam& beam : plan.beams) {
      interval_mu_bounds(beam, machine, opt.bound_margin, blo, bhi);
      ilo.insert(ilo.end(), blo.begin(), blo.end());
      ihi.insert(ihi.end(), bhi.begin(), bhi.end());
    }
    for (size_t g = 0; g < n; ++g) {
      double l = 0, h = std::numeric_limits<double>::infinity();
      bool on = false;
      for (size_t k : members[g]) {
        if (mu0[k] <= 0) continue;
        on = true;
        l = std::max(l, ilo[k] / mu0[k]), h = std::min(h, ihi[k] / mu0[k]);
      }
      if (!on) continue;  // held at 0
      if (l > h) l = h = 1.0;  // no room: keep what the sequencer chose
      lo[g] = std::min(l, 1.0), hi[g] = std::max(h, 1.0);  // the start is feasible
    }
  }
  auto project = [&](std::vector<double>& x) {
    for (size_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], lo[i], hi[i]);
  };
  const torch::Tensor mu0_t = torch::tensor(mu0, torch::kDouble);
  const torch::Tensor group_index =
      torch::tensor(std::vector<int64_t>(group_of.begin(), group_of.end()), torch::kInt64);
  auto fluence_of = [&](const torch::Tensor& x) {  // x per group
    const torch::Tensor mu = (x.index_select(0, group_index) * mu0_t).to(torch::kFloat);
    return torch::mm(mix, mu.unsqueeze(1) * unit).view({cps, grid.row_count(), grid.bixel_count});
  };

  // Dose matrix [groups, compute voxels] at the sequenced MU: a group's fluence reaches its
  // two engine control points, and each control point is the first (second) point of at
  // most one group, so two passes of per-control-point dose give every row.
  torch::Tensor dose_matrix;
  {
    torch::NoGradGuard ng;
    const int64_t per_cp = grid.size_per_control_point();
    torch::Tensor left = torch::zeros({cps, per_cp}, torch::kFloat);
    torch::Tensor right = torch::zeros({cps, per_cp}, torch::kFloat);
    for (size_t k = 0; k < n_int; ++k) {
      if (mu0[k] <= 0) continue;
      left[refs[k].cp_a] += static_cast<float>(refs[k].w_a * mu0[k]) * unit[static_cast<int64_t>(k)];
      right[refs[k].cp_b] += static_cast<float>(refs[k].w_b * mu0[k]) * unit[static_cast<int64_t>(k)];
    }
    const auto shape = std::vector<int64_t>{cps, grid.row_count(), grid.bixel_count};
    dose_matrix = engine.control_point_doses(left.view(shape))
                      .index_select(0, torch::tensor(cp_a, torch::kInt64));
    dose_matrix += engine.control_point_doses(right.view(shape))
                       .index_select(0, torch::tensor(cp_b, torch::kInt64));
  }
  // The correction at the compute voxels (the objective's), and the dose the
  // normalisation and evaluation see: the engine's plus the correction.
  torch::Tensor correction_at_voxels;
  if (!opt.dose_correction_gy.empty())
    correction_at_voxels =
        engine.values_at_compute_voxels(opt.dose_correction_gy, "meterset optimisation: the dose correction");
  auto corrected = [&](torch::Tensor dose_at_voxels) {
    return correction_at_voxels.defined() ? dose_at_voxels + correction_at_voxels : dose_at_voxels;
  };
  MetersetResult res;
  auto evaluate = [&](const std::vector<double>& x, std::vector<double>& g) {
    ++res.evaluations;
    torch::Tensor xt = torch::tensor(x, torch::kDouble).requires_grad_(true);
    torch::Tensor dose = corrected(torch::matmul(xt.to(torch::kFloat).unsqueeze(0), dose_matrix).squeeze(0));
    torch::Tensor f = objective.value(dose.to(torch::kDouble));
    f.backward();
    torch::Tensor gt = xt.grad().contiguous();
    g.assign(gt.data_ptr<double>(), gt.data_ptr<double>() + n);
    return f.item<double>();
  };

  // Projected L-BFGS (cf. fluence_optimizer.cpp): the two-loop direction on the free
  // variables (a bound with the gradient pointing outwards is held), projected Armijo
  // backtracking along the projection arc.
  std::vector<double> x(n, 1.0), g, gn, xn(n), d(n);
  for (size_t i = 0; i < n; ++i) if (lo[i] == 0 && hi[i] == 0) x[i] = 0.0;
  project(x);
  double f = evaluate(x, g);
  res.objective_sequenced = f;
  res.history.push_back(f);
  std::deque<std::pair<std::vector<double>, std::vector<double>>> pairs;
  for (int it = 0; it < opt.max_iterations; ++it) {
    std::vector<char> free(n);
    for (size_t i = 0; i < n; ++i)
      free[i] = !((x[i] <= lo[i] + 1e-12 && g[i] > 0) || (x[i] >= hi[i] - 1e-12 && g[i] < 0) ||
                  lo[i] == hi[i]);
    std::vector<double> q(n);
    for (size_t i = 0; i < n; ++i) q[i] = free[i] ? g[i] : 0.0;
    if (std::sqrt(dot(q, q)) <= 1e-12 * std::max(1.0, std::abs(f))) break;
    std::vector<double> alpha(pairs.size());
    for (size_t k = pairs.size(); k-- > 0;) {
      const auto& [s, y] = pairs[k];
      alpha[k] = dot(s, q) / dot(s, y);
      for (size_t i = 0; i < n; ++i) q[i] -= alpha[k] * y[i];
    }
    double gamma;
    if (pairs.empty()) {
      double gmax = 0;
      for (size_t i = 0; i < n; ++i) gmax = std::max(gmax, std::abs(q[i]));
      gamma = opt.first_step / gmax;  // the first step changes no MU by more than first_step
    } else {
      const auto& [s, y] = pairs.back();
      gamma = dot(s, y) / dot(y, y);
    }
    for (double& v : q) v *= gamma;
    for (size_t k = 0; k < pairs.size(); ++k) {
      const auto& [s, y] = pairs[k];
      const double beta = dot(y, q) / dot(s, y);
      for (size_t i = 0; i < n; ++i) q[i] += (alpha[k] - beta) * s[i];
    }
    for (size_t i = 0; i < n; ++i) d[i] = free[i] ? -q[i] : 0.0;
    if (dot(d, g) >= 0) {  // not a descent direction: steepest descent
      pairs.clear();
      double gmax = 0;
      for (size_t i = 0; i < n; ++i) gmax = std::max(gmax, free[i] ? std::abs(g[i]) : 0.0);
      for (size_t i = 0; i < n; ++i) d[i] = free[i] ? -g[i] * opt.first_step / gmax : 0.0;
    }
    double t = 1.0, fn = f;
    bool accepted = false;
    for (int ls = 0; ls < opt.max_line_search_steps; ++ls, t *= 0.5) {
      for (size_t i = 0; i < n; ++i) xn[i] = x[i] + t * d[i];
      project(xn);
      double decrease = 0;
      for (size_t i = 0; i < n; ++i) decrease += g[i] * (xn[i] - x[i]);
      fn = evaluate(xn, gn);
      if (fn <= f + 1e-4 * decrease) { accepted = true; break; }
    }
    if (!accepted) break;
    std::vector<double> s(n), y(n);
    for (size_t i = 0; i < n; ++i) s[i] = xn[i] - x[i], y[i] = gn[i] - g[i];
    if (dot(s, y) > 1e-12 * std::sqrt(dot(s, s) * dot(y, y))) {
      pairs.emplace_back(std::move(s), std::move(y));
      if (static_cast<int>(pairs.size()) > opt.memory) pairs.pop_front();
    }
    x = xn, g = gn, f = fn;
    res.history.push_back(f);
    ++res.iterations;
    const size_t h = res.history.size();
    if (static_cast<int>(h) > opt.window &&
        res.history[h - 1 - opt.window] - f <= opt.relative_tolerance * std::abs(res.history[h - 1 - opt.window]))
      break;
  }
  res.objective_optimized = f;

  // Normalisation per the protocol rule (dose is linear in MU), re-clamped to the bounds.
  std::vector<double> mu(n_int);
  auto apply = [&] {
    for (size_t k = 0; k < n_int; ++k) mu[k] = x[group_of[k]] * mu0[k];
    res.plan = plan;
    set_interval_mus(res.plan, refs, mu);
    torch::NoGradGuard ng;
    res.fluence = to_maps(fluence_of(torch::tensor(x, torch::kDouble)), grid, cps);
  };
  apply();
  if (opt.normalise) {
    for (int round = 0;; ++round) {
      Image3D<float> dose = engine.dose_image(res.fluence);
      add_dose_correction(dose, opt.dose_correction_gy);
      res.evaluation = evaluate_plan(ctx.patient, dose, ctx.protocol, ctx.roles);
      const double k = res.evaluation.normalisation_scale;
      if (!(k > 0) || std::abs(k - 1.0) < 1e-3 || round == 3) break;
      for (double& v : x) v *= k;
      project(x);
      res.normalisation_scale *= k;
      apply();
    }
  }
  {
    torch::NoGradGuard ng;
    res.objective_final =
        objective.value(corrected(engine.dose_at_voxels(fluence_of(torch::tensor(x, torch::kDouble)))).to(torch::kDouble))
            .item<double>();
  }
  for (size_t i = 0; i < n; ++i)
    if (lo[i] < hi[i] && (x[i] <= lo[i] + 1e-9 || x[i] >= hi[i] - 1e-9)) ++res.clamped_intervals;
  for (size_t k = 0; k < n_int; ++k) res.mu_sequenced += mu0[k], res.mu_final += mu[k];
  res.violations = check_deliverability(res.plan, machine);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace vmatplan
