// L2Plan benchmark (issue 13): the dose predictor against the pencil-beam engine, and the
// convergence of the refiners (L2Plan, projected gradient, Adam, L-BFGS) from the same
// start (conformal, the FMD student's fluence with --start fmd, or an L-BFGS iterate), as
// objective / converged classical optimum after N steps.
//
//   bench_refiner --seeds 30000,30001 [--weights DIR] [--sections predictor,refiners]
//                 [--spacing 2,2,2.5] [--bixel 5] [--dose-spacing 5] [--arc-spacing 4]
//                 [--start conformal|fmd] [--fmd-weights DIR] [--fmd-seed S] [--cache DIR]
//
// --cache DIR keeps each patient's converged reference and classical runs (they do not
// depend on the L2Plan weights), keyed by the settings, so that a later call with
// --weights only runs L2Plan.
//
// Patients: pelvis phantoms made in-process from their seeds (as `vmatplan phantom --seed
// N --spacing ...`) with --protocol (default the default protocol), and any --patient
// DIR[=PROTOCOL] (e.g. the public phantoms). Flexibility runs with objectives never seen
// in training: --objective-weight rectum=4, --tighten-volume rectum=0.1, --protocol
// prostate_78gy_39fx. Prints
// tables on stdout; times are wall seconds on whatever the machine is doing.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bench_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/evaluation/normalisation.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/learn/dose_predictor.h"
#include "vmatplan/learn/l2plan_training.h"
#include "vmatplan/learn/refine_problem.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/pipeline/fmd_generator.h"

using namespace vmatplan;

