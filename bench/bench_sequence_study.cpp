// Sequencing study (issue 5): synthetic pelvis patients (phantom seeds 1..N, default CT
// resolution) with the 60 Gy / 20 fx protocol at the default plan resolution (two full arcs
// at 4 deg, 5 mm bixels, 5 mm dose grid):
//   classical fluence plan -> sliding-window sequencing -> meterset re-optimization,
// comparing the dose from the apertures (same engine, partial bixel opening and
// transmission) with the dose of the optimized fluence: gamma 3 %/2 mm global, 10 %
// threshold (reference = fluence dose), clinical goals met, MU per fraction, and the time
// of sequencing + re-optimization (target <= 3 s on 2 cores, issue 11). Prints one row per patient and
// a JSON line per patient; never asserts.
//
// Sequencer (issue 11): "apertures" (one aperture per control point + direct aperture
// optimisation of leaves and MU) or "sweep" (sector sliding window + MU re-optimisation).
//
//   bench_sequence_study [threads=2] [patients=10] [apertures|sweep] [first_seed=1]
//                        [plan_cache_dir|-] [key=value ...]
// plan_cache_dir: fluence plans are read from DIR/seed<N>.json when there, else planned and
// written there (the fluence stage is deterministic, so a study of the later stages need
// not re-plan). key=value sets a later-stage option for a study: sector_deg, cp_deg,
// floor (sequencer), dao_iter, mu_weight, first_step, tolerance, mu_precond, memory,
// normalise_first
// (aperture optimiser), generator=NAME: the fluence generator (default classical; fmd is
// `generate`'s default, the shipped FMD student, cached as seed<N>.NAME.json), with the
// DAO iteration limit `generate` uses after it (dao_iteration_limit) unless dao_iter is set.
// Times: set-up of the 5 mm engine (setup_s; `generate` counts it in its aperture stage
// when the fluence stage built none, as the learned generators do), sequencing (seq_s) and
// aperture optimisation (reopt_s, without the goal evaluation, as in `generate`).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <string>

#include "bench_support.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/optimize/aperture_optimizer.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/pipeline/delivery_stages.h"
#include "vmatplan/pipeline/fluence_stages.h"
#include "vmatplan/pipeline/generate.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/complexity.h"

using namespace vmatplan;

namespace {

double since_s(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time (user + sys) of this process so far: on a shared machine it varies less than
// wall time.
double cpu_s() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Goals met among those the fluence plan met (the criterion), and in total.
struct GoalCount {
  int kept = 0, of = 0, met = 0, total = 0;
};
GoalCount count_goals(const PlanEvaluation& fluence, const PlanEvaluation& other) {
  GoalCount c;
  for (size_t k = 0; k < other.goals.size() && k < fluence.goals.size(); ++k) {
    c.total += 1, c.met += other.goals[k].pass ? 1 : 0;
    if (fluence.goals[k].pass) c.of += 1, c.kept += other.goals[k].pass ? 1 : 0;
  }
  return c;
}

// The fluence plan with every sector's fluence spread evenly over its control points.
FluenceMaps sector_smeared(const ClassicalPlan& fp, const SequencedPlan& s) {
  FluenceMaps out = fp.fluence;
  const size_t per = out.grid.size_per_control_point();
  size_t first = 0;
  for (size_t b = 0; b < fp.geometry.beams.size(); ++b) {
    const size_t n = fp.geometry.beams[b].control_points.size();
    const auto& edges = s.sector_edges[b];
    for (size_t k = 0; k + 1 < edges.size(); ++k) {
      // Control points [c0, c1), the last sector also its end point.
      const size_t c0 = edges[k] / s.subdivision;
      const size_t c1 = k + 2 == edges.size() ? n : edges[k + 1] / s.subdivision;
      std::vector<double> sum(per, 0.0);
      for (size_t c = c0; c < c1; ++c)
        for (size_t i = 0; i < per; ++i) sum[i] += fp.fluence.values[(first + c) * per + i];
      for (size_t c = c0; c < c1; ++c)
        for (size_t i = 0; i < per; ++i)
          out.values[(first + c) * per + i] = static_cast<float>(sum[i] / (c1 - c0));
    }
    first += n;
  }
  return out;
}

// The protocol objective of a fluence (no MU term).
double fluence_objective(const PlanObjective& objective, const PencilBeamEngine& engine,
                         const FluenceMaps& maps) {
  torch::NoGradGuard ng;
  const FluenceGrid& g = maps.grid;
  const torch::Tensor f = torch::from_blob(const_cast<float*>(maps.values.data()),
                                           {maps.control_point_count, g.row_count(), g.bixel_count},
                                           torch::kFloat);
  return objective.value(engine.dose_at_voxels(f).to(torch::kDouble)).item<double>();
}

}  // namespace

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int patients = argc > 2 ? std::atoi(argv[2]) : 10;
  SequencerOptions so;
  so.method = parse_sequencer_method(argc > 3 ? argv[3] : "apertures");
  const int first_seed = argc > 4 ? std::atoi(argv[4]) : 1;
  const std::string cache_dir = argc > 5 && std::string(argv[5]) != "-" ? argv[5] : "";
  ApertureOptimizerOptions ao;
  std::string generator = "classical";
  bool dao_iter_set = false;
  for (int a = 6; a < argc; ++a) {
    const std::string kv = argv[a];
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    const double v = eq == std::string::npos ? 0.0 : std::atof(kv.c_str() + eq + 1);
    if (key == "generator") generator = eq == std::string::npos ? "" : kv.substr(eq + 1);
    else if (key == "sector_deg") so.aperture_sector_deg = v;
    else if (key == "cp_deg") so.aperture_cp_spacing_deg = v;
    else if (key == "floor") so.aperture_floor = v;
    else if (key == "dao_iter") ao.max_iterations = static_cast<int>(v), dao_iter_set = true;
    else if (key == "mu_weight") ao.mu_weight = v;
    else if (key == "first_step") ao.first_step = v;
    else if (key == "tolerance") ao.relative_tolerance = v;
    else if (key == "mu_precond") ao.mu_preconditioning = v;
    else if (key == "memory") ao.memory = static_cast<int>(v);
    else if (key == "normalise_first") ao.normalise_first = v != 0;
    else {
      std::fprintf(stderr, "unknown option '%s'\n", kv.c_str());
      return 2;
    }
    std::printf("option %s\n", kv.c_str());
  }
  const bool dao = so.method == SequencerMethod::kApertures;
  const bool classical = generator == "classical";
  set_thread_count(threads);
  set_dose_engine_threads(threads);
  const Machine machine = Machine::load_named("generic_6mv_mlc120");
  const Protocol protocol = load_protocol(kDefaultProtocol);
  const StructureRoles roles = StructureRoles::load_default();
  GammaOptions go;  // 3 %/2 mm, global, 10 % threshold

