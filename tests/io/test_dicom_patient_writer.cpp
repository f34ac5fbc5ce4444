#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/dicom_patient_writer.h"
#include "vmatplan/patient/pelvis_phantom.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

Patient small_phantom(const std::string& position) {
  PelvisPhantomOptions o;
  o.seed = 11;
  o.spacing_mm = {2.0, 2.0, 3.0};
  o.field_of_view_mm = {400, 300, 150};
  o.patient_position = position;
  return make_pelvis_phantom(o);
}

// dciodvfy prints "Error - ..." lines for IOD violations (warnings are allowed).
void check_dciodvfy(const std::string& file) {
  auto r = test::run_shell("dciodvfy '" + file + "'");
  INFO(file << "\n" << r.out << r.err);
  CHECK((r.out + r.err).find("Error") == std::string::npos);
}

}  // namespace

TEST_CASE("writes one CT file per slice and an RT Structure Set", "[writer]") {
  Patient p = small_phantom("HFS");
  const std::string dir = test::scratch_dir("writer_hfs");
  write_dicom_patient(p, dir);
  const auto& g = p.ct_hu.grid;
  CHECK(fs::exists(dir + "/CT_0001.dcm"));
  CHECK(fs::exists(dir + "/CT_00" + std::to_string(g.size[2]) + ".dcm"));
  CHECK(fs::exists(dir + "/RS.dcm"));
  int64_t files = std::distance(fs::directory_iterator(dir), fs::directory_iterator{});
  CHECK(files == g.size[2] + 1);
  CHECK_THROWS_AS(write_dicom_patient(p, dir + "/missing"), InputError);

  if (test::have_program("dciodvfy")) {
    check_dciodvfy(dir + "/CT_0001.dcm");
    check_dciodvfy(dir + "/RS.dcm");
  } else {
    WARN("skipped dciodvfy: not installed");
  }

  // pydicom reads it back: HU at a voxel, geometry, the ROIs and their references.
  const Vec3 pos = g.index_to_physical({0, 0, 4});
  const float hu = p.ct_hu.at(120, 80, 4);
  const std::string script =
      "import pydicom,glob,sys\n"
      "d='" + dir + "'\n"
      "ct=pydicom.dcmread(d+'/CT_0005.dcm')\n"
      "v=int(ct.pixel_array[80,120])*float(ct.RescaleSlope)+float(ct.RescaleIntercept)\n"
      "assert abs(v-(" + std::to_string(hu) + "))<=0.5, v\n"
      "assert ct.Modality=='CT' and ct.PatientID=='PHANTOM-11' and ct.PatientPosition=='HFS'\n"
      "assert [float(x) for x in ct.ImageOrientationPatient]==[1,0,0,0,1,0]\n"
      "assert abs(float(ct.ImagePositionPatient[2])-(" + std::to_string(pos[2]) + "))<1e-3\n"
      "assert (ct.Rows,ct.Columns)==(" + std::to_string(g.size[1]) + "," +
      std::to_string(g.size[0]) + ")\n"
      "uids={pydicom.dcmread(f).SOPInstanceUID for f in glob.glob(d+'/CT_*.dcm')}\n"
      "rs=pydicom.dcmread(d+'/RS.dcm')\n"
      "assert rs.Modality=='RTSTRUCT'\n"
      "assert rs.StudyInstanceUID==ct.StudyInstanceUID\n"
      "fr=rs.ReferencedFrameOfReferenceSequence[0]\n"
      "assert fr.FrameOfReferenceUID==ct.FrameOfReferenceUID\n"
      "se=fr.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]\n"
      "assert se.SeriesInstanceUID==ct.SeriesInstanceUID and len(se.ContourImageSequence)==len(uids)\n"
      "names=[r.ROIName for r in rs.StructureSetROISequence]\n"
      "assert names==['BODY','PTV','CTV','Prostate','SeminalVesicles','Rectum','Bladder',"
      "'FemoralHead_L','FemoralHead_R'], names\n"
      "types=[o.RTROIInterpretedType for o in rs.RTROIObservationsSequence]\n"
      "assert types[:3]==['EXTERNAL','PTV','CTV'], types\n"
      "for rc in rs.ROIContourSequence:\n"
      "  for c in rc.ContourSequence:\n"
      "    assert c.ContourGeometricType=='CLOSED_PLANAR'\n"
      "    assert len(c.ContourData)==3*int(c.NumberOfContourPoints)\n"
      "    assert c.ContourImageSequence[0].ReferencedSOPInstanceUID in uids\n"
      "print('ok')\n";
  const std::string py = dir + "/check.py";
  { std::ofstream(py) << script; }
  auto r = test::run_shell("/usr/bin/python3 '" + py + "'");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ok") != std::string::npos);
}

TEST_CASE("feet-first prone CT carries its orientation and valid files", "[writer]") {
  Patient p = small_phantom("FFP");
  p.identity.study_instance_uid.clear();  // empty UIDs are made and written back
  p.structures[1].contours.clear();       // contours are made from the mask
  const std::string dir = test::scratch_dir("writer_ffp");
  write_dicom_patient(p, dir);
  CHECK(!p.identity.study_instance_uid.empty());
  if (test::have_program("dciodvfy")) {
    check_dciodvfy(dir + "/CT_0010.dcm");
    check_dciodvfy(dir + "/RS.dcm");
  }
  const Vec3 pos = p.ct_hu.grid.index_to_physical({0, 0, 9});
  const std::string script =
      "import pydicom\n"
      "ct=pydicom.dcmread('" + dir + "/CT_0010.dcm')\n"
      "assert ct.PatientPosition=='FFP'\n"
      "assert [float(x) for x in ct.ImageOrientationPatient]==[1,0,0,0,-1,0]\n"
      "ipp=[float(x) for x in ct.ImagePositionPatient]\n"
      "assert max(abs(a-b) for a,b in zip(ipp,[" + std::to_string(pos[0]) + "," +
      std::to_string(pos[1]) + "," + std::to_string(pos[2]) + "]))<1e-3, ipp\n"
      "assert abs(float(ct.SliceLocation)+ipp[2])<1e-3\n"
      "rs=pydicom.dcmread('" + dir + "/RS.dcm')\n"
      "assert rs.StudyInstanceUID==ct.StudyInstanceUID\n"
      "assert len(rs.ROIContourSequence[1].ContourSequence)>0\n"
      "print('ok')\n";
  const std::string py = dir + "/check.py";
  { std::ofstream(py) << script; }
  auto r = test::run_shell("/usr/bin/python3 '" + py + "'");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}
