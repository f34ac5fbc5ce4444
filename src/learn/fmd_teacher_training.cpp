// The EDM teacher (Karras et al. 2022, sec. 5 and Table 1): log-normal noise levels and the
// weighted denoising loss, in the from-scratch loop of fmd_training_common.h (Adam, EMA).
#include "fmd_training_common.h"
#include "vmatplan/learn/fmd_training.h"

namespace vmatplan {
using namespace fmd_training;

namespace {

// EDM's weighted denoising loss at noise levels sigma [B] (Karras et al. 2022, eq. 8).
torch::Tensor teacher_loss(FmdUNet& net, const FmdBatch& b, const torch::Tensor& sigma, const torch::Tensor& noise,
                           double sigma_data) {
  const torch::Tensor d = fmd_denoise(net, b.fluence + per_sample(sigma) * noise, sigma, b.condition, sigma_data);
  return (per_sample(edm_loss_weight(sigma, sigma_data)) * (d - b.fluence).pow(2)).mean();
}

}  // namespace

FmdTrainingResult train_fmd_teacher(const FmdTrainingOptions& o, const FmdTrainingProgressFn& progress) {
  FromScratchRole r;
  r.role = "teacher";
  r.method = "EDM (Karras et al. 2022): preconditioned denoiser, log-normal noise levels";
  r.loss = [](FmdUNet& net, const FmdBatch& b, const EdmConfig& edm) {
    const torch::Tensor sigma = edm_training_sigmas(b.fluence.size(0), edm, b.fluence.device());
    return teacher_loss(net, b, sigma, torch::randn_like(b.fluence), edm.sigma_data);
  };
  // The same loss at fixed noise levels (5 quantiles of the training distribution, z = -1.5
  // ... 1.5) and fixed noise, so epochs are comparable.
  r.validation_loss = [](FmdUNet& net, const FmdBatch& b, const EdmConfig& edm, size_t i) {
    const double z[] = {-1.5, -0.75, 0.0, 0.75, 1.5};
    const torch::Tensor sigma =
        torch::full({1}, std::exp(edm.p_mean + edm.p_std * z[i % 5]), b.fluence.options());
    return teacher_loss(net, b, sigma, torch::randn_like(b.fluence), edm.sigma_data);
  };
  return train_from_scratch(o, progress, r);
}

}  // namespace vmatplan
