// The regression check: DVH samples (sampling, JSON round trip, plot curve), the metrics of
// a summary.json, ranges from a run, out-of-range messages, the report files.
#include <catch2/catch.hpp>

#include <cmath>

#include "regression_fixture.h"
#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/report/dvh_samples.h"
#include "vmatplan/report/regression.h"

using namespace vmatplan;

TEST_CASE("DVH samples: D100..D0 of each structure, JSON round trip, plot curve", "[report][regression]") {
  PlanEvaluation e;
  std::vector<float> doses;
  for (int i = 0; i < 1000; ++i) doses.push_back(50.0f + 0.01f * i);  // 50 .. 59.99 Gy, uniform
  e.structures.push_back({"PTV", "ptv", "PTV", {255, 0, 0}, Dvh(doses, 0.1), {}});
  e.structures.push_back({"Empty", "", "ORGAN", {0, 0, 255}, Dvh(), {}});
  const std::vector<SampledDvh> s = sample_dvhs(e);
  REQUIRE(s.size() == 1);  // the empty structure has no curve
  REQUIRE(s[0].dose_gy.size() == size_t(kDvhSampleLevels));
  CHECK(s[0].dose_gy.front() == Approx(50.0));   // D100: the minimum
  CHECK(s[0].dose_gy.back() == Approx(59.99));   // D0: the maximum
  CHECK(s[0].dose_gy[50] == Approx(55.0).margin(0.02));  // D50
  CHECK(s[0].volume_cc == Approx(100.0));

  const auto back = dvh_samples_from_json(nlohmann::json::parse(dvh_samples_json(s).dump()), "dvh.json");
  REQUIRE(back.size() == 1);
  CHECK(back[0].name == "PTV");
  CHECK(back[0].role == "ptv");
  CHECK(back[0].color_rgb == std::array<uint8_t, 3>{255, 0, 0});
  CHECK(back[0].dose_gy == s[0].dose_gy);
  const DvhPlotCurve c = plot_curve(back[0]);
  REQUIRE(c.points.size() == size_t(kDvhSampleLevels + 1));
  CHECK(c.points.front().dose_gy == 0.0);
  CHECK(c.points.front().volume_pct == 100.0);
  CHECK(c.points.back().volume_pct == 0.0);

  nlohmann::json bad = dvh_samples_json(s);
  bad["structures"][0]["dose_gy"].erase(0);
  CHECK_THROWS_WITH(dvh_samples_from_json(bad, "x/dvh.json"), Catch::Contains("x/dvh.json") && Catch::Contains("101"));
  bad = dvh_samples_json(s);
  bad["structures"][0]["dose_gy"][3] = 1.0;
  CHECK_THROWS_WITH(dvh_samples_from_json(bad, "x/dvh.json"), Catch::Contains("must not decrease"));
}

TEST_CASE("regression metrics of a summary.json", "[report][regression]") {
  const std::string dir = test::scratch_dir("regression_metrics");
  test::write_fake_regression_run(dir);
  const RegressionRun run = read_regression_run(dir);
  REQUIRE(run.patients.size() == 2);
  const RegressionPatient& p = run.patients[0];
  CHECK(p.status == "done");
  CHECK(p.goals_passed == 2);
  CHECK(p.goals_total == 2);
  CHECK(p.dvh.size() == 2);
  CHECK(p.metrics.at("ptv_d95_gy") == 57.0);
  CHECK(p.metrics.at("ptv_d2_gy") == 61.5);
  CHECK(p.metrics.at("rectum_mean_gy") == 20.0);
  CHECK(p.metrics.at("rectum_d2_gy") == 55.0);
  CHECK(p.metrics.at("body_mean_gy") == 8.0);
  CHECK(p.metrics.at("mu_per_gy") == 250.0);
  CHECK(p.metrics.at("beam_on_s") == 120.0);
  CHECK(p.metrics.at("goal:Rectum V40.8Gy") == 12.5);
  CHECK(p.metrics.count("goal:Bladder V60Gy") == 0);  // not evaluated
  CHECK(p.metrics.count("bladder_mean_gy") == 0);     // no bladder in this plan
  CHECK(run.patients[1].status == "failed");
  CHECK(run.patients[1].metrics.empty());

  CHECK_THROWS_WITH(read_regression_run(dir + "/S1"), Catch::Contains("S1/cohort_summary.json"));
}

