// DICOM CT series reading: synthetic series written with DCMTK here (geometry, HU, every
// refusal) and every CT in the public test data (loads, or fails with a clear message).
#include <catch2/catch.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/threads.h"
#include "vmatplan/io/dicom_ct_reader.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

struct SliceSpec {
  Vec3 position_mm{0, 0, 0};
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
  int rows = 3, cols = 4;
  double spacing_mm = 2.0;
  int hu = 0;  // pixel (r, c) holds hu + r * cols + c
  std::string series_uid = "1.2.826.0.1.3680043.8.498.1";
  std::string description = "synthetic";
  std::string patient_position = "HFS";  // "" leaves the attribute out
};

std::string join(const double* v, int n) {
  std::string s;
  char buf[32];
  for (int a = 0; a < n; ++a) {
    std::snprintf(buf, sizeof buf, "%.6g", v[a]);
    s += (a ? "\\" : "") + std::string(buf);
  }
  return s;
}

// One tiny CT Image Storage file (PS3.3 A.3), int16 with RescaleIntercept -1024.
void write_ct_slice(const std::string& path, const SliceSpec& s) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  char uid[100];
  ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertString(DCM_PatientID, "SYNTH01");
  ds->putAndInsertString(DCM_PatientName, "Synthetic^Ct");
  ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.8.498.2");
  ds->putAndInsertString(DCM_SeriesInstanceUID, s.series_uid.c_str());
  ds->putAndInsertString(DCM_SeriesDescription, s.description.c_str());
  ds->putAndInsertString(DCM_FrameOfReferenceUID, "1.2.826.0.1.3680043.8.498.3");
  if (!s.patient_position.empty()) ds->putAndInsertString(DCM_PatientPosition, s.patient_position.c_str());
  ds->putAndInsertString(DCM_ImagePositionPatient, join(s.position_mm.data(), 3).c_str());
  ds->putAndInsertString(DCM_ImageOrientationPatient, join(s.orientation.data(), 6).c_str());
  const double ps[2] = {s.spacing_mm, s.spacing_mm};
  ds->putAndInsertString(DCM_PixelSpacing, join(ps, 2).c_str());
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.cols));
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, 16);
  ds->putAndInsertUint16(DCM_BitsStored, 16);
  ds->putAndInsertUint16(DCM_HighBit, 15);
  ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
  ds->putAndInsertString(DCM_RescaleSlope, "1");
  ds->putAndInsertString(DCM_RescaleIntercept, "-1024");
  std::vector<Uint16> px(static_cast<size_t>(s.rows * s.cols));
  for (size_t p = 0; p < px.size(); ++p)
    px[p] = static_cast<Uint16>(static_cast<int16_t>(s.hu + 1024 + static_cast<int>(p)));
  ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  REQUIRE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}

// Slices at the given positions along z (or any given positions), named so that the file
// order differs from the position order.
void write_series(const std::string& dir, const std::vector<Vec3>& positions, SliceSpec spec = {}) {
  for (size_t n = 0; n < positions.size(); ++n) {
    spec.position_mm = positions[n];
    spec.hu = 100 * static_cast<int>(n);
    write_ct_slice(dir + "/slice_" + std::to_string(positions.size() - n) + ".dcm", spec);
  }
}

std::vector<Vec3> z_positions(std::initializer_list<double> zs) {
  std::vector<Vec3> p;
  for (double z : zs) p.push_back({-3.0, 5.0, z});
  return p;
}

