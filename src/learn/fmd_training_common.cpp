// Shared pieces of the FMD training loops (fmd_training_common.h).
#include "fmd_training_common.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <spdlog/spdlog.h>

#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/learn/fmd_model_io.h"

namespace vmatplan::fmd_training {
namespace fs = std::filesystem;

namespace {
// splitmix64 (Steele, Lea, Flood 2014): decorrelates neighbouring (seed, step) pairs.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

torch::Device training_device() { return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU; }

void seed_step(uint64_t seed, int64_t step, uint64_t stream) {
  torch::manual_seed(mix(mix(seed) ^ mix(static_cast<uint64_t>(step) + (stream << 40))) >> 1);
}

std::vector<std::vector<int>> epoch_batches(const FmdDataset& data, const FmdTrainingOptions& o, int epoch,
                                            int window) {
  std::vector<int> visits;
  for (int a = 0; a < static_cast<int>(data.arcs.size()); ++a) {
    const int n = std::max(1, (data.arcs[a].control_points + window - 1) / window);
    for (int i = 0; i < n; ++i) visits.push_back(a);
  }
  std::mt19937_64 rng(mix(o.seed) ^ mix(static_cast<uint64_t>(epoch) + 0x5eed));
  std::shuffle(visits.begin(), visits.end(), rng);
  std::vector<std::vector<int>> batches;
  for (size_t i = 0; i < visits.size(); i += o.batch_size)
    batches.emplace_back(visits.begin() + i, visits.begin() + std::min(visits.size(), i + o.batch_size));
  if (o.max_steps_per_epoch > 0 && static_cast<int>(batches.size()) > o.max_steps_per_epoch)
    batches.resize(o.max_steps_per_epoch);
  return batches;
}

std::vector<std::pair<int, int>> random_windows(const FmdDataset& data, const std::vector<int>& arcs, int window) {
  std::vector<std::pair<int, int>> w;
  for (int a : arcs) {
    const int64_t starts = data.arcs[a].control_points - window + 1;
    w.emplace_back(a, static_cast<int>(torch::randint(starts, {1}, torch::kInt64).item<int64_t>()));
  }
  return w;
}

std::vector<std::pair<int, int>> validation_windows(const FmdDataset& data, int window, int max) {
  std::vector<std::pair<int, int>> w;
  for (int a = 0; a < static_cast<int>(data.arcs.size()); ++a)
    for (int s = 0; s + window <= data.arcs[a].control_points; s += window) {
      if (static_cast<int>(w.size()) >= max) return w;
      w.emplace_back(a, s);
    }
  return w;
}

double validation_mean(FmdUNet& net, const FmdDataset& val, const FmdTrainingOptions& o, int window,
                       torch::Device device, const FmdWindowLoss& loss) {
  torch::NoGradGuard no_grad;
  net->eval();
  const auto windows = validation_windows(val, window, o.max_val_windows);
  double sum = 0;
  for (size_t i = 0; i < windows.size(); ++i) {
    seed_step(o.seed, static_cast<int64_t>(i), 1);
    sum += loss(make_fmd_batch(val, o.canvas, {windows[i]}, window, device), i).item<double>();
  }
  net->train();
  return windows.empty() ? -1.0 : sum / windows.size();
}

void copy_weights(torch::nn::Module& to, const torch::nn::Module& from) {
  torch::NoGradGuard no_grad;
  const auto src = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(src[p.key()]);
}

void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double half_life_steps) {
  const double decay = std::pow(0.5, 1.0 / std::max(1e-9, half_life_steps));
  torch::NoGradGuard no_grad;
  const auto src = model.named_parameters();
  for (auto& p : ema.named_parameters()) p.value().mul_(decay).add_(src[p.key()], 1.0 - decay);
}

void set_learning_rate(torch::optim::Adam& optimizer, double base, int64_t step, int warmup_steps) {
  const double lr = warmup_steps > 0 ? base * std::min(1.0, double(step + 1) / warmup_steps) : base;
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

void optimizer_step(torch::optim::Adam& optimizer, const torch::Tensor& loss, double base, int64_t step,
                    int warmup_steps) {
  set_learning_rate(optimizer, base, step, warmup_steps);
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
}

nlohmann::json prepare_out(const FmdTrainingOptions& o, const nlohmann::json& config) {
  const fs::path out(o.out);
  const fs::path state = out / "checkpoint" / "state.json";
  std::error_code ec;
  if (!o.resume) {
    if (fs::exists(state))
      throw InputError(o.out, "holds a training run; add --resume to continue it, or choose another --out");
    if (fs::exists(out) && !fs::is_empty(out, ec))
      throw InputError(o.out, "exists and is not empty; choose another --out");
  }
  fs::create_directories(out, ec);
  if (ec) throw InputError(o.out, "cannot create folder: " + ec.message());
  remove_stale_stages((out / "checkpoint").string());
  if (!fs::exists(state)) return nullptr;
  nlohmann::json s = read_json_file(state.string(), "checkpoint state");
  const nlohmann::json& was = s["config"];
  for (const auto& [key, value] : config.items())
    if (!was.contains(key) || was[key] != value)
      throw UsageError("--resume: " + key + " differs from the run in " + o.out + " (was " +
                       (was.contains(key) ? was[key].dump() : "absent") + ", now " + value.dump() + ")");
  return s;
}

void save_checkpoint(const std::string& out, const nlohmann::json& state, const CheckpointParts& parts) {
  StagedOutput stage((fs::path(out) / "checkpoint").string(), StagedOutput::Kind::kDirectory, true);
  for (const auto& [name, module] : parts.modules)
    write_safetensors(module_to_safetensors(*module), stage.path() + "/" + name + ".safetensors");
  for (const auto& [name, optimizer] : parts.optimizers) torch::save(*optimizer, stage.path() + "/" + name + ".pt");
  {
    std::ofstream f(stage.path() + "/state.json");
    f << state.dump(2) << "\n";
    if (!f) throw InputError(stage.path() + "/state.json", "cannot write");
  }
  stage.commit();
}

void load_checkpoint(const std::string& out, const CheckpointParts& parts) {
  const std::string dir = (fs::path(out) / "checkpoint").string();
  for (const auto& [name, module] : parts.modules) {
    const std::string path = dir + "/" + name + ".safetensors";
    load_module_from_safetensors(*module, read_safetensors(path), path);
  }
  for (const auto& [name, optimizer] : parts.optimizers) {
    const std::string path = dir + "/" + name + ".pt";
    if (!fs::exists(path)) throw InputError(path, "optimiser state missing");
    try {
      torch::load(*optimizer, path);
    } catch (const c10::Error& e) {
      throw InputError(path, "cannot read optimiser state: " + std::string(e.what_without_backtrace()));
    }
  }
}

RunStart resume_run(const std::string& out, const nlohmann::json& resumed, const CheckpointParts& parts,
                    const char* command, std::vector<FmdEpochRecord>* history) {
  RunStart start;
  if (resumed.is_null()) return start;
  load_checkpoint(out, parts);
  start.first_epoch = resumed.at("epoch").get<int>() + 1;
  start.step = resumed.at("step").get<int64_t>();
  *history = history_from_json(resumed.at("history"));
  spdlog::info("{}: resuming {} after epoch {}", command, out, start.first_epoch - 1);
  return start;
}

FmdEpochRecord run_epoch(const FmdDataset& train, const FmdTrainingOptions& o, int epoch, int window,
                         torch::Device device, int64_t& step, ProgressClock& clock, const FmdStepFn& train_step,
                         const std::function<double()>& validate) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto batches = epoch_batches(train, o, epoch, window);
  double loss_sum = 0;
  for (size_t i = 0; i < batches.size(); ++i, ++step) {
    seed_step(o.seed, step);
    const FmdBatch b = make_fmd_batch(train, o.canvas, random_windows(train, batches[i], window), window, device);
    loss_sum += train_step(b, epoch, step);
    clock.step(epoch, static_cast<int>(i + 1), static_cast<int>(batches.size()), loss_sum / (i + 1));
  }
  FmdEpochRecord rec{epoch, loss_sum / std::max<size_t>(1, batches.size()), -1.0, 0.0};
  if (validate) rec.val_loss = validate();
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rec;
}

FmdTrainingResult train_from_scratch(const FmdTrainingOptions& o, const FmdTrainingProgressFn& progress,
                                     const FromScratchRole& r) {
  check_common_options(o);
  const std::string command = "train fmd-" + r.role;
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
      {"role", r.role}, {"data_version", train.data_version}, {"val_data_version", val.data_version},
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
  const RunStart start = resume_run(o.out, resumed, parts, command.c_str(), &result.history);
  int64_t step = start.step;
  spdlog::info("{}: {} training arcs ({} patients), {} validation arcs, window {} control points, "
               "{} parameters, sigma_data {:.4f}, device {}",
               command, train.arcs.size(), train.patients, val.arcs.size(), window, result.parameters,
               edm.sigma_data, device.is_cuda() ? "CUDA" : "CPU");

  ProgressClock clock(progress, start.first_epoch, o.epochs);
  const auto train_step = [&](const FmdBatch& b, int e, int64_t s) {
    const torch::Tensor loss = r.loss(net, b, edm);
    check_finite(loss, r.role.c_str(), e, s);
    optimizer_step(optimizer, loss, o.learning_rate, s, o.warmup_steps);
    ema_update(*ema, *net, o.ema_half_life_steps);
    return loss.item<double>();
  };
  std::function<double()> validate;
  if (!val.arcs.empty())
    validate = [&] {
      return validation_mean(ema, val, o, window, device,
                             [&](const FmdBatch& b, size_t i) { return r.validation_loss(ema, b, edm, i); });
    };
  for (int epoch = start.first_epoch; epoch <= o.epochs; ++epoch) {
    const FmdEpochRecord rec = run_epoch(train, o, epoch, window, device, step, clock, train_step, validate);
    result.history.push_back(rec);
    spdlog::info("{}: epoch {}/{}: train loss {:.5f}, val loss {}, {:.1f} s", command, epoch, o.epochs,
                 rec.train_loss, rec.val_loss < 0 ? std::string("-") : fmt::format("{:.5f}", rec.val_loss),
                 rec.seconds);

    // The model folder first, then the checkpoint (the resume point): a kill in between
    // redoes this epoch and rewrites the same model.
    nlohmann::json entry = write_network_file(*ema, (fs::path(o.out) / (r.role + ".safetensors")).string());
    entry.update(r.entry);
    entry["architecture"] = o.network.to_json();
    entry["training"] = {{"command", o.command}, {"config", config}, {"epochs", epoch}, {"steps", step},
                         {"data", o.data}, {"val_data", o.val_data}, {"weights", "EMA"}, {"method", r.method}};
    entry["metrics"] = {{"history", history_json(result.history)},
                        {"data_mean", stats.mean}, {"data_std", stats.std}};
    const nlohmann::json manifest = {
        {"format", kFmdModelFormat}, {"format_version", kFmdModelFormatVersion},
        {"canvas", o.canvas.to_json()}, {"edm", edm.to_json()},
        {"normalisation", {{"fluence", "MU per fraction / (dose per fraction Gy * mu_per_gy / plan control points)"},
                           {"mu_per_gy", kFmdMuPerGy}}},
        {"training_set_version", train.training_set_version}, {"data_version", train.data_version},
        {"val_data_version", val.data_version}, {"code_commit", source_code_commit()},
        {"networks", {{r.role, entry}}}};
    write_fmd_manifest(o.out, manifest);
    save_checkpoint(o.out, {{"config", config}, {"epoch", epoch}, {"step", step}, {"history", history_json(result.history)}},
                    parts);
  }
  return result;
}

nlohmann::json history_json(const std::vector<FmdEpochRecord>& history) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& h : history)
    j.push_back({{"epoch", h.epoch}, {"train_loss", h.train_loss},
                 {"val_loss", h.val_loss < 0 ? nlohmann::json() : nlohmann::json(h.val_loss)},
                 {"seconds", h.seconds}});
  return j;
}

