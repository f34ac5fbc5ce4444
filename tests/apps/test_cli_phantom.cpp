// The phantom command end to end: single patients, cohorts, formats, determinism, and
// refusing to overwrite.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "test_support.h"

namespace fs = std::filesystem;
using vmatplan::test::run_cli;

namespace {
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
int count_files(const std::string& dir, const std::string& prefix) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().rfind(prefix, 0) == 0;
  return n;
}
}  // namespace

TEST_CASE("phantom writes a DICOM patient that inspect loads", "[cli][phantom]") {
  const std::string dir = vmatplan::test::scratch_dir("cli_phantom_dicom") + "/p";
  auto r = run_cli("phantom --seed 21 --spacing 4,4,5 --out '" + dir + "' --json");
  REQUIRE(r.exit_code == 0);
  auto made = nlohmann::json::parse(r.out);
  CHECK(count_files(dir, "CT_") == made["grid"]["size"][2].get<int>());
  CHECK(fs::exists(dir + "/RS.dcm"));

  auto ins = run_cli("inspect --patient '" + dir + "' --json");
  REQUIRE(ins.exit_code == 0);
  auto j = nlohmann::json::parse(ins.out);
  CHECK(j["identity"]["patient_id"] == "PHANTOM-21");
  std::set<std::string> names;
  for (const auto& s : j["structures"]) names.insert(s["name"].get<std::string>());
  for (const char* n : {"BODY", "PTV", "CTV", "Prostate", "SeminalVesicles", "Rectum",
                        "Bladder", "FemoralHead_L", "FemoralHead_R"})
    CHECK(names.count(n) == 1);
}

TEST_CASE("the same seed gives the same files, byte for byte", "[cli][phantom]") {
  const std::string root = vmatplan::test::scratch_dir("cli_phantom_determinism");
  REQUIRE(run_cli("phantom --seed 22 --spacing 5,5,6 --out '" + root + "/a'").exit_code == 0);
  REQUIRE(run_cli("phantom --seed 22 --spacing 5,5,6 --out '" + root + "/b'").exit_code == 0);
  REQUIRE(run_cli("phantom --seed 23 --spacing 5,5,6 --out '" + root + "/c'").exit_code == 0);
  CHECK(read_bytes(root + "/a/RS.dcm") == read_bytes(root + "/b/RS.dcm"));
  CHECK(read_bytes(root + "/a/CT_0010.dcm") == read_bytes(root + "/b/CT_0010.dcm"));
  CHECK(read_bytes(root + "/a/RS.dcm") != read_bytes(root + "/c/RS.dcm"));
}

TEST_CASE("a cohort in the image-folder format", "[cli][phantom]") {
  const std::string dir = vmatplan::test::scratch_dir("cli_phantom_cohort") + "/cohort";
  REQUIRE(run_cli("phantom --cohort 3 --seed 40 --format nifti --spacing 5,5,6 --out '" + dir +
                  "'").exit_code == 0);
  std::ifstream in(dir + "/cohort.json");
  auto cohort = nlohmann::json::parse(in);
  REQUIRE(cohort["patients"].size() == 3);
  std::set<double> bladder_cc;
  for (const auto& p : cohort["patients"]) {
    const std::string path = dir + "/" + p["path"].get<std::string>();
    CHECK(fs::exists(path + "/ct.nii.gz"));
    CHECK(fs::exists(path + "/masks/PTV.nii.gz"));
    auto ins = run_cli("inspect --patient '" + path + "' --json");
    REQUIRE(ins.exit_code == 0);
    const auto report = nlohmann::json::parse(ins.out);
    for (const auto& s : report["structures"])
      if (s["name"] == "Bladder") bladder_cc.insert(s["volume_cc"].get<double>());
  }
  CHECK(bladder_cc.size() == 3);  // anatomy varies with the seed
}

TEST_CASE("an existing output folder is kept unless --overwrite", "[cli][phantom]") {
  const std::string dir = vmatplan::test::scratch_dir("cli_phantom_exists");
  std::ofstream(dir + "/keep.txt") << "mine";
  auto r = run_cli("phantom --seed 1 --spacing 5,5,6 --out '" + dir + "'");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dir) != std::string::npos);
  CHECK(fs::exists(dir + "/keep.txt"));
  CHECK(run_cli("phantom --seed 1 --spacing 5,5,6 --overwrite --out '" + dir + "'").exit_code == 0);
  CHECK_FALSE(fs::exists(dir + "/keep.txt"));
  CHECK(fs::exists(dir + "/RS.dcm"));
}