namespace {

struct BenchPatient {
  std::string name;
  Patient patient;
  Protocol protocol;
};

// Flexibility runs (issue 13): the DVH-max limits of ROLE tightened, volume x (1 - fraction),
// in the objectives and the clinical goals alike.
struct VolumeTightening {
  std::string role;
  double fraction = 0;
};

Protocol flexibility_protocol(const std::string& name, const std::vector<VolumeTightening>& tighten) {
  Protocol p = load_protocol(name);
  for (const VolumeTightening& t : tighten) {
    bool used = false;
    for (ObjectiveSpec& o : p.objectives)
      if (o.role == t.role && o.kind == ObjectiveKind::kDvhMax) o.volume_pct *= 1.0 - t.fraction, used = true;
    for (ClinicalGoal& g : p.goals)
      if (g.role == t.role && g.comparison == GoalComparison::kAtMost &&
          (g.metric.kind == MetricKind::kVolumeAtDosePct || g.metric.kind == MetricKind::kVolumeAtDoseCc)) {
        g.acceptable *= 1.0 - t.fraction;
        g.ideal *= 1.0 - t.fraction;
      }
    if (!used) throw UsageError("--tighten-volume: no DVH-max objective of '" + name + "' uses role '" + t.role + "'");
  }
  return p;
}

std::vector<BenchPatient> load_patients(const std::vector<uint64_t>& seeds, const std::vector<double>& spacing,
                                        const std::vector<std::string>& dirs, const Protocol& seed_protocol) {
  std::vector<BenchPatient> out;
  for (uint64_t s : seeds) {
    PelvisPhantomOptions po;
    po.seed = s;
    if (spacing.size() == 3) po.spacing_mm = {spacing[0], spacing[1], spacing[2]};
    out.push_back({"seed " + std::to_string(s), make_pelvis_phantom(po), seed_protocol});
  }
  for (const std::string& d : dirs) {
    const auto eq = d.find('=');
    const std::string path = d.substr(0, eq);
    const std::string protocol = eq == std::string::npos ? kDefaultProtocol : d.substr(eq + 1);
    out.push_back({path.substr(path.find_last_of('/') + 1), load_patient(path), load_protocol(protocol)});
  }
  return out;
}

void predictor_section(const std::vector<BenchPatient>& patients, const Machine& machine,
                       const StructureRoles& roles, const RefineCaseOptions& co) {
  std::printf("\n## Dose predictor vs pencil-beam engine (objective fwd + grad, best of 3)\n\n");
  std::printf("| patient | coarse mm | plane mm | engine s | predictor s | speed-up | dose-only speed-up | near voxels | gamma 3%%/3mm %% | "
              "max err %% | mean err %% | grad cosine | F ratio | engine set-up s | predictor set-up s |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const BenchPatient& bp : patients) {
    RefineCaseOptions o = co;
    o.build_predictor = false;
    RefineCase c = make_refine_case(bp.patient, bp.protocol, machine, roles, o);
    const PlanObjective objective(bp.patient, bp.protocol, roles, c.engine->dose_grid(), c.engine->compute_voxels());
    torch::Tensor f = torch::tensor(c.conformal_start.values, torch::kFloat)
                          .view({c.conformal_start.control_point_count, c.grid.row_count(), c.grid.bixel_count});
    const Structure& target = roles.resolve(bp.patient, bp.protocol.prescription.targets.front().role);
    DosePredictor pred(bp.patient, machine, c.geometry, c.grid, c.engine->dose_grid(), c.engine->compute_voxels(),
                       &target.mask, co.predictor);
    const PredictorAgreement a = measure_predictor(*c.engine, pred, objective, f);
    std::printf("| %s | %.1f | %.1f | %.3f | %.4f | %.1f | %.1f | %lld | %.1f | %.2f | %.2f | %.4f | %.3f | %.2f | %.2f |\n",
                bp.name.c_str(), co.predictor.coarse_spacing_mm, co.predictor.plane_spacing_mm, a.engine_seconds,
                a.predictor_seconds, a.engine_seconds / a.predictor_seconds,
                a.engine_dose_seconds / a.predictor_dose_seconds, static_cast<long long>(pred.near_target_voxel_count()),
                a.gamma_pass_pct, a.max_abs_error_pct,
                a.mean_abs_error_pct, a.gradient_cosine, a.objective_ratio, c.engine->setup_seconds(),
                pred.setup_seconds());
    std::fflush(stdout);
  }
}

struct RefinerSettings {
  std::vector<int> steps{5, 10, 20, 30, 50};
  std::string weights_dir;  // "" = no L2Plan row
  std::vector<double> adam_lr{0.01, 0.03, 0.1, 0.3};
  std::vector<uint64_t> validation_seeds{20000, 20001};
  int reference_iterations = 1000;
  std::vector<std::pair<std::string, double>> weight_factors;  // objective change (flexibility)
  // > 0: start from the L-BFGS iterate after this many iterations (a stand-in for a
  // generator's near-optimal output until FMD exists) instead of the conformal start.
  int start_lbfgs_iterations = 0;
  std::string start = "conformal";  // conformal | fmd (the FMD student's fluence, fmd_seed)
  std::string fmd_weights;          // "" = models/fmd
  uint64_t fmd_seed = 0;
  std::string cache_dir;            // --cache: reference and classical runs per patient
  std::string cache_key;            // the settings they depend on
};

// A patient's refinement problem on the engine from the conformal start.
struct Case {
  RefineCase refine;
  std::shared_ptr<const PlanObjective> objective;
  std::unique_ptr<RefineProblem> problem;
  FluenceOptimizerOptions options;  // the problem's (protocol_optimizer_options)
};

Case make_case(const BenchPatient& bp, const Machine& machine, const StructureRoles& roles, const RefineCaseOptions& co,
               const RefinerSettings& rs) {
  Case c;
  RefineCaseOptions o = co;
  o.build_predictor = false;
  c.refine = make_refine_case(bp.patient, bp.protocol, machine, roles, o);
  Protocol protocol = bp.protocol;
  for (const auto& [role, factor] : rs.weight_factors)
    for (ObjectiveSpec& s : protocol.objectives)
      if (s.role == role) s.weight *= factor;
  c.objective = std::make_shared<const PlanObjective>(bp.patient, protocol, roles, c.refine.engine->dose_grid(),
                                                      c.refine.engine->compute_voxels());
  FluenceOptimizerOptions w = protocol_optimizer_options(co.plan.optimizer, protocol, machine);
  c.options = w;
  // The FMD start: the "fmd" generator's fluence for the unchanged protocol, one seed for
  // every method and patient.
  const FluenceMaps start = rs.start == "fmd" ? fmd_refine_start(bp.patient, bp.protocol, machine, roles, co.plan, c.refine,
                                                                 rs.fmd_weights, rs.fmd_seed)
                                              : c.refine.conformal_start;
  c.problem = std::make_unique<RefineProblem>(c.refine.engine_dose(), c.objective, c.refine.geometry, start, w);
  if (rs.start_lbfgs_iterations > 0) {
    FluenceOptimizerOptions oo = w;
    oo.max_iterations = rs.start_lbfgs_iterations;
    oo.relative_tolerance = -1.0;
    oo.leaf_transmission = 0.0;
    oo.f_max_mu = c.problem->f_max_mu();
    FluenceOptimizationResult r = optimize_fluence(*c.refine.engine, *c.objective, c.refine.geometry,
                                                   c.problem->to_maps(c.problem->start()), oo);
    // Same f_ref and bounds as before (the weights' f_max), new start.
    w.f_max_mu = c.problem->f_max_mu();
    auto p = std::make_unique<RefineProblem>(c.refine.engine_dose(), c.objective, c.refine.geometry, r.fluence, w);
    c.problem = std::move(p);
  }
  return c;
}

// The classical projected L-BFGS on the same problem (no transmission, same bounds): its
// objective after each iteration, evaluated on the refiners' problem.
std::vector<double> lbfgs_trace(const Case& c, int iterations, double relative_tolerance, torch::Tensor* x_final) {
  FluenceOptimizerOptions oo = c.options;
  oo.max_iterations = iterations;
  oo.relative_tolerance = relative_tolerance;
  oo.leaf_transmission = 0.0;
  oo.f_max_mu = c.problem->f_max_mu();
  std::vector<double> trace;
  oo.progress = [&](const IterationRecord& r) { trace.push_back(r.objective); };
  FluenceOptimizationResult r =
      optimize_fluence(*c.refine.engine, *c.objective, c.refine.geometry, c.problem->to_maps(c.problem->start()), oo);
  if (x_final) *x_final = c.problem->variables(r.fluence);
  return trace;
}

// The engine's dose of the variables x, normalised per the protocol (as generate's MU
// normalisation would), and its evaluation.
struct NormalisedResult {
  DoseImage dose;
  PlanEvaluation evaluation;
};
NormalisedResult normalised_result(const Case& c, const BenchPatient& bp, const StructureRoles& roles,
                                   const torch::Tensor& x) {
  NormalisedResult r;
  r.dose = c.refine.engine->dose_image(c.problem->to_maps(x));
  r.evaluation = normalise_to_protocol(bp.patient, r.dose, bp.protocol, roles).evaluation;
  return r;
}

// Clinical goals met by x on its normalised dose: {passed, goals}.
std::pair<int, int> goals_met(const NormalisedResult& r) {
  return {r.evaluation.goals_passed(), static_cast<int>(r.evaluation.goals.size())};
}
std::pair<int, int> goals_met(const Case& c, const BenchPatient& bp, const StructureRoles& roles, const torch::Tensor& x) {
  return goals_met(normalised_result(c, bp, roles, x));
}

// Mean |D(x) - D(x_ref)| over the body's dose-grid voxels (the engine's compute voxels),
// both normalised per the protocol, in % of the prescription: how far a refiner's plan
// is from the converged optimum's in dose, not only in objective.
double dose_error_pct(const Case& c, const DoseImage& dose, const DoseImage& reference) {
  const std::vector<int64_t>& voxels = c.refine.engine->compute_voxels();
  double sum = 0;
  for (int64_t v : voxels) sum += std::abs(static_cast<double>(dose.voxels[v]) - reference.voxels[v]);
  return voxels.empty() ? 0.0 : 100.0 * sum / voxels.size() / c.refine.prescription_gy;
}

// What a patient's reference and classical runs gave (--cache keeps it between runs).
struct Baselines {
  double reference_f = 0, reference_seconds = 0;
  int reference_iterations = 0;
  std::vector<double> lbfgs, pgd, adam;  // objective at the start and after each step
  double lbfgs_seconds = 0, pgd_seconds = 0, adam_seconds = 0;
  std::pair<int, int> goals_start, goals_converged, goals_lbfgs, goals_pgd, goals_adam;
  // The converged optimum's variables (for the dose error of a method run later) and the
  // dose errors of the classical methods after the last step.
  std::vector<float> reference_x;
  std::vector<int64_t> reference_shape;
  double dose_error_lbfgs = 0, dose_error_pgd = 0, dose_error_adam = 0;
};

std::string file_name_of(const std::string& name) {
  std::string f = name;
  for (char& ch : f)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return f;
}

void write_baselines(const std::string& path, const std::string& key, const Baselines& b) {
  const nlohmann::json j = {{"key", key},
                            {"reference_f", b.reference_f},
                            {"reference_seconds", b.reference_seconds},
                            {"reference_iterations", b.reference_iterations},
                            {"lbfgs", b.lbfgs},
                            {"pgd", b.pgd},
                            {"adam", b.adam},
                            {"seconds", {b.lbfgs_seconds, b.pgd_seconds, b.adam_seconds}},
                            {"goals", {b.goals_start, b.goals_converged, b.goals_lbfgs, b.goals_pgd, b.goals_adam}},
                            {"dose_error_pct", {b.dose_error_lbfgs, b.dose_error_pgd, b.dose_error_adam}},
                            {"reference_shape", b.reference_shape},
                            {"reference_x", b.reference_x}};
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path);
  f << j.dump() << "\n";
  if (!f) throw InputError(path, "cannot write the baseline cache");
}

