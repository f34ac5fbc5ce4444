// `vmatplan inspect` end to end: JSON report on BOXPHANTOM, mask export, exit codes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/patient/structure_stats.h"

using namespace vmatplan;
namespace fs = std::filesystem;

TEST_CASE("inspect --json on BOXPHANTOM", "[cli][matrad]") {
  const std::string box = test::data_file("matrad/BOXPHANTOM.mat");
  VMATPLAN_SKIP_IF_EMPTY(box, "matrad/BOXPHANTOM.mat");
  auto r = test::run_cli("inspect --json --patient '" + box + "'");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* key : {"grid", "patient_position", "identity", "structures", "warnings"})
    CHECK(j.contains(key));
  CHECK(j["grid"]["size"] == nlohmann::json({160, 160, 160}));
  CHECK(j["grid"]["spacing_mm"][0].get<double>() == Approx(3.0));
  CHECK(j["grid"]["origin_mm"][2].get<double>() == Approx(-240.0));
  CHECK(j["grid"]["direction"].size() == 9);
  CHECK(j["identity"].contains("frame_of_reference_uid"));
  REQUIRE(j["structures"].size() == 2);
  for (const auto& s : j["structures"])
    for (const char* key : {"name", "number", "type", "role", "volume_cc", "centroid_mm",
                            "bbox_min_mm", "bbox_max_mm"})
      CHECK(s.contains(key));
  const auto& target = j["structures"][1];
  CHECK(target["name"] == "OuterTarget");
  CHECK(target["volume_cc"].get<double>() == Approx(250.047).margin(0.01));
  CHECK(target["centroid_mm"][0].get<double>() == Approx(-3.0));
  CHECK(j["structures"][0]["role"] == "body");
}

TEST_CASE("inspect text output and --export-masks", "[cli][matrad]") {
  const std::string box = test::data_file("matrad/BOXPHANTOM.mat");
  VMATPLAN_SKIP_IF_EMPTY(box, "matrad/BOXPHANTOM.mat");
  const std::string out = test::scratch_dir("cli_inspect_export") + "/masks";
  auto r = test::run_cli("inspect --patient '" + box + "' --export-masks '" + out + "'");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("OuterTarget") != std::string::npos);
  CHECK(r.out.find("160 x 160 x 160") != std::string::npos);
  CHECK(r.out.find("LPS") != std::string::npos);
  REQUIRE(fs::exists(out + "/OuterTarget.nii.gz"));
  REQUIRE(fs::exists(out + "/BODY.nii.gz"));
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path())) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);  // no leftover staging folder beside the result
  Mask m = read_mask(out + "/OuterTarget.nii.gz");
  CHECK(compute_structure_stats(m).volume_cc == Approx(250.047).margin(0.01));
  CHECK(compute_structure_stats(m).centroid_mm[1] == Approx(-3.0));
}

TEST_CASE("inspect reads an image folder written by the library", "[cli][nifti]") {
  const std::string dir = test::scratch_dir("cli_inspect_folder");
  ImageGrid g;
  g.size = {6, 6, 4};
  g.spacing_mm = {2, 2, 3};
  write_ct_int16(CtImage(g, 0.0f), dir + "/ct.nii.gz");
  fs::create_directories(dir + "/masks");
  Mask m(g, 0);
  m.at(2, 3, 1) = 1;
  write_mask(m, dir + "/masks/Bladder.nii.gz");
  auto r = test::run_cli("inspect --json --patient '" + dir + "'");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["structures"].size() == 1);
  CHECK(j["structures"][0]["role"] == "bladder");
  CHECK(j["structures"][0]["type"] == "ORGAN");
  CHECK(j["structures"][0]["volume_cc"].get<double>() == Approx(0.012));
}

TEST_CASE("inspect exit codes", "[cli]") {
  const std::string dir = test::scratch_dir("cli_inspect_codes");
  auto r = test::run_cli("inspect --patient '" + dir + "/no_such_patient'");
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find(dir + "/no_such_patient") != std::string::npos);
  CHECK(r.err.find("does not exist") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  CHECK(test::run_cli("inspect --patient x --no-such-option").exit_code == 2);
  CHECK(test::run_cli("inspect").exit_code == 2);  // --patient is required
  CHECK(test::run_cli("--help").exit_code == 0);
  CHECK(test::run_cli("inspect --help").exit_code == 0);
  auto v = test::run_cli("--version");
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("vmatplan") != std::string::npos);
}
