// DMD2 distillation of the one-step FMD student (Yin et al., "Improved Distribution
// Matching Distillation for Fast Image Synthesis", NeurIPS 2024; fmd_training.h).
//
// G(z; c) = D_G(sigma_gen z; sigma_gen, c), sigma_gen = the teacher's sigma_max: the
// teacher's denoiser evaluated on pure noise, which is where G starts (DMD2 sec. 4). Per
// step: `fake_updates` updates of the fake score on G's samples with the EDM denoising loss
// (the two time-scale rule, sec. 4.1), then one generator update with the distribution
// matching gradient (D_fake(x_s) - D_real(x_s)) / mean|x - D_real(x_s)| at x_s = G(z) +
// sigma n (DMD eq. 7 with DMD2's normaliser), applied as 0.5 ||x - sg(x - grad)||^2, plus an
// optional regression term onto the reference fluence (a warm start, allowed by the issue).
#include <spdlog/spdlog.h>

#include <filesystem>

#include "fmd_training_common.h"
#include "vmatplan/core/error.h"
#include "vmatplan/learn/fmd_model_io.h"
#include "vmatplan/learn/fmd_training.h"

namespace vmatplan {
namespace fs = std::filesystem;
using namespace fmd_training;

namespace {

torch::Tensor generate(FmdUNet& g, const torch::Tensor& z, const torch::Tensor& condition, const EdmConfig& edm) {
  return fmd_one_step(g, z, edm.sigma_max, condition, edm.sigma_data);
}

}  // namespace

FmdTrainingResult train_fmd_student(const FmdTrainingOptions& o, const FmdTrainingProgressFn& progress) {
  check_common_options(o);
  if (o.teacher.empty()) throw UsageError("train fmd-student: --teacher DIR is required");
  if (o.regression_weight < 0) throw UsageError("--regression-weight must not be negative");
  const torch::Device device = training_device();
  LoadedFmdNetwork teacher = load_fmd_network(o.teacher, "teacher", o.expected_training_set_version, o.canvas);
  const EdmConfig edm = teacher.edm;
  const FmdDataset train = load_fmd_dataset(o.data, o.expected_training_set_version, o.canvas);
  FmdDataset val;
  if (!o.val_data.empty()) val = load_fmd_dataset(o.val_data, o.expected_training_set_version, o.canvas);
  int window = std::min(o.window, train.min_control_points);
  if (!val.arcs.empty()) window = std::min(window, val.min_control_points);

  const nlohmann::json config = {
      {"role", "student"}, {"teacher_sha256", teacher.weights_sha256}, {"data_version", train.data_version},
      {"val_data_version", val.data_version}, {"seed", o.seed}, {"batch_size", o.batch_size}, {"window", window},
      {"max_steps_per_epoch", o.max_steps_per_epoch}, {"learning_rate", o.learning_rate},
      {"generator_learning_rate", o.generator_learning_rate}, {"warmup_steps", o.warmup_steps},
      {"ema_half_life_steps", o.ema_half_life_steps}, {"fake_updates", o.fake_updates},
      {"regression_warmup_steps", o.regression_warmup_steps}, {"regression_weight", o.regression_weight}};
  const nlohmann::json resumed = prepare_out(o, config);

  FmdUNet& real = teacher.net;
  real->to(device);
  for (auto& p : real->parameters()) p.set_requires_grad(false);
  FmdUNet generator(teacher.config), generator_ema(teacher.config), fake(teacher.config);
  for (FmdUNet* n : {&generator, &generator_ema, &fake}) {
    copy_weights(**n, *real);
    (*n)->to(device);
  }
  torch::optim::Adam generator_opt(generator->parameters(), torch::optim::AdamOptions(o.generator_learning_rate));
  torch::optim::Adam fake_opt(fake->parameters(), torch::optim::AdamOptions(o.learning_rate));
  const CheckpointParts parts{{{"generator", generator.ptr().get()},
                               {"generator_ema", generator_ema.ptr().get()},
                               {"fake_score", fake.ptr().get()}},
                              {{"generator_optimizer", &generator_opt}, {"fake_optimizer", &fake_opt}}};

  FmdTrainingResult result;
  result.parameters = parameter_count(*generator);
  result.model_dir = o.out;
  const RunStart start = resume_run(o.out, resumed, parts, "train fmd-student", &result.history);
  const int first_epoch = start.first_epoch;
  int64_t step = start.step;
  spdlog::info("train fmd-student: {} training arcs, {} validation arcs, window {}, {} parameters per network, "
               "{} fake-score updates per generator step, device {}",
               train.arcs.size(), val.arcs.size(), window, result.parameters, o.fake_updates,
               device.is_cuda() ? "CUDA" : "CPU");

  ProgressClock clock(progress, first_epoch, o.epochs);
  const auto train_step = [&](const FmdBatch& b, int e, int64_t s) {
    const int64_t n = b.fluence.size(0);
    // Fake score: the denoising loss on G's current samples (DMD2 sec. 4.1).
    for (int k = 0; k < o.fake_updates; ++k) {
      torch::Tensor x;
      {
        torch::NoGradGuard no_grad;
        x = generate(generator, torch::randn_like(b.fluence), b.condition, edm);
      }
      const torch::Tensor sigma = edm_training_sigmas(n, edm, device);
      const torch::Tensor d =
          fmd_denoise(fake, x + per_sample(sigma) * torch::randn_like(x), sigma, b.condition, edm.sigma_data);
      const torch::Tensor loss = (per_sample(edm_loss_weight(sigma, edm.sigma_data)) * (d - x).pow(2)).mean();
      check_finite(loss, "fake-score", e, s);
      optimizer_step(fake_opt, loss, o.learning_rate, s, o.warmup_steps);
    }
    // Generator.
    const torch::Tensor x = generate(generator, torch::randn_like(b.fluence), b.condition, edm);
    torch::Tensor loss;
    if (s < o.regression_warmup_steps) {
      loss = (x - b.fluence).pow(2).mean();
    } else {
      torch::Tensor grad;
      {
        torch::NoGradGuard no_grad;
        const torch::Tensor sigma = edm_training_sigmas(n, edm, device);
        const torch::Tensor x_noisy = x + per_sample(sigma) * torch::randn_like(x);
        const torch::Tensor d_real = fmd_denoise(real, x_noisy, sigma, b.condition, edm.sigma_data);
        const torch::Tensor d_fake = fmd_denoise(fake, x_noisy, sigma, b.condition, edm.sigma_data);
        const torch::Tensor normaliser = (x - d_real).abs().mean({1, 2, 3, 4}, true) + 1e-8;
        grad = torch::nan_to_num((d_fake - d_real) / normaliser);
      }
      loss = 0.5 * (x - (x - grad).detach()).pow(2).mean();
      if (o.regression_weight > 0) loss = loss + o.regression_weight * (x - b.fluence).pow(2).mean();
    }
    check_finite(loss, "generator", e, s);
    optimizer_step(generator_opt, loss, o.generator_learning_rate, s, o.warmup_steps);
    ema_update(*generator_ema, *generator, o.ema_half_life_steps);
    return loss.item<double>();
  };
  // Mean squared distance of G's sample (fixed noise) to the reference: one sample of a
  // distribution against one reference plan, so it cannot reach 0; it watches drift.
  std::function<double()> validate;
  if (!val.arcs.empty())
    validate = [&] {
      return validation_mean(generator_ema, val, o, window, device, [&](const FmdBatch& b, size_t) {
        return (generate(generator_ema, torch::randn_like(b.fluence), b.condition, edm) - b.fluence).pow(2).mean();
      });
    };
  for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    const FmdEpochRecord rec = run_epoch(train, o, epoch, window, device, step, clock, train_step, validate);
    result.history.push_back(rec);
    spdlog::info("train fmd-student: epoch {}/{}: generator loss {:.4g}, val distance {}, {:.1f} s", epoch,
                 o.epochs, rec.train_loss,
                 rec.val_loss < 0 ? std::string("-") : fmt::format("{:.4g}", rec.val_loss), rec.seconds);

    // OUT becomes a complete model folder: the teacher (for --generator fmd-teacher) and
    // the student, one manifest.
    nlohmann::json manifest = teacher.manifest;
    const fs::path teacher_copy = fs::path(o.out) / "teacher.safetensors";
    if (!fs::exists(teacher_copy) || fs::canonical(teacher_copy) != fs::canonical(teacher.weights_path)) {
      nlohmann::json t = write_network_file(*real, teacher_copy.string());
      manifest["networks"]["teacher"]["sha256"] = t["sha256"];
      manifest["networks"]["teacher"]["bytes"] = t["bytes"];
      manifest["networks"]["teacher"]["file"] = t["file"];
    }
    nlohmann::json entry = write_network_file(*generator_ema, (fs::path(o.out) / "student.safetensors").string());
    entry["architecture"] = teacher.config.to_json();
    entry["generator_sigma"] = edm.sigma_max;
    entry["training"] = {{"command", o.command}, {"config", config}, {"epochs", epoch}, {"steps", step},
                         {"data", o.data}, {"val_data", o.val_data}, {"teacher", o.teacher}, {"weights", "EMA"},
                         {"method", "DMD2 (Yin et al. 2024): distribution matching + two time-scale fake score"}};
    entry["metrics"] = {{"history", history_json(result.history)}};
    manifest["networks"]["student"] = entry;
    manifest["code_commit"] = source_code_commit();
    write_fmd_manifest(o.out, manifest);
    save_checkpoint(o.out, {{"config", config}, {"epoch", epoch}, {"step", step}, {"history", history_json(result.history)}},
                    parts);
  }
  return result;
}

}  // namespace vmatplan
