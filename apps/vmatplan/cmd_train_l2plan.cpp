// vmatplan train l2plan: meta-train the L2Plan learned optimiser (learn/l2plan_training.h).
// Progress with ETA on stderr; OUT/weights.safetensors + OUT/manifest.json at the end;
// OUT/checkpoint/ after every epoch (--resume continues it).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/learn/l2plan_training.h"

namespace fs = std::filesystem;

namespace vmatplan::cli {
namespace {

struct TrainL2PlanCmdOptions {
  L2PlanTrainOptions train;
  std::string data;  // folder of patient folders
  double arc_spacing_deg = 4.0;
};

std::string eta_text(double s) {
  char b[32];
  if (s >= 3600) std::snprintf(b, sizeof b, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  else std::snprintf(b, sizeof b, "%dm%02ds", int(s / 60), int(s) % 60);
  return b;
}

int run_train_l2plan(TrainL2PlanCmdOptions opt, const GlobalOptions& global) {
  L2PlanTrainOptions& o = opt.train;
  if (!opt.data.empty()) {
    if (!fs::is_directory(opt.data)) throw InputError(opt.data, "--data is not a folder");
    std::vector<std::string> dirs;
    for (const auto& e : fs::directory_iterator(opt.data))
      if (e.is_directory()) dirs.push_back(e.path().string());
    std::sort(dirs.begin(), dirs.end());
    if (dirs.empty()) throw InputError(opt.data, "--data holds no patient folders");
    o.patients.insert(o.patients.end(), dirs.begin(), dirs.end());
  }
  o.cases.plan.arcs = default_two_arcs(opt.arc_spacing_deg);
  // The effective command, for the manifest (patients listed after --data expansion).
  o.command = {"vmatplan", "--threads", std::to_string(global.threads), "train", "l2plan", "--out", o.out,
               "--seed", std::to_string(o.seed), "--epochs", std::to_string(o.epochs), "--unroll",
               std::to_string(o.unroll), "--steps", std::to_string(o.steps), "--lr", std::to_string(o.learning_rate),
               "--hidden", std::to_string(o.arch.hidden), "--protocol", o.protocol, "--bixel",
               std::to_string(o.cases.plan.bixel_width_mm), "--dose-spacing", std::to_string(o.cases.plan.dose_spacing_mm),
               "--arc-spacing", std::to_string(opt.arc_spacing_deg)};
  if (!o.arch.row_prior) o.command.push_back("--no-row-prior");
  if (!o.arch.cp_prior) o.command.push_back("--no-cp-prior");
  if (o.use_predictor) o.command.push_back("--predictor");
  if (o.resume) o.command.push_back("--resume");
  o.command.push_back("--patients");
  o.command.insert(o.command.end(), o.patients.begin(), o.patients.end());
  const bool tty = isatty(fileno(stderr));
  o.progress = [tty](const L2PlanTrainProgress& p) {
    const int width = 24;
    const double frac = double((p.epoch - 1) * p.episodes + p.episode) / double(p.epochs * p.episodes);
    std::string bar(static_cast<size_t>(width * frac), '=');
    bar.resize(width, ' ');
    std::fprintf(stderr, tty ? "\rtrain l2plan [%s] epoch %d/%d patient %d/%d meta-loss %+.4f  %s elapsed, ETA %s  "
                             : "train l2plan [%s] epoch %d/%d patient %d/%d meta-loss %+.4f  %s elapsed, ETA %s\n",
                 bar.c_str(), p.epoch, p.epochs, p.episode, p.episodes, p.meta_loss, eta_text(p.elapsed_s).c_str(),
                 eta_text(p.eta_s).c_str());
    std::fflush(stderr);
  };
  const L2PlanTrainResult r = train_l2plan(o);
  if (tty) std::fprintf(stderr, "\n");
  for (size_t e = 0; e < r.epoch_meta_loss.size(); ++e)
    std::printf("epoch %zu meta-loss %+.5f\n", e + 1, r.epoch_meta_loss[e]);
  std::printf("wrote %s and %s\n", r.weights_path.c_str(), r.manifest_path.c_str());
  return 0;
}

}  // namespace

Command add_train_l2plan_command(CLI::App& train, const GlobalOptions& global) {
  auto opt = std::make_shared<TrainL2PlanCmdOptions>();
  L2PlanTrainOptions& o = opt->train;
  o.cases.plan.bixel_width_mm = 10.0;
  o.cases.plan.dose_spacing_mm = 10.0;
  opt->arc_spacing_deg = 12.0;
  CLI::App* sub = train.add_subcommand("l2plan", "Meta-train the L2Plan learned optimiser (docs/l2plan.md)");
  sub->add_option("--patients", o.patients, "Training patient folders");
  sub->add_option("--data", opt->data, "Folder whose sub-folders are training patients");
  sub->add_option("--out", o.out, "Model folder (weights.safetensors, manifest.json, checkpoint/)")->required();
  sub->add_flag("--resume", o.resume, "Continue the run in OUT/checkpoint");
  sub->add_option("--seed", o.seed, "Seed (episodes, start noise, initial weights)")->capture_default_str();
  sub->add_option("--epochs", o.epochs, "Passes over the training patients")->capture_default_str();
  sub->add_option("--unroll", o.unroll, "Steps per truncated unroll (K)")->capture_default_str();
  sub->add_option("--steps", o.steps, "Steps per episode (N)")->capture_default_str();
  sub->add_option("--lr", o.learning_rate, "Meta learning rate (Adam)")->capture_default_str();
  sub->add_option("--hidden", o.arch.hidden, "LSTM hidden size")->capture_default_str();
  sub->add_flag("!--no-row-prior", o.arch.row_prior, "Switch off the leaf-row smoothness prior on the update");
  sub->add_flag("!--no-cp-prior", o.arch.cp_prior, "Switch off the control-point smoothness prior on the update");
  sub->add_option("--protocol", o.protocol, "Base protocol (randomised per episode)")->capture_default_str();
  sub->add_option("--bixel", o.cases.plan.bixel_width_mm, "Bixel width, mm")->capture_default_str();
  sub->add_option("--dose-spacing", o.cases.plan.dose_spacing_mm, "Dose grid, mm")->capture_default_str();
  sub->add_option("--arc-spacing", opt->arc_spacing_deg, "Control-point spacing of the two arcs, deg")->capture_default_str();
  sub->add_flag("--predictor", o.use_predictor, "Meta-train on the dose predictor instead of the engine");
  return {sub, [opt, &global] { return run_train_l2plan(*opt, global); }};
}

}  // namespace vmatplan::cli
