// matRad .mat import: grid, axis order and world position of BOXPHANTOM, the small matRad
// unit-test case, and clean errors for damaged or foreign files.
//
// Expected positions follow matRad_getWorldAxes.m (e0404/matRad, matRad/geometry): with no
// ct.x/y/z and no dicomInfo, voxel centre n (1-based) of an axis with N voxels of size d
// lies at -N/2*d + (n-1)*d.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/matrad_reader.h"
#include "vmatplan/patient/structure_stats.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

double matrad_world_mm(int n_one_based, int count, double spacing_mm) {
  return -0.5 * count * spacing_mm + (n_one_based - 1) * spacing_mm;
}

void expect_input_error(const std::string& path) {
  try {
    read_matrad_patient(path);
    FAIL("no error for " << path);
  } catch (const InputError& e) {
    INFO(e.what());
    CHECK(e.path() == path);
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("BOXPHANTOM grid, structures and position", "[matrad]") {
  const std::string box = test::data_file("matrad/BOXPHANTOM.mat");
  VMATPLAN_SKIP_IF_EMPTY(box, "matrad/BOXPHANTOM.mat");
  Patient p = read_matrad_patient(box);
  const auto& g = p.ct_hu.grid;
  CHECK(g.size == Size3{160, 160, 160});
  CHECK(g.spacing_mm == Vec3{3.0, 3.0, 3.0});
  CHECK(g.orientation_code() == "LPS");
  for (int a = 0; a < 3; ++a) CHECK(g.origin_mm[a] == Approx(matrad_world_mm(1, 160, 3.0)));
  CHECK(p.warnings.empty());  // the file carries cubeHU

  REQUIRE(p.structures.size() == 2);
  for (const auto& s : p.structures) {
    INFO(s.name);
    CHECK(compute_structure_stats(s.mask).voxel_count > 0);
  }
  const Structure* target = p.find_structure("OuterTarget");
  REQUIRE(target != nullptr);
  CHECK(target->type == "PTV");
  CHECK(p.find_structure("BODY")->type == "EXTERNAL");

  // OuterTarget covers matRad subscripts 70..90 on every axis (21^3 voxels of 27 mm^3).
  StructureStats st = compute_structure_stats(target->mask);
  CHECK(st.voxel_count == 21 * 21 * 21);
  CHECK(st.volume_cc == Approx(250.047).margin(0.01));
  const double centre = matrad_world_mm(80, 160, 3.0);  // -3 mm
  for (int a = 0; a < 3; ++a) {
    CHECK(st.centroid_mm[a] == Approx(centre).margin(1e-9));
    CHECK(st.bbox_min_mm[a] == Approx(matrad_world_mm(70, 160, 3.0)));
    CHECK(st.bbox_max_mm[a] == Approx(matrad_world_mm(90, 160, 3.0)));
  }
  // HU: water inside the box, air outside.
  CHECK(p.ct_hu.at(80, 80, 80) == Approx(0.0).margin(1.0));
  CHECK(p.ct_hu.at(0, 0, 0) < -900.0f);
  CHECK(p.identity.frame_of_reference_uid.rfind("2.25.", 0) == 0);
}

TEST_CASE("photons_testData: y is matRad's first (row) axis", "[matrad]") {
  const std::string file = test::data_file("matrad/photons_testData.mat");
  VMATPLAN_SKIP_IF_EMPTY(file, "matrad/photons_testData.mat");
  Patient p = read_matrad_patient(file);
  const auto& g = p.ct_hu.grid;
  // ct.cubeDim = [20 10 10] = [rows (y), columns (x), slices (z)] at 10 mm.
  CHECK(g.size == Size3{10, 20, 10});
  CHECK(g.spacing_mm == Vec3{10.0, 10.0, 10.0});
  // The file's own dij.ctGrid.x/y/z (written by matRad) start at -50, -100, -50.
  CHECK(g.origin_mm[0] == Approx(-50.0));
  CHECK(g.origin_mm[1] == Approx(-100.0));
  CHECK(g.origin_mm[2] == Approx(-50.0));
  REQUIRE(p.structures.size() == 2);
  CHECK(p.find_structure("Target")->type == "PTV");
  CHECK(p.find_structure("Body")->type == "EXTERNAL");
  CHECK(compute_structure_stats(p.find_structure("Target")->mask).voxel_count == 8);
  CHECK(compute_structure_stats(p.find_structure("Body")->mask).voxel_count == 1152);
}

TEST_CASE("damaged and foreign .mat files give one-line input errors", "[matrad]") {
  const std::string dir = test::scratch_dir("matrad_bad");
  {
    std::mt19937 rng(5);
    std::ofstream f(dir + "/random.mat", std::ios::binary);
    for (int i = 0; i < 20000; ++i) f.put(char(rng() & 0xff));
  }
  expect_input_error(dir + "/random.mat");
  std::ofstream(dir + "/empty.mat").close();
  expect_input_error(dir + "/empty.mat");
  expect_input_error(dir + "/missing.mat");

  const std::string box = test::data_file("matrad/BOXPHANTOM.mat");
  VMATPLAN_SKIP_IF_EMPTY(box, "matrad/BOXPHANTOM.mat");
  for (int divisor : {2, 3, 10}) {
    const std::string cut = dir + "/truncated_" + std::to_string(divisor) + ".mat";
    fs::copy_file(box, cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, fs::file_size(box) / divisor);
    expect_input_error(cut);
  }
  // A MATLAB file without matRad variables: the header of BOXPHANTOM alone.
  const std::string header_only = dir + "/header_only.mat";
  fs::copy_file(box, header_only, fs::copy_options::overwrite_existing);
  fs::resize_file(header_only, 128);
  expect_input_error(header_only);
}
