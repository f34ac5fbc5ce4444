#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/config_path.h"
#include "vmatplan/core/error.h"
#include "vmatplan/machine/machine.h"

using namespace vmatplan;
using Catch::Matchers::Contains;

namespace {

nlohmann::json generic_json() {
  std::ifstream in(config_path("machines/generic_6mv_mlc120.json"));
  return nlohmann::json::parse(in);
}

// The message of the InputError thrown by from_json on `j`.
std::string error_of(const nlohmann::json& j) {
  try {
    Machine::from_json(j, "bad_machine.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("generic Millennium-120-like machine loads with its leaf layout", "[machine]") {
  Machine m = Machine::load_named("generic_6mv_mlc120");
  CHECK(m.name == "generic_6mv_mlc120");
  REQUIRE(m.mlc.pair_count() == 60);
  REQUIRE(m.mlc.leaf_boundaries_mm.size() == 61);
  CHECK(m.mlc.leaf_boundaries_mm.front() == -200.0);
  CHECK(m.mlc.leaf_boundaries_mm.back() == 200.0);
  for (int p = 0; p < 60; ++p) {
    bool outer = p < 10 || p >= 50;
    CHECK(m.mlc.leaf_width_mm(p) == Approx(outer ? 10.0 : 5.0));
  }
  CHECK(m.mlc.leaf_boundaries_mm[30] == 0.0);  // central axis on a leaf boundary
  CHECK(m.sad_mm == 1000.0);
  CHECK(m.mlc.max_leaf_speed_mm_per_s == 25.0);
  CHECK(m.max_gantry_speed_deg_per_s == 6.0);
  CHECK(m.max_dose_rate_mu_per_min == 600.0);
  CHECK(m.mlc.min_dynamic_leaf_gap_mm == 0.5);
  CHECK(m.mlc.max_leaf_span_mm == 150.0);
  CHECK(m.mlc.transmission == Approx(0.015));
  CHECK(m.x_jaws.present);
  CHECK(m.y_jaws.present);
  CHECK(m.beam_data.is_object());
  CHECK(m.beam_data.value("model", "") == "pencil_beam_v1");
  CHECK_THAT(m.config_path, Contains("generic_6mv_mlc120.json"));
}

TEST_CASE("HD120-like machine: 2.5 mm central leaves within +-110 mm", "[machine]") {
  Machine m = Machine::load_named("generic_6mv_hd120");
  REQUIRE(m.mlc.leaf_boundaries_mm.size() == 61);
  CHECK(m.mlc.leaf_boundaries_mm.front() == -110.0);
  CHECK(m.mlc.leaf_boundaries_mm.back() == 110.0);
  for (int p = 0; p < 60; ++p) {
    bool outer = p < 14 || p >= 46;
    CHECK(m.mlc.leaf_width_mm(p) == Approx(outer ? 5.0 : 2.5));
  }
}

TEST_CASE("80-pair 5 mm machine has no X jaws", "[machine]") {
  Machine m = Machine::load_named("generic_6mv_mlc80_5mm_nojaw_x");
  REQUIRE(m.mlc.pair_count() == 80);
  for (int p = 0; p < 80; ++p) CHECK(m.mlc.leaf_width_mm(p) == Approx(5.0));
  CHECK(m.mlc.leaf_boundaries_mm.front() == -200.0);
  CHECK(m.mlc.leaf_boundaries_mm.back() == 200.0);
  CHECK_FALSE(m.x_jaws.present);
  CHECK(m.y_jaws.present);
  CHECK(m.mlc.max_leaf_speed_mm_per_s == 35.0);
}

TEST_CASE("machines load by path as well as by name", "[machine]") {
  std::string path = config_path("machines/generic_6mv_hd120.json");
  CHECK(Machine::load_named(path).name == "generic_6mv_hd120");
  CHECK(Machine::load(path).mlc.pair_count() == 60);
}

TEST_CASE("bad machine configs name the file and the field", "[machine]") {
  SECTION("boundary count does not match pair_count") {
    auto j = generic_json();
    j["mlc"]["leaf_boundaries_mm"].erase(60);
    std::string msg = error_of(j);
    CHECK_THAT(msg, Contains("bad_machine.json"));
    CHECK_THAT(msg, Contains("mlc.leaf_boundaries_mm"));
    CHECK_THAT(msg, Contains("61"));
  }
  SECTION("boundaries that do not increase") {
    auto j = generic_json();
    j["mlc"]["leaf_boundaries_mm"][5] = -500;
    CHECK_THAT(error_of(j), Contains("mlc.leaf_boundaries_mm") && Contains("increase"));
  }
  SECTION("non-positive leaf speed") {
    auto j = generic_json();
    j["mlc"]["max_leaf_speed_mm_per_s"] = 0;
    CHECK_THAT(error_of(j), Contains("mlc.max_leaf_speed_mm_per_s") && Contains("positive"));
  }
  SECTION("missing SAD") {
    auto j = generic_json();
    j.erase("sad_mm");
    CHECK_THAT(error_of(j), Contains("field sad_mm: missing"));
  }
  SECTION("a misspelt MLC field") {
    auto j = generic_json();
    j["mlc"]["max_leaf_sped_mm_per_s"] = 20;
    CHECK_THAT(error_of(j), Contains("mlc.max_leaf_sped_mm_per_s") && Contains("unknown"));
  }
  SECTION("transmission outside [0, 1)") {
    auto j = generic_json();
    j["y_jaws"]["transmission"] = 1.5;
    CHECK_THAT(error_of(j), Contains("y_jaws.transmission"));
  }
  SECTION("beam_data of the wrong type") {
    auto j = generic_json();
    j["beam_data"] = 3;
    CHECK_THAT(error_of(j), Contains("beam_data"));
  }
}

TEST_CASE("unreadable machine files are input errors", "[machine]") {
  auto dir = test::scratch_dir("machine_bad");
  std::ofstream(dir + "/broken.json") << "{ not json";
  CHECK_THROWS_WITH(Machine::load(dir + "/broken.json"), Contains("broken.json") && Contains("JSON"));
  CHECK_THROWS_AS(Machine::load(dir + "/absent.json"), InputError);
  CHECK_THROWS_WITH(Machine::load_named("no_such_machine"),
                    Contains("no_such_machine") && Contains("generic_6mv_mlc120"));
}

TEST_CASE("machine configs carry a DICOM machine name of at most 16 characters", "[machine]") {
  for (const char* n : {"generic_6mv_mlc120", "generic_6mv_hd120", "generic_6mv_mlc80_5mm_nojaw_x"}) {
    const Machine m = Machine::load_named(n);
    INFO(n << " -> " << m.dicom_name);
    CHECK(!m.dicom_name.empty());
    CHECK(m.dicom_name.size() <= 16);
    // A plan's TreatmentMachineName finds its config again.
    CHECK(Machine::load_named(m.dicom_name).name == n);
    CHECK(m.answers_to(n));
    CHECK(m.answers_to(m.dicom_name));
    CHECK_FALSE(m.answers_to(std::string(n).substr(0, 16)));
  }
  CHECK(Machine::load_named("generic_6mv_mlc120").dicom_name == "GEN6MV_MLC120");
  // A name too long for the DICOM field needs a dicom_machine_name.
  auto j = generic_json();
  j.erase("dicom_machine_name");
  j["name"] = "a_machine_name_of_20c";
  CHECK_THAT(error_of(j), Contains("dicom_machine_name") && Contains("16"));
  j["dicom_machine_name"] = "SHORT_ENOUGH";
  CHECK(Machine::from_json(j, "x.json").dicom_name == "SHORT_ENOUGH");
  j.erase("dicom_machine_name");
  j["name"] = "short_name";
  CHECK(Machine::from_json(j, "x.json").dicom_name == "short_name");
}

TEST_CASE("custom machines load by name from VMATPLAN_MACHINE_PATH", "[machine]") {
  const std::string dir = test::scratch_dir("machine_path");
  auto j = generic_json();
  j["name"] = "clinic_linac_3";
  j["dicom_machine_name"] = "LINAC3";
  std::ofstream(dir + "/clinic_linac_3.json") << j.dump(2);
  CHECK_THROWS_AS(Machine::load_named("clinic_linac_3"), InputError);
  ::setenv("VMATPLAN_MACHINE_PATH", ("/nonexistent:" + dir).c_str(), 1);
  CHECK(Machine::load_named("clinic_linac_3").config_path == dir + "/clinic_linac_3.json");
  CHECK(Machine::load_named("LINAC3").name == "clinic_linac_3");  // by DICOM name
  CHECK(Machine::load_named("generic_6mv_mlc120").name == "generic_6mv_mlc120");  // still found
  CHECK(machine_search_dirs().size() == 3);
  try {
    Machine::load_named("nope");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Contains("clinic_linac_3") && Contains("VMATPLAN_MACHINE_PATH"));
  }
  ::unsetenv("VMATPLAN_MACHINE_PATH");
}
