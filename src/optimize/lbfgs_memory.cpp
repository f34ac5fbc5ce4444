// L-BFGS memory and two-loop recursion (see lbfgs_memory.h).
#include "vmatplan/optimize/lbfgs_memory.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

namespace vmatplan {
double sum_of_products(const torch::Tensor& a, const torch::Tensor& b) { return (a * b).sum().item<double>(); }

torch::Tensor free_mask(const torch::Tensor& x, const torch::Tensor& g, double f_max) {
  const double eps = 1e-9 * std::max(1.0, f_max);
  torch::Tensor at_low = (x <= eps) & (g > 0);
  torch::Tensor at_high = (x >= f_max - eps) & (g < 0);
  return (~(at_low | at_high)).to(torch::kDouble);
}

bool LbfgsMemory::add(const torch::Tensor& s, const torch::Tensor& y) {
  if (size_ < 1 || !(sum_of_products(s, y) > 1e-12 * sum_of_products(y, y))) return false;
  pairs_.emplace_back(s, y);
  if (static_cast<int>(pairs_.size()) > size_) pairs_.pop_front();
  return true;
}

torch::Tensor LbfgsMemory::inverse_hessian_times(const torch::Tensor& g, double first_gamma) const {
  torch::Tensor q = g.clone();
  std::vector<double> alpha(pairs_.size());
  for (int k = static_cast<int>(pairs_.size()) - 1; k >= 0; --k) {
    const auto& [s, y] = pairs_[static_cast<size_t>(k)];
    alpha[static_cast<size_t>(k)] = sum_of_products(s, q) / sum_of_products(y, s);
    q -= alpha[static_cast<size_t>(k)] * y;
  }
  double gamma = first_gamma;
  if (!pairs_.empty()) {
    const auto& [s, y] = pairs_.back();
    gamma = sum_of_products(s, y) / sum_of_products(y, y);
  }
  torch::Tensor d = q * gamma;
  for (size_t k = 0; k < pairs_.size(); ++k) {
    const auto& [s, y] = pairs_[k];
    const double beta = sum_of_products(y, d) / sum_of_products(y, s);
    d += (alpha[k] - beta) * s;
  }
  return d;
}

}  // namespace vmatplan
