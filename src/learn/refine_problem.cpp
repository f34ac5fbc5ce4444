// The refiners' shared problem (see refine_problem.h).
#include "vmatplan/learn/refine_problem.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/plan_builder.h"
#include "vmatplan/optimize/fluence_regularizer.h"

namespace vmatplan {

struct RefineProblem::Impl {
  DoseFunction dose;
  std::shared_ptr<const PlanObjective> objective;
  FluenceGrid grid;
  int64_t cps = 0;
  torch::Tensor jaw, start;
  double f_ref = 1, f_max = 4;
  std::unique_ptr<FluenceRegularizer> regularizer;  // the classical optimiser's other terms
  mutable int64_t evaluations = 0;
};

RefineProblem::RefineProblem(DoseFunction dose, std::shared_ptr<const PlanObjective> objective,
                             const PlanGeometry& geometry, const FluenceMaps& start,
                             const FluenceOptimizerOptions& weights)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.dose = std::move(dose);
  m.objective = std::move(objective);
  m.grid = start.grid;
  m.cps = start.control_point_count;
  if (geometry.control_point_count() != m.cps ||
      start.values.size() != static_cast<size_t>(m.cps * m.grid.size_per_control_point()))
    throw ProcessingError("refiner: the start fluence does not match the plan's control points and grid");
  m.jaw = jaw_overlap(geometry, m.grid);
  torch::Tensor x = variables(start);
  const double n_pos = (x > 0).sum().item<double>();
  m.f_ref = n_pos > 0 ? x.sum().item<double>() / n_pos : 1.0;
  m.f_max = weights.f_max_mu > 0 ? weights.f_max_mu : 4.0 * m.f_ref;
  m.start = x.clamp(0.0, m.f_max);
  FluenceOptimizerOptions terms = weights;
  terms.leaf_transmission = 0.0;  // the start is delivered fluence already
  m.regularizer = std::make_unique<FluenceRegularizer>(geometry, m.grid, terms, m.f_ref);
}

RefineProblem::~RefineProblem() = default;
RefineProblem::RefineProblem(RefineProblem&&) noexcept = default;

at::Tensor RefineProblem::value(const at::Tensor& x) const {
  const Impl& m = *impl_;
  ++m.evaluations;
  torch::Tensor dose = m.dose(delivered(x)).to(torch::kDouble);
  return m.objective->value(dose) + m.regularizer->value(x).to(torch::kDouble);
}

double RefineProblem::value_and_grad(const at::Tensor& x, at::Tensor* grad) const {
  torch::AutoGradMode enable(true);  // callers may hold a NoGradGuard
  torch::Tensor xv = x.detach().to(torch::kFloat).requires_grad_(true);
  torch::Tensor f = value(xv);
  f.backward();
  const double v = f.item<double>();
  if (!std::isfinite(v)) throw ProcessingError("refiner: objective is not finite");
  *grad = xv.grad().detach();
  return v;
}

double RefineProblem::value_only(const at::Tensor& x) const {
  torch::NoGradGuard ng;
  return value(x.detach().to(torch::kFloat)).item<double>();
}

at::Tensor RefineProblem::start() const { return impl_->start.clone(); }
at::Tensor RefineProblem::delivered(const at::Tensor& x) const { return impl_->jaw.to(x.dtype()) * x; }

at::Tensor RefineProblem::variables(const FluenceMaps& delivered) const {
  const Impl& m = *impl_;
  torch::Tensor x = torch::tensor(delivered.values, torch::kFloat).view({m.cps, m.grid.row_count(), m.grid.bixel_count});
  // Delivered fluence has the jaw factor applied: undo it where it is partial.
  return torch::where(m.jaw > 0, x / m.jaw.clamp_min(1e-6), torch::zeros_like(x)).clamp_min(0);
}

FluenceMaps RefineProblem::to_maps(const at::Tensor& x) const {
  torch::NoGradGuard ng;
  torch::Tensor f = delivered(x.detach().to(torch::kFloat)).contiguous();
  FluenceMaps maps;
  maps.grid = impl_->grid;
  maps.control_point_count = static_cast<int>(impl_->cps);
  maps.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  return maps;
}

