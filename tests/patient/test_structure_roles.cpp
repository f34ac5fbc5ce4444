// Structure roles: clinical spellings resolve to protocol roles; a missing role lists the
// structures the patient does have.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/patient/structure_roles.h"

using namespace vmatplan;

namespace {

Patient patient_with(const std::vector<std::string>& names) {
  Patient p;
  p.source = "test patient";
  int n = 1;
  for (const auto& name : names) {
    Structure s;
    s.number = n++;
    s.name = name;
    p.structures.push_back(s);
  }
  return p;
}

}  // namespace

TEST_CASE("synonyms and spellings map to roles", "[roles]") {
  const auto roles = StructureRoles::load_default();
  for (const char* n : {"Rectum", "RECTUM", "rectum", "Anorectum"})
    CHECK(roles.role_of(n) == "rectum");
  for (const char* n : {"Femoral Head Lt", "FemoralHead_L", "Femur_L", "femur-l"})
    CHECK(roles.role_of(n) == "femoral_head_left");
  CHECK(roles.role_of("Femoral Head Rt") == "femoral_head_right");
  CHECK(roles.role_of("PTV_60") == "ptv");
  CHECK(roles.role_of("BODY") == "body");
  CHECK(roles.role_of("Couch") == "");
  CHECK(StructureRoles::normalize("Femoral Head_L-x") == "femoralheadlx");
}

TEST_CASE("find prefers exact spellings and resolves from a patient", "[roles]") {
  const auto roles = StructureRoles::load_default();
  Patient p = patient_with({"BODY", "rectum_wall", "Rectum", "FemoralHead_L", "PTV_60"});
  REQUIRE(roles.find(p, "rectum") != nullptr);
  CHECK(roles.find(p, "rectum")->name == "Rectum");  // exact synonym beats a loose match
  CHECK(roles.resolve(p, "femoral_head_left").name == "FemoralHead_L");
  CHECK(roles.resolve(p, "ptv").number == 5);
  CHECK(roles.find(p, "bladder") == nullptr);
}

TEST_CASE("a missing role lists the structures that exist", "[roles]") {
  const auto roles = StructureRoles::load_default();
  Patient p = patient_with({"BODY", "Rectum", "PTV_60"});
  try {
    roles.resolve(p, "bladder");
    FAIL("no error");
  } catch (const ProcessingError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("bladder") != std::string::npos);
    for (const char* n : {"BODY", "Rectum", "PTV_60"}) CHECK(msg.find(n) != std::string::npos);
  }
}

TEST_CASE("a broken role file is an input error naming it", "[roles]") {
  const std::string path = test::scratch_dir("roles_bad") + "/roles.json";
  std::ofstream(path) << "{\"rectum\": \"Rectum\"}";
  try {
    StructureRoles::load(path);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.path() == path);
  }
  CHECK_THROWS_AS(StructureRoles::load(path + ".missing"), InputError);
}