TEST_CASE("regression ranges from a run, checks and their messages", "[report][regression]") {
  const std::string dir = test::scratch_dir("regression_check");
  test::write_fake_regression_run(dir + "/old");
  const RegressionTolerances tol;
  const nlohmann::json expected = expected_ranges_from_run(read_regression_run(dir + "/old"), tol);
  REQUIRE(expected["patients"].size() == 1);  // the failed patient has no ranges
  const nlohmann::json& m = expected["patients"]["S1"]["metrics"];
  CHECK(m["ptv_d95_gy"] == nlohmann::json({56.0, 58.0}));
  CHECK(m["mu_per_gy"] == nlohmann::json({245.0, 255.0}));                   // 2 %
  CHECK(m["beam_on_s"] == nlohmann::json({114.0, 126.0}));                   // 5 %
  CHECK(m["goal:Rectum V40.8Gy"] == nlohmann::json({11.5, 13.5}));           // at least 1
  CHECK(m["goal:PTV D95%"][0].get<double>() == Approx(57.0 - 0.03 * 57.0));  // 3 %
  CHECK(expected["patients"]["S1"]["goals_passed_min"] == 2);
  CHECK(nlohmann::json::parse(format_expected_json(expected)) == expected);
  const nlohmann::json dvhs = expected_dvhs_from_run(read_regression_run(dir + "/old"));
  CHECK(nlohmann::json::parse(format_expected_json(dvhs)) == dvhs);
  CHECK(expected_dvhs_from_json(dvhs, "e.json").at("S1").size() == 2);

  SECTION("the same run passes") {
    const RegressionResult r = check_regression(read_regression_run(dir + "/old"), expected, "e.json");
    CHECK(r.pass());
    REQUIRE(r.patients.size() == 1);
    CHECK(r.patients[0].checks.size() == 11);  // goals passed + 10 metrics
  }
  SECTION("MU 3 % lower, rectum 2 Gy higher, a goal lost: each named with value and range") {
    test::write_fake_regression_run(dir + "/new", {0.97, 2.0, 1});
    const RegressionResult r = check_regression(read_regression_run(dir + "/new"), expected, "e.json");
    CHECK_FALSE(r.pass());
    const std::vector<std::string> f = r.failures();
    REQUIRE(f.size() == 5);  // goal values did not move
    CHECK(f[0] == "S1 goals_passed: 1 below the expected [2, 2] by 1");
    CHECK(f[1] == "S1 mu_per_fraction: 727.50 below the expected [735, 765] by 7.50");
    CHECK(f[2] == "S1 mu_per_gy: 242.50 below the expected [245, 255] by 2.50");
    CHECK(f[3] == "S1 rectum_d2_gy: 57 above the expected [54, 56] by 1");
    CHECK(f[4] == "S1 rectum_mean_gy: 22 above the expected [19, 21] by 1");
  }
  SECTION("a failed, a missing patient and a missing metric are failures") {
    nlohmann::json e = expected;
    e["patients"]["S1"]["metrics"]["bladder_mean_gy"] = {10.0, 12.0};
    e["patients"]["S2"] = {{"goals_passed_min", 1}, {"metrics", nlohmann::json::object()}};
    e["patients"]["S3"] = {{"goals_passed_min", 1}, {"metrics", nlohmann::json::object()}};
    const auto f = check_regression(read_regression_run(dir + "/old"), e, "e.json").failures();
    REQUIRE(f.size() == 3);
    CHECK(f[0] == "S1 bladder_mean_gy: missing from the run (expected [10, 12])");
    CHECK(f[1] == "S2: not planned (status failed: S2/ct: no CT slices)");
    CHECK(f[2] == "S3: not planned (status missing)");
  }
  SECTION("a malformed expected file names itself") {
    nlohmann::json e = expected;
    e["patients"]["S1"]["metrics"]["ptv_d95_gy"] = {58.0, 56.0};
    CHECK_THROWS_WITH(check_regression(read_regression_run(dir + "/old"), e, "x/expected.json"),
                      Catch::Contains("x/expected.json") && Catch::Contains("S1 ptv_d95_gy"));
    CHECK_THROWS_AS(check_regression(read_regression_run(dir + "/old"), nlohmann::json::array(), "x"), InputError);
  }
}

TEST_CASE("regression tolerances from JSON", "[report][regression]") {
  const auto t = regression_tolerances_from_json({{"dose_gy", 0.5}, {"mu_relative", 0.01}}, "c.json");
  CHECK(t.dose_gy == 0.5);
  CHECK(t.mu_relative == 0.01);
  CHECK(t.time_relative == RegressionTolerances{}.time_relative);
  CHECK_THROWS_WITH(regression_tolerances_from_json({{"dose_gy", "one"}}, "c.json"),
                    Catch::Contains("c.json") && Catch::Contains("tolerances.dose_gy"));
}

TEST_CASE("regression report: tables, failures, DVH overlays, CSV and JSON", "[report][regression]") {
  const std::string dir = test::scratch_dir("regression_report");
  test::write_fake_regression_run(dir + "/old");
  test::write_fake_regression_run(dir + "/new", {0.97, 0.0, 2});
  const RegressionRun old_run = read_regression_run(dir + "/old");
  const RegressionRun run = read_regression_run(dir + "/new");
  const RegressionResult r = check_regression(run, expected_ranges_from_run(old_run, {}), dir + "/old");
  std::map<std::string, std::vector<SampledDvh>> ref = {{"S1", old_run.patients[0].dvh}};
  const std::string html = render_regression_html({run, r, ref, "baseline", "Regression <test>"});
  CHECK(html.find("Regression &lt;test&gt;: <span class=\"verdict-fail\">FAIL") != std::string::npos);
  CHECK(html.find("<h2 id=\"S1\">S1 <span class=\"verdict-fail\">out of range") != std::string::npos);
  CHECK(html.find("<li>S1 mu_per_gy: 242.50 below the expected [245, 255] by 2.50</li>") != std::string::npos);
  CHECK(test::count_occurrences(html, "<polyline") == 4);        // 2 structures x (run, baseline)
  CHECK(test::count_occurrences(html, "stroke-dasharray=\"8,4\"") >= 2);  // the baseline dashed
  CHECK(html.find("DVH: S1") != std::string::npos);
  CHECK(html.find("Rx 60 Gy (ptv)") != std::string::npos);  // summary.json's prescription
  const std::string csv = regression_result_csv(r);
  CHECK(csv.rfind("patient,status,metric,value,expected_low,expected_high,pass\n", 0) == 0);
  CHECK(csv.find("S1,done,mu_per_gy,242.5,245,255,false\n") != std::string::npos);
  CHECK(csv.find("S1,done,ptv_d95_gy,57,56,58,true\n") != std::string::npos);
  const nlohmann::json j = regression_result_json(r);
  CHECK(j["pass"] == false);
  CHECK(j["failures"].size() == 2);  // mu_per_gy, mu_per_fraction
  CHECK(j["patients"][0]["checks"].size() == 11);
}
