// load_patient dispatch: DICOM folder, single DICOM file, matRad file, image folder, and the
// one-line errors for what is none of these.
#include <catch2/catch.hpp>

#include <filesystem>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/patient_loader.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

std::string problem_of(const std::string& path) {
  try {
    load_patient(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("DICOM folder with CT and RTSTRUCT", "[loader][dicom]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom/dicom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom/dicom");
  Patient p = load_patient(dir);
  CHECK(p.source == dir);
  CHECK(p.ct_hu.grid.spacing_mm[0] == Approx(2.5));
  CHECK_FALSE(p.identity.structure_set_sop_instance_uid.empty());
  for (const char* n : {"BODY", "Bladder", "PTV", "Rectum"}) {
    INFO(n);
    REQUIRE(p.find_structure(n) != nullptr);
    CHECK(p.find_structure(n)->mask.grid.same_geometry(p.ct_hu.grid));
  }
}

TEST_CASE("a single DICOM file loads its own series", "[loader][dicom]") {
  const std::string dir = test::data_file("dicom/rt-utils");
  VMATPLAN_SKIP_IF_EMPTY(dir, "dicom/rt-utils");
  for (const char* file : {"ct_1.dcm", "rt.dcm"}) {
    INFO(file);
    Patient p = load_patient(dir + "/" + file);
    CHECK(p.source == dir + "/" + file);
    CHECK(p.ct_hu.grid.size[2] == 2);
    CHECK(p.structures.size() == 1);
  }
}

TEST_CASE("loader errors name the path", "[loader]") {
  const std::string dir = test::scratch_dir("loader_errors");
  CHECK(problem_of(dir + "/absent") == dir + "/absent: does not exist");
  CHECK(problem_of(dir).rfind(dir + ": no CT series", 0) == 0);
  const std::string rs = test::data_file("dicom/rt-utils/rt.dcm");
  VMATPLAN_SKIP_IF_EMPTY(rs, "dicom/rt-utils/rt.dcm");
  fs::create_directories(dir + "/rs_only");
  fs::copy_file(rs, dir + "/rs_only/rt.dcm");
  CHECK(problem_of(dir + "/rs_only") == dir + "/rs_only: RTSTRUCT without its CT series");
}

TEST_CASE("a .mat path goes to the matRad reader", "[loader][matrad]") {
  const std::string box = test::data_file("matrad/photons_testData.mat");
  VMATPLAN_SKIP_IF_EMPTY(box, "matrad/photons_testData.mat");
  Patient p = load_patient(box);
  CHECK(p.source == box);
  CHECK(p.structures.size() == 2);
}
