#pragma once
// `vmatplan generate` as a library call: patient folder in, deliverable plan folder out.
//
//   GenerateOptions opt;                 // defaults: default protocol and machine, 2 arcs
//   opt.patient = "data/phantom1";  opt.out = "out/plan1";
//   GenerateResult r = generate_plan(opt, [](const StageProgress& p) { ... });
//
// Stages: load -> fluence (generator, default "auto": FMD or classical) -> refine (refiner, e.g. "none")
// -> sequence (apertures + MU per control point; checked for deliverability) -> direct
// aperture optimisation of leaves and MU (optimize/aperture_optimizer.h), or with
// --sequencer sweep re-optimisation of the MU (optimize/meterset_optimizer.h); --no-meterset
// skips either -> final dose from the
// apertures' delivered fluence on a finer grid, renormalised per the protocol by scaling
// the MU (kept only while the plan stays deliverable) -> write. OUT receives RP.dcm (checked
// with the project's validator), RD.dcm, plan.json (the delivery), summary.json (goals,
// metrics, MU, complexity, delivery time, defaults chosen, timings, versions), dvh.svg,
// report.html, fluence.json + fluence.safetensors (the fluence before sequencing, which
// `--from` re-plans) (and training.safetensors with training_export), all staged: a failure
// leaves nothing at OUT.
// Deterministic for the same inputs, seed and thread count (the DICOM UIDs are new each run).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/optimize/classical_planner.h"
#include "vmatplan/pipeline/fluence_stages.h"
#include "vmatplan/sequence/arc_sequencer.h"
#include "vmatplan/sequence/complexity.h"

namespace vmatplan {

struct GenerateOptions {
  std::string patient;                          // DICOM folder, image folder or .mat
  std::string protocol = kDefaultProtocol;      // name or JSON path
  std::string machine = "generic_6mv_mlc120";   // name or JSON path
  std::vector<std::string> arcs;                // "start:stop:cw|ccw[:spacing...]"; empty: two full arcs
  // "auto": the FMD student where it can plan the patient, else the classical optimiser
  // (fluence_stages.h); with training_export always the classical optimiser, the
  // reference planner whose plans the learned stages are trained on.
  std::string generator = "auto";
  std::string refiner = "none";
  ClassicalPlanOptions fluence;                 // bixel, optimisation grid, seed, optimizer
  SequencerOptions sequencer;                   // fractions/dose/target are set from the protocol
  // Final dose grid. 3 mm: close to clinical 2.5 mm at a fraction of the set-up cost
  // (2.5 mm takes ~30 s and ~7 GB on a full pelvis).
  double final_dose_spacing_mm = 3.0;
  // Gantry step of the final dose calculation: the delivery's control points (1 deg) are
  // taken every k-th, k the largest that keeps steps within this (the apertures between
  // are integrated exactly and shared onto the kept control points). 2 deg is the usual
  // VMAT dose-calculation step; 1 deg quadruples the engine's memory against 4 deg.
  double final_dose_cp_spacing_deg = 2.0;
  // "apertures" (one aperture per control point, then direct aperture optimisation of
  // leaves and MU: optimize/aperture_optimizer.h) or "sweep" (sector sliding window, then
  // meterset re-optimisation of the MU: optimize/meterset_optimizer.h).
  std::string sequencer_method = "apertures";
  bool meterset = true;                         // optimise the apertures (DAO) / their MU
  int meterset_max_iterations = 200;            // sweep's meterset optimiser
  // Direct aperture optimisation: iterations and MU weight (ApertureOptimizerOptions'
  // defaults). Iterations -1: dao_iteration_limit's default for the fluence DAO starts from
  // (15 after the FMD student's, 25 after the others'; docs/sequencing.md). 15 / 5 from the
  // classical fluence kept fewer goals on 2 of regression_small's 3 coarse (10 mm) phantoms.
  int aperture_max_iterations = -1;
  double aperture_mu_weight = 2.5;
  bool renormalise_mu = true;                   // scale MU so the final dose meets the rule
  // A goal met on the optimisation grid and failed on the final dose: DAO again against the
  // final grid's dose (pipeline/final_dose_stage.h). Off: only the warning.
  bool final_grid_correction = true;
  int threads = 1;                              // dose engine and LibTorch threads
  // Also write OUT/training.safetensors: BEV conditioning + the refined fluence (MU per
  // fraction) of this plan, an example for the learned stages (pipeline/training_set.h).
  bool training_export = false;
  std::string out;
  bool overwrite = false;
  LearnedGeneratorOptions learned;              // --weights, --fmd-seed, --sampler-steps
  // --from: re-plan from an earlier plan's fluence (its folder or fluence.json), with
  // generator "plan"; the refiner then optimises it for this run's protocol.
  std::string from_plan;
  // ROLE=FACTOR (--objective-weight): the protocol's objective weights of that role are
  // multiplied, for every stage (generator, refiner, aperture optimisation).
  std::vector<std::pair<std::string, double>> objective_weight_factors;
};

struct StageProgress {
  std::string stage;
  double fraction = 0;   // 0..1 within the stage
  double elapsed_s = 0;  // since generate_plan started
};
using GenerateProgress = std::function<void(const StageProgress&)>;

struct GenerateResult {
  std::vector<std::pair<std::string, double>> stage_seconds;  // in order
  double total_seconds = 0;
  PlanEvaluation evaluation;   // of the final dose
  PlanComplexity complexity;   // MU per fraction, delivery time, MCSv...
  int control_points = 0;     // of the delivery, all beams
  int deliverability_violations = 0;
  double mu_scale = 1.0;       // renormalisation applied to the sequenced MU
  nlohmann::json meterset = nlohmann::json::object();  // {status, ...} of that stage
  // Goals met on the optimisation grid but failed on the final dose, and where
  // (pipeline/grid_goal_check.h).
  std::vector<std::string> plan_warnings;
  // summary.json "final_grid_correction": {status, goals lost, rounds...}; empty when DAO
  // did not run.
  nlohmann::json final_grid_correction = nlohmann::json::object();
  nlohmann::json summary;      // what summary.json holds
  std::string out;
};

// Throws InputError / UsageError / ProcessingError; nothing is left at options.out then.
GenerateResult generate_plan(const GenerateOptions& options, const GenerateProgress& progress = {});

// Effective options as JSON (summary.json "options"); `defaults` names those left at
// their default values.
nlohmann::json generate_options_json(const GenerateOptions& options);

}  // namespace vmatplan
