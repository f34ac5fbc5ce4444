// `vmatplan regression-report` end to end on a hand-made run: --update writes the expected
// files, the same run passes, a moved run fails naming patient, metric, range and value,
// --baseline compares two runs; bad input gives one line naming the file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "report/regression_fixture.h"
#include "test_support.h"

using namespace vmatplan;
namespace fs = std::filesystem;

TEST_CASE("regression-report: update, pass, fail, baseline", "[cli][regression]") {
  const std::string dir = test::scratch_dir("cli_regression_report");
  test::write_fake_regression_run(dir + "/old");
  test::write_fake_regression_run(dir + "/new", {0.97, 0.0, 2});
  const std::string e = dir + "/expected.json", d = dir + "/expected_dvh.json";
  std::ofstream(dir + "/cohort.json") << R"({"tolerances": {"dose_gy": 1.0, "mu_relative": 0.02}})";

  auto r = test::run_cli("regression-report --run " + dir + "/old --update --tolerances " + dir +
                         "/cohort.json --expected " + e + " --expected-dvh " + d);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("S2") != std::string::npos);  // warned: the failed patient gets no ranges
  const auto expected = nlohmann::json::parse(std::ifstream(e));
  CHECK(expected["patients"]["S1"]["metrics"]["mu_per_gy"] == nlohmann::json({245.0, 255.0}));
  CHECK(nlohmann::json::parse(std::ifstream(d))["patients"]["S1"].size() == 2);

  r = test::run_cli("regression-report --run " + dir + "/old --expected " + e + " --expected-dvh " + d +
                    " --out " + dir + "/report_old");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("regression: PASS, 1 patients, 11 checks, 0 out of range") != std::string::npos);
  for (const char* f : {"report.html", "regression.json", "regression.csv"})
    CHECK(fs::exists(dir + "/report_old/" + f));

  r = test::run_cli("regression-report --run " + dir + "/new --expected " + e + " --out " + dir + "/report_new");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("REGRESSION S1 mu_per_gy: 242.50 below the expected [245, 255] by 2.50\n") != std::string::npos);
  CHECK(r.out.find("regression: FAIL, 1 patients, 11 checks, 2 out of range") != std::string::npos);
  CHECK(fs::exists(dir + "/report_new/report.html"));

  r = test::run_cli("regression-report --run " + dir + "/new --baseline " + dir + "/old --tolerances " + dir +
                    "/cohort.json --out " + dir + "/compare");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("REGRESSION S1 mu_per_fraction: 727.50 below the expected [735, 765] by 7.50\n") !=
        std::string::npos);
  std::ifstream html(dir + "/compare/report.html");
  const std::string text((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  CHECK(test::count_occurrences(text, "<polyline") == 4);  // run and baseline DVHs
  CHECK(text.find("baseline dashed") != std::string::npos);
}

TEST_CASE("regression-report: bad input and usage", "[cli][regression]") {
  const std::string dir = test::scratch_dir("cli_regression_bad");
  test::write_fake_regression_run(dir + "/run");
  auto r = test::run_cli("regression-report --run " + dir + "/run --expected " + dir + "/none.json --out " + dir + "/o");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/none.json") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(fs::exists(dir + "/o"));

  std::ofstream(dir + "/bad.json") << R"({"patients": {"S1": {"metrics": {"mu_per_gy": [3]}}}})";
  r = test::run_cli("regression-report --run " + dir + "/run --expected " + dir + "/bad.json --out " + dir + "/o");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/bad.json: S1 mu_per_gy: expected a range [low, high]") != std::string::npos);

  r = test::run_cli("regression-report --run " + dir + "/nowhere --expected " + dir + "/bad.json --out " + dir + "/o");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/nowhere/cohort_summary.json") != std::string::npos);

  r = test::run_cli("regression-report --run " + dir + "/run --out " + dir + "/o");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--expected FILE or --baseline RUN_DIR") != std::string::npos);
}

// scripts/regression.sh on a user's cohort description (one tiny phantom, coarse flags):
// --update writes the expected files beside it, the next run passes with a report, and
// --compare of a run with itself passes.
TEST_CASE("regression.sh: a user's cohort, update, check, compare", "[cli][regression][script]") {
  if (!test::have_program("jq")) {
    WARN("skipped: jq not installed");
    return;
  }
  const std::string dir = test::scratch_dir("regression_script");
  std::string patient;
  REQUIRE(test::make_tiny_phantom(dir, 3, &patient).exit_code == 0);
  const nlohmann::json cohort = {{"batch_flags", std::string(test::kCoarsePlanFlags)},
                                 {"patients", {{{"id", "P1"}, {"path", patient}, {"protocol", "prostate_60gy_20fx"}}}},
                                 {"tolerances", {{"dose_gy", 0.5}}}};
  std::ofstream(dir + "/mine.json") << cohort.dump(2);
  const std::string script = "VMATPLAN='" VMATPLAN_CLI_PATH "' " VMATPLAN_SOURCE_DIR "/scripts/regression.sh";
  auto r = test::run_shell(script + " --cohort " + dir + "/mine.json --out " + dir + "/out --jobs 1 --update");
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const auto expected = nlohmann::json::parse(std::ifstream(dir + "/mine_expected.json"));
  const auto& range = expected["patients"]["P1"]["metrics"]["ptv_d95_gy"];
  CHECK(range[1].get<double>() - range[0].get<double>() == Approx(1.0));  // the cohort's 0.5 Gy
  CHECK(fs::exists(dir + "/mine_expected_dvh.json"));

  r = test::run_shell(script + " --cohort " + dir + "/mine.json --out " + dir + "/out --jobs 1 --resume");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("regression: PASS, 1 patients") != std::string::npos);
  CHECK(fs::exists(dir + "/out/report/report.html"));

  r = test::run_shell(script + " --cohort " + dir + "/mine.json --compare " + dir + "/out " + dir + "/out");
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(dir + "/out/compare/report.html"));

  std::ofstream(dir + "/broken.json") << R"({"patients": [{"id": "P9", "path": "nowhere/P9"}]})";
  r = test::run_shell(script + " --cohort " + dir + "/broken.json --out " + dir + "/out2");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir + "/nowhere/P9 (patient P9): no such file or folder") != std::string::npos);
}
