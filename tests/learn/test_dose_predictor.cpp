// The dose predictor against its independent reference, the pencil-beam engine, on a
// coarse phantom: gamma, gradient direction of the protocol objective, and the exact
// transpose of its linear operator.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "learn/learn_fixture.h"
#include "vmatplan/learn/dose_predictor.h"

using namespace vmatplan;

CATCH_TEST_CASE("dose predictor agrees with the engine at the conformal start", "[learn][predictor]") {
  const test::LearnFixture& fx = test::learn_fixture();
  const RefineCase& c = fx.refine;
  CATCH_REQUIRE(c.predictor);
  CATCH_CHECK(c.predictor->near_target_voxel_count() > 0);
  torch::Tensor f = torch::tensor(c.conformal_start.values, torch::kFloat)
                        .view({c.conformal_start.control_point_count, c.grid.row_count(), c.grid.bixel_count});
  const PredictorAgreement a = measure_predictor(*c.engine, *c.predictor, *fx.objective, f, 1);
  CATCH_CHECK(a.gamma_pass_pct >= 95.0);
  CATCH_CHECK(a.gradient_cosine >= 0.95);
  CATCH_CHECK(a.objective_ratio > 0.7);
  CATCH_CHECK(a.objective_ratio < 1.4);
  CATCH_CHECK(a.mean_abs_error_pct < 3.0);
}

CATCH_TEST_CASE("dose predictor: its gradient is the exact transpose of its dose", "[learn][predictor]") {
  const test::LearnFixture& fx = test::learn_fixture();
  const RefineCase& c = fx.refine;
  torch::manual_seed(5);
  torch::Tensor f = torch::rand({c.conformal_start.control_point_count, c.grid.row_count(), c.grid.bixel_count},
                                torch::kDouble)
                        .requires_grad_(true);
  torch::Tensor d = c.predictor->dose_at_voxels(f);
  torch::Tensor w = torch::rand({d.size(0)}, torch::kDouble);
  (d * w).sum().backward();
  // <A f, w> = <f, A^T w>, A linear: the autograd gradient must be the adjoint.
  const double lhs = (d.detach() * w).sum().item<double>();
  const double rhs = (f.detach() * f.grad()).sum().item<double>();
  CATCH_CHECK(std::abs(lhs - rhs) <= 1e-6 * std::abs(lhs));
  CATCH_CHECK(c.predictor->uncovered_voxel_count() < static_cast<int64_t>(d.size(0)) / 100 + 1);
}
