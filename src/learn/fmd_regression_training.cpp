// The regression baseline of issue 12: the student's network and one-step parameterisation
// with the noise removed, G(0; c) = D(0; sigma_max, c), trained from scratch with the plain
// squared error to the reference fluence (no noise, no teacher), in the teacher's
// from-scratch loop (fmd_training_common.h): same data, windows, validation, checkpoints.
#include "fmd_training_common.h"
#include "vmatplan/learn/fmd_training.h"

namespace vmatplan {
using namespace fmd_training;

namespace {

// Mean squared error of G(0; c) to the reference fluence: deterministic, so the training
// loss and the validation loss are the same quantity.
torch::Tensor regression_loss(FmdUNet& net, const FmdBatch& b, const EdmConfig& edm) {
  const torch::Tensor x = fmd_one_step(net, torch::zeros_like(b.fluence), edm.sigma_max, b.condition, edm.sigma_data);
  return (x - b.fluence).pow(2).mean();
}

}  // namespace

FmdTrainingResult train_fmd_regression(const FmdTrainingOptions& o, const FmdTrainingProgressFn& progress) {
  FromScratchRole r;
  r.role = "regression";
  r.method = "plain regression: mean squared error of D(0; sigma_max, condition) to the reference fluence";
  r.loss = regression_loss;
  r.validation_loss = [](FmdUNet& net, const FmdBatch& b, const EdmConfig& edm, size_t) {
    return regression_loss(net, b, edm);
  };
  // Read by fmd_sample_arc: the sigma whose preconditioning the network was trained under.
  r.entry = {{"generator_sigma", o.edm.sigma_max}};
  return train_from_scratch(o, progress, r);
}

}  // namespace vmatplan
