// `vmatplan optimize` end to end on a coarse phantom with two short arcs: the plan file
// holds fluence, objective history and the goal table; --json prints the same summary;
// a bad protocol fails with exit code 1 and writes nothing.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

using namespace vmatplan;
namespace fs = std::filesystem;

CATCH_TEST_CASE("optimize command writes a plan with history and goals", "[optimize][cli]") {
  const std::string dir = test::scratch_dir("cmd_optimize");
  const std::string patient = dir + "/patient";
  auto made = test::run_cli("phantom --seed 3 --spacing 4 4 5 --format nifti --out " + patient);
  CATCH_REQUIRE(made.exit_code == 0);

  const std::string common = "--threads 1 optimize --patient " + patient +
                             " --arcs 330:30:cw:4 150:210:cw:4 --bixel 10 --dose-spacing 10"
                             " --max-iter 4";
  auto r = test::run_cli(common + " --json --out " + dir + "/plan.json");
  CATCH_INFO(r.err);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.err.find("optimize: iteration") != std::string::npos);  // progress on stderr
  const auto printed = nlohmann::json::parse(r.out);
  CATCH_CHECK(printed["iterations"].get<int>() == 4);

  std::ifstream in(dir + "/plan.json");
  const auto plan = nlohmann::json::parse(in);
  CATCH_CHECK(fs::exists(dir + "/plan.safetensors"));
  const auto& opt = plan["extra"]["optimization"];
  CATCH_CHECK(opt["history"].size() == 5u);
  CATCH_CHECK(opt["history"][4]["objective"].get<double>() < opt["history"][0]["objective"].get<double>());
  CATCH_CHECK(opt["goals"].size() == printed["goals"].size());
  CATCH_CHECK(!opt["goals"].empty());
  CATCH_CHECK(plan["fluence"]["shape"][0].get<int>() == 32);  // 2 arcs x 16 control points

  auto bad = test::run_cli(common + " --protocol " + dir + "/missing.json --out " + dir + "/bad.json");
  CATCH_CHECK(bad.exit_code == 1);
  CATCH_CHECK(!fs::exists(dir + "/bad.json"));
}
