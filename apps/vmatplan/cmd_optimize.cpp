// vmatplan optimize: classical fluence-map optimisation of a patient for a protocol; writes
// the plan file (geometry, fluence, objective history, clinical-goal table in `extra`).
// Progress goes to stderr; a one-line summary (or --json) to stdout.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/dose/hu_to_red.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/patient/patient_checks.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/optimize/classical_planner.h"

namespace vmatplan::cli {
namespace {

struct OptimizeCommandOptions {
  std::string patient;
  std::string protocol = kDefaultProtocol;
  std::string machine = "generic_6mv_mlc120";
  std::vector<std::string> arcs;  // empty: two full arcs at 4 deg
  ClassicalPlanOptions plan;
  std::string out;
  bool json = false;
  bool overwrite = false;
};

nlohmann::json summary_json(const ClassicalPlan& p, const Protocol& protocol,
                            const OptimizeCommandOptions& opt) {
  nlohmann::json history = nlohmann::json::array();
  for (const IterationRecord& r : p.optimization.history)
    history.push_back({{"iteration", r.iteration}, {"objective", r.objective},
                       {"dose_objective", r.dose_objective}, {"smoothness", r.smoothness},
                       {"evaluations", r.evaluations}, {"seconds", r.seconds}});
  nlohmann::json terms = nlohmann::json::array();
  for (size_t i = 0; i < p.term_labels.size(); ++i)
    terms.push_back({{"term", p.term_labels[i]}, {"value", p.term_values[i]}});
  return {{"optimizer", "projected L-BFGS (classical)"},
          {"protocol", protocol.name},
          {"patient", opt.patient},
          {"seed", opt.plan.seed},
          {"iterations", p.optimization.iterations},
          {"evaluations", p.optimization.evaluations},
          {"stop_reason", p.optimization.stop_reason},
          {"optimization_seconds", p.optimization.seconds},
          {"engine_setup_seconds", p.engine_setup_seconds},
          {"total_seconds", p.total_seconds},
          {"dose_spacing_mm", opt.plan.dose_spacing_mm},
          {"bixel_width_mm", opt.plan.bixel_width_mm},
          {"f_max_mu", p.optimization.f_max_mu},
          {"normalisation", {{"role", protocol.prescription.normalisation.role},
                             {"metric", protocol.prescription.normalisation.metric},
                             {"value_gy", protocol.prescription.normalisation.value_gy},
                             {"scale", p.normalisation_scale}}},
          {"goals_passed", p.evaluation.goals_passed()},
          {"goals_failed", p.evaluation.goals_failed()},
          {"goals", goals_table_json(p.evaluation)},
          {"objective_terms", terms},
          {"skipped_objectives", p.skipped_objectives},
          {"history", history}};
}

int run_optimize(OptimizeCommandOptions opt, const GlobalOptions& global) {
  set_dose_engine_threads(global.threads);
  // Output checks first: an existing plan is never replaced without --overwrite, and an
  // unwritable place fails before the optimiser runs.
  check_output_separate("--out", opt.out, {{"--patient", opt.patient}, {"--protocol", opt.protocol},
                                           {"--machine", opt.machine}});
  check_output_writable(opt.out, opt.overwrite, true);
  check_output_writable(plan_tensor_path(opt.out), opt.overwrite, true);
  if (!opt.arcs.empty()) {
    opt.plan.arcs.clear();
    for (const std::string& a : opt.arcs) opt.plan.arcs.push_back(parse_arc_spec(a));
  }
  const Protocol protocol = load_protocol(opt.protocol);
  const Machine machine = Machine::load_named(opt.machine);
  const StructureRoles roles = StructureRoles::load_default();
  const Patient patient = load_patient(opt.patient);
  if (!protocol.prescription.targets.empty()) {
    const Structure& target = roles.resolve(patient, protocol.prescription.targets.front().role);
    for (const std::string& w : planning_checks(patient, target, roles.find(patient, "body"),
                                                HuToRed::load_default().hu_points().back()))
      spdlog::warn("{}: {}", opt.patient, w);
  }
  spdlog::info("optimizing {} with protocol {} ({} arcs, {} mm bixels, {} mm dose grid)",
               patient.source, protocol.name, opt.plan.arcs.size(), opt.plan.bixel_width_mm,
               opt.plan.dose_spacing_mm);
  opt.plan.optimizer.progress = [](const IterationRecord& r) {
    std::fprintf(stderr, "\roptimize: iteration %4d  objective %12.5g  (dose %.5g, smooth %.3g)  %6.1f s",
                 r.iteration, r.objective, r.dose_objective, r.smoothness, r.seconds);
    std::fflush(stderr);
  };
  ClassicalPlan p = make_classical_plan(patient, protocol, machine, roles, opt.plan);
  std::fprintf(stderr, "\n");
  for (const std::string& s : p.skipped_objectives) spdlog::warn("objective skipped: {}", s);

  PlanFile file;
  file.machine_name = opt.machine;
  file.geometry = p.geometry;
  file.fluence = p.fluence;
  nlohmann::json summary = summary_json(p, protocol, opt);
  file.extra["optimization"] = summary;
  save_plan(file, opt.out, opt.overwrite);

  if (opt.json) {
    summary["plan"] = opt.out;
    std::cout << summary.dump(2) << "\n";
  } else {
    std::printf("wrote %s: %d iterations (%s) in %.1f s, goals %d passed / %d failed, "
                "normalisation x%.4f\n",
                opt.out.c_str(), p.optimization.iterations, p.optimization.stop_reason.c_str(),
                p.total_seconds, p.evaluation.goals_passed(), p.evaluation.goals_failed(),
                p.normalisation_scale);
    for (const GoalResult& g : p.evaluation.goals)
      std::printf("  %-8s %-18s %-9s %2s %8.2f  value %8.2f %s  %s\n", g.goal.role.c_str(),
                  g.structure.c_str(), g.goal.metric.text.c_str(),
                  g.goal.comparison == GoalComparison::kAtMost ? "<=" : ">=", g.goal.acceptable,
                  g.value, g.goal.metric.value_unit().c_str(), to_string(g.status));
  }
  return 0;
}

}  // namespace

Command register_optimize(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<OptimizeCommandOptions>();
  CLI::App* sub = app.add_subcommand("optimize", "Classical fluence-map optimisation (projected L-BFGS)");
  sub->add_option("--patient", opt->patient, "DICOM folder, image folder or matRad .mat")->required();
  sub->add_option("--protocol", opt->protocol, "Protocol name or JSON path")->capture_default_str();
  sub->add_option("--machine", opt->machine, "Machine config name or path")->capture_default_str();
  sub->add_option("--arcs", opt->arcs, "Arcs as start:stop:cw|ccw[:spacing[:collimator[:couch]]] (default: two full arcs, 4 deg)");
  sub->add_option("--bixel", opt->plan.bixel_width_mm, "Bixel width, mm")->capture_default_str();
  sub->add_option("--dose-spacing", opt->plan.dose_spacing_mm, "Dose grid spacing, mm")->capture_default_str();
  sub->add_option("--max-iter", opt->plan.optimizer.max_iterations, "Iteration limit")->capture_default_str();
  sub->add_option("--tolerance", opt->plan.optimizer.relative_tolerance,
                  "Stop when the objective fell by less than this fraction over the last 10 iterations")->capture_default_str();
  sub->add_option("--seed", opt->plan.seed, "Seed of the initial-fluence jitter")->capture_default_str();
  sub->add_option("--out", opt->out, "Plan file to write (PLAN.json + PLAN.safetensors)")->required();
  sub->add_flag("--json", opt->json, "Print the optimisation summary as JSON on stdout");
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing plan file");
  return {sub, [opt, &global] { return run_optimize(*opt, global); }};
}

}  // namespace vmatplan::cli
