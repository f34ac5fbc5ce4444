// generate_plan: the end-to-end pipeline (see generate.h for the stages).
#include "vmatplan/pipeline/generate.h"

#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>

#include "vmatplan/core/error.h"
#include "vmatplan/core/stopwatch.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/core/version.h"
#include "vmatplan/dose/dose_calculation.h"
#include "vmatplan/dose/hu_to_red.h"
#include "vmatplan/dose/pencil_beam_engine.h"
#include "vmatplan/geometry/delivery_plan.h"
#include "vmatplan/geometry/plan_file.h"
#include "vmatplan/io/dicom_patient_writer.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/io/rtdose_writer.h"
#include "vmatplan/io/rtplan_validator.h"
#include "vmatplan/io/rtplan_writer.h"
#include "vmatplan/machine/machine.h"
#include "vmatplan/patient/patient_checks.h"
#include "vmatplan/optimize/meterset_optimizer.h"
#include "vmatplan/pipeline/delivery_stages.h"
#include "vmatplan/pipeline/final_dose_stage.h"
#include "vmatplan/pipeline/fluence_stages.h"
#include "vmatplan/pipeline/grid_goal_check.h"
#include "vmatplan/pipeline/l2plan_refiners.h"
#include "vmatplan/pipeline/plan_report.h"
#include "vmatplan/pipeline/training_set.h"
#include "vmatplan/sequence/deliverability.h"
#include "vmatplan/sequence/delivered_fluence.h"

namespace vmatplan {
namespace {

namespace fs = std::filesystem;
using Clock = SteadyClock;

// A patient that did not come as DICOM (image folder, matRad) is written as a CT series +
// RTSTRUCT beside its plan, so that RP.dcm / RD.dcm reference images that exist. Its UIDs
// come from its content (assign_content_uids), so two runs write the same UIDs.
void export_patient_dicom(const Patient& patient, const StructureRoles& roles, const std::string& dir) {
  Patient copy = patient;
  const auto colors = roles.display_colors(copy);
  for (size_t i = 0; i < copy.structures.size(); ++i) copy.structures[i].color_rgb = colors[i];
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir, "cannot create folder: " + ec.message());
  write_dicom_patient(copy, dir);
}

// Times stages and reports progress.
class StageClock {
 public:
  StageClock(const GenerateProgress& progress, GenerateResult& result)
      : progress_(progress), result_(result), start_(Clock::now()) {}
  void begin(const std::string& stage) {
    stage_ = stage;
    stage_start_ = Clock::now();
    report(0.0);
  }
  void report(double fraction) const {
    if (progress_) progress_({stage_, fraction, seconds_since(start_)});
  }
  void end() {
    report(1.0);
    result_.stage_seconds.emplace_back(stage_, seconds_since(stage_start_));
  }
  double total() const { return seconds_since(start_); }

 private:
  const GenerateProgress& progress_;
  GenerateResult& result_;
  Clock::time_point start_, stage_start_;
  std::string stage_;
};

}  // namespace

nlohmann::json generate_options_json(const GenerateOptions& o) {
  const GenerateOptions d;
  nlohmann::json arcs = nlohmann::json::array();
  for (const ArcSpec& a : o.fluence.arcs)
    arcs.push_back({{"gantry_start_deg", a.gantry_start_deg}, {"gantry_stop_deg", a.gantry_stop_deg},
                    {"direction", a.direction == RotationDirection::kClockwise ? "CW" : "CC"},
                    {"cp_spacing_deg", a.cp_spacing_deg}, {"collimator_deg", a.collimator_deg},
                    {"couch_deg", a.couch_deg}});
  nlohmann::json j = {{"patient", o.patient}, {"protocol", o.protocol}, {"machine", o.machine},
                      {"arcs", arcs}, {"generator", o.generator}, {"refiner", o.refiner},
                      {"bixel_width_mm", o.fluence.bixel_width_mm},
                      {"optimisation_dose_spacing_mm", o.fluence.dose_spacing_mm},
                      {"max_iterations", o.fluence.optimizer.max_iterations},
                      {"seed", o.fluence.seed}, {"sequencer", o.sequencer_method},
                      {"sector_deg", o.sequencer.sector_deg},
                      {"aperture_sector_deg", o.sequencer.aperture_sector_deg},
                      {"final_dose_spacing_mm", o.final_dose_spacing_mm},
                      {"final_dose_cp_spacing_deg", o.final_dose_cp_spacing_deg},
                      {"meterset", o.meterset}, {"meterset_max_iterations", o.meterset_max_iterations},
                      {"aperture_max_iterations", o.aperture_max_iterations},
                      {"renormalise_mu", o.renormalise_mu},
                      {"final_grid_correction", o.final_grid_correction}, {"threads", o.threads},
                      {"training_export", o.training_export}};
  if (!o.from_plan.empty()) j["from"] = o.from_plan;
  if (!o.objective_weight_factors.empty()) j["objective_weight_factors"] = o.objective_weight_factors;
  nlohmann::json defaults = nlohmann::json::array();
  auto is_default = [&](const char* name, bool same) { if (same) defaults.push_back(name); };
  is_default("protocol", o.protocol == d.protocol);
  is_default("machine", o.machine == d.machine);
  is_default("arcs", o.arcs.empty());
  is_default("generator", o.generator == d.generator);
  is_default("refiner", o.refiner == d.refiner);
  is_default("aperture_max_iterations", o.aperture_max_iterations == d.aperture_max_iterations);
  is_default("sequencer", o.sequencer_method == d.sequencer_method);
  is_default("bixel_width_mm", o.fluence.bixel_width_mm == d.fluence.bixel_width_mm);
  is_default("optimisation_dose_spacing_mm", o.fluence.dose_spacing_mm == d.fluence.dose_spacing_mm);
  is_default("max_iterations", o.fluence.optimizer.max_iterations == d.fluence.optimizer.max_iterations);
  is_default("seed", o.fluence.seed == d.fluence.seed);
  is_default("final_dose_spacing_mm", o.final_dose_spacing_mm == d.final_dose_spacing_mm);
  is_default("final_dose_cp_spacing_deg", o.final_dose_cp_spacing_deg == d.final_dose_cp_spacing_deg);
  j["defaults"] = defaults;
  return j;
}

