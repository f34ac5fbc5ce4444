#pragma once
// The fluence objective's terms besides the dose objectives, and the delivered-fluence model,
// shared by the classical optimiser (fluence_optimizer.h) and the refiners
// (learn/refine_problem.h) so that both minimise one objective:
//
//   R(x) = w_row  * Rx^2 * mean_rows((x[c,r,b+1] - x[c,r,b]) / f_ref)^2
//        + w_cp   * Rx^2 * mean_arcs((x[c+1,r,b] - x[c,r,b]) / f_ref)^2
//        + mu_weight * Rx_fx * sum_c M_c / (100 * fractions)                  (MU price)
//        + w_hump * Rx^2 * mean_rows((TV+(x[c,r,:]) - max(x[c,r,:])) / f_ref)^2  (apertures)
//
// with M_c the MU control point c will cost and the delivered fluence
// f = jaw(c,r,b) * (x + t * (M_c - x)); the weights, t and the delivery model are
// FluenceOptimizerOptions' (see there for where each term comes from).
//
//   FluenceRegularizer reg(geometry, grid, options, f_ref_mu);
//   torch::Tensor total = objective.value(engine.dose_at_voxels(reg.delivered(x))) + reg.value(x);
#include <memory>

#include "vmatplan/optimize/fluence_optimizer.h"

namespace at { class Tensor; }

namespace vmatplan {

class FluenceRegularizer {
 public:
  // f_ref_mu: the fluence level of the smoothness scaling (the mean positive start value).
  FluenceRegularizer(const PlanGeometry& geometry, const FluenceGrid& grid,
                     const FluenceOptimizerOptions& options, double f_ref_mu);
  ~FluenceRegularizer();
  FluenceRegularizer(FluenceRegularizer&&) noexcept;
  FluenceRegularizer& operator=(FluenceRegularizer&&) noexcept;

  // R(x): float scalar, differentiable in x (open exposure [C, rows, bixels], float).
  at::Tensor value(const at::Tensor& x) const;
  // M_c, plan MU per control point ([C], x's dtype).
  at::Tensor control_point_mu(const at::Tensor& x) const;
  // The fluence reaching the patient for open exposure x (jaw overlap and transmission).
  at::Tensor delivered(const at::Tensor& x) const;
  const at::Tensor& jaw() const;       // [C, rows, bixels] float, 0..1
  const at::Tensor& cp_pairs() const;  // [C - 1, 1, 1] float: 1 where c and c + 1 are in one arc

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmatplan
