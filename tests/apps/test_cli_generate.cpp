// `vmatplan generate` and `vmatplan batch` end to end on tiny phantoms (two short arcs,
// coarse grids): generate prints a summary and writes the folder; bad input exits 1 and
// writes nothing; a batch of three patients with one broken path records its error and
// finishes the others; --resume redoes only a deleted folder; --shard 2/2 takes the second.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vmatplan/core/json_file.h"
#include "vmatplan/io/image_io.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

const char* const kCoarse = test::kCoarsePlanFlags;

std::string make_phantom(const std::string& dir, int seed) {
  std::string p;
  auto r = test::make_tiny_phantom(dir, seed, &p);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return p;
}

}  // namespace

TEST_CASE("generate writes a plan folder; bad input writes nothing", "[cli][generate][slow]") {
  const std::string dir = test::scratch_dir("cli_generate");
  const std::string patient = make_phantom(dir, 11);
  // A couch structure through the bladder: a placement warning the planner must see in
  // summary.json and the report.
  write_mask(read_mask(patient + "/masks/Bladder.nii.gz"), patient + "/masks/Couch.nii.gz");
  auto r = test::run_cli("--threads 1 generate --patient " + patient + kCoarse + " --out " + dir + "/plan");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("MU per fraction") != std::string::npos);
  CHECK(r.err.find("generate: sequence") != std::string::npos);  // progress on stderr
  CHECK(fs::is_regular_file(dir + "/plan/RP.dcm"));
  CHECK(fs::is_regular_file(dir + "/plan/report.html"));
  CHECK(!read_json_file(dir + "/plan/summary.json")["goals"].empty());
  const std::string couch_warning = "structure 'Bladder' overlaps couch structure 'Couch'";
  CHECK(read_json_file(dir + "/plan/summary.json")["patient_warnings"].dump().find(couch_warning) != std::string::npos);
  std::ifstream report(dir + "/plan/report.html");
  CHECK(std::string(std::istreambuf_iterator<char>(report), {}).find("overlaps couch structure") != std::string::npos);
  CHECK(r.err.find(couch_warning) != std::string::npos);

  auto again = test::run_cli("generate --patient " + patient + kCoarse + " --out " + dir + "/plan");
  CHECK(again.exit_code == 1);  // exists, no --overwrite
  auto bad = test::run_cli("generate --patient " + dir + "/nope" + kCoarse + " --out " + dir + "/bad");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(dir + "/nope") != std::string::npos);
  CHECK(!fs::exists(dir + "/bad"));
  auto unknown = test::run_cli("generate --patient " + patient + " --generator magic --out " + dir + "/bad");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("available: auto, classical") != std::string::npos);
  CHECK(!fs::exists(dir + "/bad"));
}

TEST_CASE("batch records a broken patient, resumes and shards", "[cli][batch][slow]") {
  const std::string dir = test::scratch_dir("cli_batch");
  make_phantom(dir, 21);
  make_phantom(dir, 22);
  {
    std::ofstream m(dir + "/cohort.csv");
    m << "id,path\nP21,phantom21\nBROKEN,no_such_folder\nP22,phantom22\n";
  }
  const std::string batch = "--threads 1 batch --cohort " + dir + "/cohort.csv" + kCoarse;
  auto r = test::run_cli(batch + " --jobs 2 --out " + dir + "/run");
  INFO(r.err);
  REQUIRE(r.exit_code == 1);  // a patient failed (issue 14); the summary is still written
  CHECK(r.err.find("1 of 3 patients failed") != std::string::npos);
  auto s = read_json_file(dir + "/run/cohort_summary.json");
  REQUIRE(s["patients"].size() == 3u);
  CHECK(s["patients"][0]["status"] == "done");
  CHECK(s["patients"][1]["status"] == "failed");
  CHECK(s["patients"][1]["error"].get<std::string>().find("no_such_folder") != std::string::npos);
  CHECK(s["patients"][2]["status"] == "done");
  CHECK(s["patients"][2]["mu_per_fraction"].get<double>() > 0);
  CHECK(fs::is_regular_file(dir + "/run/cohort_summary.csv"));

  // Resume after deleting one finished folder: only it (and the broken one) run again.
  const auto p21_time = fs::last_write_time(dir + "/run/P21/summary.json");
  fs::remove_all(dir + "/run/P22");
  auto resumed = test::run_cli(batch + " --resume --out " + dir + "/run");
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 1);  // BROKEN still fails
  CHECK(resumed.err.find("P21: finished earlier, skipped") != std::string::npos);
  CHECK(resumed.err.find("P22 done") != std::string::npos);
  CHECK(fs::last_write_time(dir + "/run/P21/summary.json") == p21_time);
  auto s2 = read_json_file(dir + "/run/cohort_summary.json");
  CHECK(s2["done"] == 2);
  CHECK(s2["failed"] == 1);

  // Shard 2/2 of three patients is the second one only (the broken path: quick).
  auto shard = test::run_cli(batch + " --shard 2/2 --out " + dir + "/shard");
  REQUIRE(shard.exit_code == 1);
  auto s3 = read_json_file(dir + "/shard/cohort_summary.json");
  CHECK(s3["patients"][0]["status"] == "pending");
  CHECK(s3["patients"][1]["status"] == "failed");
  CHECK(s3["patients"][2]["status"] == "pending");
  CHECK(test::run_cli(batch + " --shard 3/2 --out " + dir + "/x").exit_code == 2);
  CHECK(!fs::exists(dir + "/x"));
}
