// Phantom -> DICOM -> load: the loaded patient must reproduce the generator's HU and masks,
// agree with plastimatch's independent rasterization, and not depend on patient position.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "test_support.h"
#include "vmatplan/io/dicom_patient_writer.h"
#include "vmatplan/io/image_io.h"
#include "vmatplan/io/patient_loader.h"
#include "vmatplan/patient/pelvis_phantom.h"
#include "vmatplan/patient/structure_stats.h"

using namespace vmatplan;
namespace fs = std::filesystem;

namespace {

// Writes the phantom to DICOM in a scratch folder and loads it back.
Patient write_and_load(Patient& phantom, const std::string& name, std::string* dir_out) {
  std::string dir = test::scratch_dir(name);
  write_dicom_patient(phantom, dir);
  if (dir_out) *dir_out = dir;
  return load_patient(dir);
}

}  // namespace

TEST_CASE("phantom survives DICOM write and load at the default grid", "[roundtrip][phantom]") {
  PelvisPhantomOptions opt;
  opt.seed = 11;
  Patient phantom = make_pelvis_phantom(opt);
  Patient loaded = write_and_load(phantom, "roundtrip_default", nullptr);

  REQUIRE(loaded.ct_hu.grid.same_geometry(phantom.ct_hu.grid, 1e-3));
  double max_diff = 0;
  for (size_t n = 0; n < phantom.ct_hu.voxels.size(); ++n)
    max_diff = std::max(max_diff, double(std::abs(phantom.ct_hu.voxels[n] - loaded.ct_hu.voxels[n])));
  CHECK(max_diff <= 0.5);  // HU stored as integers

  CHECK(loaded.identity.patient_id == phantom.identity.patient_id);
  CHECK(loaded.identity.frame_of_reference_uid == phantom.identity.frame_of_reference_uid);
  CHECK(loaded.identity.study_instance_uid == phantom.identity.study_instance_uid);
  CHECK_FALSE(loaded.identity.structure_set_sop_instance_uid.empty());

  REQUIRE(loaded.structures.size() == phantom.structures.size());
  for (const auto& s : phantom.structures) {
    const Structure* l = loaded.find_structure(s.name);
    REQUIRE(l != nullptr);
    CHECK(l->type == s.type);
    const double volume_cc = compute_structure_stats(s.mask).volume_cc;
    const double d = dice(s.mask, l->mask);
    INFO(s.name << ": " << volume_cc << " cc, Dice " << d);
    CHECK(d >= (volume_cc >= 50.0 ? 0.99 : 0.98));
  }
}

TEST_CASE("project rasterization agrees with plastimatch convert", "[roundtrip][plastimatch]") {
  if (!test::have_program("plastimatch")) {
    WARN("skipped: plastimatch not installed");
    return;
  }
  PelvisPhantomOptions opt;
  opt.seed = 12;
  opt.spacing_mm = {1.0, 1.0, 2.5};
  Patient phantom = make_pelvis_phantom(opt);
  std::string dir;
  Patient loaded = write_and_load(phantom, "roundtrip_plastimatch", &dir);
  std::string out = test::scratch_dir("plastimatch_masks");
  auto r = test::run_shell("plastimatch convert --input '" + dir + "' --output-prefix '" + out +
                           "' --prefix-format nrrd --xor-contours");
  REQUIRE(r.exit_code == 0);
  int compared = 0;
  for (const auto& s : loaded.structures) {
    const double volume_cc = compute_structure_stats(s.mask).volume_cc;
    if (volume_cc < 10.0) continue;
    std::string f = out + "/" + s.name + ".nrrd";
    REQUIRE(fs::exists(f));
    Mask pm = read_mask(f);
    REQUIRE(pm.grid.same_geometry(s.mask.grid, 1e-3));
    const double d = dice(s.mask, pm);
    INFO(s.name << ": " << volume_cc << " cc, Dice vs plastimatch " << d);
    CHECK(d >= 0.98);
    ++compared;
  }
  CHECK(compared >= 6);
}

TEST_CASE("head-first and feet-first series of one anatomy agree", "[roundtrip][orientation]") {
  PelvisPhantomOptions opt;
  opt.seed = 13;
  opt.spacing_mm = {2.0, 2.0, 3.0};
  std::map<std::string, StructureStats> reference;
  for (const char* position : {"HFS", "FFS", "HFP", "FFP"}) {
    opt.patient_position = position;
    Patient phantom = make_pelvis_phantom(opt);
    Patient loaded = write_and_load(phantom, std::string("orient_") + position, nullptr);
    CHECK(loaded.identity.patient_position == position);
    for (const auto& s : loaded.structures) {
      StructureStats st = compute_structure_stats(s.mask);
      if (reference.count(s.name) == 0) {
        reference[s.name] = st;
        continue;
      }
      const auto& ref = reference[s.name];
      INFO(position << " " << s.name << ": " << st.volume_cc << " cc vs " << ref.volume_cc);
      CHECK(st.volume_cc == Approx(ref.volume_cc).epsilon(0.01));
      for (int a = 0; a < 3; ++a) CHECK(st.centroid_mm[a] == Approx(ref.centroid_mm[a]).margin(0.5));
    }
  }
  CHECK(reference.size() >= 9);
}
