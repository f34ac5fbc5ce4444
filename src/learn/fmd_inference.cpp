// One arc's fluence from the FMD student (one step), teacher (Heun) or the regression
// baseline (one step, no noise), fmd_inference.h.
#include "vmatplan/learn/fmd_inference.h"

#include <ATen/CPUGeneratorImpl.h>

#include "vmatplan/core/error.h"
#include "vmatplan/learn/edm.h"

namespace vmatplan {

int fmd_network_evaluations(FmdNetworkRole role, int sampler_steps) {
  return role == FmdNetworkRole::kTeacher ? 2 * sampler_steps - 1 : 1;
}

torch::Tensor fmd_sample_arc(LoadedFmdNetwork& network, FmdNetworkRole role, const torch::Tensor& condition,
                             uint64_t seed, int sampler_steps) {
  if (condition.dim() != 4 || condition.size(0) != network.config.condition_channels ||
      condition.size(2) != network.canvas.rows || condition.size(3) != network.canvas.bixels)
    throw ProcessingError("FMD: conditioning must be [" + std::to_string(network.config.condition_channels) +
                          ", C, " + std::to_string(network.canvas.rows) + ", " +
                          std::to_string(network.canvas.bixels) + "]");
  torch::NoGradGuard no_grad;
  const torch::Tensor cond = condition.unsqueeze(0).to(torch::kFloat32);
  at::Generator generator = at::detail::createCPUGenerator(seed);
  const std::vector<int64_t> shape = {1, 1, condition.size(1), condition.size(2), condition.size(3)};
  const EdmConfig& edm = network.edm;
  // The one-step networks record the sigma they were trained at.
  const double sigma_gen =
      network.entry.is_object() ? network.entry.value("generator_sigma", edm.sigma_max) : edm.sigma_max;
  torch::Tensor x;
  if (role == FmdNetworkRole::kRegression) {
    x = fmd_one_step(network.net, torch::zeros(shape, torch::kFloat32), sigma_gen, cond, edm.sigma_data);
  } else if (role == FmdNetworkRole::kStudent) {
    x = fmd_one_step(network.net, torch::randn(shape, generator, torch::kFloat32), sigma_gen, cond,
                     edm.sigma_data);
  } else {
    if (sampler_steps < 1) throw UsageError("--sampler-steps must be at least 1");
    x = edm_heun_sample([&](const torch::Tensor& xs, double sigma) {
      return fmd_denoise(network.net, xs, torch::full({1}, sigma), cond, edm.sigma_data);
    }, torch::randn(shape, generator, torch::kFloat32), sampler_steps, edm);
  }
  return x.squeeze(0).squeeze(0).clamp_min(0.0).contiguous();
}

}  // namespace vmatplan