GenerateResult generate_plan(const GenerateOptions& options_in, const GenerateProgress& progress) {
  GenerateOptions options = options_in;
  if (options.out.empty()) throw UsageError("generate: no output folder given");
  check_output_separate("--out", options.out,
                        {{"--patient", options.patient}, {"--protocol", options.protocol},
                         {"--machine", options.machine}, {"--from", options.from_plan}});
  if (!options.from_plan.empty() && options.generator != "plan")
    throw UsageError("--from starts from an earlier plan's fluence: it needs generator 'plan', not '" +
                     options.generator + "'");
  if (!(options.final_dose_spacing_mm > 0))
    throw UsageError("--final-dose-spacing must be positive");
  if (!(options.final_dose_cp_spacing_deg > 0))
    throw UsageError("--final-dose-cp-spacing must be positive");
  // Training examples are the reference planner's plans, never a learned generator's.
  if (options.training_export && options.generator == "auto") options.generator = "classical";
  options.fluence = fluence_stage_options(options);
  set_dose_engine_threads(options.threads);

  GenerateResult result;
  StageClock clock(progress, result);

  // The stage is made first: an existing OUT (without --overwrite) or an unwritable place
  // fails in milliseconds; the commit never replaces an OUT another run made meanwhile.
  StagedOutput out(options.out, StagedOutput::Kind::kDirectory, options.overwrite);

  // Everything is read and checked before anything is computed or written.
  clock.begin("load");
  auto generator = make_fluence_generator(options.generator);
  auto refiner = make_fluence_refiner(options.refiner);
  const Protocol protocol = with_objective_weight_factors(load_protocol(options.protocol),
                                                          options.objective_weight_factors);
  const Machine machine = Machine::load_named(options.machine);
  const StructureRoles roles = StructureRoles::load_default();
  Patient patient = load_patient(options.patient);
  std::shared_ptr<const PlanFile> start_plan;
  if (!options.from_plan.empty())
    start_plan = std::make_shared<const PlanFile>(load_start_plan(options.from_plan, patient, machine.name));
  if (protocol.prescription.targets.empty())
    throw ProcessingError("protocol '" + protocol.name + "' has no target level");
  const Structure& target = roles.resolve(patient, protocol.prescription.targets.front().role);
  // A target outside the body is refused; scan edge, metal, air: warnings in the log,
  // summary.json ("patient_warnings") and the report.
  for (std::string& w : planning_checks(patient, target, roles.find(patient, "body"),
                                        HuToRed::load_default().hu_points().back())) {
    spdlog::warn("{}: {}", options.patient, w);
    patient.warnings.push_back(std::move(w));
  }
  clock.end();

  FluenceStageContext context{patient, protocol, machine, roles, options.fluence,
                              [&clock](double f) { clock.report(f); }};
  context.learned = options.learned;
  context.start_plan = start_plan;
  context.start_plan_path = options.from_plan;
  clock.begin("fluence");
  FluencePlan fluence = generator->generate(context);
  clock.end();
  clock.begin("refine");
  fluence = refiner->refine(context, std::move(fluence));
  clock.end();

  const SequencerOptions so = sequencer_stage_options(options, protocol, target.name);
  SafeTensorsFile training;
  if (options.training_export) {
    clock.begin("training");
    training = make_training_example({patient, protocol, machine, roles, options, fluence, so.fractions});
    clock.end();
  }

  clock.begin("sequence");
  PlanFile fluence_plan;
  fluence_plan.machine_name = options.machine;
  fluence_plan.geometry = fluence.geometry;
  fluence_plan.fluence = fluence.fluence;
  // What `generate --from` re-plans (pipeline/fluence_stages.h), written with the plan.
  fluence_plan.extra = {{"kind", "fluence plan"},
                        {"patient_id", patient.identity.patient_id},
                        {"machine", machine.name},
                        {"protocol", protocol.name},
                        {"generator", fluence.info.value("generator", options.generator)},
                        {"refiner", options.refiner}};
  SequencedPlan sequenced = sequence_arcs(fluence_plan, machine, so);
  DeliveryPlan delivery = sequenced.plan;
  clock.end();

  DeliveryOptimisation optimised;  // on the optimisation grid, after the last stage
  if (options.meterset) {
    clock.begin(so.method == SequencerMethod::kApertures ? "aperture" : "meterset");
    optimised = optimise_delivery(delivery, fluence, {patient, protocol, roles}, machine, options);
    delivery = optimised.plan;
    result.meterset = std::move(optimised.info);
    clock.end();
  } else {
    result.meterset = {{"status", "off"}};
  }

  fluence.engine.reset();  // the optimisation grid's operator is not needed any more
  clock.begin("final_dose");
  const MetersetPlanContext plan_context{patient, protocol, roles};
  FinalPlanDose final = final_plan_dose(delivery, fluence, plan_context, machine, options);
  clock.end();
  // A goal met where the plan was optimised but failed on the final dose: the last
  // optimisation stage (DAO, or the sweep's MU re-optimisation) again against the final
  // grid's dose (final_dose_stage.h), when that meets more goals. The
  // goals on the optimisation grid are evaluated only when the final dose fails one.
  bool final_fails_a_goal = false;
  for (const GoalResult& g : final.evaluation.goals) final_fails_a_goal = final_fails_a_goal || !g.pass;
  const PlanEvaluation no_goals;
  const PlanEvaluation& optimised_evaluation = final_fails_a_goal ? optimised_goals(optimised, plan_context) : no_goals;
  if (options.meterset) {
    const bool lost = !goals_lost_between(optimised_evaluation, final.evaluation).empty();
    if (lost) clock.begin("final_grid_correction");
    FinalGridCorrection correction =
        correct_for_final_grid(final, optimised_evaluation, fluence, plan_context, machine, options);
    if (lost) clock.end();
    if (correction.applied) final = std::move(correction.result);
    result.final_grid_correction = std::move(correction.info);
  }
  delivery = std::move(final.plan);
  DoseImage dose = std::move(final.dose);
  result.evaluation = std::move(final.evaluation);
  result.mu_scale = final.mu_scale;
  // A goal still lost is said, with where the difference lies.
  for (std::string& w : goals_lost_on_final_grid(patient, optimised_evaluation, result.evaluation, dose,
                                                 options.fluence.dose_spacing_mm,
                                                 options.final_dose_spacing_mm)) {
    spdlog::warn("{}: {}", options.patient, w);
    result.plan_warnings.push_back(std::move(w));
  }
  const PlanGeometry geometry = delivered_geometry(delivery, fluence.geometry);
  const auto violations = check_deliverability(delivery, machine);
  result.deliverability_violations = static_cast<int>(violations.size());
  if (!violations.empty())
    throw ProcessingError("sequenced plan is not deliverable: " + format_violation(violations.front()));
  result.complexity = compute_complexity(delivery, machine);
  for (const auto& b : delivery.beams) result.control_points += static_cast<int>(b.control_points.size());

  clock.begin("write");
  delivery.identity = patient.identity;
  delivery.patient_position = patient.identity.patient_position;
  delivery.sop_instance_uid = make_uid();
  const std::string rp = out.path() + "/RP.dcm";
  write_rtplan(delivery, rp);
  const auto problems = validate_rtplan_file(rp);
  if (!problems.empty())
    throw ProcessingError("RT Plan fails validation (" + std::to_string(problems.size()) +
                          " problems), first: " + problems.front());
  write_rtdose(dose, delivery, out.path() + "/RD.dcm");
  if (patient.format != "dicom") export_patient_dicom(patient, roles, out.path() + "/ct");
  PlanFile plan_file;
  plan_file.machine_name = options.machine;
  plan_file.geometry = geometry;
  plan_file.fluence = delivered_fluence(delivery, fluence.fluence.grid, machine, {});
  plan_file.extra["delivery"] = delivery_plan_to_json(delivery);
  save_plan(plan_file, out.path() + "/plan.json");
  save_plan(fluence_plan, out.path() + "/" + kFluencePlanFileName);
  if (options.training_export) write_safetensors(training, out.path() + "/" + kTrainingFileName);

  clock.end();  // the summary's own writing is not timed
  result.total_seconds = clock.total();
  PlanSummaryInputs in{options, protocol, patient, fluence.info, result};
  in.dose = &dose;
  in.tool_versions = {{"vmatplan", kVersion},
                      {"libtorch", std::to_string(TORCH_VERSION_MAJOR) + "." +
                                       std::to_string(TORCH_VERSION_MINOR) + "." +
                                       std::to_string(TORCH_VERSION_PATCH)}};
  result.summary = write_generate_report(out.path(), in);
  out.commit();
  result.out = options.out;
  return result;
}

}  // namespace vmatplan
