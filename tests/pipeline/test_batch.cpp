// Cohort manifests (CSV and JSON), shard selection and the cohort summary rebuilt from
// the patient folders on disk.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/pipeline/batch.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {
void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}
}  // namespace

CATCH_TEST_CASE("cohort manifests load from CSV and JSON", "[pipeline][batch]") {
  const std::string dir = test::scratch_dir("batch_manifest");
  write(dir + "/c.csv", "# cohort\nid,path,protocol\nP1,p1,\nP2,/abs/p2,prostate_60gy_20fx\n");
  const auto csv = load_cohort(dir + "/c.csv");
  CATCH_REQUIRE(csv.size() == 2u);
  CATCH_CHECK(csv[0].id == "P1");
  CATCH_CHECK(csv[0].path == (fs::path(dir) / "p1").lexically_normal().string());  // relative to the manifest
  CATCH_CHECK(csv[0].protocol.empty());
  CATCH_CHECK(csv[1].path == "/abs/p2");
  CATCH_CHECK(csv[1].protocol == "prostate_60gy_20fx");

  write(dir + "/c.json", R"({"patients": [{"id": "A", "path": "/a"}, {"id": "B", "path": "b", "protocol": "x"}]})");
  const auto js = load_cohort(dir + "/c.json");
  CATCH_REQUIRE(js.size() == 2u);
  CATCH_CHECK(js[1].protocol == "x");

  write(dir + "/dup.csv", "id,path\nA,a\nA,b\n");
  CATCH_CHECK_THROWS_AS(load_cohort(dir + "/dup.csv"), InputError);
  write(dir + "/nohdr.csv", "A,a\n");
  CATCH_CHECK_THROWS_AS(load_cohort(dir + "/nohdr.csv"), InputError);
  write(dir + "/badid.json", R"([{"id": "../x", "path": "a"}])");
  CATCH_CHECK_THROWS_AS(load_cohort(dir + "/badid.json"), InputError);
  CATCH_CHECK_THROWS_AS(load_cohort(dir + "/missing.csv"), InputError);
}

CATCH_TEST_CASE("shards take every N-th patient", "[pipeline][batch]") {
  CATCH_CHECK(shard_positions(5, parse_shard("1/2")) == std::vector<size_t>{0, 2, 4});
  CATCH_CHECK(shard_positions(5, parse_shard("2/2")) == std::vector<size_t>{1, 3});
  CATCH_CHECK(shard_positions(2, parse_shard("3/3")).empty());
  CATCH_CHECK(shard_positions(3, Shard{}) == std::vector<size_t>{0, 1, 2});
  for (const char* bad : {"0/2", "3/2", "1", "a/b", "1/2x", "1/0"})
    CATCH_CHECK_THROWS_AS(parse_shard(bad), UsageError);
}

CATCH_TEST_CASE("the cohort summary is rebuilt from the folders", "[pipeline][batch]") {
  const std::string dir = test::scratch_dir("batch_summary");
  fs::create_directories(dir + "/A");
  write(dir + "/A/summary.json",
        R"({"goals_passed": 3, "goals_failed": 1, "plan": {"mu_per_fraction": 420.5},
            "structures": [{"role": "ptv", "d95_gy": 59.1}]})");
  write(dir + "/B.failed.json", R"({"error": "B: no CT found"})");
  fs::create_directories(dir + "/.C.partial-1234");  // a staged, unfinished folder
  const std::vector<CohortEntry> cohort{{"A", "/a", ""}, {"B", "/b", ""}, {"C", "/c", ""}};
  const auto s = write_cohort_summary(dir, cohort);
  CATCH_CHECK(s["done"] == 1);
  CATCH_CHECK(s["failed"] == 1);
  CATCH_CHECK(s["pending"] == 1);
  CATCH_CHECK(s["patients"][0]["ptv_d95_gy"].get<double>() == Approx(59.1));
  CATCH_CHECK(s["patients"][1]["error"] == "B: no CT found");
  CATCH_CHECK(s["patients"][2]["status"] == "pending");
  std::ifstream csv(dir + "/cohort_summary.csv");
  std::string header, a;
  std::getline(csv, header);
  std::getline(csv, a);
  CATCH_CHECK(header.rfind("id,status,goals_passed", 0) == 0);
  CATCH_CHECK(a.rfind("A,done,3,1,59.1", 0) == 0);
}