std::string error_of(const std::string& dir, const CtReadOptions& opt = {}) {
  try {
    DicomIdentity id;
    read_ct_series(dir, opt, &id, nullptr);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("CT reader: a synthetic series loads sorted, in HU, with its identity", "[io][dicom_ct]") {
  std::string dir = test::scratch_dir("ct_ok");
  write_series(dir, z_positions({10.0, 12.5, 5.0, 7.5}));  // HU 0, 100, 200, 300
  DicomIdentity id;
  std::vector<std::string> warnings;
  CtImage ct = read_ct_series(dir, {}, &id, &warnings);
  CHECK(warnings.empty());
  REQUIRE(ct.grid.size == Size3{4, 3, 4});
  CHECK(ct.grid.spacing_mm[0] == Approx(2.0));
  CHECK(ct.grid.spacing_mm[2] == Approx(2.5));
  CHECK(ct.grid.origin_mm[2] == Approx(5.0));
  CHECK(ct.grid.orientation_code() == "LPS");
  // k = 0 is z = 5 (HU 200 + index), then 7.5 (300), 10 (0), 12.5 (100).
  CHECK(ct.at(0, 0, 0) == Approx(200.0));
  CHECK(ct.at(3, 2, 0) == Approx(200.0 + 2 * 4 + 3));
  CHECK(ct.at(0, 0, 1) == Approx(300.0));
  CHECK(ct.at(1, 0, 2) == Approx(1.0));
  CHECK(ct.at(0, 0, 3) == Approx(100.0));
  CHECK(id.patient_id == "SYNTH01");
  CHECK(id.patient_name == "Synthetic^Ct");
  CHECK(id.series_instance_uid == "1.2.826.0.1.3680043.8.498.1");
  CHECK(id.frame_of_reference_uid == "1.2.826.0.1.3680043.8.498.3");
  CHECK(id.patient_position == "HFS");
  // The same series is found from one of its files, and by scan_dicom_folder.
  CHECK(read_ct_series(dir + "/slice_1.dcm", {}, nullptr, nullptr).grid.same_geometry(ct.grid));
  auto series = scan_dicom_folder(dir);
  REQUIRE(series.size() == 1);
  CHECK(series[0].modality == "CT");
  CHECK(series[0].files.size() == 4);
}

TEST_CASE("CT reader: a folder scanned once gives the same CT and identity as reading it anew",
          "[io][dicom_ct]") {
  std::string dir = test::scratch_dir("ct_scan_once");
  write_series(dir, z_positions({10.0, 12.5, 5.0, 7.5}));
  std::ofstream(dir + "/notes.txt") << "not DICOM\n";
  const DicomFolderScan scan = scan_dicom_folder_files(dir);
  REQUIRE(scan.series.size() == 1);
  CHECK(scan.series[0].modality == "CT");
  CHECK(scan.series[0].files.size() == 4);
  CHECK(scan.dicom_files == 4);
  CHECK(scan.skipped == 1);
  CHECK(scan.unreadable.empty());
  int skipped = 0;
  const auto listed = scan_dicom_folder(dir, &skipped);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].files == scan.series[0].files);
  CHECK(skipped == scan.skipped);

  DicomIdentity fresh_id, scanned_id;
  const CtImage fresh = read_ct_series(dir, {}, &fresh_id, nullptr);
  const CtImage scanned = read_ct_series(dir, scan, {}, &scanned_id, nullptr);
  CHECK(scanned.grid.same_geometry(fresh.grid));
  CHECK(scanned.voxels == fresh.voxels);
  CHECK(scanned_id.series_instance_uid == fresh_id.series_instance_uid);
  CHECK(scanned_id.frame_of_reference_uid == fresh_id.frame_of_reference_uid);
  CHECK(scanned_id.patient_id == fresh_id.patient_id);
  // The scan's refusals are those of a fresh read: a series UID that is not there.
  CtReadOptions other;
  other.series_uid = "1.2.3.4";
  CHECK_THROWS_WITH(read_ct_series(dir, scan, other, nullptr, nullptr),
                    Catch::Contains("no CT series with UID 1.2.3.4"));
}

TEST_CASE("CT reader: a feet-first, prone orientation gives the matching grid", "[io][dicom_ct]") {
  std::string dir = test::scratch_dir("ct_ffp");
  SliceSpec spec;
  spec.orientation = {-1, 0, 0, 0, -1, 0};  // normal = row x col = +z
  spec.patient_position = "FFP";
  write_series(dir, z_positions({0.0, -3.0, 3.0}), spec);  // HU 0, 100, 200
  DicomIdentity id;
  CtImage ct = read_ct_series(dir, {}, &id, nullptr);
  CHECK(id.patient_position == "FFP");
  CHECK(ct.grid.orientation_code() == "RAS");
  // Voxel (i, j, k) must sit where its slice's geometry puts it.
  Vec3 p = ct.grid.index_to_physical({2, 1, 0});
  CHECK(p[0] == Approx(-3.0 - 2 * 2.0));
  CHECK(p[1] == Approx(5.0 - 1 * 2.0));
  CHECK(p[2] == Approx(-3.0));
  CHECK(ct.at(0, 0, 0) == Approx(100.0));
  CHECK(ct.at(0, 0, 2) == Approx(200.0));
}

