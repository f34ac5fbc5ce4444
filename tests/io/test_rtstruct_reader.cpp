// RTSTRUCT reading and rasterization: a synthetic structure set written with DCMTK here,
// and every RTSTRUCT in the public test data (on its CT where that CT is usable).
#include <catch2/catch.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <chrono>
#include <cmath>
#include <map>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/dicom_ct_reader.h"
#include "vmatplan/io/rtstruct_reader.h"

using namespace vmatplan;

namespace {

const char* kFrame = "1.2.826.0.1.3680043.8.498.77";

double volume_cc(const Mask& m) {
  int64_t n = 0;
  for (uint8_t v : m.voxels) n += v;
  return static_cast<double>(n) * m.grid.voxel_volume_mm3() / 1000.0;
}

std::string square_data(double x0, double y0, double x1, double y1, double z) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%g\\%g\\%g\\%g\\%g\\%g\\%g\\%g\\%g\\%g\\%g\\%g", x0, y0, z, x1, y0,
                z, x1, y1, z, x0, y1, z);
  return buf;
}

void add_contour(DcmItem* roi_contour, const char* type, const std::string& data, int points) {
  DcmItem* c = nullptr;
  REQUIRE(roi_contour->findOrCreateSequenceItem(DCM_ContourSequence, c, -2).good());
  c->putAndInsertString(DCM_ContourGeometricType, type);
  c->putAndInsertString(DCM_NumberOfContourPoints, std::to_string(points).c_str());
  c->putAndInsertString(DCM_ContourData, data.c_str());
}