// False when there is no cache file or it was written with other settings.
bool read_baselines(const std::string& path, const std::string& key, Baselines* b) {
  std::ifstream f(path);
  if (!f) return false;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, std::string("not valid JSON (") + e.what() + ")");
  }
  if (j.value("key", "") != key || !j.contains("reference_x")) return false;  // other settings, or older
  b->reference_f = j.at("reference_f");
  b->reference_seconds = j.at("reference_seconds");
  b->reference_iterations = j.at("reference_iterations");
  b->lbfgs = j.at("lbfgs").get<std::vector<double>>();
  b->pgd = j.at("pgd").get<std::vector<double>>();
  b->adam = j.at("adam").get<std::vector<double>>();
  const auto s = j.at("seconds").get<std::vector<double>>();
  b->lbfgs_seconds = s.at(0), b->pgd_seconds = s.at(1), b->adam_seconds = s.at(2);
  const auto g = j.at("goals").get<std::vector<std::pair<int, int>>>();
  b->goals_start = g.at(0), b->goals_converged = g.at(1), b->goals_lbfgs = g.at(2), b->goals_pgd = g.at(3),
  b->goals_adam = g.at(4);
  const auto de = j.at("dose_error_pct").get<std::vector<double>>();
  b->dose_error_lbfgs = de.at(0), b->dose_error_pgd = de.at(1), b->dose_error_adam = de.at(2);
  b->reference_shape = j.at("reference_shape").get<std::vector<int64_t>>();
  b->reference_x = j.at("reference_x").get<std::vector<float>>();
  return true;
}

