#pragma once
// The regression check of a cohort run (`vmatplan batch` output) against committed expected
// ranges, or against another run. Per patient it reads <run>/<id>/summary.json and dvh.json,
// takes the regression metrics (goals passed, every clinical goal's value, PTV D95/D2,
// rectum / bladder / femoral heads mean and D2, body mean dose, MU per Gy, MU per
// fraction, beam-on time) and checks each against its range. Format: docs/regression.md.
//
//   RegressionRun run = read_regression_run("out/run");
//   nlohmann::json expected = read_json_file("configs/regression/expected_full.json");
//   RegressionResult r = check_regression(run, expected, "expected_full.json");
//   for (const auto& f : r.failures()) std::cout << f.message() << "\n";
//
//   // --update: ranges from a run (value +- tolerance), and the DVHs the report overlays
//   nlohmann::json ranges = expected_ranges_from_run(run, tolerances);
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmatplan/report/dvh_samples.h"

namespace vmatplan {

// Half-widths of the ranges --update writes: a metric v gets [v - t, v + t] with
// t = max(absolute, |v| * relative) of its kind. JSON keys as the fields.
struct RegressionTolerances {
  double dose_gy = 1.0;                // Gy metrics (PTV D95, rectum mean, body mean, ...)
  double goal_value_relative = 0.03;   // clinical goal values
  double goal_value_absolute = 1.0;
  double mu_relative = 0.02;           // MU per Gy, MU per fraction
  double time_relative = 0.05;         // beam-on time
  int goals_passed_drop = 0;           // goals passed may fall this much
};
// From a JSON object with the keys above (missing keys keep the defaults); InputError naming
// `source` on a non-number.
RegressionTolerances regression_tolerances_from_json(const nlohmann::json& j, const std::string& source);

// One patient of a run.
struct RegressionPatient {
  std::string id;
  std::string status;  // "done", "failed", "pending" (from cohort_summary.json)
  std::string error;
  std::map<std::string, double> metrics;  // name -> value, see regression_metrics()
  int goals_passed = 0;
  int goals_total = 0;
  std::vector<SampledDvh> dvh;  // empty when the plan folder has no dvh.json
  std::vector<TargetLevel> prescription;  // summary.json's prescription targets (DVH plot)
};
struct RegressionRun {
  std::string dir;
  std::vector<RegressionPatient> patients;  // cohort order
  const RegressionPatient* find(const std::string& id) const;
};

// The metrics of one plan's summary.json: "goal:<structure> <metric>" for each evaluated
// goal, ptv_d95_gy, ptv_d2_gy, <role>_mean_gy and <role>_d2_gy for rectum, bladder,
// femoral_head_left/right (when present), body_mean_gy, mu_per_gy, mu_per_fraction,
// beam_on_s.
std::map<std::string, double> regression_metrics(const nlohmann::json& summary);

// Reads <dir>/cohort_summary.json and each done patient's summary.json and dvh.json;
// InputError naming the file when one is missing or malformed.
RegressionRun read_regression_run(const std::string& dir);

// {"patients": {id: {"goals_passed_min": n, "metrics": {name: [lo, hi]}}}} from the done
// patients of `run`.
nlohmann::json expected_ranges_from_run(const RegressionRun& run, const RegressionTolerances& tol);
// {"patients": {id: [structures as dvh_structures_json]}}: the expected plans' DVHs.
nlohmann::json expected_dvhs_from_run(const RegressionRun& run);
// The two above as text: one line per metric / structure, so that diffs stay readable.
std::string format_expected_json(const nlohmann::json& j);

struct RegressionCheck {
  std::string patient;
  std::string metric;
  double value = 0.0;
  double low = 0.0, high = 0.0;
  bool present = true;  // false: the run has no value for an expected metric
  bool pass = true;
  std::string message() const;  // "S103 rectum_mean_gy: 36.21 above the expected [33.30, 35.30] by 0.91"
};
struct RegressionPatientResult {
  std::string id;
  std::string status;       // the run's status, "missing" when absent from the run
  std::string error;        // the run's error for a failed patient
  std::vector<RegressionCheck> checks;  // goals_passed first, then the metrics by name
  bool pass() const;
};
struct RegressionResult {
  std::string expected_source;  // the expected file, or the baseline run's folder
  std::vector<RegressionPatientResult> patients;  // the run's order, then patients it lacks
  std::vector<std::string> failures() const;      // one line each, patient first
  bool pass() const { return failures().empty(); }
};

// Every expected patient and metric against the run; `source` names the expected ranges
// (file or baseline run) in messages. InputError naming `source` on a malformed file.
RegressionResult check_regression(const RegressionRun& run, const nlohmann::json& expected,
                                  const std::string& source);

// The report folder: regression.json (every check), regression.csv (one row per check)
// and report.html (summary, failures, then per patient its table and DVH overlay of the
// run (solid) against the expected DVHs (dashed) when given). `reference_label` names the
// expected side ("expected" or the baseline run).
struct RegressionReportInputs {
  const RegressionRun& run;
  const RegressionResult& result;
  std::map<std::string, std::vector<SampledDvh>> expected_dvh;  // by patient id
  std::string reference_label = "expected";
  std::string title = "vmatplan regression";
};
nlohmann::json regression_result_json(const RegressionResult& result);
std::string regression_result_csv(const RegressionResult& result);
std::string render_regression_html(const RegressionReportInputs& inputs);
void write_regression_report(const std::string& dir, const RegressionReportInputs& inputs);

// expected DVH file -> by patient id; InputError naming `source`.
std::map<std::string, std::vector<SampledDvh>> expected_dvhs_from_json(const nlohmann::json& j,
                                                                       const std::string& source);

}  // namespace vmatplan
