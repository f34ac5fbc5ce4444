#pragma once
// L-BFGS curvature pairs and the two-loop recursion (Nocedal & Wright, Numerical
// Optimization, 2nd ed., alg. 7.4), on tensors of any shape and floating dtype; and the
// projected methods' free set. Shared by the classical optimiser (fluence_optimizer.cpp)
// and the L2Plan optimiser's quasi-Newton input (learn/l2plan_optimizer.h).
//
//   LbfgsMemory m(20);
//   torch::Tensor d = -m.inverse_hessian_times(g * free, gamma0) * free;  // search direction
//   ... x_new = x + step * d ...;  m.add(x_new - x, g_new - g);
#include <cstddef>
#include <deque>
#include <utility>

#include <ATen/core/Tensor.h>

namespace vmatplan {

// The sum of a * b (the inner product of two tensors of one shape), as a double.
double sum_of_products(const at::Tensor& a, const at::Tensor& b);

// 1 (as a double tensor) where a variable of 0 <= x <= f_max
// may move, 0 where it is at a bound and the gradient pushes it outwards.
at::Tensor free_mask(const at::Tensor& x, const at::Tensor& g, double f_max);

class LbfgsMemory {
 public:
  explicit LbfgsMemory(int size = 0) : size_(size) {}
  // Keeps (s, y) when s.y > 1e-12 y.y (the curvature condition), dropping the oldest pair
  // beyond `size`; returns whether it was kept.
  bool add(const at::Tensor& s, const at::Tensor& y);
  void clear() { pairs_.clear(); }
  bool empty() const { return pairs_.empty(); }
  size_t pairs() const { return pairs_.size(); }
  // H g, H the L-BFGS inverse-Hessian approximation with H0 = gamma I, gamma = s.y / y.y of
  // the newest pair, or `first_gamma` while there is none.
  at::Tensor inverse_hessian_times(const at::Tensor& g, double first_gamma) const;

 private:
  int size_;
  std::deque<std::pair<at::Tensor, at::Tensor>> pairs_;  // (s, y), oldest first
};

}  // namespace vmatplan