std::vector<FmdEpochRecord> history_from_json(const nlohmann::json& j) {
  std::vector<FmdEpochRecord> h;
  for (const auto& e : j)
    h.push_back({e.at("epoch").get<int>(), e.at("train_loss").get<double>(),
                 e.at("val_loss").is_null() ? -1.0 : e.at("val_loss").get<double>(), e.at("seconds").get<double>()});
  return h;
}

ProgressClock::ProgressClock(const FmdTrainingProgressFn& fn, int first_epoch, int epochs)
    : fn_(fn), first_epoch_(first_epoch), epochs_(epochs), start_(std::chrono::steady_clock::now()) {}

void ProgressClock::step(int epoch, int step, int steps, double loss_mean) {
  if (!fn_) return;
  FmdTrainingProgress p{epoch, epochs_, step, steps, loss_mean, 0, 0};
  p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double done = (epoch - first_epoch_) + double(step) / std::max(1, steps);  // epochs done here
  const double left = (epochs_ - first_epoch_ + 1) - done;
  p.eta_s = done > 0 ? p.elapsed_s / done * left : 0;
  fn_(p);
}

void check_common_options(const FmdTrainingOptions& o) {
  if (o.data.empty()) throw UsageError("train: --data is required");
  if (o.out.empty()) throw UsageError("train: --out is required");
  if (o.epochs < 1) throw UsageError("--epochs must be at least 1");
  if (o.batch_size < 1) throw UsageError("--batch must be at least 1");
  if (o.window < 1) throw UsageError("--window must be at least 1");
  if (!(o.learning_rate > 0)) throw UsageError("--lr must be positive");
  if (o.fake_updates < 1) throw UsageError("--fake-updates must be at least 1");
  if (o.expected_training_set_version < 1) throw UsageError("train: no training-set version given");
}

void check_finite(const torch::Tensor& loss, const char* what, int epoch, int64_t step) {
  if (!std::isfinite(loss.item<double>()))
    throw ProcessingError(std::string(what) + " loss is not finite at epoch " + std::to_string(epoch) + ", step " +
                          std::to_string(step) + " (try a lower --lr)");
}

}  // namespace vmatplan::fmd_training
