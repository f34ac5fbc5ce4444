#pragma once
// Pieces shared by the teacher and student training loops (fmd_training.h): device,
// per-step seeding, epoch batches, EMA, learning-rate ramp, checkpoints, progress clock.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "vmatplan/learn/fmd_dataset.h"
#include "vmatplan/learn/fmd_training.h"

namespace vmatplan::fmd_training {

torch::Device training_device();  // CUDA when LibTorch sees a GPU, else the CPU

// Every random draw of a step comes from the global generator seeded here from (seed,
// step): nothing random needs to be saved in a checkpoint, and a resumed run draws what
// the uninterrupted one drew.
void seed_step(uint64_t seed, int64_t step, uint64_t stream = 0);

// The arcs of each step of `epoch`: each arc ceil(C / window) times, shuffled by (seed,
// epoch), in batches of batch_size, at most max_steps_per_epoch steps (0: all).
std::vector<std::vector<int>> epoch_batches(const FmdDataset& data, const FmdTrainingOptions& o, int epoch,
                                            int window);
// A random window start in each arc (global generator).
std::vector<std::pair<int, int>> random_windows(const FmdDataset& data, const std::vector<int>& arcs, int window);
// Fixed validation windows: each arc's windows from its start, at most `max` in all.
std::vector<std::pair<int, int>> validation_windows(const FmdDataset& data, int window, int max);

void copy_weights(torch::nn::Module& to, const torch::nn::Module& from);
// ema <- decay * ema + (1 - decay) * model, decay = 0.5^(1 / half_life_steps).
void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double half_life_steps);
// Linear ramp over warmup_steps, then constant (a function of the global step only, so a
// resumed run and an uninterrupted one agree).
void set_learning_rate(torch::optim::Adam& optimizer, double base, int64_t step, int warmup_steps);

// OUT checks: without --resume OUT must not exist or be empty; with it, OUT/checkpoint's
// run config must equal `config` (UsageError naming the first key that differs).
// Returns the checkpoint's state.json, or null when there is none to resume.
nlohmann::json prepare_out(const FmdTrainingOptions& o, const nlohmann::json& config);

struct CheckpointParts {
  std::vector<std::pair<std::string, torch::nn::Module*>> modules;       // name -> NAME.safetensors
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimizers;  // name -> NAME.pt
};
// OUT/checkpoint/ replaced atomically: modules, optimisers and state.json.
void save_checkpoint(const std::string& out, const nlohmann::json& state, const CheckpointParts& parts);
void load_checkpoint(const std::string& out, const CheckpointParts& parts);

// Where a run starts: epoch 1 at step 0 when `resumed` (prepare_out's state) is null;
// otherwise after the checkpoint's epoch, with its modules, optimisers and history loaded.
struct RunStart {
  int first_epoch = 1;
  int64_t step = 0;
};
RunStart resume_run(const std::string& out, const nlohmann::json& resumed, const CheckpointParts& parts,
                    const char* command, std::vector<FmdEpochRecord>* history);

nlohmann::json history_json(const std::vector<FmdEpochRecord>& history);
std::vector<FmdEpochRecord> history_from_json(const nlohmann::json& j);

class ProgressClock {
 public:
  ProgressClock(const FmdTrainingProgressFn& fn, int first_epoch, int epochs);
  void step(int epoch, int step, int steps, double loss_mean);

 private:
  FmdTrainingProgressFn fn_;
  int first_epoch_, epochs_;
  std::chrono::steady_clock::time_point start_;
};

void check_common_options(const FmdTrainingOptions& o);
void check_finite(const torch::Tensor& loss, const char* what, int epoch, int64_t step);

}  // namespace vmatplan::fmd_training