TEST_CASE("CT reader: refusals name the folder and the problem", "[io][dicom_ct][bad_input]") {
  SECTION("empty folder") {
    std::string dir = test::scratch_dir("ct_empty");
    CHECK_THAT(error_of(dir), Catch::Contains(dir) && Catch::Contains("no DICOM files"));
  }
  SECTION("missing folder") {
    CHECK_THAT(error_of("/nonexistent/ct"), Catch::Contains("does not exist"));
  }
  SECTION("folder of non-DICOM files, counted as skipped") {
    std::string dir = test::scratch_dir("ct_nondicom");
    std::ofstream(dir + "/notes.txt") << "not a CT\n";
    std::ofstream blob(dir + "/blob.dcm", std::ios::binary);
    for (int n = 0; n < 4096; ++n) blob.put(static_cast<char>((n * 7919) & 0xff));
    blob.close();
    int skipped = 0;
    CHECK(scan_dicom_folder(dir, &skipped).empty());
    CHECK(skipped == 2);
    CHECK_THAT(error_of(dir), Catch::Contains("no DICOM files") && Catch::Contains("2 other files"));
  }
  SECTION("a single slice") {
    std::string dir = test::scratch_dir("ct_single");
    write_series(dir, z_positions({0.0}));
    CHECK_THAT(error_of(dir), Catch::Contains("only 1 slice"));
  }
  SECTION("gantry tilt, with its angle") {
    std::string dir = test::scratch_dir("ct_tilt");
    // Each 3 mm step along z moves 3 * tan(20 deg) = 1.09 mm along y.
    std::vector<Vec3> p;
    for (int n = 0; n < 4; ++n) p.push_back({0.0, 3.0 * n * std::tan(20.0 * M_PI / 180), 3.0 * n});
    write_series(dir, p);
    CHECK_THAT(error_of(dir), Catch::Contains("gantry tilt of 20.00 degrees"));
  }
  SECTION("a missing slice, and where") {
    std::string dir = test::scratch_dir("ct_missing");
    write_series(dir, z_positions({0.0, 2.5, 5.0, 10.0, 12.5}));
    std::string e = error_of(dir);
    CHECK_THAT(e, Catch::Contains("missing slice") && Catch::Contains("5.00 mm along the normal") &&
                      Catch::Contains("1 slice(s) missing"));
  }
  SECTION("non-uniform spacing, refused or resampled on request") {
    std::string dir = test::scratch_dir("ct_nonuniform");
    write_series(dir, z_positions({0.0, 2.0, 4.0, 7.0, 10.0, 13.0}));
    CHECK_THAT(error_of(dir), Catch::Contains("non-uniform slice spacing (2.000 to 3.000 mm"));
    CtReadOptions opt;
    opt.resample_nonuniform = true;
    std::vector<std::string> warnings;
    CtImage ct = read_ct_series(dir, opt, nullptr, &warnings);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("resampled linearly to 7 slices at 2.000 mm"));
    REQUIRE(ct.grid.size[2] == 7);
    CHECK(ct.grid.spacing_mm[2] == Approx(2.0));
    // z = 6 lies 2/3 of the way from z = 4 (HU 200) to z = 7 (HU 300).
    CHECK(ct.at(0, 0, 3) == Approx(200.0 + 100.0 * 2.0 / 3.0).margin(1e-3));
    CHECK(ct.at(0, 0, 6) == Approx(400.0 + 100.0 * 2.0 / 3.0).margin(1e-3));  // z = 12
  }
  SECTION("two slices at one position") {
    std::string dir = test::scratch_dir("ct_duplicate");
    write_series(dir, z_positions({0.0, 2.0, 2.0, 4.0}));
    CHECK_THAT(error_of(dir), Catch::Contains("same position 2.000 mm"));
  }
  SECTION("slices of different sizes") {
    std::string dir = test::scratch_dir("ct_rows");
    write_series(dir, z_positions({0.0, 2.0}));
    SliceSpec odd;
    odd.rows = 5;
    odd.position_mm = {-3.0, 5.0, 4.0};
    write_ct_slice(dir + "/odd.dcm", odd);
    CHECK_THAT(error_of(dir), Catch::Contains("inconsistent Rows/Columns"));
  }
  SECTION("a truncated slice") {
    std::string dir = test::scratch_dir("ct_truncated");
    SliceSpec big;
    big.rows = big.cols = 64;
    write_series(dir, z_positions({0.0, 2.0, 4.0}), big);
    const std::string victim = dir + "/slice_2.dcm";
    fs::resize_file(victim, fs::file_size(victim) - 3000);
    CHECK_THAT(error_of(dir), Catch::Contains(victim));
  }
  SECTION("two CT series without a series UID, and an unknown series UID") {
    std::string dir = test::scratch_dir("ct_mixed");
    fs::create_directories(dir + "/a");
    fs::create_directories(dir + "/b");
    SliceSpec a, b;
    a.series_uid = "1.2.3.4.100";
    a.description = "thin";
    b.series_uid = "1.2.3.4.200";
    write_series(dir + "/a", z_positions({0.0, 1.0, 2.0}), a);
    write_series(dir + "/b", z_positions({0.0, 3.0}), b);
    CHECK_THAT(error_of(dir), Catch::Contains("2 CT series") &&
                                  Catch::Contains("1.2.3.4.100 (3 slices, \"thin\")") &&
                                  Catch::Contains("1.2.3.4.200 (2 slices"));
    CtReadOptions opt;
    opt.series_uid = "1.2.3.4.9";
    CHECK_THAT(error_of(dir, opt), Catch::Contains("no CT series with UID 1.2.3.4.9") &&
                                       Catch::Contains("1.2.3.4.100") && Catch::Contains("1.2.3.4.200"));
    opt.series_uid = "1.2.3.4.200";
    CHECK(read_ct_series(dir, opt, nullptr, nullptr).grid.size[2] == 2);
  }
  SECTION("no PatientPosition: HFS with a warning") {
    std::string dir = test::scratch_dir("ct_no_position");
    SliceSpec spec;
    spec.patient_position = "";
    write_series(dir, z_positions({0.0, 2.0}), spec);
    DicomIdentity id;
    std::vector<std::string> warnings;
    read_ct_series(dir, {}, &id, &warnings);
    CHECK(id.patient_position == "HFS");
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("assuming HFS"));
  }
}

