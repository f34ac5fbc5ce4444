#pragma once
// Pieces shared by the teacher, regression and student training loops (fmd_training.h):
// device, per-step seeding, epoch batches, validation, EMA, learning-rate ramp, checkpoints,
// progress clock, and the whole loop of a network trained from scratch (teacher, regression).
#include <chrono>
#include <functional>
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

// [B] -> [B,1,1,1,1], to scale each sample of a batch.
inline torch::Tensor per_sample(const torch::Tensor& v) { return v.reshape({-1, 1, 1, 1, 1}); }

// The mean of `loss` over the fixed validation windows, one window per batch, with the
// global generator seeded per window (stream 1) so epochs are comparable; `net` is in eval
// mode meanwhile, without gradients. -1 without windows.
using FmdWindowLoss = std::function<torch::Tensor(const FmdBatch& batch, size_t window_index)>;
double validation_mean(FmdUNet& net, const FmdDataset& val, const FmdTrainingOptions& o, int window,
                       torch::Device device, const FmdWindowLoss& loss);

void copy_weights(torch::nn::Module& to, const torch::nn::Module& from);
// ema <- decay * ema + (1 - decay) * model, decay = 0.5^(1 / half_life_steps).
void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double half_life_steps);
// Linear ramp over warmup_steps, then constant (a function of the global step only, so a
// resumed run and an uninterrupted one agree).
void set_learning_rate(torch::optim::Adam& optimizer, double base, int64_t step, int warmup_steps);
// One Adam step on `loss` at that ramped learning rate.
void optimizer_step(torch::optim::Adam& optimizer, const torch::Tensor& loss, double base, int64_t step,
                    int warmup_steps);

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

class ProgressClock {
 public:
  ProgressClock(const FmdTrainingProgressFn& fn, int first_epoch, int epochs);
  void step(int epoch, int step, int steps, double loss_mean);

 private:
  FmdTrainingProgressFn fn_;
  int first_epoch_, epochs_;
  std::chrono::steady_clock::time_point start_;
};

// One epoch: its batches (epoch_batches, random windows), the global generator seeded from
// (seed, step) before each, `train_step` on each (it returns the step's loss), the progress
// clock; then `validate` when given. `step` counts on.
using FmdStepFn = std::function<double(const FmdBatch& batch, int epoch, int64_t step)>;
FmdEpochRecord run_epoch(const FmdDataset& train, const FmdTrainingOptions& o, int epoch, int window,
                         torch::Device device, int64_t& step, ProgressClock& clock, const FmdStepFn& train_step,
                         const std::function<double()>& validate);

// A network trained from its seeded initialisation on the data alone: the EDM teacher and
// the regression baseline share this loop, checkpoint (model, EMA, Adam) and model folder
// (OUT/ROLE.safetensors, the EMA weights; manifest networks.ROLE); only these differ.
struct FromScratchRole {
  std::string role;    // "teacher", "regression"
  std::string method;  // recorded in the manifest entry's training
  // The loss of one training batch; its random draws come from the global generator.
  std::function<torch::Tensor(FmdUNet& net, const FmdBatch& batch, const EdmConfig& edm)> loss;
  // One validation window's loss (validation_mean).
  std::function<torch::Tensor(FmdUNet& net, const FmdBatch& batch, const EdmConfig& edm, size_t window_index)>
      validation_loss;
  nlohmann::json entry = nlohmann::json::object();  // extra fields of the manifest entry
};
FmdTrainingResult train_from_scratch(const FmdTrainingOptions& o, const FmdTrainingProgressFn& progress,
                                     const FromScratchRole& role);

nlohmann::json history_json(const std::vector<FmdEpochRecord>& history);
std::vector<FmdEpochRecord> history_from_json(const nlohmann::json& j);


void check_common_options(const FmdTrainingOptions& o);
void check_finite(const torch::Tensor& loss, const char* what, int epoch, int64_t step);

}  // namespace vmatplan::fmd_training
