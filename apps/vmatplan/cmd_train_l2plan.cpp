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
#include "vmatplan/core/config_path.h"
#include "vmatplan/learn/fmd_canvas.h"
#include "vmatplan/learn/fmd_model_io.h"
#include "vmatplan/learn/l2plan_training.h"
#include "vmatplan/pipeline/fmd_generator.h"
#include "vmatplan/pipeline/training_set.h"

namespace fs = std::filesystem;

namespace vmatplan::cli {
namespace {

struct TrainL2PlanCmdOptions {
  L2PlanTrainOptions train;
  std::string data;  // folder of patient folders
  double arc_spacing_deg = 4.0;
  std::string start;        // fmd | conformal; "" = fmd when the FMD weights are found
  std::string fmd_weights;  // "" = models/fmd
  double start_noise = -1;  // < 0: 0.1 from the FMD start, 0.3 from the conformal start
};

// --start fmd: the FMD student's fluence with the episode's noise seed (pipeline's FMD
// generator, the same call as bench_refiner --start fmd).
void set_start(TrainL2PlanCmdOptions& opt) {
  L2PlanTrainOptions& o = opt.train;
  const std::string dir = opt.fmd_weights.empty() ? model_dir("fmd") : opt.fmd_weights;
  std::string start = opt.start;
  if (start.empty()) start = fs::exists(dir + "/manifest.json") ? "fmd" : "conformal";
  if (start != "fmd" && start != "conformal") throw UsageError("--start: expected fmd or conformal, got '" + start + "'");
  o.start = start;
  o.start_noise = opt.start_noise >= 0 ? opt.start_noise : (start == "fmd" ? 0.1 : 0.3);
  if (start != "fmd") return;
  const LoadedFmdNetwork student = load_fmd_network(dir, "student", kTrainingSetVersion, FmdCanvas{});
  o.start_info = {{"fmd_weights_dir", dir},
                  {"fmd_student_sha256", student.weights_sha256},
                  {"scaled", "target mean dose = prescription"}};
  const std::string protocol_name = o.protocol, machine_name = o.machine;
  const double arc_spacing = opt.arc_spacing_deg;
  const ClassicalPlanOptions plan = o.cases.plan;
  auto protocol = std::make_shared<const Protocol>(load_protocol(protocol_name));
  auto roles = std::make_shared<const StructureRoles>(StructureRoles::load_default());
  auto machine = std::make_shared<Machine>(Machine::load_named(machine_name));
  machine->max_cp_spacing_deg = std::max(machine->max_cp_spacing_deg, arc_spacing);
  o.start_fluence = [=](const Patient& patient, const RefineCase& refine, uint64_t seed) {
    return fmd_refine_start(patient, *protocol, *machine, *roles, plan, refine, dir, seed);
  };
}

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
  set_start(opt);
  // The effective command, for the manifest (patients listed after --data expansion).
  o.command = {"vmatplan", "--threads", std::to_string(global.threads), "train", "l2plan", "--out", o.out,
               "--seed", std::to_string(o.seed), "--epochs", std::to_string(o.epochs), "--unroll",
               std::to_string(o.unroll), "--steps", std::to_string(o.steps), "--lr", std::to_string(o.learning_rate),
               "--hidden", std::to_string(o.arch.hidden), "--protocol", o.protocol, "--bixel",
               std::to_string(o.cases.plan.bixel_width_mm), "--dose-spacing", std::to_string(o.cases.plan.dose_spacing_mm),
               "--arc-spacing", std::to_string(opt.arc_spacing_deg), "--start", o.start, "--start-noise",
               std::to_string(o.start_noise), "--cache-cases", std::to_string(o.max_cached_cases)};
  if (o.start == "fmd") o.command.insert(o.command.end(), {"--fmd-weights", o.start_info["fmd_weights_dir"].get<std::string>()});
  if (!o.arch.row_prior) o.command.push_back("--no-row-prior");
  if (!o.arch.cp_prior) o.command.push_back("--no-cp-prior");
  if (o.arch.qn_memory > 0)
    o.command.insert(o.command.end(), {"--qn-memory", std::to_string(o.arch.qn_memory), "--qn-max", std::to_string(o.arch.qn_max)});
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
  sub->add_option("--qn-memory", o.arch.qn_memory,
                  "L-BFGS pairs of the quasi-Newton term (an input and a learned share of the L-BFGS step); 0 = none")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  sub->add_option("--qn-max", o.arch.qn_max, "Largest share |Q| of the L-BFGS step")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--protocol", o.protocol, "Base protocol (randomised per episode)")->capture_default_str();
  sub->add_option("--bixel", o.cases.plan.bixel_width_mm, "Bixel width, mm")->capture_default_str();
  sub->add_option("--dose-spacing", o.cases.plan.dose_spacing_mm, "Dose grid, mm")->capture_default_str();
  sub->add_option("--arc-spacing", opt->arc_spacing_deg, "Control-point spacing of the two arcs, deg")->capture_default_str();
  sub->add_flag("--predictor", o.use_predictor, "Meta-train on the dose predictor instead of the engine");
  sub->add_option("--start", opt->start,
                  "Episode start: fmd (the FMD student, a noise seed per episode) or conformal; default fmd when "
                  "the FMD weights are found");
  sub->add_option("--fmd-weights", opt->fmd_weights, "FMD model folder for --start fmd (default models/fmd)");
  sub->add_option("--start-noise", opt->start_noise,
                  "Multiplicative start noise: x (1 + U(-n, n)) per bixel (default 0.1 from fmd, 0.3 from conformal)");
  sub->add_option("--cache-cases", o.max_cached_cases,
                  "Keep every patient's engine in memory when there are at most this many patients")
      ->capture_default_str();
  return {sub, [opt, &global] { return run_train_l2plan(*opt, global); }};
}

}  // namespace vmatplan::cli
