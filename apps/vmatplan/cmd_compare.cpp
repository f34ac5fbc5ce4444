// vmatplan compare: two (or more) doses of one patient side by side: DVHs overlaid, goals
// and metrics in columns, gamma of each dose against the first, dose pictures of each;
// writes compare.json, dvh.svg, report.html and the pictures.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "commands.h"
#include "dose_input.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/evaluation/gamma.h"
#include "vmatplan/evaluation/plan_evaluation.h"
#include "vmatplan/evaluation/protocol.h"
#include "vmatplan/io/dose_reader.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/report/comparison_report.h"

namespace vmatplan::cli {
namespace {

struct CompareOptions {
  std::string patient;
  std::vector<std::string> doses;
  std::vector<std::string> labels;  // default: A, B, C, ...
  std::string protocol = kDefaultProtocol;
  std::string out;
  bool json = false;
  bool overwrite = false;
  bool allow_other_frame = false;
  GammaOptions gamma;  // library defaults: 3 % / 2 mm global, 10 % threshold
};

int run_compare(const CompareOptions& opt) {
  if (opt.doses.size() < 2) throw UsageError("compare: give --dose at least twice");
  if (!opt.labels.empty() && opt.labels.size() != opt.doses.size())
    throw UsageError("compare: give one --label per --dose (" + std::to_string(opt.doses.size()) +
                     " doses, " + std::to_string(opt.labels.size()) + " labels)");
  std::vector<std::string> labels = opt.labels;
  for (size_t i = labels.size(); i < opt.doses.size(); ++i) labels.push_back(std::string(1, char('A' + i % 26)));
  if (std::set<std::string>(labels.begin(), labels.end()).size() != labels.size())
    throw UsageError("compare: labels must differ");

  // Read everything first: a bad input fails before anything is written.
  const Protocol protocol = load_protocol(opt.protocol);
  const StructureRoles roles = StructureRoles::load_default();
  const Patient patient = load_patient(opt.patient);
  std::vector<DoseImage> doses;
  for (const std::string& path : opt.doses) {
    doses.push_back(read_patient_dose(path, patient, opt.allow_other_frame));
    check_dose_covers_targets(doses.back(), path, patient, protocol, roles);
  }

  std::vector<PlanEvaluation> evals;
  std::vector<GammaSummary> gammas(doses.size());
  for (size_t i = 0; i < doses.size(); ++i) {
    evals.push_back(evaluate_plan(patient, doses[i], protocol, roles));
    if (i == 0) continue;
    gammas[i].options = opt.gamma;
    gammas[i].result = compute_gamma(doses[0], doses[i], opt.gamma);
    spdlog::info("gamma of {} against {}: {:.2f}% pass over {} voxels", labels[i], labels[0],
                 gammas[i].result.pass_rate_pct, gammas[i].result.evaluated_voxels);
  }
  std::vector<ComparedDose> compared;
  for (size_t i = 0; i < doses.size(); ++i)
    compared.push_back({labels[i], opt.doses[i], &evals[i], i ? &gammas[i] : nullptr, &doses[i]});
  const ComparisonInputs inputs{opt.patient, protocol.path, &patient};

  StagedOutput out(opt.out, StagedOutput::Kind::kDirectory, opt.overwrite);
  write_comparison_report(out.path(), inputs, compared);
  out.commit();
  spdlog::info("wrote {}/compare.json, dvh.svg, report.html and dose pictures", opt.out);

  if (opt.json) {
    std::cout << build_comparison_json(inputs, compared).dump(2) << "\n";
    return 0;
  }
  std::cout << "goal";
  for (const auto& l : labels) std::cout << "\t" << l;
  std::cout << "\n";
  for (size_t g = 0; g < evals[0].goals.size(); ++g) {
    const GoalResult& r = evals[0].goals[g];
    std::cout << (r.structure.empty() ? r.goal.role + " (absent)" : r.structure) << " "
              << r.goal.metric.text << " " << to_string(r.goal.comparison) << " " << r.goal.acceptable
              << " " << r.goal.metric.value_unit();
    for (const auto& e : evals) {
      const GoalResult& x = e.goals[g];
      if (x.status == GoalStatus::kNotEvaluated)
        std::cout << "\t-";
      else
        std::cout << "\t" << x.value << (x.pass ? " PASS" : " FAIL");
    }
    std::cout << "\n";
  }
  for (size_t i = 1; i < doses.size(); ++i)
    std::cout << "gamma " << labels[i] << " vs " << labels[0] << ": pass rate "
              << gammas[i].result.pass_rate_pct << " %, mean " << gammas[i].result.mean_gamma << "\n";
  return 0;
}

}  // namespace

Command register_compare(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand(
      "compare", "Doses of one patient side by side: DVHs, goals, metrics, gamma, pictures");
  sub->add_option("--patient", opt->patient,
                  "DICOM folder, image folder (ct.nii.gz + masks/) or matRad .mat")
      ->required();
  sub->add_option("--dose", opt->doses,
                  "Dose in Gy (RT Dose .dcm or .nii.gz/.mha/.nrrd); twice or more, the first is "
                  "the reference for gamma")
      ->required()
      ->take_all();
  sub->add_option("--label", opt->labels, "A label per --dose, in the same order (default A, B, ...)")
      ->take_all();
  sub->add_option("--protocol", opt->protocol,
                  "Protocol name (configs/protocols/NAME.json) or path to a .json")
      ->capture_default_str();
  sub->add_option("--out", opt->out, "Output folder (compare.json, dvh.svg, report.html)")->required();
  sub->add_flag("--json", opt->json, "Print compare.json to stdout instead of a goal table");
  sub->add_flag("--overwrite", opt->overwrite, "Replace an existing output folder");
  sub->add_flag("--allow-other-frame", opt->allow_other_frame,
                "Accept an RT Dose whose frame of reference is not the patient's (warns)");
  sub->add_option("--gamma-dose", opt->gamma.dose_criterion_pct, "Gamma dose criterion (%)")
      ->capture_default_str();
  sub->add_option("--gamma-distance", opt->gamma.distance_mm, "Gamma distance criterion (mm)")
      ->capture_default_str();
  sub->add_option("--gamma-threshold", opt->gamma.low_dose_threshold_pct,
                  "Gamma low-dose threshold (% of the reference maximum)")
      ->capture_default_str();
  sub->add_flag("--gamma-local", opt->gamma.local, "Local instead of global gamma");
  return {sub, [opt] { return run_compare(*opt); }};
}

}  // namespace vmatplan::cli
