// The L-BFGS two-loop recursion against linear algebra done here: on a quadratic with
// Hessian A (y = A s) the result satisfies the secant equation of the newest pair, is
// positive definite, equals s.y / y.y times g with one pair in one dimension, and pairs
// that fail the curvature condition or exceed the memory are dropped.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "vmatplan/optimize/lbfgs_memory.h"

using namespace vmatplan;

CATCH_TEST_CASE("L-BFGS memory: secant equation, positive definite, curvature condition, size", "[optimize]") {
  torch::manual_seed(7);
  const int n = 6;
  torch::Tensor m = torch::randn({n, n}, torch::kDouble);
  const torch::Tensor a = m.matmul(m.t()) + n * torch::eye(n, torch::kDouble);  // SPD
  LbfgsMemory memory(3);
  std::vector<torch::Tensor> s;
  for (int k = 0; k < 5; ++k) {
    s.push_back(torch::randn({n}, torch::kDouble));
    CATCH_CHECK(memory.add(s.back(), a.matmul(s.back())));
  }
  CATCH_CHECK(memory.pairs() == 3);  // the two oldest dropped
  // H y_newest = s_newest (two-loop recursion = BFGS updates of gamma I; the last update
  // enforces the newest secant equation exactly).
  const torch::Tensor h_y = memory.inverse_hessian_times(a.matmul(s.back()), 123.0);
  CATCH_CHECK(torch::allclose(h_y, s.back(), 1e-9, 1e-9));
  for (int k = 0; k < 10; ++k) {
    const torch::Tensor g = torch::randn({n}, torch::kDouble);
    CATCH_CHECK(sum_of_products(g, memory.inverse_hessian_times(g, 1.0)) > 0);
  }
  // Negative curvature is refused; the memory is unchanged.
  CATCH_CHECK_FALSE(memory.add(s.back(), -a.matmul(s.back())));
  CATCH_CHECK(memory.pairs() == 3);

  // One pair in one dimension: H g = (s y / y y) g; no pair: first_gamma g.
  LbfgsMemory one(5);
  const torch::Tensor g = torch::tensor({3.0}, torch::kDouble);
  CATCH_CHECK(one.inverse_hessian_times(g, 0.5).item<double>() == Approx(1.5));
  one.add(torch::tensor({2.0}, torch::kDouble), torch::tensor({8.0}, torch::kDouble));
  CATCH_CHECK(one.inverse_hessian_times(g, 0.5).item<double>() == Approx(3.0 * 0.25));
  // Size 0 keeps nothing.
  LbfgsMemory none(0);
  CATCH_CHECK_FALSE(none.add(torch::tensor({2.0}, torch::kDouble), torch::tensor({8.0}, torch::kDouble)));
}

CATCH_TEST_CASE("free mask holds variables at a bound pushed outwards", "[optimize]") {
  const torch::Tensor x = torch::tensor({0.0, 0.0, 2.0, 4.0, 4.0}, torch::kDouble);
  const torch::Tensor g = torch::tensor({1.0, -1.0, 5.0, -1.0, 1.0}, torch::kDouble);
  const torch::Tensor f = free_mask(x, g, 4.0);
  CATCH_CHECK(torch::equal(f, torch::tensor({0.0, 1.0, 1.0, 0.0, 1.0}, torch::kDouble)));
}