// Structure set (PS3.3 A.19) with ROI 1 "Ring" (a 40 mm square with a 20 mm square hole on
// z = 0 and z = 2, drawn in the same direction, plus a POINT), ROI 2 "Marker" (POINT
// only) and ROI 3 "Empty" (listed, no contours).
void write_rtstruct(const std::string& path, const std::string& frame) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  char uid[100];
  ds->putAndInsertString(DCM_SOPClassUID, UID_RTStructureSetStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.8.498.78");
  ds->putAndInsertString(DCM_Modality, "RTSTRUCT");
  ds->putAndInsertString(DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
  DcmItem* fr = nullptr;
  ds->findOrCreateSequenceItem(DCM_ReferencedFrameOfReferenceSequence, fr, 0);
  fr->putAndInsertString(DCM_FrameOfReferenceUID, frame.c_str());
  const char* names[3] = {"Ring", "Marker", "Empty"};
  const char* types[3] = {"ORGAN", "MARKER", "CTV"};
  for (int r = 0; r < 3; ++r) {
    DcmItem* item = nullptr;
    ds->findOrCreateSequenceItem(DCM_StructureSetROISequence, item, r);
    item->putAndInsertString(DCM_ROINumber, std::to_string(r + 1).c_str());
    item->putAndInsertString(DCM_ReferencedFrameOfReferenceUID, frame.c_str());
    item->putAndInsertString(DCM_ROIName, names[r]);
    DcmItem* ob = nullptr;
    ds->findOrCreateSequenceItem(DCM_RTROIObservationsSequence, ob, r);
    ob->putAndInsertString(DCM_ObservationNumber, std::to_string(r + 1).c_str());
    ob->putAndInsertString(DCM_ReferencedROINumber, std::to_string(r + 1).c_str());
    ob->putAndInsertString(DCM_RTROIInterpretedType, types[r]);
  }
  DcmItem* ring = nullptr;
  ds->findOrCreateSequenceItem(DCM_ROIContourSequence, ring, 0);
  ring->putAndInsertString(DCM_ReferencedROINumber, "1");
  ring->putAndInsertString(DCM_ROIDisplayColor, "10\\200\\30");
  for (double z : {0.0, 2.0}) {
    add_contour(ring, "CLOSED_PLANAR", square_data(-20, -20, 20, 20, z), 4);
    add_contour(ring, "CLOSED_PLANAR", square_data(-10, -10, 10, 10, z), 4);
  }
  add_contour(ring, "POINT", "0\\0\\0", 1);
  DcmItem* marker = nullptr;
  ds->findOrCreateSequenceItem(DCM_ROIContourSequence, marker, 1);
  marker->putAndInsertString(DCM_ReferencedROINumber, "2");
  add_contour(marker, "POINT", "5\\5\\2", 1);
  REQUIRE(ff.saveFile(path.c_str(), EXS_LittleEndianImplicit).good());
}

// A grid of `spacing_mm` voxels whose slices lie on z0 + n * slice_mm and which encloses
// [lo, hi] in LPS; voxel edges (not centres) lie on lo[0] and lo[1].
ImageGrid grid_around(const Vec3& lo, const Vec3& hi, double spacing_mm, double z0, double slice_mm) {
  ImageGrid g;
  g.spacing_mm = {spacing_mm, spacing_mm, slice_mm};
  g.origin_mm = {lo[0] - 5.0 + 0.5 * spacing_mm, lo[1] - 5.0 + 0.5 * spacing_mm, z0};
  g.size = {static_cast<int64_t>((hi[0] - lo[0] + 10.0) / spacing_mm) + 1,
            static_cast<int64_t>((hi[1] - lo[1] + 10.0) / spacing_mm) + 1,
            static_cast<int64_t>(std::round((hi[2] - z0) / slice_mm)) + 1};
  return g;
}

std::string error_of_rtstruct(const std::string& file, const ImageGrid& g, const std::string& frame,
                              DicomIdentity* id = nullptr) {
  try {
    read_rtstruct(file, g, frame, id, nullptr);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("RTSTRUCT reader: names, types, colours, holes and warnings", "[io][rtstruct]") {
  const std::string file = test::scratch_dir("rs_synthetic") + "/RS.dcm";
  write_rtstruct(file, kFrame);
  const ImageGrid g = grid_around({-20, -20, 0}, {20, 20, 2}, 1.0, 0.0, 2.0);
  DicomIdentity id;
  std::vector<std::string> warnings;
  std::vector<Structure> s = read_rtstruct(file, g, kFrame, &id, &warnings);
  CHECK(id.structure_set_sop_instance_uid == "1.2.826.0.1.3680043.8.498.78");
  REQUIRE(s.size() == 3);
  CHECK(s[0].name == "Ring");
  CHECK(s[0].number == 1);
  CHECK(s[0].type == "ORGAN");
  CHECK(s[0].color_rgb == std::array<uint8_t, 3>{10, 200, 30});
  CHECK(s[0].contours.size() == 4);
  // Two slices of 40 x 40 - 20 x 20 mm2 (even-odd: the hole stays empty).
  CHECK(volume_cc(s[0].mask) == Approx(2 * (1600.0 - 400.0) * 2.0 / 1000.0));
  CHECK(s[1].type == "MARKER");
  CHECK(s[2].type == "CTV");
  CHECK(volume_cc(s[1].mask) == 0.0);
  CHECK(s[2].mask.grid.same_geometry(g));
  REQUIRE(warnings.size() == 4);
  CHECK_THAT(warnings[0], Catch::StartsWith(file) &&
                              Catch::Contains("'Ring': 1 POINT/OPEN contour(s) not rasterized"));
  CHECK_THAT(warnings[1], Catch::Contains("'Marker': 1 POINT/OPEN"));
  CHECK_THAT(warnings[2], Catch::Contains("'Marker' has no closed planar contours"));
  CHECK_THAT(warnings[3], Catch::Contains("'Empty' has no closed planar contours"));
}

TEST_CASE("RTSTRUCT reader: refusals name the file", "[io][rtstruct][bad_input]") {
  const std::string dir = test::scratch_dir("rs_bad");
  write_rtstruct(dir + "/RS.dcm", kFrame);
  const ImageGrid g = grid_around({-20, -20, 0}, {20, 20, 2}, 1.0, 0.0, 2.0);
  CHECK_THAT(error_of_rtstruct(dir + "/RS.dcm", g, "1.2.3.999"),
             Catch::StartsWith(dir + "/RS.dcm: ") && Catch::Contains("frame of reference") &&
                 Catch::Contains("1.2.3.999"));
  CHECK_THAT(error_of_rtstruct(dir + "/none.dcm", g, ""), Catch::Contains("cannot read DICOM file"));
  const std::string ct = test::data_file("dicom/pydicom/CT_small.dcm");
  if (!ct.empty())
    CHECK_THAT(error_of_rtstruct(ct, g, ""), Catch::Contains("not an RT Structure Set (Modality CT)"));
}

TEST_CASE("RTSTRUCT reader: the Eclipse phantom's structures on its CT", "[io][rtstruct][data]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom/dicom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom/dicom");
  auto t0 = std::chrono::steady_clock::now();
  DicomIdentity id;
  std::vector<std::string> warnings;
  CtImage ct = read_ct_series(dir, {}, &id, &warnings);
  std::vector<Structure> s = read_rtstruct(dir + "/RS.dcm", ct.grid, id.frame_of_reference_uid, &id, &warnings);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("Eclipse phantom CT + RTSTRUCT (6 ROIs) loaded in " << seconds << " s");
  CHECK(warnings.empty());
  CHECK_FALSE(id.structure_set_sop_instance_uid.empty());
  // plastimatch's volumes from the folder's README (voxel-centre inclusion).
  const std::map<std::string, std::pair<std::string, double>> expected{
      {"BODY", {"EXTERNAL", 10697.3}}, {"Bladder", {"ORGAN", 117.5}},
      {"Femoral Head Lt", {"ORGAN", 49.6}}, {"Femoral Head RT", {"ORGAN", 50.5}},
      {"PTV", {"PTV", 49.1}}, {"Rectum", {"ORGAN", 30.5}}};
  REQUIRE(s.size() == expected.size());
  for (const Structure& st : s) {
    INFO(st.name << ": " << volume_cc(st.mask) << " cc");
    REQUIRE(expected.count(st.name) == 1);
    CHECK(st.type == expected.at(st.name).first);
    CHECK(volume_cc(st.mask) == Approx(expected.at(st.name).second).epsilon(0.01));
    CHECK_FALSE(st.contours.empty());
  }
  // The CT's BODY is the README's voxel-centre rasterization of the same contours.
  const Structure& body = s.front();
  REQUIRE(body.name == "BODY");
  int64_t both = 0, either = 0;
  for (size_t n = 0; n < ct.voxels.size(); ++n) {
    const bool in_ct = ct.voxels[n] > -500.0f, in_mask = body.mask.voxels[n] != 0;
    both += in_ct && in_mask;
    either += in_ct || in_mask;
  }
  CHECK(static_cast<double>(both) / static_cast<double>(either) > 0.99);  // Jaccard
}

TEST_CASE("RTSTRUCT reader: every RTSTRUCT in the public test data loads or fails clearly",
          "[io][rtstruct][data]") {
  const std::string data = test::data_dir();
  VMATPLAN_SKIP_IF_EMPTY(data, "public test data");
  SECTION("rt-utils: a fresh frame of reference UID, but it references its CT series") {
    const std::string dir = data + "/dicom/rt-utils";
    DicomIdentity id;
    CtImage ct = read_ct_series(dir, {}, &id, nullptr);
    std::vector<std::string> warnings;
    std::vector<Structure> s = read_rtstruct(dir + "/rt.dcm", ct.grid, id.frame_of_reference_uid, &id, &warnings);
    REQUIRE(s.size() == 1);
    CHECK(s[0].name == "ROI-1");
    CHECK(volume_cc(s[0].mask) > 0.0);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("references the CT series"));
    // Without knowing the CT series it is refused.
    CHECK_THAT(error_of_rtstruct(dir + "/rt.dcm", ct.grid, id.frame_of_reference_uid),
               Catch::Contains("frame of reference"));
  }
  SECTION("pydicom: no CT; read onto a grid around its contours") {
    std::vector<std::string> warnings;
    const ImageGrid g = grid_around({-200, -150, -200}, {200, 150, -180}, 4.0, -200.0, 10.0);
    std::vector<Structure> s = read_rtstruct(data + "/dicom/pydicom/rtstruct.dcm", g, "", nullptr, &warnings);
    REQUIRE(s.size() == 3);
    CHECK(s[0].name == "patient");
    CHECK(volume_cc(s[0].mask) > 0.0);
    CHECK(s[1].name == "Isocenter 1");
    CHECK(volume_cc(s[1].mask) == 0.0);
    CHECK(warnings.size() == 4);  // two ROIs of POINTs only: not rasterized, empty mask
  }
  SECTION("dicompyler-core: its CT is a single slice; read onto a grid around its contours") {
    std::vector<std::string> warnings;
    const ImageGrid g = grid_around({-230, -420, -122.44}, {245, -109, 168.56}, 2.0, -122.44, 3.0);
    std::vector<Structure> s = read_rtstruct(data + "/dicom/dicompyler-core/rtss.dcm", g,
                                             "2.16.840.1.113662.2.12.0.3057.1241703565.36", nullptr, &warnings);
    REQUIRE(s.size() == 10);
    int non_empty = 0;
    for (const Structure& st : s) non_empty += volume_cc(st.mask) > 0.0;
    CHECK(non_empty == 9);  // 'Areola' has no contours
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("'Areola' has no closed planar contours"));
  }
}
