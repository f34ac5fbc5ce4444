// The EDM teacher's training loop (Karras et al. 2022, sec. 5 and Table 1): log-normal
// noise levels, the weighted denoising loss, Adam, EMA weights (fmd_training.h).
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

// [B] -> [B,1,1,1,1]
torch::Tensor per_sample(const torch::Tensor& v) { return v.reshape({-1, 1, 1, 1, 1}); }

// EDM's weighted denoising loss at noise levels sigma [B] (Karras et al. 2022, eq. 8).
torch::Tensor teacher_loss(FmdUNet& net, const FmdBatch& b, const torch::Tensor& sigma, const torch::Tensor& noise,
                           double sigma_data) {
  const torch::Tensor d = fmd_denoise(net, b.fluence + per_sample(sigma) * noise, sigma, b.condition, sigma_data);
  return (per_sample(edm_loss_weight(sigma, sigma_data)) * (d - b.fluence).pow(2)).mean();
}

// The same loss on fixed windows, noise and noise levels (5 quantiles of the training
// distribution, z = -1.5 ... 1.5), so epochs are comparable.
double validate_teacher(FmdUNet& net, const FmdDataset& val, const FmdTrainingOptions& o, const EdmConfig& edm,
                        int window, torch::Device device) {
  torch::NoGradGuard no_grad;
  net->eval();
  const auto windows = validation_windows(val, window, o.max_val_windows);
  const double z[] = {-1.5, -0.75, 0.0, 0.75, 1.5};
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < windows.size(); ++i) {
    seed_step(o.seed, static_cast<int64_t>(i), 1);
    const FmdBatch b = make_fmd_batch(val, o.canvas, {windows[i]}, window, device);
    const torch::Tensor sigma =
        torch::full({1}, std::exp(edm.p_mean + edm.p_std * z[i % 5]), b.fluence.options());
    sum += teacher_loss(net, b, sigma, torch::randn_like(b.fluence), edm.sigma_data).item<double>();
    ++n;
  }
  net->train();
  return n ? sum / n : -1.0;
}

}  // namespace

FmdTrainingResult train_fmd_teacher(const FmdTrainingOptions& o, const FmdTrainingProgressFn& progress) {
  check_common_options(o);
  const torch::Device device = training_device();
  const FmdDataset train = load_fmd_dataset(o.data, o.expected_training_set_version, o.canvas);
  FmdDataset val;
  if (!o.val_data.empty()) val = load_fmd_dataset(o.val_data, o.expected_training_set_version, o.canvas);
  int window = std::min(o.window, train.min_control_points);
  if (!val.arcs.empty()) window = std::min(window, val.min_control_points);
  const FmdDataStats stats = measure_fmd_data(train, o.canvas);
  EdmConfig edm = o.edm;
  if (stats.std > 0) edm.sigma_data = stats.std;

  const nlohmann::json config = {
      {"role", "teacher"}, {"data_version", train.data_version}, {"val_data_version", val.data_version},
      {"seed", o.seed}, {"batch_size", o.batch_size}, {"window", window},
      {"max_steps_per_epoch", o.max_steps_per_epoch}, {"learning_rate", o.learning_rate},
      {"warmup_steps", o.warmup_steps}, {"ema_half_life_steps", o.ema_half_life_steps},
      {"network", o.network.to_json()}, {"edm", edm.to_json()}, {"canvas", o.canvas.to_json()}};
  const nlohmann::json resumed = prepare_out(o, config);

  torch::manual_seed(o.seed);
  FmdUNet net(o.network), ema(o.network);
  copy_weights(*ema, *net);
  net->to(device);
  ema->to(device);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(o.learning_rate));
  const CheckpointParts parts{{{"model", net.ptr().get()}, {"ema", ema.ptr().get()}}, {{"optimizer", &optimizer}}};

  FmdTrainingResult result;
  result.parameters = parameter_count(*net);
  result.model_dir = o.out;
  const RunStart start = resume_run(o.out, resumed, parts, "train fmd-teacher", &result.history);
  const int first_epoch = start.first_epoch;
  int64_t step = start.step;
  spdlog::info("train fmd-teacher: {} training arcs ({} patients), {} validation arcs, window {} control points, "
               "{} parameters, sigma_data {:.4f}, device {}",
               train.arcs.size(), train.patients, val.arcs.size(), window, result.parameters, edm.sigma_data,
               device.is_cuda() ? "CUDA" : "CPU");

  ProgressClock clock(progress, first_epoch, o.epochs);
  for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto batches = epoch_batches(train, o, epoch, window);
    double loss_sum = 0;
    for (size_t i = 0; i < batches.size(); ++i, ++step) {
      seed_step(o.seed, step);
      const FmdBatch b = make_fmd_batch(train, o.canvas, random_windows(train, batches[i], window), window, device);
      const torch::Tensor sigma = edm_training_sigmas(b.fluence.size(0), edm, device);
      const torch::Tensor loss = teacher_loss(net, b, sigma, torch::randn_like(b.fluence), edm.sigma_data);
      check_finite(loss, "teacher", epoch, step);
      set_learning_rate(optimizer, o.learning_rate, step, o.warmup_steps);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      ema_update(*ema, *net, o.ema_half_life_steps);
      loss_sum += loss.item<double>();
      clock.step(epoch, static_cast<int>(i + 1), static_cast<int>(batches.size()), loss_sum / (i + 1));
    }
    FmdEpochRecord rec{epoch, loss_sum / std::max<size_t>(1, batches.size()), -1.0, 0.0};
    if (!val.arcs.empty()) rec.val_loss = validate_teacher(ema, val, o, edm, window, device);
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.history.push_back(rec);
    spdlog::info("train fmd-teacher: epoch {}/{}: train loss {:.5f}, val loss {}, {:.1f} s", epoch, o.epochs,
                 rec.train_loss, rec.val_loss < 0 ? std::string("-") : fmt::format("{:.5f}", rec.val_loss),
                 rec.seconds);

    // The model folder first, then the checkpoint (the resume point): a kill in between
    // redoes this epoch and rewrites the same model.
    nlohmann::json entry = write_network_file(*ema, (fs::path(o.out) / "teacher.safetensors").string());
    entry["architecture"] = o.network.to_json();
    entry["training"] = {{"command", o.command}, {"config", config}, {"epochs", epoch}, {"steps", step},
                         {"data", o.data}, {"val_data", o.val_data}, {"weights", "EMA"}};
    entry["metrics"] = {{"history", history_json(result.history)},
                        {"data_mean", stats.mean}, {"data_std", stats.std}};
    const nlohmann::json manifest = {
        {"format", kFmdModelFormat}, {"format_version", kFmdModelFormatVersion},
        {"canvas", o.canvas.to_json()}, {"edm", edm.to_json()},
        {"normalisation", {{"fluence", "MU per fraction / (dose per fraction Gy * mu_per_gy / plan control points)"},
                           {"mu_per_gy", kFmdMuPerGy}}},
        {"training_set_version", train.training_set_version}, {"data_version", train.data_version},
        {"val_data_version", val.data_version}, {"code_commit", source_code_commit()},
        {"networks", {{"teacher", entry}}}};
    write_fmd_manifest(o.out, manifest);
    save_checkpoint(o.out, {{"config", config}, {"epoch", epoch}, {"step", step}, {"history", history_json(result.history)}},
                    parts);
  }
  return result;
}

}  // namespace vmatplan