TEST_CASE("CT reader: every CT in the public test data loads or fails clearly", "[io][dicom_ct][data]") {
  const std::string data = test::data_dir();
  VMATPLAN_SKIP_IF_EMPTY(data, "public test data");
  struct Expect {
    const char* folder;
    const char* error;  // nullptr: must load
  };
  const Expect cases[] = {
      {"dicom/pydicom", "only 1 slice"},
      {"dicom/dicompyler-core", "only 1 slice"},
      {"dicom/rt-utils", nullptr},
      {"eclipse_prostate_phantom/dicom", nullptr},
  };
  // pydicom's RTSTRUCT has no preamble and no meta header: it is still found.
  int skipped = -1;
  auto series = scan_dicom_folder(data + "/dicom/pydicom", &skipped);
  CHECK(skipped == 0);
  std::string modalities;
  for (const auto& s : series) modalities += s.modality + " ";
  CHECK(series.size() == 4);
  CHECK_THAT(modalities, Catch::Contains("CT ") && Catch::Contains("RTSTRUCT ") &&
                             Catch::Contains("RTPLAN ") && Catch::Contains("RTDOSE "));
  for (const Expect& c : cases) {
    const std::string dir = data + "/" + c.folder;
    INFO(dir);
    if (c.error) {
      CHECK_THAT(error_of(dir), Catch::StartsWith(dir + ": ") && Catch::Contains(c.error));
      continue;
    }
    DicomIdentity id;
    std::vector<std::string> warnings;
    CtImage ct = read_ct_series(dir, {}, &id, &warnings);
    CHECK(warnings.empty());
    CHECK(ct.grid.size[2] >= 2);
    CHECK_FALSE(id.frame_of_reference_uid.empty());
  }
}

