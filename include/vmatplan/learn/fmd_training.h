#pragma once
// Training the FMD networks (docs/fmd.md, "Training"): the EDM teacher, then the DMD2
// one-step student distilled from it, and the regression baseline (the same network trained
// with the plain squared error, no noise, no teacher). `vmatplan train fmd-teacher|
// fmd-student|fmd-regression` call these.
//
//   FmdTrainingOptions o;  o.data = "runs/train";  o.val_data = "runs/val";  o.out = "runs/teacher";
//   FmdTrainingResult r = train_fmd_teacher(o, progress);
//   o.teacher = "runs/teacher";  o.out = "runs/fmd";
//   train_fmd_student(o, progress);            // OUT is then a complete models/fmd/ folder
//   o.out = "runs/regression";
//   train_fmd_regression(o, progress);         // a model folder of its own (network "regression")
//
// OUT holds the model folder (learn/fmd_model_io.h; updated after every epoch) and
// OUT/checkpoint/ (networks, EMA, optimiser state, epoch, history), replaced atomically
// after every epoch. --resume continues from the checkpoint: all randomness is derived
// from (seed, epoch, step), so a run killed and resumed gives the same weights as an
// uninterrupted one on the same device and thread count (CPU, 1 thread: bit-identical,
// tested; several threads or CUDA: the same up to floating-point reduction order).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vmatplan/learn/edm.h"
#include "vmatplan/learn/fmd_canvas.h"
#include "vmatplan/learn/fmd_network.h"

namespace vmatplan {

struct FmdTrainingOptions {
  std::string data;       // training `batch --training-set` folder
  std::string val_data;   // validation folder ("" = no validation loss)
  std::string out;
  std::string teacher;    // student: the teacher's OUT (or a model folder)
  bool resume = false;
  uint64_t seed = 1;
  int epochs = 20;
  int batch_size = 4;          // windows per step
  int window = 16;             // control points per training window
  int max_steps_per_epoch = 0; // 0: one pass (each arc once per window of its length)
  int max_val_windows = 64;    // validation windows (fixed, from each arc's start)
  double learning_rate = 2e-4;
  int warmup_steps = 100;      // linear learning-rate ramp
  double ema_half_life_steps = 200;
  FmdNetworkConfig network;    // teacher, regression; the student copies the teacher's
  EdmConfig edm;               // sigma_data is measured on the training data
  FmdCanvas canvas;
  // Student (DMD2, Yin et al. 2024)
  int fake_updates = 5;             // fake-score updates per generator update (TTUR, sec. 4.1)
  double generator_learning_rate = 5e-5;
  int regression_warmup_steps = 0;  // generator steps of plain regression onto the data first
  double regression_weight = 0.0;   // weight of that regression loss during DMD steps
  int expected_training_set_version = 0;  // the planner's kTrainingSetVersion
  std::string command;              // the exact command line, recorded in the manifest
};

struct FmdTrainingProgress {
  int epoch = 0, epochs = 0;   // epoch is 1-based
  int step = 0, steps = 0;     // within the epoch
  double loss = 0;             // running mean of the epoch
  double elapsed_s = 0;        // this process
  double eta_s = 0;            // to the last epoch, from this process's speed
};
using FmdTrainingProgressFn = std::function<void(const FmdTrainingProgress&)>;

struct FmdEpochRecord {
  int epoch = 0;
  double train_loss = 0;
  double val_loss = -1;  // -1 without validation data
  double seconds = 0;
};

struct FmdTrainingResult {
  std::vector<FmdEpochRecord> history;  // all epochs of the run, resumed ones included
  int64_t parameters = 0;
  std::string model_dir;
};

// UsageError for bad options; InputError for bad data or an OUT that is not this run's.
FmdTrainingResult train_fmd_teacher(const FmdTrainingOptions& options, const FmdTrainingProgressFn& progress = {});
FmdTrainingResult train_fmd_student(const FmdTrainingOptions& options, const FmdTrainingProgressFn& progress = {});
FmdTrainingResult train_fmd_regression(const FmdTrainingOptions& options, const FmdTrainingProgressFn& progress = {});

}  // namespace vmatplan
