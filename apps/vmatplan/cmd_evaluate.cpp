// vmatplan evaluate: DVH metrics and clinical goals of a dose for a patient and protocol,
// optionally gamma against a reference dose; writes summary.json, dvh.svg and report.html.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "dose_input.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/io/dose_reader.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/report/html_report.h"

namespace vmatplan::cli {
namespace {

struct EvaluateOptions {
  std::string patient;
  std::string dose;
  std::string protocol = kDefaultProtocol;
  std::string reference;
  std::string out;
  bool json = false;
  bool overwrite = false;
  bool allow_other_frame = false;
  GammaOptions gamma;  // defaults: 3 % / 2 mm global, 10 % threshold (library defaults)
};

int run_evaluate(const EvaluateOptions& opt) {
  // The output may neither be nor hold nor lie inside an input; its stage is made first
  // (the writability check) and removed again when an input is refused.
  check_output_separate("--out", opt.out, {{"--patient", opt.patient}, {"--dose", opt.dose},
                                           {"--reference", opt.reference}, {"--protocol", opt.protocol}});
  StagedOutput out(opt.out, StagedOutput::Kind::kDirectory, opt.overwrite);
  // Read everything first: a bad input must fail before anything is written.
  const Protocol protocol = load_protocol(opt.protocol);
  const StructureRoles roles = StructureRoles::load_default();
  const Patient patient = load_patient(opt.patient);
  DoseFileInfo info;
  const DoseImage dose = read_patient_dose(opt.dose, patient, opt.allow_other_frame, &info);
  const DoseImage reference =
      opt.reference.empty() ? DoseImage() : read_patient_dose(opt.reference, patient, opt.allow_other_frame);
  if (info.format == "RTDOSE" && !info.summation_type.empty() && info.summation_type != "PLAN")
    spdlog::warn("{}: DoseSummationType {} (goals are written for the whole plan's dose)",
                 opt.dose, info.summation_type);
  check_dose_covers_targets(dose, opt.dose, patient, protocol, roles);
  spdlog::info("evaluating {} on {} ({} structures) with protocol {}", opt.dose, patient.source,
               patient.structures.size(), protocol.name);
  const PlanEvaluation e = evaluate_plan(patient, dose, protocol, roles);
  if (e.ct_voxels_outside_dose_grid > 0)
    spdlog::warn("{} CT voxels lie outside the dose grid (dose 0 there)",
                 e.ct_voxels_outside_dose_grid);

  std::unique_ptr<GammaSummary> gamma;
  if (!opt.reference.empty()) {
    gamma = std::make_unique<GammaSummary>();
    gamma->options = opt.gamma;
    gamma->result = compute_gamma(reference, dose, opt.gamma);
    spdlog::info("gamma {}%/{} mm ({}): pass rate {:.2f}% over {} voxels",
                 opt.gamma.dose_criterion_pct, opt.gamma.distance_mm,
                 opt.gamma.local ? "local" : "global", gamma->result.pass_rate_pct,
                 gamma->result.evaluated_voxels);
  }

  const ReportInputs inputs{opt.patient, opt.dose, protocol.path, opt.reference};
  write_plan_report(out.path(), e, inputs, gamma.get(), DoseView{&patient, &dose});
  out.commit();
  spdlog::info("wrote {}/summary.json, dvh.svg, dose_*.svg, report.html ({} goals passed, {} failed)",
               opt.out, e.goals_passed(), e.goals_failed());

  if (opt.json) {
    std::cout << build_summary_json(e, inputs, gamma.get()).dump(2) << "\n";
  } else {
    for (const auto& r : e.goals) {
      const bool na = r.status == GoalStatus::kNotEvaluated;
      std::cout << (na ? "n/a " : r.pass ? "PASS" : "FAIL") << "  "
                << (na ? r.goal.role + " (absent)" : r.structure) << " " << r.goal.metric.text
                << " " << to_string(r.goal.comparison) << " " << r.goal.acceptable << " "
                << r.goal.metric.value_unit() << ": ";
      if (na)
        std::cout << "-\n";
      else
        std::cout << r.value << "\n";
    }
    if (gamma)
      std::cout << "gamma pass rate " << gamma->result.pass_rate_pct << " %, mean "
                << gamma->result.mean_gamma << "\n";
  }
  return 0;
}

}  // namespace

Command register_evaluate(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<EvaluateOptions>();
  CLI::App* sub = app.add_subcommand(
      "evaluate", "DVH metrics, clinical goals and optional gamma of a dose; writes a report");
  sub->add_option("--patient", opt->patient,
                  "DICOM folder, image folder (ct.nii.gz + masks/) or matRad .mat")
      ->required();
  sub->add_option("--dose", opt->dose, "Dose in Gy: DICOM RT Dose (RD.dcm) or image (.nii.gz, .mha, .nrrd)")->required();
  sub->add_option("--protocol", opt->protocol,
                  "Protocol name (configs/protocols/NAME.json) or path to a .json")
      ->capture_default_str();
  sub->add_option("--reference", opt->reference,
                  "Reference dose (RT Dose or image): compute gamma of --dose against it");
  sub->add_flag("--allow-other-frame", opt->allow_other_frame,
                "Evaluate an RT Dose whose frame of reference is not the patient's (warns)");
  sub->add_option("--out", opt->out, "Output folder (summary.json, dvh.svg, report.html)")
      ->required();
  sub->add_flag("--json", opt->json, "Print summary.json to stdout instead of a goal list");
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing output folder");
  sub->add_option("--gamma-dose", opt->gamma.dose_criterion_pct, "Gamma dose criterion (%)")
      ->capture_default_str();
  sub->add_option("--gamma-distance", opt->gamma.distance_mm, "Gamma distance criterion (mm)")
      ->capture_default_str();
  sub->add_option("--gamma-threshold", opt->gamma.low_dose_threshold_pct,
                  "Gamma low-dose threshold (% of the reference maximum)")
      ->capture_default_str();
  sub->add_flag("--gamma-local", opt->gamma.local, "Local instead of global gamma");
  sub->add_option("--gamma-max", opt->gamma.max_gamma, "Gamma values are capped here")
      ->capture_default_str();
  return {sub, [opt] { return run_evaluate(*opt); }};
}

}  // namespace vmatplan::cli