TEST_CASE("CT reader: the Eclipse phantom's grid and HU", "[io][dicom_ct][data]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom/dicom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom/dicom");
  struct Threads {  // 2 threads for this load only, restored even when it throws
    Threads() { set_thread_count(2); }
    ~Threads() { set_thread_count(1); }
  };
  auto t0 = std::chrono::steady_clock::now();
  DicomIdentity id;
  CtImage ct;
  {
    Threads two;
    ct = read_ct_series(dir, {}, &id, nullptr);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("Eclipse phantom CT (136x86x92) loaded in " << seconds << " s on 2 threads");
  // Values from the folder's README.
  CHECK(ct.grid.size == Size3{136, 86, 92});
  for (int a = 0; a < 3; ++a) CHECK(ct.grid.spacing_mm[a] == Approx(2.5));
  CHECK(ct.grid.origin_mm[0] == Approx(-162.826));
  CHECK(ct.grid.origin_mm[1] == Approx(-105.0169));
  CHECK(ct.grid.origin_mm[2] == Approx(-122.5));
  CHECK(ct.grid.index_to_physical({0, 0, 91})[2] == Approx(105.0));
  CHECK(id.patient_id == "ECLIPSE_PROSTATE_PHANTOM");
  CHECK(id.study_instance_uid == "1.2.826.0.1.3680043.8.498.57824979810711706716390602770905946921");
  CHECK(id.series_instance_uid == "1.2.826.0.1.3680043.8.498.10859144905385174358681365042735781321");
  CHECK(id.frame_of_reference_uid == "1.2.826.0.1.3680043.8.498.54072045544211710300136503946205062281");
  int64_t air = 0, water = 0, bone = 0, other = 0;
  for (float v : ct.voxels) {
    if (v == -1000.0f) ++air;
    else if (v == 0.0f) ++water;
    else if (v == 700.0f) ++bone;
    else ++other;
  }
  CHECK(other == 0);
  // BODY is about 10.7 litres, the femoral heads about 100 cc (README).
  CHECK((water + bone) * 15.625e-3 == Approx(10697.3).epsilon(0.01));
  CHECK(bone * 15.625e-3 == Approx(49.6 + 50.5).epsilon(0.03));
}

TEST_CASE("CT reader: RLE slices load, JPEG slices are refused by name", "[io][dicom_ct]") {
  if (!test::have_program("dcmcrle") || !test::have_program("dcmcjpeg")) {
    WARN("skipped: DCMTK command-line tools (dcmcrle, dcmcjpeg) not installed");
    return;
  }
  std::string plain = test::scratch_dir("ct_plain");
  write_series(plain, z_positions({0.0, 2.0, 4.0}));
  const CtImage reference = read_ct_series(plain, {}, nullptr, nullptr);
  std::string rle = test::scratch_dir("ct_rle");
  std::string jpeg = test::scratch_dir("ct_jpeg");
  for (int n = 1; n <= 3; ++n) {
    const std::string name = "/slice_" + std::to_string(n) + ".dcm";
    REQUIRE(test::run_shell("dcmcrle '" + plain + name + "' '" + rle + name + "'").exit_code == 0);
    REQUIRE(test::run_shell("dcmcjpeg '" + plain + name + "' '" + jpeg + name + "'").exit_code == 0);
  }
  CtImage ct = read_ct_series(rle, {}, nullptr, nullptr);
  CHECK(ct.voxels == reference.voxels);
  CHECK_THAT(error_of(jpeg), Catch::Contains("compressed transfer syntax JPEG") &&
                                 Catch::Contains("not supported"));
}
