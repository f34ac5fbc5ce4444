#pragma once
// The problem every refiner (L2Plan, projected gradient, Adam, L-BFGS) solves, on the
// reference engine or the fast predictor:
//
//   F(x) = protocol objective(dose(jaw * x)) + R(x)       0 <= x <= f_max
//
// with R the classical optimiser's other terms (optimize/fluence_regularizer.h: smoothness,
// MU price, single-hump term, with its Rx^2 / f_ref^2 scaling) and f_max = 4 f_ref exactly
// as the classical optimiser's (f_ref = mean of the positive start values), without leaf
// transmission: a refiner starts from delivered fluence. The options should be the
// planner's for this protocol (protocol_optimizer_options in classical_planner.h), so that
// a refiner and the classical optimiser minimise the same objective.
//
//   RefineCase c = make_refine_case(patient, protocol, machine, roles, options);
//   RefineProblem p(c.engine_dose(), objective, c.geometry, c.conformal_start, options.optimizer);
//   torch::Tensor g;  double f = p.value_and_grad(x, &g);
#include <cstdint>
#include <functional>
#include <memory>

#include "vmatplan/learn/dose_predictor.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/optimize/objectives.h"

namespace at { class Tensor; }

namespace vmatplan {

using DoseFunction = std::function<at::Tensor(const at::Tensor&)>;  // fluence -> dose at voxels

class RefineProblem {
 public:
  // start: the fluence the refiner starts from (sets f_ref and f_max). weights: the terms'
  // weights, prescription_gy, fractions, delivery model and f_max_mu (<= 0: 4 f_ref);
  // its leaf_transmission is ignored.
  RefineProblem(DoseFunction dose, std::shared_ptr<const PlanObjective> objective,
                const PlanGeometry& geometry, const FluenceMaps& start,
                const FluenceOptimizerOptions& weights);
  ~RefineProblem();
  RefineProblem(RefineProblem&&) noexcept;

  // Differentiable scalar (double) of x [control points, rows, bixels] (float).
  at::Tensor value(const at::Tensor& x) const;
  // Value and gradient at x (no graph kept); grad is float, shape of x.
  double value_and_grad(const at::Tensor& x, at::Tensor* grad) const;
  double value_only(const at::Tensor& x) const;

  at::Tensor start() const;          // the start as a float tensor, projected onto the bounds
  at::Tensor delivered(const at::Tensor& x) const;  // jaw * x
  FluenceMaps to_maps(const at::Tensor& x) const;   // delivered fluence as maps
  at::Tensor variables(const FluenceMaps& delivered) const;  // inverse of to_maps (jaw > 0)
  // [control points - 1, 1, 1]: 1 where control points c and c + 1 are in one arc.
  at::Tensor cp_pairs() const;
  double f_ref_mu() const;
  double f_max_mu() const;
  int64_t evaluations() const;       // value / gradient evaluations so far
  const PlanObjective& objective() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RefineCaseOptions {
  ClassicalPlanOptions plan;             // arcs, bixel, dose grid, seed, jitter, smoothness
  DosePredictorOptions predictor;
  bool build_predictor = true;
};

// Geometry, engine, predictor and the conformal start (the target's BEV coverage,
// jittered, scaled so the target's mean dose is the prescription) of one patient: what
// make_classical_plan builds before it optimises.
struct RefineCase {
  PlanGeometry geometry;
  FluenceGrid grid;
  std::shared_ptr<const PencilBeamEngine> engine;
  std::shared_ptr<const DosePredictor> predictor;  // null unless build_predictor
  FluenceMaps conformal_start;
  double prescription_gy = 0;
  DoseFunction engine_dose() const;
  DoseFunction predictor_dose() const;  // ProcessingError when there is no predictor
};

RefineCase make_refine_case(const Patient& patient, const Protocol& protocol,
                            const Machine& machine, const StructureRoles& roles,
                            const RefineCaseOptions& options);

// Scales `fluence` (on `engine`'s fluence grid) so that the mean dose of the protocol's first
// target level on the engine's dose grid is that level's prescription, as the conformal
// start is scaled; returns the factor applied. Every refiner start goes through it: a
// generator's fluence whose dose scale is off would otherwise spend the first steps (and
// set f_ref and f_max) on the scale rather than the shape. ProcessingError when the
// fluence gives the target no dose.
double scale_to_target_mean(FluenceMaps& fluence, const Patient& patient, const Protocol& protocol,
                            const StructureRoles& roles, const PencilBeamEngine& engine);

// The conformal start of an existing plan's geometry (used by make_refine_case).
FluenceMaps conformal_start(const Patient& patient, const Protocol& protocol, const Machine& machine,
                            const StructureRoles& roles, const PlanGeometry& geometry,
                            const PencilBeamEngine& engine, uint64_t seed, double jitter);

}  // namespace vmatplan
