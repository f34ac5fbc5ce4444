// vmatplan regression-report: a cohort run (`batch` output) checked against committed
// expected ranges (or against another run), with report.html, regression.json and
// regression.csv; --update writes the expected files from the run instead. Used by
// scripts/regression.sh; docs/regression.md.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/core/staged_output.h"
#include "vmatplan/core/text_file.h"
#include "vmatplan/report/regression.h"

namespace vmatplan::cli {
namespace {

struct RegressionReportOptions {
  std::string run;
  std::string expected;      // ranges file
  std::string expected_dvh;  // DVH samples file (optional)
  std::string baseline;      // another run instead of --expected
  std::string tolerances;    // JSON with the tolerances (or a "tolerances" key)
  std::string out;
  std::string title = "vmatplan regression";
  bool update = false;
};

RegressionTolerances read_tolerances(const std::string& path) {
  if (path.empty()) return {};
  const nlohmann::json j = read_json_file(path, "tolerances");
  return regression_tolerances_from_json(j.contains("tolerances") ? j["tolerances"] : j, path);
}

int run_regression_report(const RegressionReportOptions& opt) {
  if (opt.update && (opt.expected.empty() || !opt.baseline.empty()))
    throw UsageError("regression-report: --update needs --expected (and no --baseline)");
  if (!opt.update && opt.expected.empty() == opt.baseline.empty())
    throw UsageError("regression-report: give --expected FILE or --baseline RUN_DIR");
  if (!opt.update && opt.out.empty()) throw UsageError("regression-report: --out is required");
  const RegressionTolerances tol = read_tolerances(opt.tolerances);
  const RegressionRun run = read_regression_run(opt.run);

  if (opt.update) {
    for (const auto& p : run.patients)
      if (p.status != "done") spdlog::warn("{}: status {}, no expected ranges written for it", p.id, p.status);
    write_text_file(opt.expected, format_expected_json(expected_ranges_from_run(run, tol)));
    std::cout << "wrote " << opt.expected << "\n";
    if (!opt.expected_dvh.empty()) {
      write_text_file(opt.expected_dvh, format_expected_json(expected_dvhs_from_run(run)));
      std::cout << "wrote " << opt.expected_dvh << "\n";
    }
    return 0;
  }

  std::map<std::string, std::vector<SampledDvh>> reference_dvh;
  RegressionResult result;
  std::string reference_label = "expected";
  if (!opt.baseline.empty()) {  // ranges around the baseline run's values, its DVHs
    const RegressionRun base = read_regression_run(opt.baseline);
    result = check_regression(run, expected_ranges_from_run(base, tol), opt.baseline);
    for (const auto& p : base.patients)
      if (!p.dvh.empty()) reference_dvh[p.id] = p.dvh;
    reference_label = "baseline";
  } else {
    result = check_regression(run, read_json_file(opt.expected, "expected ranges"), opt.expected);
    if (!opt.expected_dvh.empty())
      reference_dvh = expected_dvhs_from_json(read_json_file(opt.expected_dvh, "expected DVHs"), opt.expected_dvh);
  }

  StagedOutput out(opt.out, StagedOutput::Kind::kDirectory, /*overwrite=*/true);
  write_regression_report(out.path(), {run, result, reference_dvh, reference_label, opt.title});
  out.commit();

  const std::vector<std::string> failures = result.failures();
  for (const auto& f : failures) std::cout << "REGRESSION " << f << "\n";
  size_t checks = 0;
  for (const auto& p : result.patients) checks += p.checks.size();
  std::cout << (failures.empty() ? "regression: PASS, " : "regression: FAIL, ") << result.patients.size()
            << " patients, " << checks << " checks, " << failures.size() << " out of range; report "
            << opt.out << "/report.html\n";
  return failures.empty() ? 0 : 1;
}

}  // namespace

Command register_regression_report(CLI::App& app, const GlobalOptions& /*global*/) {
  auto opt = std::make_shared<RegressionReportOptions>();
  CLI::App* sub = app.add_subcommand(
      "regression-report", "Check a cohort run (batch output) against expected ranges or another run; HTML report");
  sub->add_option("--run", opt->run, "The run: a `vmatplan batch` output folder")->required();
  sub->add_option("--expected", opt->expected, "Expected ranges (JSON; written with --update)");
  sub->add_option("--expected-dvh", opt->expected_dvh, "Expected DVH samples (JSON; written with --update)");
  sub->add_option("--baseline", opt->baseline,
                  "Another run (batch output) to compare with, instead of --expected: ranges are its "
                  "values +- the tolerances");
  sub->add_option("--tolerances", opt->tolerances,
                  "JSON with the tolerances (or a 'tolerances' key, e.g. configs/regression/cohort.json)");
  sub->add_option("--out", opt->out, "Report folder (report.html, regression.json, regression.csv)");
  sub->add_option("--title", opt->title, "Report title")->capture_default_str();
  sub->add_flag("--update", opt->update, "Write --expected (and --expected-dvh) from this run instead of checking");
  return {sub, [opt] { return run_regression_report(*opt); }};
}

}  // namespace vmatplan::cli
