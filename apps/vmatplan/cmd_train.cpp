// vmatplan train fmd-teacher | fmd-student | fmd-regression: trains the FMD networks and the
// regression baseline (docs/fmd.md) from
// `batch --training-set` folders. A progress bar with ETA on stderr, one line per epoch in
// the log; OUT is a model folder plus a checkpoint that --resume continues.
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/learn/fmd_training.h"
#include "vmatplan/pipeline/training_set.h"

namespace vmatplan::cli {
namespace {

struct TrainCmdOptions {
  FmdTrainingOptions fmd;
  int threads = 0;  // 0: the global --threads
};

std::string duration_text(double s) {
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}

// The command that reproduces the run, every option explicit (recorded in the manifest).
std::string effective_command(const std::string& which, const FmdTrainingOptions& o, int threads) {
  std::string c = "vmatplan train " + which + " --data '" + o.data + "'";
  if (!o.val_data.empty()) c += " --val-data '" + o.val_data + "'";
  if (!o.teacher.empty()) c += " --teacher '" + o.teacher + "'";
  c += " --out '" + o.out + "' --seed " + std::to_string(o.seed) + " --epochs " + std::to_string(o.epochs) +
       " --threads " + std::to_string(threads) + " --batch " + std::to_string(o.batch_size) + " --window " +
       std::to_string(o.window) + " --steps-per-epoch " + std::to_string(o.max_steps_per_epoch) + " --lr " +
       std::to_string(o.learning_rate) + " --warmup " + std::to_string(o.warmup_steps) + " --ema-half-life " +
       std::to_string(o.ema_half_life_steps) + " --val-windows " + std::to_string(o.max_val_windows);
  if (which != "fmd-student") c += " --width " + std::to_string(o.network.base_channels);
  else
    c += " --fake-updates " + std::to_string(o.fake_updates) + " --generator-lr " +
         std::to_string(o.generator_learning_rate) + " --regression-warmup " +
         std::to_string(o.regression_warmup_steps) + " --regression-weight " + std::to_string(o.regression_weight);
  return c;
}

int run_train(const std::string& which, TrainCmdOptions opt, const GlobalOptions& global) {
  const int threads = opt.threads > 0 ? opt.threads
                      : global.threads > 0 ? global.threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  FmdTrainingOptions& o = opt.fmd;
  o.expected_training_set_version = kTrainingSetVersion;
  o.command = effective_command(which, o, threads);
  const bool tty = isatty(fileno(stderr));
  auto progress = [tty](const FmdTrainingProgress& p) {
    // A terminal gets one rewritten bar; a log a line at every tenth of an epoch.
    if (!tty && p.step != p.steps && (p.step * 10) / p.steps == ((p.step - 1) * 10) / p.steps) return;
    const int width = 24, filled = width * p.step / std::max(1, p.steps);
    std::fprintf(stderr, tty ? "\rtrain: epoch %d/%d [%s%s] %d/%d  loss %.4f  %s elapsed  ETA %s   "
                             : "train: epoch %d/%d [%s%s] %d/%d  loss %.4f  %s elapsed  ETA %s\n",
                 p.epoch, p.epochs, std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 p.step, p.steps, p.loss, duration_text(p.elapsed_s).c_str(), duration_text(p.eta_s).c_str());
    if (tty && p.step == p.steps) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
  const FmdTrainingResult r = which == "fmd-teacher"    ? train_fmd_teacher(o, progress)
                              : which == "fmd-regression" ? train_fmd_regression(o, progress)
                                                          : train_fmd_student(o, progress);
  const FmdEpochRecord& last = r.history.back();
  char val[32] = "-";
  if (last.val_loss >= 0) std::snprintf(val, sizeof val, "%.4g", last.val_loss);
  std::printf("wrote %s: %s, %lld parameters, epoch %d, train loss %.4g, val loss %s\n", r.model_dir.c_str(),
              which.c_str(), static_cast<long long>(r.parameters), last.epoch, last.train_loss, val);
  return 0;
}

void add_common(CLI::App* sub, TrainCmdOptions& opt) {
  FmdTrainingOptions& o = opt.fmd;
  sub->add_option("--data", o.data, "Training folder of `batch --training-set`")->required();
  sub->add_option("--val-data", o.val_data, "Validation folder (validation loss per epoch)");
  sub->add_option("--out", o.out, "Output: model folder + checkpoint/")->required();
  sub->add_flag("--resume", o.resume, "Continue the run in --out from its last checkpoint");
  sub->add_option("--seed", o.seed, "Seed of initialisation, batches and noise")->capture_default_str();
  sub->add_option("--epochs", o.epochs, "Epochs in all (a resumed run counts the earlier ones)")->capture_default_str();
  sub->add_option("--threads", opt.threads, "LibTorch threads (0: the global --threads)")->capture_default_str();
  sub->add_option("--batch", o.batch_size, "Windows per step")->capture_default_str();
  sub->add_option("--window", o.window, "Control points per training window")->capture_default_str();
  sub->add_option("--steps-per-epoch", o.max_steps_per_epoch, "Cap on steps per epoch (0: a full pass; smoke runs)")
      ->capture_default_str();
  sub->add_option("--lr", o.learning_rate, "Adam learning rate (student: the fake score's)")->capture_default_str();
  sub->add_option("--warmup", o.warmup_steps, "Linear learning-rate warm-up, steps")->capture_default_str();
  sub->add_option("--ema-half-life", o.ema_half_life_steps, "EMA half-life of the weights, steps")->capture_default_str();
  sub->add_option("--val-windows", o.max_val_windows, "Validation windows (fixed)")->capture_default_str();
}

}  // namespace

Command register_train(CLI::App& app, const GlobalOptions& global) {
  CLI::App* train = app.add_subcommand("train", "Train the learned stages (docs/fmd.md)");
  train->require_subcommand(1);
  auto teacher = std::make_shared<TrainCmdOptions>();
  auto student = std::make_shared<TrainCmdOptions>();
  auto regression = std::make_shared<TrainCmdOptions>();
  CLI::App* t = train->add_subcommand("fmd-teacher", "EDM diffusion teacher over per-arc fluence volumes");
  add_common(t, *teacher);
  t->add_option("--width", teacher->fmd.network.base_channels, "U-Net base width (channels)")->capture_default_str();
  CLI::App* g = train->add_subcommand(
      "fmd-regression", "Baseline: the student's network trained with plain squared error (no noise, no teacher)");
  add_common(g, *regression);
  g->add_option("--width", regression->fmd.network.base_channels, "U-Net base width (channels)")
      ->capture_default_str();
  CLI::App* s = train->add_subcommand("fmd-student", "One-step student distilled from the teacher with DMD2");
  add_common(s, *student);
  s->add_option("--teacher", student->fmd.teacher, "The teacher's folder (fmd-teacher --out)")->required();
  s->add_option("--fake-updates", student->fmd.fake_updates, "Fake-score updates per generator update")
      ->capture_default_str();
  s->add_option("--generator-lr", student->fmd.generator_learning_rate, "Generator learning rate")
      ->capture_default_str();
  s->add_option("--regression-warmup", student->fmd.regression_warmup_steps,
                "Generator steps of regression onto the data first")->capture_default_str();
  s->add_option("--regression-weight", student->fmd.regression_weight, "Regression loss weight in DMD steps")
      ->capture_default_str();
  return {train, [train, t, g, teacher, student, regression, &global] {
            if (train->got_subcommand(t)) return run_train("fmd-teacher", *teacher, global);
            if (train->got_subcommand(g)) return run_train("fmd-regression", *regression, global);
            return run_train("fmd-student", *student, global);
          }};
}

}  // namespace vmatplan::cli
