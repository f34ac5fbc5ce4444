// matRad .mat import: grid, axis order and world position of BOXPHANTOM, the small matRad
// unit-test case, and clean errors for damaged or foreign files.
//
// Expected positions follow matRad_getWorldAxes.m (e0404/matRad, matRad/geometry): with no
// ct.x/y/z and no dicomInfo, voxel centre n (1-based) of an axis with N voxels of size d
// lies at -N/2*d + (n-1)*d.
#include <catch2/catch.hpp>
#include <matio.h>

#include <cstring>
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

// A tiny synthetic matRad file written with libmatio: ct.cube (relative electron density,
// no cubeHU) with ct.x/y/z, and a cst of two structures.
matvar_t* doubles(const std::vector<double>& v, size_t rows, size_t cols, size_t slices = 1) {
  size_t dims[3] = {rows, cols, slices};
  return Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, slices > 1 ? 3 : 2, dims,
                       const_cast<double*>(v.data()), 0);
}
matvar_t* chars(const std::string& s) {
  size_t dims[2] = {1, s.size()};
  return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UTF8, 2, dims, const_cast<char*>(s.data()), 0);
}
matvar_t* cell_of(std::vector<matvar_t*> items, size_t rows, size_t cols,
                  const char* name = nullptr) {
  size_t dims[2] = {rows, cols};
  matvar_t* c = Mat_VarCreate(name, MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
  for (size_t n = 0; n < items.size(); ++n) Mat_VarSetCell(c, int(n), items[n]);
  return c;
}
matvar_t* struct_of(const char* name, std::vector<std::pair<const char*, matvar_t*>> fields) {
  std::vector<const char*> names;
  for (auto& f : fields) names.push_back(f.first);
  size_t dims[2] = {1, 1};
  matvar_t* s = Mat_VarCreateStruct(name, 2, dims, names.data(), unsigned(names.size()));
  for (auto& f : fields) Mat_VarSetStructFieldByName(s, f.first, 0, f.second);
  return s;
}

// Cube 3 rows (y) x 4 columns (x) x 2 slices (z), water (RED 1) except one lung voxel at
// row 2, column 3, slice 1 (1-based), and air in the last slice's first row.
void write_synthetic_matrad(const std::string& path) {
  std::vector<double> cube(24, 1.0);
  cube[1 + 3 * 2] = 0.3;  // (r, c, s) = (1, 2, 0) zero-based
  for (int c = 0; c < 4; ++c) cube[0 + 3 * (c + 4 * 1)] = 0.00324;
  mat_t* m = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  REQUIRE(m != nullptr);
  matvar_t* ct = struct_of(
      "ct", {{"cube", cell_of({doubles(cube, 3, 4, 2)}, 1, 1)},
             {"resolution", struct_of(nullptr, {{"x", doubles({2.0}, 1, 1)},
                                                {"y", doubles({3.0}, 1, 1)},
                                                {"z", doubles({5.0}, 1, 1)}})},
             {"cubeDim", doubles({3, 4, 2}, 1, 3)},
             {"x", doubles({10, 12, 14, 16}, 1, 4)},
             {"y", doubles({-20, -17, -14}, 1, 3)},
             {"z", doubles({100, 105}, 1, 2)}});
  auto props = [] { return struct_of(nullptr, {{"visibleColor", doubles({1, 0.5, 0}, 1, 3)}}); };
  // Linear indices (1-based, column-major in y-x-z): the lung voxel; the whole first slice.
  std::vector<double> slice1;
  for (int n = 1; n <= 12; ++n) slice1.push_back(n);
  matvar_t* cst = cell_of({doubles({0}, 1, 1), doubles({1}, 1, 1), chars("CTV_lung"),
                           chars("Rectum"), chars("TARGET"), chars("OAR"),
                           cell_of({doubles({8}, 1, 1)}, 1, 1), cell_of({doubles(slice1, 12, 1)}, 1, 1),
                           props(), props(), cell_of({}, 0, 0), cell_of({}, 0, 0)},
                          2, 6, "cst");
  for (matvar_t* v : {ct, cst}) {
    REQUIRE(Mat_VarWrite(m, v, MAT_COMPRESSION_ZLIB) == 0);
    Mat_VarFree(v);
  }
  Mat_Close(m);
}

}  // namespace

TEST_CASE("synthetic matRad file: axes, world coordinates and RED to HU", "[matrad]") {
  const std::string path = test::scratch_dir("matrad_synthetic") + "/tiny.mat";
  write_synthetic_matrad(path);
  Patient p = read_matrad_patient(path);
  const auto& g = p.ct_hu.grid;
  CHECK(g.size == Size3{4, 3, 2});
  CHECK(g.spacing_mm == Vec3{2.0, 3.0, 5.0});
  CHECK(g.origin_mm == Vec3{10.0, -20.0, 100.0});  // ct.x(1), ct.y(1), ct.z(1)
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0] == "CT given as relative electron density, converted to HU");
  // matRad's default table (-1024 HU -> 0.00324, 200 HU -> 1.2), inverted linearly.
  auto hu = [](double red) { return -1024.0 + (red - 0.00324) / (1.2 - 0.00324) * 1224.0; };
  CHECK(p.ct_hu.at(0, 0, 0) == Approx(hu(1.0)).margin(0.01));
  CHECK(p.ct_hu.at(2, 1, 0) == Approx(hu(0.3)).margin(0.01));  // column 3 = x, row 2 = y
  CHECK(p.ct_hu.at(3, 0, 1) == Approx(-1024.0));
  REQUIRE(p.structures.size() == 2);
  const Structure& ctv = p.structures[0];
  CHECK(ctv.name == "CTV_lung");
  CHECK(ctv.type == "CTV");
  CHECK(ctv.number == 1);
  CHECK(ctv.color_rgb == std::array<uint8_t, 3>{255, 128, 0});
  StructureStats st = compute_structure_stats(ctv.mask);
  CHECK(st.voxel_count == 1);
  CHECK(st.centroid_mm == Vec3{14.0, -17.0, 100.0});
  CHECK(p.structures[1].type == "ORGAN");
  CHECK(compute_structure_stats(p.structures[1].mask).voxel_count == 12);
}

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
