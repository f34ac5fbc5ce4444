// EDM preconditioning, noise levels and Heun sampler (Karras et al. 2022; see edm.h).
#include "vmatplan/learn/edm.h"

#include <cmath>

#include "vmatplan/core/error.h"

namespace vmatplan {

nlohmann::json EdmConfig::to_json() const {
  return {{"sigma_data", sigma_data}, {"p_mean", p_mean}, {"p_std", p_std},
          {"sigma_min", sigma_min},   {"sigma_max", sigma_max}, {"rho", rho}};
}

EdmConfig EdmConfig::from_json(const nlohmann::json& j) {
  EdmConfig c;
  c.sigma_data = j.value("sigma_data", c.sigma_data);
  c.p_mean = j.value("p_mean", c.p_mean);
  c.p_std = j.value("p_std", c.p_std);
  c.sigma_min = j.value("sigma_min", c.sigma_min);
  c.sigma_max = j.value("sigma_max", c.sigma_max);
  c.rho = j.value("rho", c.rho);
  return c;
}

EdmPreconditioning edm_preconditioning(const torch::Tensor& sigma, double sigma_data) {
  const double sd2 = sigma_data * sigma_data;
  const torch::Tensor s2 = sigma * sigma;
  EdmPreconditioning p;
  p.c_skip = sd2 / (s2 + sd2);
  p.c_out = sigma * sigma_data / torch::sqrt(s2 + sd2);
  p.c_in = 1.0 / torch::sqrt(s2 + sd2);
  p.c_noise = 0.25 * torch::log(sigma);
  return p;
}

namespace {
// [batch] -> [batch, 1, 1, ...] to broadcast over x.
torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = v.size(0);
  return v.reshape(shape);
}
}  // namespace

torch::Tensor edm_denoise(const EdmNetwork& network, const torch::Tensor& x, const torch::Tensor& sigma,
                          double sigma_data) {
  const EdmPreconditioning p = edm_preconditioning(sigma, sigma_data);
  const torch::Tensor f = network(per_sample(p.c_in, x) * x, p.c_noise);
  return per_sample(p.c_skip, x) * x + per_sample(p.c_out, x) * f;
}

torch::Tensor edm_training_sigmas(int64_t n, const EdmConfig& c, torch::Device device) {
  return torch::exp(torch::randn({n}, torch::TensorOptions().device(device)) * c.p_std + c.p_mean);
}

torch::Tensor edm_loss_weight(const torch::Tensor& sigma, double sigma_data) {
  return (sigma * sigma + sigma_data * sigma_data) / torch::pow(sigma * sigma_data, 2);
}

std::vector<double> edm_sigma_schedule(int steps, const EdmConfig& c) {
  if (steps < 1) throw UsageError("sampler steps must be at least 1");
  std::vector<double> s;
  const double a = std::pow(c.sigma_max, 1.0 / c.rho), b = std::pow(c.sigma_min, 1.0 / c.rho);
  for (int i = 0; i < steps; ++i) {
    const double t = steps == 1 ? 0.0 : double(i) / (steps - 1);
    s.push_back(std::pow(a + t * (b - a), c.rho));
  }
  s.push_back(0.0);
  return s;
}

torch::Tensor edm_heun_sample(const EdmDenoiser& denoiser, const torch::Tensor& unit_noise, int steps,
                              const EdmConfig& c) {
  const std::vector<double> sigmas = edm_sigma_schedule(steps, c);
  torch::Tensor x = unit_noise * sigmas[0];
  for (int i = 0; i < steps; ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    // dx/dsigma = (x - D(x; sigma)) / sigma (the probability-flow ODE, EDM eq. 3 with
    // sigma(t) = t).
    const torch::Tensor d = (x - denoiser(x, s)) / s;
    torch::Tensor x_next = x + (s_next - s) * d;
    if (s_next > 0) {
      const torch::Tensor d_next = (x_next - denoiser(x_next, s_next)) / s_next;
      x_next = x + (s_next - s) * 0.5 * (d + d_next);
    }
    x = x_next;
  }
  return x;
}

}  // namespace vmatplan