double at_step(const std::vector<double>& trace, int k) {
  return trace[std::min(static_cast<size_t>(k), trace.size() - 1)];
}

void refiner_section(const std::vector<BenchPatient>& patients, const std::vector<BenchPatient>& validation,
                     const Machine& machine, const StructureRoles& roles, const RefineCaseOptions& co,
                     const RefinerSettings& rs) {
  const int max_steps = *std::max_element(rs.steps.begin(), rs.steps.end());
  // Adam's learning rate: the lowest mean log(F_20 / F_0) on the validation patients.
  double adam_lr = rs.adam_lr.front();
  if (rs.adam_lr.size() > 1 && !validation.empty()) {
    std::printf("\n## Adam learning rate on validation patients (mean log F(20)/F(0))\n\n| lr x f_ref | score |\n|---|---|\n");
    std::vector<Case> vcases;
    for (const BenchPatient& bp : validation) vcases.push_back(make_case(bp, machine, roles, co, rs));
    double best = 1e300;
    for (double lr : rs.adam_lr) {
      double score = 0;
      for (const Case& c : vcases) {
        const RefineTrace t = run_adam(*c.problem, c.problem->start(), 20, lr);
        score += std::log(t.objective.back() / t.objective.front()) / vcases.size();
      }
      std::printf("| %.3g | %.4f |\n", lr, score);
      if (score < best) {
        best = score;
        adam_lr = lr;
      }
    }
  }
  L2PlanModel model;
  if (!rs.weights_dir.empty()) model = load_l2plan_model(rs.weights_dir);
  L2PlanArchitecture pgd_arch;
  pgd_arch.row_prior = model.net ? model.arch.row_prior : true;
  pgd_arch.cp_prior = model.net ? model.arch.cp_prior : true;

  std::map<std::string, std::vector<std::vector<double>>> ratios;  // method -> patient -> ratio per step
  std::map<std::string, double> seconds_per_step;
  std::map<std::string, std::pair<int, int>> goals;  // method -> goals passed, goals (all patients)
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> dose_errors;  // method -> patient -> % Rx
  auto add = [&](const std::string& name, const std::vector<double>& trace, double f_star, double seconds,
                 std::pair<int, int> met, double dose_error) {
    if (!ratios.count(name)) order.push_back(name);
    dose_errors[name].push_back(dose_error);
    goals[name].first += met.first;
    goals[name].second += met.second;
    std::vector<double> r;
    for (int k : rs.steps) r.push_back(at_step(trace, k) / f_star);
    ratios[name].push_back(r);
    seconds_per_step[name] += seconds / max_steps / patients.size();
  };
  const std::string adam_name = "Adam (lr " + std::to_string(adam_lr).substr(0, 5) + " f_ref)";
  for (const BenchPatient& bp : patients) {
    const Case c = make_case(bp, machine, roles, co, rs);
    // The reference and the classical methods do not depend on the L2Plan weights: with
    // --cache they are computed once per patient and settings and read back afterwards.
    const std::string key = rs.cache_key + " | " + bp.name + " | adam lr " + std::to_string(adam_lr) + " | pgd priors " +
                            std::to_string(pgd_arch.row_prior) + std::to_string(pgd_arch.cp_prior);
    const std::string cache_file = rs.cache_dir.empty() ? "" : rs.cache_dir + "/" + file_name_of(bp.name) + ".json";
    Baselines b;
    if (!cache_file.empty() && read_baselines(cache_file, key, &b)) {
      std::printf("# %s: reference and classical methods read from %s\n", bp.name.c_str(), cache_file.c_str());
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      torch::Tensor x_ref;
      const std::vector<double> ref = lbfgs_trace(c, rs.reference_iterations, 1e-4, &x_ref);
      b.reference_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      b.reference_iterations = static_cast<int>(ref.size()) - 1;
      b.reference_f = std::min(ref.back(), c.problem->value_only(x_ref));
      auto t1 = std::chrono::steady_clock::now();
      torch::Tensor x_lb;
      b.lbfgs = lbfgs_trace(c, max_steps, -1.0, &x_lb);
      b.lbfgs_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      const RefineTrace pgd = run_l2plan(nullptr, pgd_arch, *c.problem, c.problem->start(), max_steps);
      const RefineTrace adam = run_adam(*c.problem, c.problem->start(), max_steps, adam_lr);
      b.pgd = pgd.objective, b.pgd_seconds = pgd.seconds;
      b.adam = adam.objective, b.adam_seconds = adam.seconds;
      b.goals_start = goals_met(c, bp, roles, c.problem->start());
      const NormalisedResult ref_result = normalised_result(c, bp, roles, x_ref);
      b.goals_converged = goals_met(ref_result);
      const NormalisedResult lb = normalised_result(c, bp, roles, x_lb), pg = normalised_result(c, bp, roles, pgd.x),
                             ad = normalised_result(c, bp, roles, adam.x);
      b.goals_lbfgs = goals_met(lb), b.goals_pgd = goals_met(pg), b.goals_adam = goals_met(ad);
      b.dose_error_lbfgs = dose_error_pct(c, lb.dose, ref_result.dose);
      b.dose_error_pgd = dose_error_pct(c, pg.dose, ref_result.dose);
      b.dose_error_adam = dose_error_pct(c, ad.dose, ref_result.dose);
      const torch::Tensor xr = x_ref.to(torch::kFloat).contiguous();
      b.reference_shape = xr.sizes().vec();
      b.reference_x.assign(xr.data_ptr<float>(), xr.data_ptr<float>() + xr.numel());
      if (!cache_file.empty()) write_baselines(cache_file, key, b);
    }
    RefineTrace l2;
    if (model.net) l2 = run_l2plan(model.net, model.arch, *c.problem, c.problem->start(), max_steps);
    const torch::Tensor x_ref =
        torch::from_blob(b.reference_x.data(), b.reference_shape, torch::kFloat).clone().to(c.problem->start().dtype());
    double f_star = std::min({b.reference_f, *std::min_element(b.lbfgs.begin(), b.lbfgs.end()), b.pgd.back(),
                              b.adam.back()});
    if (model.net) f_star = std::min(f_star, l2.objective.back());
    std::printf("# %s: F(start) %.4g, converged L-BFGS F* %.4g after %d iterations (%.1f s)\n", bp.name.c_str(),
                c.problem->value_only(c.problem->start()), f_star, b.reference_iterations, b.reference_seconds);
    std::fflush(stdout);
    goals["start"].first += b.goals_start.first;
    goals["start"].second += b.goals_start.second;
    goals["converged"].first += b.goals_converged.first;
    goals["converged"].second += b.goals_converged.second;
    std::vector<std::pair<std::string, std::pair<int, int>>> met;
    if (model.net) {
      const NormalisedResult l2_result = normalised_result(c, bp, roles, l2.x);
      met.emplace_back("L2Plan", goals_met(l2_result));
      add("L2Plan", l2.objective, f_star, l2.seconds, met.back().second,
          dose_error_pct(c, l2_result.dose, normalised_result(c, bp, roles, x_ref).dose));
    }
    met.emplace_back("projected gradient", b.goals_pgd);
    add("projected gradient", b.pgd, f_star, b.pgd_seconds, b.goals_pgd, b.dose_error_pgd);
    met.emplace_back(adam_name, b.goals_adam);
    add(adam_name, b.adam, f_star, b.adam_seconds, b.goals_adam, b.dose_error_adam);
    met.emplace_back("L-BFGS", b.goals_lbfgs);
    add("L-BFGS", b.lbfgs, f_star, b.lbfgs_seconds, b.goals_lbfgs, b.dose_error_lbfgs);
    std::printf("# %s: goals met (normalised per the protocol) start %d/%d", bp.name.c_str(), b.goals_start.first,
                b.goals_start.second);
    for (const auto& [name, g] : met) std::printf(", %s %d", name.c_str(), g.first);
    std::printf(" after %d steps; converged L-BFGS %d\n", max_steps, b.goals_converged.first);
  }
  std::printf("\n## Objective / converged optimum after N steps (mean over %zu patients; max in brackets)\n\n",
              patients.size());
  std::printf("| method |");
  for (int k : rs.steps) std::printf(" %d |", k);
  std::printf(" s per step | within 2 %% at <= 30 steps | goals met after %d steps | mean (max) |D - D*| in body, %% Rx, after %d steps |\n|---|",
              max_steps, max_steps);
  for (size_t i = 0; i < rs.steps.size(); ++i) std::printf("---|");
  std::printf("---|---|---|---|\n");
  for (const std::string& name : order) {
    std::printf("| %s |", name.c_str());
    const auto& per = ratios[name];
    int within = 0;
    for (const auto& r : per) {
      bool ok = false;
      for (size_t j = 0; j < rs.steps.size(); ++j)
        if (rs.steps[j] <= 30 && r[j] <= 1.02) ok = true;
      within += ok;
    }
    for (size_t j = 0; j < rs.steps.size(); ++j) {
      double mean = 0, mx = 0;
      for (const auto& r : per) {
        mean += r[j] / per.size();
        mx = std::max(mx, r[j]);
      }
      std::printf(" %.3f (%.3f) |", mean, mx);
    }
    double de_mean = 0, de_max = 0;
    for (double d : dose_errors[name]) de_mean += d / dose_errors[name].size(), de_max = std::max(de_max, d);
    std::printf(" %.3f | %d / %zu | %d / %d | %.2f (%.2f) |\n", seconds_per_step[name], within, per.size(),
                goals[name].first, goals[name].second, de_mean, de_max);
  }
  std::printf("\nGoals met (normalised per the protocol): at the start %d / %d, at the converged optimum %d / %d\n",
              goals["start"].first, goals["start"].second, goals["converged"].first, goals["converged"].second);
}

}  // namespace

