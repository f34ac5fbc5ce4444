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
