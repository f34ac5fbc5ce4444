// Image-folder patients: a hand-made patient survives write + read with its names, types,
// colours, UIDs and masks; a mask on another grid is refused naming the mask file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "test_support.h"
#include "vmatplan/core/error.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/nifti_patient.h"
#include "vmatplan/io/patient_loader.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

Patient small_patient() {
  Patient p;
  ImageGrid g;
  g.size = {12, 10, 6};
  g.spacing_mm = {2.0, 2.0, 2.5};
  g.origin_mm = {-11.0, -9.0, 20.0};
  p.ct_hu = CtImage(g, -1000.0f);
  Structure body{1, "BODY", "EXTERNAL", {0, 255, 0}, Mask(g, 0), {}};
  Structure ptv{2, "PTV_60", "PTV", {255, 0, 0}, Mask(g, 0), {}};
  Structure odd{7, "Femoral Head L/R", "ORGAN", {1, 2, 3}, Mask(g, 0), {}};
  for (int64_t k = 1; k < 5; ++k)
    for (int64_t j = 1; j < 9; ++j)
      for (int64_t i = 1; i < 11; ++i) {
        p.ct_hu.at(i, j, k) = float(i * 7 - 40);
        body.mask.at(i, j, k) = 1;
        if (i > 4 && i < 8 && j > 3 && j < 6) ptv.mask.at(i, j, k) = 1;
        if (i == 2) odd.mask.at(i, j, k) = 1;
      }
  p.structures = {body, ptv, odd};
  p.identity = {"P-17", "Test^Patient", "1.2.3.1", "1.2.3.2", "1.2.3.3", "", "FFS"};
  return p;
}

}  // namespace

TEST_CASE("image-folder patient round trip", "[nifti]") {
  const std::string dir = test::scratch_dir("nifti_roundtrip");
  Patient p = small_patient();
  write_image_folder_patient(p, dir);
  CHECK(fs::exists(dir + "/ct.nii.gz"));
  CHECK(fs::exists(dir + "/masks/PTV_60.nii.gz"));
  CHECK(fs::exists(dir + "/structures.json"));
  CHECK(fs::exists(dir + "/identity.json"));
  REQUIRE(looks_like_image_folder(dir));

  Patient back = load_patient(dir);
  CHECK(back.source == dir);
  REQUIRE(back.ct_hu.grid.same_geometry(p.ct_hu.grid));
  CHECK(back.ct_hu.voxels == p.ct_hu.voxels);
  CHECK(back.identity.patient_id == "P-17");
  CHECK(back.identity.patient_name == "Test^Patient");
  CHECK(back.identity.frame_of_reference_uid == "1.2.3.3");
  CHECK(back.identity.series_instance_uid == "1.2.3.2");
  CHECK(back.identity.patient_position == "FFS");
  REQUIRE(back.structures.size() == 3);
  for (const auto& s : p.structures) {
    const Structure* b = back.find_structure(s.name);
    REQUIRE(b != nullptr);
    CHECK(b->number == s.number);
    CHECK(b->type == s.type);
    CHECK(b->color_rgb == s.color_rgb);
    CHECK(b->mask.voxels == s.mask.voxels);
  }
}

TEST_CASE("image folder without metadata guesses types and makes UIDs", "[nifti]") {
  const std::string dir = test::scratch_dir("nifti_bare");
  Patient p = small_patient();
  write_image_folder_patient(p, dir);
  fs::remove(dir + "/structures.json");
  fs::remove(dir + "/identity.json");
  fs::remove(dir + "/masks/Femoral_Head_L_R.nii.gz");
  write_mask(p.structures[0].mask, dir + "/masks/Rectum.nii.gz");
  write_mask(p.structures[1].mask, dir + "/masks/CTV_Prostate.mha");

  Patient back = read_image_folder_patient(dir);
  auto type_of = [&](const char* n) {
    const Structure* s = back.find_structure(n);
    return s ? s->type : std::string("missing");
  };
  CHECK(type_of("BODY") == "EXTERNAL");
  CHECK(type_of("PTV_60") == "PTV");
  CHECK(type_of("CTV_Prostate") == "CTV");
  CHECK(type_of("Rectum") == "ORGAN");
  CHECK(back.identity.frame_of_reference_uid.rfind("2.25.", 0) == 0);
  CHECK(back.identity.study_instance_uid != back.identity.series_instance_uid);
  std::set<int> numbers;
  for (const auto& s : back.structures) numbers.insert(s.number);
  CHECK(numbers.size() == back.structures.size());
}

TEST_CASE("a mask on another grid is refused naming the mask file", "[nifti]") {
  const std::string dir = test::scratch_dir("nifti_wrong_grid");
  Patient p = small_patient();
  write_image_folder_patient(p, dir);
  Mask wrong = p.structures[1].mask;
  wrong.grid.origin_mm[2] += 2.5;
  const std::string bad = dir + "/masks/Bladder.nii.gz";
  write_mask(wrong, bad);
  try {
    read_image_folder_patient(dir);
    FAIL("no error");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(e.path() == bad);
    CHECK(msg.find("CT grid") != std::string::npos);
    CHECK(msg.find("22.5") != std::string::npos);  // the mask's origin z
    CHECK(msg.find("origin (-11, -9, 20)") != std::string::npos);  // the CT's
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("image folder UIDs come from the content: same images, same UIDs", "[nifti][uid]") {
  const std::string dir = test::scratch_dir("nifti_uids");
  Patient p = small_patient();
  p.identity = DicomIdentity{};
  fs::create_directories(dir + "/a");
  write_image_folder_patient(p, dir + "/a");
  fs::remove(dir + "/a/identity.json");
  const Patient first = read_image_folder_patient(dir + "/a");
  const Patient again = read_image_folder_patient(dir + "/a");
  CHECK(first.format == "image_folder");
  for (auto uid : {&DicomIdentity::study_instance_uid, &DicomIdentity::series_instance_uid,
                   &DicomIdentity::frame_of_reference_uid, &DicomIdentity::structure_set_sop_instance_uid}) {
    CHECK(first.identity.*uid == again.identity.*uid);
    CHECK((first.identity.*uid).rfind("2.25.", 0) == 0);
  }
  CHECK(first.identity.study_instance_uid != first.identity.frame_of_reference_uid);
  // A copy in another folder is the same patient; one changed voxel is another.
  fs::copy(dir + "/a", dir + "/b", fs::copy_options::recursive);
  CHECK(read_image_folder_patient(dir + "/b").identity.frame_of_reference_uid ==
        first.identity.frame_of_reference_uid);
  Patient changed = first;
  changed.ct_hu.voxels[17] += 100.0f;
  changed.identity = DicomIdentity{};
  assign_content_uids(changed);
  CHECK(changed.identity.frame_of_reference_uid != first.identity.frame_of_reference_uid);
}