int main(int argc, char** argv) {
  vmatplan::bench::run_with_malloc_tunables(argv);
  CLI::App app{"L2Plan benchmark: dose predictor and refiner convergence"};
  std::vector<uint64_t> seeds{30000, 30001};
  std::vector<std::string> dirs, sections{"predictor", "refiners"};
  std::vector<double> spacing{2, 2, 2.5};
  RefineCaseOptions co;
  double arc_spacing_deg = 4.0;
  int threads = 2;
  CLI::Option* seeds_option =
      app.add_option("--seeds", seeds, "Phantom seeds (default 30000,30001 without --patient, none with it)")->delimiter(',');
  app.add_option("--patient", dirs, "Patient folder [=protocol]");
  app.add_option("--spacing", spacing, "Phantom CT spacing X,Y,Z mm")->delimiter(',');
  app.add_option("--bixel", co.plan.bixel_width_mm, "Bixel width, mm");
  app.add_option("--dose-spacing", co.plan.dose_spacing_mm, "Reference dose grid, mm");
  app.add_option("--arc-spacing", arc_spacing_deg, "Control-point spacing, deg");
  app.add_option("--coarse", co.predictor.coarse_spacing_mm, "Predictor dose grid, mm");
  app.add_option("--plane", co.predictor.plane_spacing_mm, "Predictor sample plane, mm");
  app.add_option("--near", co.predictor.fine_margin_mm, "Predictor full-grid margin around the target, mm");
  app.add_option("--sections", sections, "predictor, refiners")->delimiter(',');
  app.add_option("--threads", threads, "Threads");
  RefinerSettings rs;
  std::vector<std::string> factors;
  app.add_option("--steps", rs.steps, "Step counts of the table")->delimiter(',');
  app.add_option("--weights", rs.weights_dir, "L2Plan model folder (adds the L2Plan row)");
  app.add_option("--adam-lr", rs.adam_lr, "Adam learning rates x f_ref to try (the best on validation is used)")
      ->delimiter(',');
  app.add_option("--validation-seeds", rs.validation_seeds, "Seeds for the Adam learning rate (20000-20019)")
      ->delimiter(',');
  app.add_option("--reference-iterations", rs.reference_iterations, "Iterations of the converged L-BFGS reference");
  app.add_option("--start-lbfgs", rs.start_lbfgs_iterations,
                 "Start from the L-BFGS iterate after K iterations instead of the conformal start");
  app.add_option("--start", rs.start, "Start of every method: conformal or fmd (the FMD student's fluence)");
  app.add_option("--fmd-weights", rs.fmd_weights, "FMD model folder for --start fmd (default models/fmd)");
  app.add_option("--fmd-seed", rs.fmd_seed, "FMD noise seed for --start fmd (the same for every patient and method)");
  app.add_option("--cache", rs.cache_dir,
                 "Folder keeping each patient's reference and classical runs (reused by a later run with the same "
                 "settings, e.g. with --weights)");
  app.add_option("--objective-weight", factors, "ROLE=FACTOR objective weight change (flexibility runs)");
  std::string protocol_name = kDefaultProtocol;
  std::vector<std::string> tightenings;
  app.add_option("--protocol", protocol_name, "Protocol of the phantom seeds (flexibility: prostate_78gy_39fx)");
  app.add_option("--tighten-volume", tightenings,
                 "ROLE=FRACTION: DVH-max volume limits of ROLE x (1 - FRACTION), e.g. rectum=0.1 (flexibility runs)");
  CLI11_PARSE(app, argc, argv);
  if (!dirs.empty() && seeds_option->count() == 0) seeds.clear();  // only the named patients
  std::vector<VolumeTightening> tighten;
  for (const std::string& t : tightenings) {
    const auto eq = t.find('=');
    if (eq == std::string::npos) throw UsageError("--tighten-volume '" + t + "': expected ROLE=FRACTION");
    tighten.push_back({t.substr(0, eq), std::stod(t.substr(eq + 1))});
  }
  if (rs.start != "conformal" && rs.start != "fmd") throw UsageError("--start: expected conformal or fmd, got '" + rs.start + "'");
  const Protocol seed_protocol = flexibility_protocol(protocol_name, tighten);
  for (const std::string& f : factors) {
    const auto eq = f.find('=');
    rs.weight_factors.emplace_back(f.substr(0, eq), std::stod(f.substr(eq + 1)));
  }
  {
    std::ostringstream k;
    k << "spacing";
    for (double v : spacing) k << " " << v;
    k << " | bixel " << co.plan.bixel_width_mm << " | dose " << co.plan.dose_spacing_mm << " | arcs " << arc_spacing_deg
      << " | protocol " << protocol_name << " | start " << rs.start
      << (rs.start == "fmd" ? " scaled to target mean Rx " : " ") << rs.fmd_weights << " " << rs.fmd_seed
      << " lbfgs " << rs.start_lbfgs_iterations << " | reference " << rs.reference_iterations << " | steps";
    for (int n : rs.steps) k << " " << n;
    for (const std::string& t : tightenings) k << " | tighten " << t;
    for (const std::string& f : factors) k << " | weight " << f;
    rs.cache_key = k.str();
  }
  set_dose_engine_threads(threads);
  co.plan.arcs = default_two_arcs(arc_spacing_deg);
  Machine machine = Machine::load_named("generic_6mv_mlc120");
  machine.max_cp_spacing_deg = std::max(machine.max_cp_spacing_deg, arc_spacing_deg);
  const StructureRoles roles = StructureRoles::load_default();
  const std::vector<BenchPatient> patients = load_patients(seeds, spacing, dirs, seed_protocol);
  std::printf("# bench_refiner: %zu patients, bixel %.1f mm, dose grid %.1f mm, arcs 2 x %.0f deg, %d threads, "
              "protocol %s%s, start %s\n",
              patients.size(), co.plan.bixel_width_mm, co.plan.dose_spacing_mm, arc_spacing_deg, threads,
              protocol_name.c_str(), tighten.empty() ? "" : " (volume limits tightened)",
              rs.start == "fmd" ? ("fmd (seed " + std::to_string(rs.fmd_seed) + ")").c_str()
                                : (rs.start_lbfgs_iterations > 0 ? "L-BFGS iterate" : "conformal"));
  if (std::find(sections.begin(), sections.end(), "predictor") != sections.end())
    predictor_section(patients, machine, roles, co);
  if (std::find(sections.begin(), sections.end(), "refiners") != sections.end())
    refiner_section(patients, load_patients(rs.validation_seeds, spacing, {}, seed_protocol), machine, roles, co, rs);
  return 0;
}
