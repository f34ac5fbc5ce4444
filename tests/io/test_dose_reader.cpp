// RT Dose import: the Eclipse phantom's RD.dcm (written by pydicom from the NRRD) against
// the NRRD itself, and vmatplan's own RT Dose (16 and 32 bit) read back.
#include <catch2/catch.hpp>

#include <cmath>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/dose_reader.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/io/rtdose_writer.h"

using namespace vmatplan;

TEST_CASE("RT Dose of the Eclipse phantom reads as its NRRD dose", "[io][rtdose][eclipse]") {
  const std::string dir = test::data_file("eclipse_prostate_phantom");
  VMATPLAN_SKIP_IF_EMPTY(dir, "eclipse_prostate_phantom");
  DoseFileInfo info;
  const Image3D<float> rd = read_dose(dir + "/dicom/RD.dcm", &info);
  const Image3D<float> nrrd = read_dose(dir + "/EclipseProstate_Dose.nrrd");
  CHECK(info.format == "RTDOSE");
  CHECK(info.summation_type == "PLAN");
  CHECK(info.frame_of_reference_uid ==
        "1.2.826.0.1.3680043.8.498.54072045544211710300136503946205062281");
  CHECK(info.dose_grid_scaling == Approx(0.0007242407579));
  CHECK(rd.grid.size == Size3{136, 86, 92});
  CHECK(rd.grid.same_geometry(nrrd.grid, 1e-3));
  double max_diff = 0, max_gy = 0;
  for (size_t i = 0; i < rd.voxels.size(); ++i) {
    max_diff = std::max(max_diff, double(std::abs(rd.voxels[i] - nrrd.voxels[i])));
    max_gy = std::max(max_gy, double(rd.voxels[i]));
  }
  CHECK(max_diff <= info.dose_grid_scaling);  // the README measures 0.00036 Gy
  CHECK(max_gy == Approx(47.0757).margin(0.001));

  const Patient p = load_patient(dir + "/dicom");
  std::vector<std::string> warnings;
  CHECK_NOTHROW(check_dose_against_patient(rd, info, p, "RD.dcm", &warnings));
  Patient other = p;
  other.identity.frame_of_reference_uid = "1.2.3";
  CHECK_THROWS_AS(check_dose_against_patient(rd, info, other, "RD.dcm", &warnings), InputError);
  CHECK_NOTHROW(check_dose_against_patient(rd, info, other, "RD.dcm", &warnings, true));
  CHECK(warnings.size() == 1);
  Image3D<float> far = rd;
  far.grid.origin_mm[2] += 1000.0;
  CHECK_THROWS_AS(check_dose_against_patient(far, info, p, "RD.dcm", nullptr), InputError);
}

TEST_CASE("vmatplan's RT Dose reads back on its grid", "[io][rtdose]") {
  ImageGrid g;
  g.size = {7, 5, 4};
  g.spacing_mm = {2.5, 3.0, 4.0};
  g.origin_mm = {-15, -20, 30};
  g.direction = {-1, 0, 0, 0, 1, 0, 0, 0, -1};  // feet-first style flips
  Image3D<float> dose(g);
  for (size_t i = 0; i < dose.voxels.size(); ++i) dose.voxels[i] = float(0.37 * i);
  DeliveryPlan plan;
  plan.sop_instance_uid = "1.2.826.0.1.3680043.2.1125.1";
  plan.identity.frame_of_reference_uid = "1.2.826.0.1.3680043.2.1125.2";
  const std::string dir = test::scratch_dir("dose_reader");
  for (int bits : {32, 16}) {
    INFO(bits << " bits");
    const std::string f = dir + "/RD" + std::to_string(bits) + ".dcm";
    write_rtdose(dose, plan, f, {bits});
    DoseFileInfo info;
    const Image3D<float> back = read_rtdose(f, &info);
    CHECK(back.grid.same_geometry(g, 1e-6));
    CHECK(info.referenced_plan_uid == plan.sop_instance_uid);
    CHECK(info.frame_of_reference_uid == plan.identity.frame_of_reference_uid);
    double max_diff = 0;
    for (size_t i = 0; i < back.voxels.size(); ++i)
      max_diff = std::max(max_diff, double(std::abs(back.voxels[i] - dose.voxels[i])));
    CHECK(max_diff <= info.dose_grid_scaling);
  }
}

TEST_CASE("RT Dose reader refuses files that are not RT Dose", "[io][rtdose]") {
  const std::string dir = test::data_file("dicom/pymedphys");
  VMATPLAN_SKIP_IF_EMPTY(dir, "dicom/pymedphys");
  CHECK_THROWS_AS(read_rtdose(dir + "/06MV_plan.dcm"), InputError);
  CHECK_THROWS_AS(read_dose("/nonexistent/RD.dcm"), InputError);
}

TEST_CASE("a RELATIVE RT Dose (pydicom's test file) is refused by name", "[io][rtdose]") {
  const std::string f = test::data_file("dicom/pydicom/rtdose.dcm");
  VMATPLAN_SKIP_IF_EMPTY(f, "dicom/pydicom/rtdose.dcm");
  // DoseUnits RELATIVE: no absolute dose to evaluate goals with.
  CHECK_THROWS_WITH(read_dose(f), Catch::Matchers::Contains("rtdose.dcm") && Catch::Matchers::Contains("RELATIVE"));
}
