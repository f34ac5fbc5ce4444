// Projected L-BFGS fluence optimisation (see fluence_optimizer.h).
#include "vmatplan/optimize/fluence_optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "vmatplan/core/error.h"
#include "vmatplan/optimize/fluence_regularizer.h"
#include "vmatplan/optimize/lbfgs_memory.h"

namespace vmatplan {

torch::Tensor jaw_overlap(const PlanGeometry& geometry, const FluenceGrid& grid) {
  std::vector<float> m;
  for (const Beam& beam : geometry.beams)
    for (size_t c = 0; c < beam.control_points.size(); ++c)
      for (int r = 0; r < grid.row_count(); ++r) {
        const double y0 = grid.row_edges_mm[r], y1 = grid.row_edges_mm[r + 1];
        const double fy = std::clamp((std::min(y1, beam.y2_mm) - std::max(y0, beam.y1_mm)) / (y1 - y0), 0.0, 1.0);
        for (int b = 0; b < grid.bixel_count; ++b) {
          const double x0 = grid.x_min_mm + b * grid.bixel_width_mm, x1 = x0 + grid.bixel_width_mm;
          const double fx = std::clamp((std::min(x1, beam.x2_mm) - std::max(x0, beam.x1_mm)) / (x1 - x0), 0.0, 1.0);
          m.push_back(static_cast<float>(fx * fy));
        }
      }
  return torch::tensor(m, torch::kFloat).view({-1, grid.row_count(), grid.bixel_count});
}

namespace {

using Clock = std::chrono::steady_clock;

struct Evaluation {
  double total = 0, dose = 0, smooth = 0;
  torch::Tensor grad;  // double, shape of x
};

class Problem {
 public:
  Problem(const PencilBeamEngine& engine, const PlanObjective& objective,
          const PlanGeometry& geometry, const FluenceOptimizerOptions& opt, double f_ref)
      : engine_(engine), objective_(objective), regularizer_(geometry, engine.fluence_grid(), opt, f_ref) {}

  Evaluation operator()(const torch::Tensor& x) {
    ++evaluations;
    torch::Tensor xf = x.to(torch::kFloat).detach().requires_grad_(true);
    torch::Tensor dose = engine_.dose_at_voxels(regularizer_.delivered(xf)).to(torch::kDouble);
    torch::Tensor dose_obj = objective_.value(dose);
    torch::Tensor smooth = regularizer_.value(xf);
    torch::Tensor total = dose_obj + smooth.to(torch::kDouble);
    total.backward();
    Evaluation e;
    e.total = total.item<double>();
    e.dose = dose_obj.item<double>();
    e.smooth = smooth.item<double>();
    e.grad = xf.grad().to(torch::kDouble);
    if (!std::isfinite(e.total)) throw ProcessingError("fluence optimisation: objective is not finite");
    return e;
  }

  const FluenceRegularizer& regularizer() const { return regularizer_; }

  int evaluations = 0;

 private:
  const PencilBeamEngine& engine_;
  const PlanObjective& objective_;
  FluenceRegularizer regularizer_;
};

}  // namespace

FluenceOptimizationResult optimize_fluence(const PencilBeamEngine& engine,
                                           const PlanObjective& objective,
                                           const PlanGeometry& geometry,
                                           const FluenceMaps& initial,
                                           const FluenceOptimizerOptions& opt) {
  const FluenceGrid& grid = engine.fluence_grid();
  const int64_t cps = engine.control_point_count();
  if (initial.control_point_count != cps || initial.grid.row_count() != grid.row_count() ||
      initial.grid.bixel_count != grid.bixel_count ||
      initial.values.size() != static_cast<size_t>(cps * grid.size_per_control_point()))
    throw ProcessingError("fluence optimisation: the initial fluence does not match the engine's grid");
  if (geometry.control_point_count() != cps)
    throw ProcessingError("fluence optimisation: the geometry's control points differ from the engine's");

  const auto t0 = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  torch::Tensor x = torch::tensor(std::vector<double>(initial.values.begin(), initial.values.end()),
                                  torch::kDouble)
                        .view({cps, grid.row_count(), grid.bixel_count});
  FluenceOptimizationResult result;
  {
    torch::Tensor pos = x.clamp_min(0);
    const double n_pos = (pos > 0).sum().item<double>();
    result.f_ref_mu = n_pos > 0 ? pos.sum().item<double>() / n_pos : 1.0;
  }
  const double f_max = opt.f_max_mu > 0 ? opt.f_max_mu : 4.0 * result.f_ref_mu;
  result.f_max_mu = f_max;
  x = x.clamp(0.0, f_max);

  Problem problem(engine, objective, geometry, opt, result.f_ref_mu);
  Evaluation cur = problem(x);
  auto record = [&](int it, const Evaluation& e) {
    IterationRecord r{it, e.total, e.dose, e.smooth, problem.evaluations, elapsed()};
    result.history.push_back(r);
    if (opt.progress) opt.progress(r);
  };
  record(0, cur);

  LbfgsMemory memory(opt.memory);
  result.stop_reason = "max_iterations";
  for (int it = 1; it <= opt.max_iterations; ++it) {
    torch::Tensor free = free_mask(x, cur.grad, f_max);
    torch::Tensor g = cur.grad * free;
    // Without curvature pairs: move the largest component by a quarter of the fluence level.
    auto quarter_step = [&] {
      const double gmax = g.abs().max().item<double>();
      return gmax > 0 ? 0.25 * result.f_ref_mu / gmax : 1.0;
    };
    torch::Tensor d = -memory.inverse_hessian_times(g, memory.empty() ? quarter_step() : 1.0) * free;
    if (sum_of_products(d, g) >= 0) {  // not a descent direction: restart from steepest descent
      memory.clear();
      d = -g * quarter_step();
    }
    if (d.abs().max().item<double>() == 0) {
      result.stop_reason = "converged";
      result.converged = true;
      break;
    }

    // Projected Armijo backtracking.
    double step = 1.0;
    bool accepted = false;
    torch::Tensor x_new;
    Evaluation next;
    for (int ls = 0; ls < opt.max_line_search_steps; ++ls, step *= 0.5) {
      x_new = (x + step * d).clamp(0.0, f_max);
      next = problem(x_new);
      if (next.total <= cur.total + 1e-4 * sum_of_products(cur.grad, x_new - x)) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      // Stale curvature pairs (e.g. after many bounds became active) can give a poor
      // direction: retry once from steepest descent before giving up.
      if (!memory.empty()) {
        memory.clear();
        --it;
        continue;
      }
      result.stop_reason = "line_search";
      break;
    }
    memory.add(x_new - x, next.grad - cur.grad);
    x = x_new;
    cur = std::move(next);
    result.iterations = it;
    record(it, cur);
    const int window = std::max(1, opt.window);
    if (it < window) continue;
    const double before = result.history[result.history.size() - 1 - window].objective;
    const double rel = (before - cur.total) / std::max(std::abs(before), 1e-300);
    if (rel < opt.relative_tolerance) {
      result.stop_reason = "converged";
      result.converged = true;
      break;
    }
  }

  result.evaluations = problem.evaluations;
  result.seconds = elapsed();
  result.fluence.grid = grid;
  result.fluence.control_point_count = static_cast<int>(cps);
  torch::Tensor xf;
  {
    torch::NoGradGuard ng;
    xf = problem.regularizer().delivered(x.to(torch::kFloat)).contiguous();
  }
  result.fluence.values.assign(xf.data_ptr<float>(), xf.data_ptr<float>() + xf.numel());
  return result;
}

}  // namespace vmatplan