  std::printf("bench_sequence_study: %d patients (seeds %d..), generator %s, sequencer %s, %d threads, protocol %s, machine %s\n",
              patients, first_seed, generator.c_str(), to_string(so.method), threads, protocol.name.c_str(),
              machine.name.c_str());
  std::printf("%-4s %6s | %7s %7s | %7s %7s | %9s %9s %9s | %7s %7s %7s %6s %5s | %6s %6s %6s %6s\n", "seed",
              "plan_s", "gam_seq", "gam_opt", "obj_seq", "obj_opt", "goals_flu", "goals_seq",
              "goals_opt", "MU_seq", "MU_opt", "MU/Gy", "beam_s", "MCSv", "setup", "seq_s", "reopt_s", "sum_s");
  int pass95 = 0, goals_kept = 0, seq_pass95 = 0, seq_goals_kept = 0;
  double worst_time = 0;
  std::vector<double> stage_times, with_setup_times, mu_per_gys, beam_on_times;
  for (int seed = first_seed; seed < first_seed + patients; ++seed) {
    PelvisPhantomOptions po;
    po.seed = static_cast<uint64_t>(seed);
    const Patient patient = make_pelvis_phantom(po);
    const std::string cached =
        cache_dir.empty() ? ""
                          : cache_dir + "/seed" + std::to_string(seed) + (classical ? "" : "." + generator) + ".json";
    ClassicalPlan fp;
    nlohmann::json fluence_info = nlohmann::json::object();
    if (!cached.empty() && std::filesystem::exists(cached)) {
      const PlanFile f = load_plan(cached);
      fp.geometry = f.geometry, fp.fluence = f.fluence, fluence_info = f.extra;
    } else {
      if (classical) {
        fp = make_classical_plan(patient, protocol, machine, roles, {});
      } else {
        const auto tg = std::chrono::steady_clock::now();
        const ClassicalPlanOptions plan_options;
        FluencePlan g = make_fluence_generator(generator)->generate({patient, protocol, machine, roles, plan_options, {}});
        fp.geometry = g.geometry, fp.fluence = g.fluence, fluence_info = g.info;
        fp.total_seconds = since_s(tg);
      }
      if (!cached.empty()) {
        std::filesystem::create_directories(cache_dir);
        save_plan({machine.name, fp.geometry, fp.fluence, fluence_info}, cached);
      }
    }
    if (!dao_iter_set) {
      FluencePlan as_generated;
      as_generated.info = fluence_info;
      ao.max_iterations = dao_iteration_limit(GenerateOptions{}, as_generated);
    }
    DoseEngineOptions eo;
    eo.dose_spacing_mm = 5.0;
    const auto t_setup = std::chrono::steady_clock::now();
    const PencilBeamEngine engine(patient, machine, fp.geometry, fp.fluence.grid, eo);
    const double setup_s = since_s(t_setup);
    const PlanObjective objective(patient, protocol, roles, engine.dose_grid(), engine.compute_voxels());
    const DoseImage dose_fluence = engine.dose_image(fp.fluence);
    // The fluence plan's goals and objective on this engine (the planner's own grid and
    // objective, so the same values make_classical_plan reports).
    fp.evaluation = evaluate_plan(patient, dose_fluence, protocol, roles);
    const double objective_fluence = fluence_objective(objective, engine, fp.fluence);

    PlanFile pf;
    pf.machine_name = machine.name;
    pf.geometry = fp.geometry;
    pf.fluence = fp.fluence;
    so.fractions = protocol.prescription.fractions;
    so.prescription_dose_gy = protocol.prescription.targets.front().dose_gy;
    auto t0 = std::chrono::steady_clock::now();
    const double cpu0_s = cpu_s();
    const SequencedPlan s = sequence_arcs(pf, machine, so);
    const double seq_s = since_s(t0);
    t0 = std::chrono::steady_clock::now();
    // Both optimisers report into the meterset result's fields.
    MetersetResult r;
    if (dao) {
      ao.evaluate_goals = false;  // as generate: evaluated below, outside the timing
      const ApertureResult a = optimize_apertures(s.plan, engine, fp.geometry, objective,
                                                  {patient, protocol, roles}, machine, ao);
      r.plan = a.plan, r.fluence = a.fluence, r.evaluation = a.evaluation;
      r.objective_sequenced = a.objective_sequenced, r.objective_optimized = a.objective_optimized;
      r.objective_final = a.objective_final, r.history = a.history;
      r.normalisation_scale = a.normalisation_scale, r.iterations = a.iterations;
      r.evaluations = a.evaluations, r.mu_sequenced = a.mu_sequenced, r.mu_final = a.mu_final;
      r.seconds = a.seconds, r.violations = a.violations;
    } else {
      r = optimize_meterset(s.plan, engine, fp.geometry, objective, {patient, protocol, roles}, machine, {});
    }
    const double reopt_s = since_s(t0);
    const double seq_reopt_cpu_s = cpu_s() - cpu0_s;

    // Aperture dose with the sequenced MU (no normalisation) and after re-optimization.
    const DoseImage dose_seq = engine.dose_image(
        aperture_fluence_on_geometry(s.plan, fp.fluence.grid, fp.geometry, machine));
    const DoseImage dose_opt = engine.dose_image(r.fluence);
    if (dao) r.evaluation = evaluate_plan(patient, dose_opt, protocol, roles);
    // Diagnostics of where the loss comes from: the same apertures without leaf/jaw
    // transmission, and the fluence plan with each sector's fluence spread evenly over the
    // sector's control points (angular smearing of sector-wise sequencing, no MLC at all).
    const DoseImage dose_no_tx = engine.dose_image(
        aperture_fluence_on_geometry(s.plan, fp.fluence.grid, fp.geometry, machine, false));
    const FluenceMaps smeared = sector_smeared(fp, s);
    const DoseImage dose_smear = engine.dose_image(smeared);
    // The loss from sector-wise delivery alone (no MLC).
    const double objective_smeared = fluence_objective(objective, engine, smeared);
    const GammaResult g_no_tx = compute_gamma(dose_fluence, dose_no_tx, go);
    const GammaResult g_smear = compute_gamma(dose_fluence, dose_smear, go);
    const GammaResult g_seq = compute_gamma(dose_fluence, dose_seq, go);
    const GammaResult g_opt = compute_gamma(dose_fluence, dose_opt, go);
    const PlanEvaluation e_seq = evaluate_plan(patient, dose_seq, protocol, roles);
    const GoalCount c_flu = count_goals(fp.evaluation, fp.evaluation);
    const GoalCount c_seq = count_goals(fp.evaluation, e_seq);
    const GoalCount c_opt = count_goals(fp.evaluation, r.evaluation);
    const PlanComplexity cx = compute_complexity(r.plan, machine);
    const double mu_per_gy = r.mu_final / protocol.prescription.dose_per_fraction_gy();

    char goals_flu[16], goals_seq[16], goals_opt[16];
    std::snprintf(goals_flu, sizeof goals_flu, "%d/%d", c_flu.met, c_flu.total);
    std::snprintf(goals_seq, sizeof goals_seq, "%d/%d", c_seq.kept, c_seq.of);
    std::snprintf(goals_opt, sizeof goals_opt, "%d/%d", c_opt.kept, c_opt.of);
    std::printf("%-4d %6.1f | %7.2f %7.2f | %7.3f %7.3f | %9s %9s %9s | %7.0f %7.0f %7.1f %6.1f %5.3f | %6.2f %6.2f %6.2f %6.2f\n",
                seed, fp.total_seconds, g_seq.pass_rate_pct, g_opt.pass_rate_pct,
                r.objective_sequenced, r.objective_final, goals_flu, goals_seq, goals_opt,
                r.mu_sequenced, r.mu_final, mu_per_gy, cx.delivery_time_s, cx.mcsv, setup_s, seq_s,
                reopt_s, setup_s + seq_s + reopt_s);
    nlohmann::json j = {{"seed", seed},
                        {"gamma_sequenced_pct", g_seq.pass_rate_pct},
                        {"gamma_reoptimized_pct", g_opt.pass_rate_pct},
                        {"objective_fluence", objective_fluence},
                        {"objective_sequenced", r.objective_sequenced},
                        {"objective_optimized", r.objective_optimized},
                        {"objective_final", r.objective_final},
                        {"goals_fluence_met", c_flu.met},
                        {"goals_total", c_flu.total},
                        {"goals_kept_sequenced", c_seq.kept},
                        {"goals_kept_reoptimized", c_opt.kept},
                        {"goals_met_reoptimized", c_opt.met},
                        {"mu_sequenced", r.mu_sequenced},
                        {"mu_reoptimized", r.mu_final},
                        {"mu_per_gy", mu_per_gy},
                        {"mcsv", cx.mcsv},
                        {"delivery_time_s", cx.delivery_time_s},
                        {"iterations", r.iterations},
                        {"evaluations", r.evaluations},
                        {"normalisation_scale", r.normalisation_scale},
                        {"clamped_intervals", r.clamped_intervals},
                        {"violations", r.violations.size()},
                        {"sequence_s", seq_s},
                        {"reoptimize_s", reopt_s},
                        {"plan_s", fp.total_seconds},
                        {"setup_s", setup_s},
                        {"generator", generator},
                        {"dao_iteration_limit", ao.max_iterations}};
    j["sequencer"] = to_string(so.method);
    j["mean_leaf_travel_mm_per_deg"] = cx.mean_leaf_travel_mm_per_deg;
    for (const GoalResult& g : r.evaluation.goals)  // after sequencing + optimisation
      j["goals"][g.structure + " " + g.goal.metric.text] = {{"value", g.value}, {"pass", g.pass}};
    j["objective_history"] = r.history;
    j["sequence_reoptimize_cpu_s"] = seq_reopt_cpu_s;
    j["objective_sector_smeared"] = objective_smeared;
    j["gamma_no_transmission_pct"] = g_no_tx.pass_rate_pct;
    j["gamma_sector_smeared_pct"] = g_smear.pass_rate_pct;
    std::printf("JSON %s\n", j.dump().c_str());
    std::fflush(stdout);
    pass95 += g_opt.pass_rate_pct >= 95.0 ? 1 : 0;
    seq_pass95 += g_seq.pass_rate_pct >= 95.0 ? 1 : 0;
    seq_goals_kept += c_seq.kept == c_seq.of ? 1 : 0;
    goals_kept += c_opt.kept == c_opt.of ? 1 : 0;
    worst_time = std::max(worst_time, seq_s + reopt_s);
    stage_times.push_back(seq_s + reopt_s), with_setup_times.push_back(setup_s + seq_s + reopt_s);
    mu_per_gys.push_back(mu_per_gy), beam_on_times.push_back(cx.delivery_time_s);
  }
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  std::printf("peak memory %.0f MB (whole run)\n", u.ru_maxrss / 1024.0);
  std::printf("summary: gamma >= 95 %% (vs fluence dose): sequenced apertures %d/%d, after "
              "re-optimization %d/%d; all fluence-plan goals kept: sequenced %d/%d, re-optimized "
              "%d/%d; slowest sequencing + re-optimization %.2f s (target <= 3 s)\n",
              seq_pass95, patients, pass95, patients, seq_goals_kept, patients, goals_kept,
              patients, worst_time);
  std::printf("medians: sequencing + optimisation %.2f s, with the engine set-up %.2f s (target <= 3 s); "
              "MU/Gy %.1f (target <= 300); beam-on %.1f s (target <= 150)\n",
              bench::median(stage_times), bench::median(with_setup_times), bench::median(mu_per_gys),
              bench::median(beam_on_times));
  return 0;
}
