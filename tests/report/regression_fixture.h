#pragma once
// A hand-made cohort run (the files `vmatplan batch` writes that the regression check
// reads) for the regression tests: patient S1 planned, S2 failed. No planning involved.
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace vmatplan::test {

struct FakeRunOptions {
  double mu_scale = 1.0;         // MU per Gy and per fraction times this
  double rectum_shift_gy = 0.0;  // added to the rectum's mean and D2
  int goals_passed = 2;
};

inline void write_fake_regression_run(const std::string& dir, const FakeRunOptions& o = {}) {
  std::filesystem::create_directories(dir + "/S1");
  const nlohmann::json cohort = {
      {"patients",
       {{{"id", "S1"}, {"status", "done"}, {"error", ""}},
        {{"id", "S2"}, {"status", "failed"}, {"error", "S2/ct: no CT slices"}}}}};
  std::ofstream(dir + "/cohort_summary.json") << cohort.dump(2);
  const nlohmann::json summary = {
      {"goals_passed", o.goals_passed},
      {"goals_failed", 2 - o.goals_passed},
      {"prescription", {{"targets", {{{"role", "ptv"}, {"dose_gy", 60.0}}}}}},
      {"structures",
       {{{"name", "PTV"}, {"role", "ptv"}, {"mean_gy", 59.5}, {"d95_gy", 57.0}, {"d2_gy", 61.5}},
        {{"name", "Rectum"}, {"role", "rectum"}, {"mean_gy", 20.0 + o.rectum_shift_gy}, {"d2_gy", 55.0 + o.rectum_shift_gy}},
        {{"name", "BODY"}, {"role", "body"}, {"mean_gy", 8.0}, {"d2_gy", 50.0}}}},
      {"goals",
       {{{"structure", "PTV"}, {"metric", "D95%"}, {"value", 57.0}},
        {{"structure", "Rectum"}, {"metric", "V40.8Gy"}, {"value", 12.5}},
        {{"structure", "Bladder"}, {"metric", "V60Gy"}, {"value", nullptr}}}},
      {"plan", {{"mu_per_fraction", 750.0 * o.mu_scale}, {"mu_per_gy", 250.0 * o.mu_scale}, {"delivery_time_s", 120.0}}}};
  std::ofstream(dir + "/S1/summary.json") << summary.dump(2);
  nlohmann::json ptv = nlohmann::json::array(), rectum = nlohmann::json::array();
  for (int i = 0; i <= 100; ++i) {
    ptv.push_back(55.0 + 0.07 * i);
    rectum.push_back(0.5 * i + o.rectum_shift_gy);
  }
  const nlohmann::json dvh = {
      {"format", "vmatplan-dvh-samples-1"},
      {"structures",
       {{{"name", "PTV"}, {"role", "ptv"}, {"color_rgb", {255, 0, 0}}, {"volume_cc", 80.0}, {"dose_gy", ptv}},
        {{"name", "Rectum"}, {"role", "rectum"}, {"color_rgb", {150, 75, 0}}, {"volume_cc", 60.0}, {"dose_gy", rectum}}}}};
  std::ofstream(dir + "/S1/dvh.json") << dvh.dump();
}

}  // namespace vmatplan::test
