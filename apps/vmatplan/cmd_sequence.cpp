// vmatplan sequence: fluence plan (PLAN.json) -> deliverable plan (PLAN2.json): MLC apertures
// and meterset weights per control point (--sequencer apertures: one aperture per control
// point; sweep: sector-wise sliding window; sequence/arc_sequencer.h), checked against the
// machine. PLAN2 keeps the plan-file format: its fluence is what the apertures deliver
// (partial bixel opening + transmission), extra.delivery holds the control points.
// With --patient the plan is then optimised against the protocol with the dose engine
// (apertures: leaves and MU, optimize/aperture_optimizer.h; sweep: the MU per interval,
// optimize/meterset_optimizer.h) and normalised per the protocol's rule; the objective of
// the fluence plan itself is reported beside it, so the loss from deliverability shows.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/io/patient_loader.h"
#include <torch/torch.h>

#include "vmatplan/optimize/aperture_optimizer.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/complexity.h"
#include "vmatplan/sequence/delivered_fluence.h"

namespace vmatplan::cli {
namespace {

struct SequenceCmdOptions {
  std::string plan;
  std::string out;
  std::string machine;
  bool overwrite = false;
  SequencerOptions seq;
  std::string method = "apertures";
  int dao_iterations = ApertureOptimizerOptions{}.max_iterations;
  // Meterset re-optimization (only with a patient).
  std::string patient;
  std::string protocol = kDefaultProtocol;
  double dose_spacing_mm = 5.0;
  int threads = 1;
};

int run_sequence(const SequenceCmdOptions& opt) {
  check_output_separate("--out", opt.out, {{"--plan", opt.plan}, {"--patient", opt.patient},
                                           {"--protocol", opt.protocol}});
  check_output_writable(opt.out, opt.overwrite, true);
  check_output_writable(plan_tensor_path(opt.out), opt.overwrite, true);
  const PlanFile in = load_plan(opt.plan);
  const Machine machine = Machine::load_named(opt.machine.empty() ? in.machine_name : opt.machine);
  SequencerOptions so = opt.seq;
  so.method = parse_sequencer_method(opt.method);
  SequencedPlan s = sequence_arcs(in, machine, so);
  const bool dao = so.method == SequencerMethod::kApertures;
  nlohmann::json reopt = {{"status", "not done (needs --patient)"}};
  if (!opt.patient.empty()) {
    set_dose_engine_threads(opt.threads);
    const Patient patient = load_patient(opt.patient);
    const Protocol protocol = load_protocol(opt.protocol);
    const StructureRoles roles = StructureRoles::load_default();
    DoseEngineOptions eo;
    eo.dose_spacing_mm = opt.dose_spacing_mm;
    const PencilBeamEngine engine(patient, machine, in.geometry, in.fluence.grid, eo);
    const PlanObjective objective(patient, protocol, roles, engine.dose_grid(), engine.compute_voxels());
    double objective_fluence = 0;
    {
      torch::NoGradGuard ng;
      const FluenceGrid& g = in.fluence.grid;
      const torch::Tensor f = torch::from_blob(const_cast<float*>(in.fluence.values.data()),
                                               {in.fluence.control_point_count, g.row_count(), g.bixel_count},
                                               torch::kFloat);
      objective_fluence = objective.value(engine.dose_at_voxels(f).to(torch::kDouble)).item<double>();
    }
    double obj_seq = 0, obj_opt = 0, obj_final = 0, scale = 1, mu_seq = 0, mu_final = 0, seconds = 0;
    int iterations = 0;
    PlanEvaluation evaluation;
    std::vector<Violation> violations;
    if (dao) {
      ApertureOptimizerOptions ao;
      ao.max_iterations = opt.dao_iterations;
      const ApertureResult r = optimize_apertures(s.plan, engine, in.geometry, objective,
                                                  {patient, protocol, roles}, machine, ao);
      s.plan = r.plan, violations = r.violations, evaluation = r.evaluation;
      obj_seq = r.objective_sequenced, obj_opt = r.objective_optimized, obj_final = r.objective_final;
      scale = r.normalisation_scale, iterations = r.iterations, mu_seq = r.mu_sequenced;
      mu_final = r.mu_final, seconds = r.seconds;
    } else {
      const MetersetResult r = optimize_meterset(s.plan, engine, in.geometry, objective,
                                                 {patient, protocol, roles}, machine, {});
      s.plan = r.plan, violations = r.violations, evaluation = r.evaluation;
      obj_seq = r.objective_sequenced, obj_opt = r.objective_optimized, obj_final = r.objective_final;
      scale = r.normalisation_scale, iterations = r.iterations, mu_seq = r.mu_sequenced;
      mu_final = r.mu_final, seconds = r.seconds;
    }
    if (!violations.empty())
      throw ProcessingError(std::string(dao ? "aperture optimisation" : "meterset re-optimization") +
                            " made an undeliverable plan: " + format_violation(violations.front()));
    reopt = {{"status", "applied"},
             {"method", dao ? "direct aperture optimisation (leaves and MU)"
                            : "projected L-BFGS on the interval MU, apertures fixed"},
             {"protocol", protocol.name},
             {"objective_fluence_plan", objective_fluence},
             {"objective_sequenced", obj_seq},
             {"objective_optimized", obj_opt},
             {"objective_final", obj_final},
             {"normalisation_scale", scale},
             {"iterations", iterations},
             {"mu_sequenced", mu_seq},
             {"mu_final", mu_final},
             {"goals_passed", evaluation.goals_passed()},
             {"goals_failed", evaluation.goals_failed()},
             {"seconds", seconds}};
    spdlog::info("{}: objective fluence plan {:.4g}, sequenced {:.4g} -> {:.4g}, {:.1f} -> {:.1f} MU, "
                 "{} goals passed, {:.2f} s",
                 dao ? "aperture optimisation" : "meterset re-optimization", objective_fluence, obj_seq,
                 obj_final, mu_seq, mu_final, evaluation.goals_passed(), seconds);
  }
  const PlanComplexity cx = compute_complexity(s.plan, machine);

  PlanFile out;
  out.machine_name = opt.machine.empty() ? in.machine_name : opt.machine;
  out.geometry = delivered_geometry(s.plan, in.geometry);
  out.fluence = delivered_fluence(s.plan, in.fluence.grid, machine, {});
  out.extra = in.extra.is_object() ? in.extra : nlohmann::json::object();
  out.extra["delivery"] = delivery_plan_to_json(s.plan);
  out.extra["sequencing"] = {
      {"source_plan", opt.plan},
      {"method", dao ? "one aperture per control point (sector level decomposition)"
                     : "sector-wise sliding window (Craft et al. 2012)"},
      {"sector_deg", dao ? opt.seq.aperture_sector_deg : opt.seq.sector_deg},
      {"sector_edges", s.sector_edges},
      {"fluence", "delivered by the apertures, incl. transmission, MU over all fractions"},
      {"meterset_reoptimization", reopt},
      {"complexity", complexity_to_json(cx)}};
  save_plan(out, opt.out, opt.overwrite);

  char line[256];
  std::snprintf(line, sizeof line,
                "sequenced %zu beams: %.1f MU per fraction (%.1f MU/Gy), %.1f s beam-on, MCSv %.3f\n",
                s.plan.beams.size(), cx.total_mu, cx.mu_per_gy, cx.delivery_time_s, cx.mcsv);
  std::cout << line << "wrote " << opt.out << "\n";
  return 0;
}

}  // namespace

Command register_sequence(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<SequenceCmdOptions>();
  CLI::App* sub = app.add_subcommand(
      "sequence", "Turn a fluence plan into MLC apertures and MU per control point");
  sub->add_option("--plan", opt->plan, "Fluence plan (PLAN.json + PLAN.safetensors)")->required();
  sub->add_option("--out", opt->out, "Deliverable plan to write (PLAN2.json)")->required();
  sub->add_option("--machine", opt->machine, "Machine config (default: the plan's)");
  sub->add_option("--sequencer", opt->method,
                  "apertures (one per control point, then leaves + MU optimised with --patient) "
                  "or sweep (sector sliding window, then MU optimised with --patient)")
      ->check(CLI::IsMember({"apertures", "sweep"}))
      ->capture_default_str();
  sub->add_option("--sector-deg", opt->seq.sector_deg, "sweep: arc sector delivered by one leaf sweep")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 360.0));
  sub->add_option("--aperture-sector-deg", opt->seq.aperture_sector_deg,
                  "apertures: arc sector of one level decomposition")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 360.0));
  sub->add_option("--dao-iter", opt->dao_iterations, "apertures: aperture optimisation iteration limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--fractions", opt->seq.fractions, "Fractions (fluence is for the whole plan)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("--dose-gy", opt->seq.prescription_dose_gy, "Prescription over all fractions")
      ->capture_default_str();
  sub->add_option("--target", opt->seq.target_name, "Target name for the dose reference")
      ->capture_default_str();
  sub->add_option("--patient", opt->patient,
                  "Patient (DICOM folder, image folder or matRad .mat): re-optimize the MU")
      ->check(CLI::ExistingPath);
  sub->add_option("--protocol", opt->protocol, "Protocol for the MU re-optimization")
      ->capture_default_str();
  sub->add_option("--dose-spacing", opt->dose_spacing_mm, "Dose grid of the re-optimization (mm)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 20.0));
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing output");
  return {sub, [opt, &global] {
            opt->threads = global.threads;
            return run_sequence(*opt);
          }};
}

}  // namespace vmatplan::cli
