// Coarse-grid pencil-beam predictor (see dose_predictor.h).
#include "vmatplan/learn/dose_predictor.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>

#include "vmatplan/evaluation/gamma.h"

namespace vmatplan {

struct DosePredictor::Impl {
  DosePredictorOptions options;
  std::unique_ptr<PencilBeamEngine> coarse;
  std::unique_ptr<PencilBeamEngine> near;   // full grid near the target (or null)
  torch::Tensor near_from;  // positions in near's dose vector
  torch::Tensor near_to;    // the same voxels' positions in the fine dose vector
  torch::Tensor corner_index;   // [fine voxels * 8] positions in the coarse dose vector
  torch::Tensor corner_weight;  // [fine voxels, 8], rows sum to 1 (or 0 where uncovered)
  int64_t uncovered = 0;
  double setup_s = 0;
};

DosePredictor::DosePredictor(const Patient& patient, const Machine& machine,
                             const PlanGeometry& geometry, const FluenceGrid& grid,
                             const ImageGrid& fine_grid, const std::vector<int64_t>& fine_voxels,
                             const Mask* target, const DosePredictorOptions& options)
    : impl_(std::make_unique<Impl>()) {
  const auto t0 = std::chrono::steady_clock::now();
  impl_->options = options;
  DoseEngineOptions eo;
  eo.dose_spacing_mm = options.coarse_spacing_mm;
  eo.plane_spacing_mm = options.plane_spacing_mm;
  impl_->coarse = std::make_unique<PencilBeamEngine>(patient, machine, geometry, grid, eo);
  const ImageGrid& cg = impl_->coarse->dose_grid();
  const std::vector<int64_t>& cvox = impl_->coarse->compute_voxels();
  std::vector<int64_t> position(static_cast<size_t>(cg.voxel_count()), -1);
  for (size_t n = 0; n < cvox.size(); ++n) position[static_cast<size_t>(cvox[n])] = static_cast<int64_t>(n);

  // Trilinear weights of each fine voxel centre among the 8 surrounding coarse centres;
  // corners outside the coarse compute voxels are dropped and the rest renormalised (the
  // coarse grid stops at the body's edge, where the fine grid may reach half a voxel further).
  const int64_t n_fine = static_cast<int64_t>(fine_voxels.size());
  std::vector<int64_t> idx(static_cast<size_t>(n_fine) * 8, 0);
  std::vector<float> w(static_cast<size_t>(n_fine) * 8, 0.0f);
  const int64_t nx = fine_grid.size[0], ny = fine_grid.size[1];
  for (int64_t v = 0; v < n_fine; ++v) {
    const int64_t lin = fine_voxels[static_cast<size_t>(v)];
    const Vec3 p = fine_grid.index_to_physical({double(lin % nx), double((lin / nx) % ny), double(lin / (nx * ny))});
    const Vec3 c = cg.physical_to_index(p);
    const int64_t i0 = static_cast<int64_t>(std::floor(c[0])), j0 = static_cast<int64_t>(std::floor(c[1])),
                  k0 = static_cast<int64_t>(std::floor(c[2]));
    const double fx = c[0] - i0, fy = c[1] - j0, fz = c[2] - k0;
    double sum = 0;
    for (int corner = 0; corner < 8; ++corner) {
      const int di = corner & 1, dj = (corner >> 1) & 1, dk = (corner >> 2) & 1;
      const int64_t i = i0 + di, j = j0 + dj, k = k0 + dk;
      if (!cg.contains_index(i, j, k)) continue;
      const int64_t pos = position[static_cast<size_t>(cg.linear_index(i, j, k))];
      if (pos < 0) continue;
      const double wc = (di ? fx : 1 - fx) * (dj ? fy : 1 - fy) * (dk ? fz : 1 - fz);
      idx[static_cast<size_t>(v * 8 + corner)] = pos;
      w[static_cast<size_t>(v * 8 + corner)] = static_cast<float>(wc);
      sum += wc;
    }
    if (sum <= 1e-9) {
      ++impl_->uncovered;
      for (int corner = 0; corner < 8; ++corner) w[static_cast<size_t>(v * 8 + corner)] = 0.0f;
      continue;
    }
    for (int corner = 0; corner < 8; ++corner) w[static_cast<size_t>(v * 8 + corner)] /= static_cast<float>(sum);
  }
  if (target && options.fine_margin_mm > 0) add_near_target(patient, machine, geometry, grid, fine_grid, fine_voxels, *target);
  impl_->corner_index = torch::tensor(idx, torch::kLong);
  impl_->corner_weight = torch::tensor(w, torch::kFloat).view({n_fine, 8});
  impl_->setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The full-grid engine on the fine voxels within fine_margin_mm of the target. The engine
// takes its region as a CT-grid mask ("dose voxels touching it"): the CT voxel at each
// chosen dose voxel's centre marks it; extra voxels it computes are ignored.
void DosePredictor::add_near_target(const Patient& patient, const Machine& machine, const PlanGeometry& geometry,
                                    const FluenceGrid& grid, const ImageGrid& fine_grid,
                                    const std::vector<int64_t>& fine_voxels, const Mask& target) {
  const VoxelWeights tw = structure_on_dose_grid(target, fine_grid, fine_voxels);
  const std::vector<double> dist = distance_to_target_mm(tw, fine_grid, fine_voxels);
  Mask region(target.grid, 0);
  const int64_t nx = fine_grid.size[0], ny = fine_grid.size[1];
  std::vector<int64_t> chosen_at(static_cast<size_t>(fine_grid.voxel_count()), -1);
  for (size_t v = 0; v < fine_voxels.size(); ++v) {
    if (dist[v] > impl_->options.fine_margin_mm) continue;
    const int64_t lin = fine_voxels[v];
    chosen_at[static_cast<size_t>(lin)] = static_cast<int64_t>(v);
    const Vec3 c = target.grid.physical_to_index(
        fine_grid.index_to_physical({double(lin % nx), double((lin / nx) % ny), double(lin / (nx * ny))}));
    const int64_t i = std::llround(c[0]), j = std::llround(c[1]), k = std::llround(c[2]);
    if (target.grid.contains_index(i, j, k)) region.at(i, j, k) = 1;
  }
  DoseEngineOptions eo;
  eo.dose_spacing_mm = fine_grid.spacing_mm[0];
  eo.compute_mask = &region;
  eo.plane_spacing_mm = impl_->options.plane_spacing_mm;
  impl_->near = std::make_unique<PencilBeamEngine>(patient, machine, geometry, grid, eo);
  const ImageGrid& ng = impl_->near->dose_grid();
  std::vector<int64_t> from, to;
  const std::vector<int64_t>& nvox = impl_->near->compute_voxels();
  const int64_t mx = ng.size[0], my = ng.size[1];
  for (size_t n = 0; n < nvox.size(); ++n) {
    const int64_t lin = nvox[n];
    const Vec3 c = fine_grid.physical_to_index(
        ng.index_to_physical({double(lin % mx), double((lin / mx) % my), double(lin / (mx * my))}));
    const int64_t i = std::llround(c[0]), j = std::llround(c[1]), k = std::llround(c[2]);
    if (!fine_grid.contains_index(i, j, k)) continue;
    const int64_t v = chosen_at[static_cast<size_t>(fine_grid.linear_index(i, j, k))];
    if (v < 0) continue;
    from.push_back(static_cast<int64_t>(n));
    to.push_back(v);
  }
  impl_->near_from = torch::tensor(from, torch::kLong);
  impl_->near_to = torch::tensor(to, torch::kLong);
}

DosePredictor::~DosePredictor() = default;
DosePredictor::DosePredictor(DosePredictor&&) noexcept = default;

at::Tensor DosePredictor::dose_at_voxels(const at::Tensor& fluence) const {
  torch::Tensor coarse = impl_->coarse->dose_at_voxels(fluence);
  const int64_t n = impl_->corner_weight.size(0);
  torch::Tensor corners = coarse.index_select(0, impl_->corner_index).view({n, 8});
  torch::Tensor dose = (corners * impl_->corner_weight.to(corners.dtype())).sum(1);
  if (!impl_->near) return dose;
  torch::Tensor near = impl_->near->dose_at_voxels(fluence).index_select(0, impl_->near_from);
  return dose.index_copy(0, impl_->near_to, near.to(dose.dtype()));
}

double DosePredictor::setup_seconds() const { return impl_->setup_s; }
int64_t DosePredictor::coarse_voxel_count() const {
  return static_cast<int64_t>(impl_->coarse->compute_voxels().size());
}
int64_t DosePredictor::uncovered_voxel_count() const { return impl_->uncovered; }
int64_t DosePredictor::near_target_voxel_count() const {
  return impl_->near ? impl_->near_to.numel() : 0;
}
const DosePredictorOptions& DosePredictor::options() const { return impl_->options; }

namespace {

// Objective value, its gradient w.r.t. fluence, and the best wall time of `repeats` runs.
template <class DoseFn>
std::tuple<double, torch::Tensor, torch::Tensor, double> timed_gradient(const DoseFn& dose_fn,
                                                                         const PlanObjective& objective,
                                                                         const torch::Tensor& fluence, int repeats) {
  double best = 1e300;
  double value = 0;
  torch::Tensor grad, dose;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor f = fluence.detach().to(torch::kFloat).requires_grad_(true);
    torch::Tensor d = dose_fn(f).to(torch::kDouble);
    torch::Tensor v = objective.value(d);
    v.backward();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    value = v.item<double>();
    grad = f.grad().to(torch::kDouble).flatten();
    dose = d.detach();
  }
  return {value, grad, dose, best};
}

DoseImage to_image(const torch::Tensor& dose, const ImageGrid& grid, const std::vector<int64_t>& voxels) {
  DoseImage img(grid, 0.0f);
  torch::Tensor d = dose.to(torch::kFloat).contiguous();
  const float* p = d.data_ptr<float>();
  for (size_t n = 0; n < voxels.size(); ++n) img.voxels[static_cast<size_t>(voxels[n])] = p[n];
  return img;
}

}  // namespace

// Best wall time of the dose operator's forward and transpose (a fixed random cotangent).
template <class DoseFn>
double timed_dose(const DoseFn& dose_fn, const torch::Tensor& fluence, const torch::Tensor& cotangent, int repeats) {
  double best = 1e300;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor f = fluence.detach().to(torch::kFloat).requires_grad_(true);
    (dose_fn(f) * cotangent).sum().backward();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

PredictorAgreement measure_predictor(const PencilBeamEngine& engine, const DosePredictor& predictor,
                                     const PlanObjective& objective, const at::Tensor& fluence, int repeats) {
  const torch::Tensor cot = torch::rand({static_cast<int64_t>(engine.compute_voxels().size())}, torch::kFloat);
  const double te_dose = timed_dose([&](const torch::Tensor& f) { return engine.dose_at_voxels(f); }, fluence, cot, repeats);
  const double tp_dose = timed_dose([&](const torch::Tensor& f) { return predictor.dose_at_voxels(f); }, fluence, cot, repeats);
  auto [ve, ge, de, te] = timed_gradient([&](const torch::Tensor& f) { return engine.dose_at_voxels(f); },
                                         objective, fluence, repeats);
  auto [vp, gp, dp, tp] = timed_gradient([&](const torch::Tensor& f) { return predictor.dose_at_voxels(f); },
                                         objective, fluence, repeats);
  PredictorAgreement a;
  const double dmax = de.max().item<double>();
  torch::Tensor err = (dp - de).abs();
  a.max_abs_error_pct = 100.0 * err.max().item<double>() / dmax;
  torch::Tensor high = de > 0.1 * dmax;
  a.mean_abs_error_pct = 100.0 * err.masked_select(high).mean().item<double>() / dmax;
  a.gradient_cosine = (ge * gp).sum().item<double>() / (ge.norm().item<double>() * gp.norm().item<double>() + 1e-300);
  a.objective_ratio = vp / ve;
  a.engine_seconds = te;
  a.predictor_seconds = tp;
  a.engine_dose_seconds = te_dose;
  a.predictor_dose_seconds = tp_dose;
  GammaOptions go;
  go.dose_criterion_pct = 3.0;
  go.distance_mm = 3.0;
  a.gamma_pass_pct = compute_gamma(to_image(de, engine.dose_grid(), engine.compute_voxels()),
                                   to_image(dp, engine.dose_grid(), engine.compute_voxels()), go)
                         .pass_rate_pct;
  return a;
}

}  // namespace vmatplan
