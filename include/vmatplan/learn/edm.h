#pragma once
// EDM diffusion (Karras, Aittala, Aila, Laine, "Elucidating the Design Space of
// Diffusion-Based Generative Models", NeurIPS 2022): the preconditioning of the denoiser,
// the training noise levels and loss weight, and the deterministic Heun sampler.
//
//   EdmConfig edm;  edm.sigma_data = 0.9;             // measured on the normalised fluence
//   Tensor sigma = edm_training_sigmas(batch, edm);   // ln sigma ~ N(P_mean, P_std^2)
//   Tensor d = edm_denoise(net, x + sigma * n, sigma, cond, edm);
//   Tensor loss = (edm_loss_weight(sigma, edm) * (d - x)^2).mean();
//   Tensor x0 = edm_heun_sample(denoiser, noise, 18, edm);   // noise ~ N(0, I)
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace vmatplan {

struct EdmConfig {
  double sigma_data = 0.5;  // std of the normalised data (EDM eq. 7); measured per dataset
  double p_mean = -1.2, p_std = 1.2;  // training ln sigma ~ N(p_mean, p_std^2) (Table 1)
  double sigma_min = 0.002, sigma_max = 80.0, rho = 7.0;  // sampling schedule (eq. 5)
  nlohmann::json to_json() const;
  static EdmConfig from_json(const nlohmann::json& j);  // missing keys keep the defaults
};

// c_skip, c_out, c_in, c_noise of EDM Table 1, each shaped like sigma.
struct EdmPreconditioning {
  torch::Tensor c_skip, c_out, c_in, c_noise;
};
EdmPreconditioning edm_preconditioning(const torch::Tensor& sigma, double sigma_data);

// The raw network F(c_in x; c_noise, conditioning) the preconditioning wraps.
using EdmNetwork = std::function<torch::Tensor(const torch::Tensor& x_in, const torch::Tensor& c_noise)>;

// D(x; sigma) = c_skip x + c_out F(c_in x; c_noise); sigma is [batch], x [batch, ...].
torch::Tensor edm_denoise(const EdmNetwork& network, const torch::Tensor& x, const torch::Tensor& sigma,
                          double sigma_data);

// Training noise levels [n], from the current global generator.
torch::Tensor edm_training_sigmas(int64_t n, const EdmConfig& config, torch::Device device);
// lambda(sigma) = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2, shaped like sigma.
torch::Tensor edm_loss_weight(const torch::Tensor& sigma, double sigma_data);

// sigma_0 > ... > sigma_{N-1} (eq. 5) followed by 0: N + 1 values.
std::vector<double> edm_sigma_schedule(int steps, const EdmConfig& config);

// The deterministic sampler (EDM Algorithm 1): x_0 = sigma_0 * unit_noise, Heun steps, an
// Euler step into sigma = 0. `denoiser(x, sigma)` is D with a scalar sigma. 2N - 1
// evaluations.
using EdmDenoiser = std::function<torch::Tensor(const torch::Tensor& x, double sigma)>;
torch::Tensor edm_heun_sample(const EdmDenoiser& denoiser, const torch::Tensor& unit_noise, int steps,
                              const EdmConfig& config);

}  // namespace vmatplan
