// `vmatplan evaluate` end to end on the Eclipse prostate phantom: summary.json, dvh.svg and
// report.html; gamma against a reference; errors leave no output behind.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {
std::string eclipse_args(const std::string& dir) {
  return "--patient '" + dir + "/dicom' --dose '" + dir + "/EclipseProstate_Dose.nrrd'";
}
}  // namespace

TEST_CASE("evaluate writes summary.json, dvh.svg and report.html", "[cli][evaluate][eclipse]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  const std::string out = test::scratch_dir("cli_evaluate") + "/report";
  auto r = test::run_cli("evaluate " + eclipse_args(dir) + " --out '" + out + "' --json");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* f : {"summary.json", "dvh.svg", "report.html"}) CHECK(fs::exists(out + "/" + f));
  const auto j = nlohmann::json::parse(std::ifstream(out + "/summary.json"));
  CHECK(nlohmann::json::parse(r.out) == j);  // --json prints the same summary
  CHECK(j["protocol"] == "prostate_60gy_20fx");  // the default protocol
  REQUIRE(j["structures"].size() == 6);
  const auto& ptv = j["structures"][4];
  CHECK(ptv["name"] == "PTV");
  CHECK(ptv["volume_cc"].get<double>() == Approx(49.0).margin(0.5));
  CHECK(ptv["mean_gy"].get<double>() == Approx(45.88).margin(0.05));
  // The phantom's plan peaks at 47 Gy, so the 60 Gy PTV coverage goal fails.
  bool coverage_checked = false;
  for (const auto& g : j["goals"])
    if (g["structure"] == "PTV" && g["metric"] == "D95%") {
      coverage_checked = true;
      CHECK(g["pass"] == false);
      CHECK(g["threshold"] == 57.0);
      CHECK(g["value"].get<double>() == Approx(45.36).margin(0.05));
    }
  CHECK(coverage_checked);
  CHECK(j["targets"][0]["paddick_ci"].get<double>() >= 0.0);
  CHECK_FALSE(j.contains("gamma"));
}

TEST_CASE("evaluate --reference computes gamma", "[cli][evaluate][eclipse][gamma]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  const std::string out = test::scratch_dir("cli_evaluate_gamma") + "/report";
  auto r = test::run_cli("evaluate " + eclipse_args(dir) + " --protocol prostate_36p25gy_5fx --reference '" +
                         dir + "/EclipseProstate_Dose.nrrd' --out '" + out + "'");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(std::ifstream(out + "/summary.json"));
  CHECK(j["gamma"]["pass_rate_pct"] == 100.0);  // a dose against itself
  CHECK(j["gamma"]["mean_gamma"] == 0.0);
  CHECK(j["gamma"]["distance_mm"] == 2.0);
  CHECK(j["gamma"]["dose_criterion_pct"] == 3.0);
  CHECK(j["protocol"] == "prostate_36p25gy_5fx");
  CHECK(r.out.find("PASS") != std::string::npos);
  CHECK(r.out.find("gamma pass rate 100") != std::string::npos);
}

TEST_CASE("evaluate errors: one line, exit 1, nothing written", "[cli][evaluate][eclipse]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  const std::string scratch = test::scratch_dir("cli_evaluate_errors");
  // A protocol naming a structure the patient lacks: the message lists what exists.
  std::ofstream(scratch + "/bulb.json") << R"({"prescription": {"total_dose_gy": 60, "fractions": 20,
    "targets": [{"role": "ptv", "dose_gy": 60}], "normalisation": {"role": "ptv", "value_gy": 60}},
    "objectives": [], "goals": [{"role": "penile_bulb", "metric": "Dmean", "comparison": "<=", "acceptable": 50}]})";
  auto r = test::run_cli("evaluate " + eclipse_args(dir) + " --protocol '" + scratch +
                         "/bulb.json' --out '" + scratch + "/a'");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("penile_bulb") != std::string::npos);
  CHECK(r.err.find("Femoral Head Lt") != std::string::npos);
  const auto error_line = r.err.find("vmatplan: error: ");
  REQUIRE(error_line != std::string::npos);
  CHECK(r.err.find('\n', error_line) == r.err.size() - 1);  // one line, the last
  // A missing dose file.
  r = test::run_cli("evaluate --patient '" + dir + "/dicom' --dose '" + scratch +
                    "/none.nrrd' --out '" + scratch + "/b'");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("none.nrrd") != std::string::npos);
  // An unknown protocol name.
  r = test::run_cli("evaluate " + eclipse_args(dir) + " --protocol nope --out '" + scratch + "/c'");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("nope") != std::string::npos);
  // Missing --out is a usage error.
  r = test::run_cli("evaluate " + eclipse_args(dir));
  CHECK(r.exit_code == 2);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(scratch)) entries += e.is_directory();
  CHECK(entries == 0);  // no output folder and no staging folder left behind
}
