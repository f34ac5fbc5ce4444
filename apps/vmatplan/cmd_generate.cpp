// vmatplan generate: patient -> deliverable VMAT plan folder (RP.dcm, RD.dcm, plan.json,
// summary.json, dvh.svg, report.html). Progress on stderr; a summary (or --json) on stdout.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/pipeline/fluence_stages.h"
#include "vmatplan/pipeline/l2plan_refiners.h"
#include "vmatplan/pipeline/generate.h"

namespace vmatplan::cli {
namespace {

struct GenerateCmdOptions {
  GenerateOptions plan;
  bool json = false;
  LearnedRefinerSettings refine;
  std::vector<std::string> objective_weights;  // ROLE=FACTOR
};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

int run_generate(GenerateCmdOptions opt, const GlobalOptions& global) {
  opt.plan.threads = global.threads;
  for (const std::string& w : opt.objective_weights) opt.plan.objective_weight_factors.push_back(parse_objective_weight(w));
  register_learned_refiners(opt.refine);
  const bool tty = isatty(fileno(stderr));
  std::string last_stage;
  auto progress = [&](const StageProgress& p) {
    // On a terminal one line is rewritten; in a log, one line per stage start and end.
    if (!tty && p.fraction > 0 && p.fraction < 1) return;
    // Loading is quick, and a refused input should leave its one error line alone.
    if (p.stage == "load" && p.fraction == 0) return;
    if (tty && !last_stage.empty() && p.stage != last_stage) std::fprintf(stderr, "\n");
    std::fprintf(stderr, tty ? "\rgenerate: %-10s %3.0f%%  %7.1f s" : "generate: %-10s %3.0f%%  %7.1f s\n",
                 p.stage.c_str(), 100.0 * p.fraction, p.elapsed_s);
    std::fflush(stderr);
    last_stage = p.stage;
  };
  const GenerateResult r = generate_plan(opt.plan, progress);
  if (tty) std::fprintf(stderr, "\n");

  if (opt.json) {
    std::cout << r.summary.dump(2) << "\n";
    return 0;
  }
  std::printf("wrote %s: goals %d passed / %d failed, %.1f MU per fraction, %.0f s beam-on, "
              "MCSv %.3f, %.1f s\n",
              r.out.c_str(), r.evaluation.goals_passed(), r.evaluation.goals_failed(),
              r.complexity.total_mu, r.complexity.delivery_time_s, r.complexity.mcsv, r.total_seconds);
  for (const auto& [stage, s] : r.stage_seconds) std::printf("  %-10s %8.2f s\n", stage.c_str(), s);
  for (const GoalResult& g : r.evaluation.goals) {
    if (g.status == GoalStatus::kNotEvaluated) continue;
    std::printf("  %-4s %-16s %-9s %2s %7.2f  value %7.2f %s\n", g.pass ? "PASS" : "FAIL",
                g.structure.c_str(), g.goal.metric.text.c_str(),
                g.goal.comparison == GoalComparison::kAtMost ? "<=" : ">=", g.goal.acceptable,
                g.value, g.goal.metric.value_unit().c_str());
  }
  std::printf("open %s/report.html\n", r.out.c_str());
  return 0;
}

}  // namespace

void add_plan_options(CLI::App* sub, GenerateOptions& p, const std::string& protocol_help) {
  sub->add_option("--protocol", p.protocol, protocol_help)->capture_default_str();
  sub->add_option("--machine", p.machine, "Machine config name or path")->capture_default_str();
  sub->add_option("--arcs", p.arcs, "Arcs as start:stop:cw|ccw[:spacing[:collimator[:couch]]] (default: two full arcs, 4 deg)");
  sub->add_option("--generator", p.generator,
                  "Fluence generator (" + joined(fluence_generator_names()) +
                      "): auto (default) the fmd student where its shipped weights are found and the plan's "
                      "fluence grid fits its canvas, else classical (always classical with --training-set); "
                      "classical optimiser; fmd one-step student, fmd-teacher its diffusion teacher; "
                      "baselines fmd-regression (same network, plain regression) and open-field (constant "
                      "fluence on the PTV's beam's-eye view); docs/fmd.md")
      ->capture_default_str();
  sub->add_option("--refiner", p.refiner, "Fluence refiner (" + joined(fluence_refiner_names()) + ")")
      ->capture_default_str();
  sub->add_option("--bixel", p.fluence.bixel_width_mm, "Bixel width, mm")->capture_default_str();
  sub->add_option("--dose-spacing", p.fluence.dose_spacing_mm, "Optimisation dose grid, mm")->capture_default_str();
  sub->add_option("--max-iter", p.fluence.optimizer.max_iterations, "Optimiser iteration limit")->capture_default_str();
  sub->add_option("--final-dose-spacing", p.final_dose_spacing_mm,
                  "Final dose grid, mm (2.5 mm: ~30 s and ~7 GB set-up on a pelvis)")->capture_default_str();
  sub->add_option("--final-dose-cp-spacing", p.final_dose_cp_spacing_deg,
                  "Largest gantry step of the final dose calculation, deg")
      ->capture_default_str();
  sub->add_option("--sequencer", p.sequencer_method,
                  "Leaf sequencer: apertures (one per control point + direct aperture optimisation) "
                  "or sweep (sector sliding window + MU re-optimisation)")
      ->check(CLI::IsMember({"apertures", "sweep"}))
      ->capture_default_str();
  sub->add_flag("!--no-meterset", p.meterset, "Skip the aperture / MU optimisation after sequencing");
  sub->add_option("--dao-iter", p.aperture_max_iterations,
                  "Direct aperture optimisation iteration limit (default: 15 after the fmd generator's "
                  "fluence, 25 after the others')")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("!--no-final-grid-correction", p.final_grid_correction,
                "Do not re-run DAO against the final grid's dose when a goal met on the optimisation "
                "grid fails on the final dose (only warn)");
  sub->add_option("--meterset-iter", p.meterset_max_iterations, "Meterset iteration limit")->capture_default_str();
  sub->add_option("--seed", p.fluence.seed, "Seed of the initial-fluence jitter")->capture_default_str();
  sub->add_option("--weights", p.learned.weights_dir,
                  "FMD model folder (default: the shipped models/fmd; fmd-regression: models/fmd-regression)");
  sub->add_option("--fmd-seed", p.learned.seed, "FMD noise seed (another seed, another plan; fmd, fmd-teacher)")
      ->capture_default_str();
  sub->add_option("--sampler-steps", p.learned.sampler_steps, "fmd-teacher: EDM Heun steps")->capture_default_str();
}

Command register_generate(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<GenerateCmdOptions>();
  GenerateOptions& p = opt->plan;
  CLI::App* sub = app.add_subcommand("generate", "Patient -> deliverable VMAT plan (RT Plan, RT Dose, report)");
  sub->add_option("--patient", p.patient, "DICOM folder, image folder or matRad .mat")->required();
  add_plan_options(sub, p, "Protocol name or JSON path");
  sub->add_option("--out", p.out, "Output folder")->required();
  sub->add_flag("--overwrite", p.overwrite, "Replace an existing output folder");
  sub->add_flag("--training-export", p.training_export,
                "Also write training.safetensors (BEV conditioning + refined fluence, docs/training_set.md)");
  sub->add_flag("--json", opt->json, "Print summary.json on stdout");
  sub->add_option("--refine-steps", opt->refine.steps, "Step budget of the l2plan/pgd/adam/lbfgs refiners")
      ->capture_default_str();
  sub->add_option("--l2plan-model", opt->refine.model_dir, "L2Plan model folder (default: models/l2plan)");
  sub->add_option("--refine-dose", opt->refine.dose, "Dose model of the refiner's gradients: engine or predictor")
      ->capture_default_str();
  sub->add_option("--objective-weight", opt->objective_weights,
                  "ROLE=FACTOR: multiply that role's objective weights (every stage; repeatable)");
  CLI::Option* from = sub->add_option("--from", p.from_plan,
                                      "Re-plan from an earlier plan's fluence (its folder or fluence.json); "
                                      "refined with --refiner (default lbfgs) for this protocol");
  CLI::Option* generator = sub->get_option("--generator");
  CLI::Option* refiner = sub->get_option("--refiner");
  from->excludes(generator);
  // The earlier plan's geometry and fluence grid are kept.
  from->excludes(sub->get_option("--arcs"));
  from->excludes(sub->get_option("--bixel"));
  return {sub, [opt, &global, from, refiner] {
            if (from->count() > 0) {
              opt->plan.generator = "plan";
              if (refiner->count() == 0) opt->plan.refiner = "lbfgs";
            }
            return run_generate(*opt, global);
          }};
}

}  // namespace vmatplan::cli