at::Tensor RefineProblem::cp_pairs() const { return impl_->regularizer->cp_pairs(); }
double RefineProblem::f_ref_mu() const { return impl_->f_ref; }
double RefineProblem::f_max_mu() const { return impl_->f_max; }
int64_t RefineProblem::evaluations() const { return impl_->evaluations; }
const PlanObjective& RefineProblem::objective() const { return *impl_->objective; }

DoseFunction RefineCase::engine_dose() const {
  auto e = engine;
  return [e](const at::Tensor& f) { return e->dose_at_voxels(f); };
}

DoseFunction RefineCase::predictor_dose() const {
  if (!predictor) throw ProcessingError("refiner: this case was built without a dose predictor");
  auto p = predictor;
  return [p](const at::Tensor& f) { return p->dose_at_voxels(f); };
}

double scale_to_target_mean(FluenceMaps& fluence, const Patient& patient, const Protocol& protocol,
                            const StructureRoles& roles, const PencilBeamEngine& engine) {
  if (protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + protocol.name + "' has no target level");
  const TargetLevel& level = protocol.prescription.targets.front();
  const Structure& target = roles.resolve(patient, level.role);
  torch::NoGradGuard ng;
  const VoxelWeights tw = structure_on_dose_grid(target.mask, engine.dose_grid(), engine.compute_voxels());
  torch::Tensor f = torch::tensor(fluence.values, torch::kFloat)
                        .view({fluence.control_point_count, fluence.grid.row_count(), fluence.grid.bixel_count});
  torch::Tensor d = engine.dose_at_voxels(f).to(torch::kDouble);
  const double mean = (d.index_select(0, torch::tensor(tw.index, torch::kLong)) * torch::tensor(tw.fraction, torch::kDouble))
                          .sum().item<double>() / tw.total();
  if (!(mean > 0)) throw ProcessingError("the start fluence gives no dose to the target '" + target.name + "'");
  const float scale = static_cast<float>(level.dose_gy / mean);
  for (float& v : fluence.values) v *= scale;
  return scale;
}

FluenceMaps conformal_start(const Patient& patient, const Protocol& protocol, const Machine& machine,
                            const StructureRoles& roles, const PlanGeometry& geometry,
                            const PencilBeamEngine& engine, uint64_t seed, double jitter) {
  if (protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + protocol.name + "' has no target level");
  const Structure& target = roles.resolve(patient, protocol.prescription.targets.front().role);
  FluenceMaps f0 = target_projection(target.mask, geometry, machine, engine.fluence_grid());
  if (jitter > 0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(1.0 - jitter, 1.0 + jitter);
    for (float& v : f0.values) v = static_cast<float>(v * u(rng));
  }
  scale_to_target_mean(f0, patient, protocol, roles, engine);
  return f0;
}

RefineCase make_refine_case(const Patient& patient, const Protocol& protocol, const Machine& machine,
                            const StructureRoles& roles, const RefineCaseOptions& options) {
  if (protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + protocol.name + "' has no target level");
  const TargetLevel& level = protocol.prescription.targets.front();
  const Structure& target = roles.resolve(patient, level.role);
  RefineCase c;
  c.prescription_gy = level.dose_gy;
  c.geometry = build_plan_geometry(patient, machine, options.plan.arcs, target.name, options.plan.jaw_margin_mm,
                                   std::nullopt);
  c.grid = fluence_grid_for_plan(c.geometry, machine, options.plan.bixel_width_mm);
  DoseEngineOptions eo;
  eo.dose_spacing_mm = options.plan.dose_spacing_mm;
  c.engine = std::make_shared<const PencilBeamEngine>(patient, machine, c.geometry, c.grid, eo);
  if (options.build_predictor)
    c.predictor = std::make_shared<const DosePredictor>(patient, machine, c.geometry, c.grid, c.engine->dose_grid(),
                                                        c.engine->compute_voxels(), &target.mask, options.predictor);
  c.conformal_start = conformal_start(patient, protocol, machine, roles, c.geometry, *c.engine, options.plan.seed,
                                      options.plan.init_jitter);
  return c;
}

}  // namespace vmatplan
